"""The README tells the truth about the program: its commands table lists exactly the commands
`mediate` has, and its /healthz example is what /healthz answers."""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import httpx
from conftest import make_settings

from mediate.cli import build_parser
from mediate.service import Service

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


def monitoring() -> str:
    start = README.index("## Monitoring")
    return README[start:README.index("\n## ", start + 1)]


async def test_the_healthz_example_is_what_healthz_answers(tmp_path, database_url):
    section = monitoring()
    public = json.loads(re.search(r"curl -s \S+/healthz\n(\{.*\})\n", section).group(1))
    listed = set(re.findall(r"`([a-z_]+)`", section.split("with these keys:", 1)[1]
                            .split(". ", 1)[0]))
    settings = make_settings(tmp_path, database_url,
                             web={"host": "127.0.0.1", "port": 0, "trusted_proxies": ["127.0.0.1"]})
    service = Service.build(settings)
    await service.start()
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{service.web_port}",
                                     timeout=10) as http:
            from_afar = await http.get("/healthz", headers={"X-Forwarded-For": "198.51.100.7"})
            at_home = await http.get("/healthz")
    finally:
        await service.stop()
        service.engine.dispose()
    assert from_afar.json() == public
    assert set(at_home.json()) == listed
