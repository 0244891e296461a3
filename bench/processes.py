"""Scenario ``processes``: how accept and relay change with the shape of ``mediate serve``.

The same accept (4 KB replies at C=8) and relay rounds as those scenarios, each against its bare
baseline, on SQLite, for three shapes of serve started one after the other in the same run:
everything in one process (``serve.processes = false``, the shape before issue 16), the front
door with one pipeline and one outbox worker, and with two of each. Rows: each shape against
its bare baseline, and each shape against the single process (the median of the per-round
ratios; > 1 is a gain).
"""

from __future__ import annotations

from dataclasses import replace

from bench import accept, relay
from bench.env import Env, Profile
from bench.report import Row
from bench.sinks import SinkProcess
from bench.smtpload import median

SINGLE = "1 process"
SHAPES = (
    (SINGLE, "processes = false"),
    ("1+1 workers", "processes = true\npipeline_workers = 1\noutbox_workers = 1"),
    ("2+2 workers", "processes = true\npipeline_workers = 2\noutbox_workers = 2"),
)
FIGURES = {"msgs/s": "accept 4 KB C=8", "copies/s": "relay"}


async def run(profile: Profile, noop: SinkProcess, sink: SinkProcess) -> list[Row]:
    """All three shapes are up at once, and every round measures each in turn, each next to
    its own bare baseline: on a shared machine whose load changes by the minute, only figures
    taken seconds apart compare."""
    count = dict(profile.accept_small).get(8, 40)
    once = replace(profile, rounds=1, accept_small=((8, count),), accept_large=(),
                   pg_only_c8=False)
    envs = {shape: Env("sqlite", once, noop, sink, serve_lines=lines) for shape, lines in SHAPES}
    measured: dict[str, dict[str, list[Row]]] = {s: {f: [] for f in FIGURES} for s in envs}
    try:
        for shape, env in envs.items():
            print(f"[processes] starting serve: {shape}", flush=True)
            await env.up()
        for number in range(profile.rounds):
            print(f"[processes] round {number + 1} of {profile.rounds}", flush=True)
            for shape, env in envs.items():
                rows = await accept.run(env, once) + await relay.run(env, once)
                for row in rows:
                    if row.figure in FIGURES:
                        measured[shape][row.figure].append(row)
    finally:
        for env in envs.values():
            env.down()
    out: list[Row] = []
    for figure, what in FIGURES.items():
        single = measured[SINGLE][figure]
        for shape, _ in SHAPES:
            rows = measured[shape][figure]
            ratios = [r.ratio for r in rows]
            out.append(Row("processes", f"{what}: {shape} vs bare", figure,
                           median([r.mediate for r in rows]),
                           median([r.baseline for r in rows]), median(ratios), rounds=ratios))
            if shape != SINGLE:  # per round: this shape against the single process, seconds apart
                gains = [r.mediate / s.mediate for r, s in zip(rows, single, strict=True)]
                out.append(Row("processes", f"{what}: {shape} vs 1 process", figure,
                               median([r.mediate for r in rows]),
                               median([s.mediate for s in single]), median(gains),
                               rounds=gains))
    return out
