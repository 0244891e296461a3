"""Labelled tone sets and their score: how often the level is right on messages never tuned on.

A set is a text file of blocks, each a line ``--- <level> <lang>`` followed by the message as
the party typed it; lines starting with ``#`` before the first block are comments. The score
has the three figures the issue asks for: levels right, threats caught (a threatening message
reported as threatening) and calm messages left calm.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Labelled:
    number: int
    level: str
    lang: str
    text: str


@dataclass
class Score:
    total: int = 0
    right: int = 0
    threats: int = 0
    threats_caught: int = 0
    calm: int = 0
    calm_kept: int = 0
    misses: list[tuple[Labelled, str]] = field(default_factory=list)

    @staticmethod
    def _pct(part: int, whole: int) -> float:
        return 100.0 * part / whole if whole else 100.0

    @property
    def accuracy(self) -> float:
        return self._pct(self.right, self.total)

    @property
    def threat_recall(self) -> float:
        return self._pct(self.threats_caught, self.threats)

    @property
    def calm_kept_pct(self) -> float:
        return self._pct(self.calm_kept, self.calm)

    def summary(self) -> str:
        return (f"{self.right}/{self.total} right ({self.accuracy:.1f} %), threats caught "
                f"{self.threats_caught}/{self.threats} ({self.threat_recall:.1f} %), calm left "
                f"calm {self.calm_kept}/{self.calm} ({self.calm_kept_pct:.1f} %)")


def read_set(path: Path) -> list[Labelled]:
    messages: list[Labelled] = []
    header: list[str] | None = None
    lines: list[str] = []

    def close() -> None:
        if header is not None:
            messages.append(Labelled(len(messages) + 1, header[0], header[1],
                                     "\n".join(lines).strip()))

    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("--- "):
            close()
            header, lines = line[4:].split(), []
        elif header is not None:
            lines.append(line)
    close()
    return messages


def score(messages: list[Labelled], level_of: Callable[[str], str]) -> Score:
    result = Score()
    for message in messages:
        level = level_of(message.text)
        result.total += 1
        result.right += level == message.level
        if message.level == "threatening":
            result.threats += 1
            result.threats_caught += level == "threatening"
        if message.level == "calm":
            result.calm += 1
            result.calm_kept += level == "calm"
        if level != message.level:
            result.misses.append((message, level))
    return result
