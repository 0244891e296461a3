"""Result rows, the printed table (each row ends in its ratio) and the JSON result file."""

from __future__ import annotations

import json
import math
import os
import platform
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


@dataclass
class Row:
    scenario: str
    variant: str
    figure: str
    mediate: float | None = None
    baseline: float | None = None
    ratio: float | None = None
    target: str = ""
    met: bool | None = None
    skipped: str = ""  # the reason, when the scenario cannot run yet
    rounds: list[float] = field(default_factory=list)  # the ratio of each round

    @classmethod
    def skip(cls, scenario: str, reason: str) -> Row:
        return cls(scenario, "-", "-", skipped=reason)


def _fmt(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.3g}"


def table(rows: list[Row]) -> str:
    head = ("scenario", "variant", "figure", "mediate", "baseline", "target", "ratio")
    lines = []
    for row in rows:
        if row.skipped:
            lines.append((row.scenario, "", f"skipped: {row.skipped}", "", "", "", ""))
            continue
        verdict = "" if row.met is None else (" ok" if row.met else " SHORT")
        lines.append((row.scenario, row.variant, row.figure, _fmt(row.mediate),
                      _fmt(row.baseline), row.target, _fmt(row.ratio) + verdict))
    sized = [head, *(line for line in lines if not line[2].startswith("skipped:"))]
    widths = [max(len(str(line[i])) for line in sized) for i in range(len(head))]
    out = [" | ".join(h.ljust(w) for h, w in zip(head, widths, strict=True))]
    out.append("-+-".join("-" * w for w in widths))
    for line in lines:
        if line[2].startswith("skipped:"):
            out.append(f"{line[0].ljust(widths[0])} | {line[2]}")
        else:
            out.append(" | ".join(str(c).ljust(w) for c, w in zip(line, widths, strict=True)))
    return "\n".join(out)


def machine() -> dict:
    memory = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = int(line.split()[1]) // 1024
    except OSError:
        pass
    return {"cores": os.cpu_count(), "memory_mb": memory, "python": platform.python_version(),
            "platform": platform.platform()}


def write(rows: list[Row], mode: str, seconds: float) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    now = datetime.now(UTC)
    path = RESULTS / f"{now:%Y%m%dT%H%M%SZ}-{mode}.json"
    path.write_text(json.dumps({
        "date": now.isoformat(timespec="seconds"), "mode": mode, "machine": machine(),
        "seconds": round(seconds, 1), "rows": [asdict(r) for r in rows],
    }, indent=2, default=str), encoding="utf-8")
    return path
