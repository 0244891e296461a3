"""The README tells the truth about the program: its commands table lists exactly the commands
`mediate` has."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from mediate.cli import build_parser

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


def commands(parser: argparse.ArgumentParser, prefix: str = "mediate") -> set[str]:
    found: set[str] = set()
    for action in parser._actions:  # argparse keeps its subcommands only here
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                below = commands(sub, f"{prefix} {name}")
                found |= below or {f"{prefix} {name}"}
    return found


def readme_table() -> str:
    start = README.index("## Commands")
    return README[start:README.index("\n## ", start + 1)]


def table_commands() -> set[str]:
    """The commands in the first column: "`mediate outbox list` / `retry ID...`" names both
    `mediate outbox list` and `mediate outbox retry`."""
    shown: set[str] = set()
    for row in re.findall(r"^\| (`.*?`) \|(?!\|)", readme_table(), re.M):
        previous: list[str] = []
        for span in re.findall(r"`([^`]*)`", row):
            words = []
            for word in span.split():
                if not re.fullmatch(r"[a-z][a-z-]*", word):
                    break
                words.append(word)
            if not words:  # an option of the previous command: "/ `--archive FILE.zip`"
                continue
            if words[:1] != ["mediate"]:  # a continuation of the previous command
                words = previous[:-1] + words
            shown.add(" ".join(words))
            previous = words
    return shown


def test_the_commands_table_names_every_command_and_no_other():
    assert table_commands() == commands(build_parser())
