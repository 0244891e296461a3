"""Run the benchmarks: ``python -m bench.run --quick`` (under a minute) or ``--full``.

Every scenario runs against a baseline measured in the same run, as medians of several rounds,
because the machines here are shared and noisy: the printed table ends each row in the ratio,
and the same rows go to ``bench/results/<time>-<mode>.json``. Scenarios whose feature does not
exist yet are detected at run time and print ``skipped: <reason>``.

``--only NAME`` runs one scenario (accept, relay, attachment, web, sweep, postgres or
processes).
``--profile`` runs ``mediate serve`` under pyinstrument (if installed) for the SQLite part and
writes the report next to the results.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import signal
import sys
import time
from pathlib import Path

from bench import accept, harness, processes, relay, sweep, web
from bench.env import FULL, QUICK, Env, Profile
from bench.report import RESULTS, Row, table, write
from bench.sinks import SinkProcess

SCENARIOS = ("accept", "relay", "attachment", "web", "sweep", "postgres", "processes")


async def backend(name: str, profile: Profile, noop: SinkProcess, sink: SinkProcess,
                  profiler: list[str] | None, only: str | None = None) -> list[Row]:
    label = "" if name == "sqlite" else "/pg"
    print(f"[{name}] starting mediate serve", flush=True)
    env = Env(name, profile, noop, sink)
    chosen = ({"accept", "relay", "attachment", "web"} if only is None
              else {"accept", "relay"} if only == "postgres" else {only})
    rows: list[Row] = []
    try:
        await env.up(profiler)
        if "accept" in chosen:
            rows += await accept.run(env, profile, label)
            print(table(rows), flush=True)
        if "relay" in chosen:
            rows += await relay.run(env, profile, label)
        if name == "sqlite" and "attachment" in chosen:
            rows += await relay.attachment(env, profile)
        if name == "sqlite" and "web" in chosen:
            rows += await web.run(env, profile)
        return rows
    finally:
        env.down()


async def main(profile: Profile, profile_serve: bool, only: str | None = None) -> list[Row]:
    noop = SinkProcess(harness.free_port()).start()
    sink = SinkProcess(harness.free_port(), capture=300).start()
    profiler = None
    if profile_serve:
        tool = shutil.which("pyinstrument", path=str(Path(sys.executable).parent))
        if tool is None:
            print("pyinstrument is not installed; running without the profiler")
        else:
            RESULTS.mkdir(parents=True, exist_ok=True)
            output = RESULTS / f"serve-profile-{profile.name}.html"
            profiler = [tool, "-r", "html", "-o", str(output)]
    rows: list[Row] = []
    try:
        if only not in ("sweep", "postgres", "processes"):
            rows += await backend("sqlite", profile, noop, sink, profiler, only)
        if only in (None, "sweep"):
            rows += sweep.run(profile)
        if only in (None, "postgres"):
            if harness.pg_available():
                rows += await backend("postgresql", profile, noop, sink, None, only)
            else:
                rows.append(Row.skip("postgres", "no PostgreSQL answering on 127.0.0.1:5432"))
        if only in (None, "processes"):
            rows += await processes.run(profile, noop, sink)
    finally:
        noop.stop()
        sink.stop()
    return rows


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def cli(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run",
                                     description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="small counts, under a minute")
    mode.add_argument("--full", action="store_true", help="the full run, a few minutes")
    parser.add_argument("--profile", action="store_true", help="run serve under pyinstrument")
    parser.add_argument("--only", choices=SCENARIOS, metavar="NAME",
                        help=f"run one scenario only: {', '.join(SCENARIOS)}")
    args = parser.parse_args(argv)
    profile = FULL if args.full else QUICK
    signal.signal(signal.SIGTERM, _interrupt)  # so serve, sinks and the schema are cleaned up
    started = time.monotonic()
    rows = asyncio.run(main(profile, args.profile, args.only))
    seconds = time.monotonic() - started
    print()
    print(table(rows))
    path = write(rows, profile.name + (f"-{args.only}" if args.only else ""), seconds)
    print(f"\n{profile.name} run took {seconds:.0f} s; results in {path.relative_to(Path.cwd())}"
          if path.is_relative_to(Path.cwd()) else f"\nresults in {path}")
    return 0


if __name__ == "__main__":
    sys.exit(cli())
