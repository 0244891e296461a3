"""One benchmark environment: a database, its cases, a running ``mediate serve`` and the sinks.

``Env.up`` builds it (temporary folder and config, fresh PostgreSQL schema when asked, the
cases, serve), waits until the invitations have gone out, and ``Env.down`` tears it all down
again, dropping the schema. ``Profile`` holds the counts of ``--quick`` and ``--full``.
"""

from __future__ import annotations

import shutil
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from bench import harness
from bench.sinks import SinkProcess


@dataclass(frozen=True)
class Profile:
    name: str
    rounds: int
    accept_small: tuple[tuple[int, int], ...]  # (concurrency, messages)
    accept_large: tuple[tuple[int, int], ...]
    relay_replies: int
    relay_cases: int
    attachment_bytes: int
    attachment_rounds: int
    web_requests: int
    sweep_participants: int
    sweep_cases: int
    pg_only_c8: bool = False  # quick: on PostgreSQL only the 4 KB reply at C=8
    deadline: float = 60.0  # seconds for one load run
    settle_seconds: float = 60.0


QUICK = Profile(
    "quick", rounds=3, accept_small=((1, 16), (8, 40), (32, 64)), accept_large=((8, 16),),
    relay_replies=3, relay_cases=2, attachment_bytes=2_000_000, attachment_rounds=1,
    web_requests=200, sweep_participants=100_000, sweep_cases=3_500, pg_only_c8=True,
    deadline=20.0, settle_seconds=15.0,
)
FULL = Profile(
    "full", rounds=5, accept_small=((1, 60), (8, 160), (32, 192)),
    accept_large=((1, 20), (8, 40), (32, 64)), relay_replies=10, relay_cases=4,
    attachment_bytes=25_000_000, attachment_rounds=3, web_requests=1000,
    sweep_participants=100_000, sweep_cases=3_500,
)
PARTIES = 30


@dataclass
class Env:
    backend: str  # sqlite | postgresql
    profile: Profile
    noop: SinkProcess
    sink: SinkProcess
    folder: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="mediate-bench-")))
    schema: str = ""
    url: str = ""
    web_port: int = 0
    config: Path | None = None
    serve: harness.Serve | None = None
    probe: harness.Probe | None = None
    review_cases: list[harness.OpenCase] = field(default_factory=list)
    open_cases: list[harness.OpenCase] = field(default_factory=list)
    attachment_case: harness.OpenCase | None = None
    notes: list[str] = field(default_factory=list)
    serve_lines: str = ""  # [serve] of the config: one process, or how many workers

    def note(self, text: str) -> None:
        self.notes.append(text)
        print(f"  note: {text}", flush=True)

    async def up(self, profiler: list[str] | None = None) -> Env:
        if self.backend == "postgresql":
            self.schema = f"bench_{uuid.uuid4().hex[:10]}"
            harness.pg_create_schema(self.schema)
            self.url = harness.pg_schema_url(self.schema)
        else:
            self.url = f"sqlite:///{self.folder / 'mediate.sqlite3'}"
        self.web_port = harness.free_port()
        self.config = harness.write_config(self.folder, self.url, self.sink.port, self.web_port,
                                           self.serve_lines)
        if self.backend == "postgresql":
            harness.db_upgrade(self.config)  # as an administrator would, before serve
        self.review_cases = harness.open_cases(self.config, 4, 2, "review", "acc")
        self.open_cases = harness.open_cases(
            self.config, self.profile.relay_cases, PARTIES, "open", "rel")
        self.attachment_case = harness.open_cases(self.config, 1, PARTIES, "open", "att")[0]
        self.probe = harness.Probe(self.url)
        self.sink.reset()
        self.serve = harness.Serve(self.config, self.url, extra=profiler or [],
                                   not_smtp={self.web_port}).start()
        invitations = sum(len(c.parties) + 1 for c in
                          [*self.review_cases, *self.open_cases, self.attachment_case])
        if not await self.sink.wait_for(invitations, self.profile.settle_seconds):
            self.note(f"only {self.sink.count} of {invitations} invitations arrived")
        await self.probe.settle(self.profile.settle_seconds)
        return self

    def down(self) -> None:
        if self.serve is not None:
            self.serve.stop()
        if self.probe is not None:
            self.probe.close()
        if self.schema:
            harness.pg_drop_schema(self.schema)
        shutil.rmtree(self.folder, ignore_errors=True)
