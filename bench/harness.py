"""Running the real ``mediate serve`` for a benchmark: config, cases, process, probes.

The benchmark writes a temporary configuration shaped like ``config.example.toml`` (SMTP in on
a free loopback port, outgoing mail by the ``smtp`` transport into a sink of the benchmark),
opens the cases it needs with ``mediate.casework.open_case`` against the same database, and
starts ``.venv/bin/mediate --config <file> serve`` as a child process. From outside it only
reads: the serve process's memory from /proc, and the queue depths from the database.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy

ROOT = Path(__file__).resolve().parent.parent
DOMAIN = "mediation.bench.test"
MEDIATOR = "mediator@office.bench.test"
PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def mediate_bin() -> str:
    candidate = Path(sys.executable).parent / "mediate"
    return str(candidate if candidate.exists() else ROOT / ".venv" / "bin" / "mediate")


def write_config(folder: Path, database_url: str, sink_port: int, web_port: int,
                 serve: str = "") -> Path:
    """``serve``: the lines of ``[serve]`` (processes, worker counts); empty: the defaults."""
    path = folder / "bench.toml"
    path.write_text(f"""\
[service]
name = "Mediate bench"
domain = "{DOMAIN}"
base_url = "http://127.0.0.1:{web_port}"
secret_key = "bench-secret-key-{uuid.uuid4().hex}"
default_language = "en"

[database]
url = "{database_url}"

[web]
enabled = true
host = "127.0.0.1"
port = {web_port}

[inbound]
max_message_size = 36700160

[inbound.attachments]
# the attachment scenario relays a 25 MB file (the default per-file limit is 10 MB)
max_file_mb = 30
max_message_mb = 30

[inbound.smtp]
enabled = true
host = "127.0.0.1"
port = 0

[outbound]
transport = "smtp"
host = "127.0.0.1"
port = {sink_port}
security = "none"
timeout_seconds = 30.0
connections = 4

[serve]
{serve}

[log]
level = "WARNING"

[[mediators]]
email = "{MEDIATOR}"
name = "Maria de Vries"
language = "en"
hourly_rate = 120.0
""", encoding="utf-8")
    return path


@dataclass
class OpenCase:
    ref: str
    mediator_address: str
    parties: list[tuple[str, str]]  # (registered e-mail, reply address)


def open_cases(config: Path, count: int, parties: int, moderation: str, tag: str) -> list[OpenCase]:
    """Open cases in-process against the benchmark's database (before or during serve)."""
    from mediate import casework
    from mediate.config import load
    from mediate.service import prepare_database

    settings = load(config)
    engine = prepare_database(settings, auto_upgrade=settings.database_url.startswith("sqlite"))
    opened = []
    try:
        for number in range(count):
            specs = [f"P{i} {tag}{number} <p{i}.{tag}{number}@bench.test>"
                     for i in range(1, parties + 1)]
            result = casework.open_case(
                settings, title=f"Bench {tag} {number}", mediator_email=MEDIATOR, parties=specs,
                moderation=moderation, language="en", engine=engine,
            )
            emails = [f"p{i}.{tag}{number}@bench.test" for i in range(1, parties + 1)]
            addresses = [address for _, address in result.party_addresses]
            opened.append(OpenCase(result.ref, result.mediator_address,
                                   list(zip(emails, addresses, strict=True))))
    finally:
        engine.dispose()
    return opened


def db_upgrade(config: Path) -> None:
    subprocess.run([mediate_bin(), "--config", str(config), "db", "upgrade"], check=True,
                   capture_output=True, timeout=120)


@dataclass
class Serve:
    """``mediate serve`` as a real child process."""

    config: Path
    database_url: str
    process: subprocess.Popen | None = None
    port: int = 0
    log_path: Path | None = None
    extra: list[str] = field(default_factory=list)  # e.g. a profiler command in front
    not_smtp: set[int] = field(default_factory=set)  # other ports serve listens on (web)

    def start(self, timeout: float = 30.0) -> Serve:
        self.log_path = self.config.parent / "serve.log"
        log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [*self.extra, mediate_bin(), "--config", str(self.config), "serve"],
            stdout=log, stderr=subprocess.STDOUT, cwd=self.config.parent,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        # serve logs its port at INFO; our config says WARNING, so ask the socket table instead
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"serve exited early:\n{self.log_path.read_text()[-3000:]}")
            port = _listening_port(self.pids(), self.not_smtp)
            if port:
                self.port = port
                return self
            time.sleep(0.05)
        self.stop()
        raise RuntimeError("serve did not start listening in time")

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def stop(self, timeout: float = 20.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)

    def pids(self) -> list[int]:
        """serve's process and, when it supervises several, theirs (front door, workers)."""
        return [self.pid, *children(self.pid)]

    def rss(self) -> int:
        """Summed over serve's processes."""
        return sum(_status_kb(pid, "VmRSS") for pid in self.pids()) * 1024

    def reset_peak(self) -> bool:
        """Reset the kernel's peak-RSS mark (Linux >= 4.0); False when not permitted."""
        try:
            for pid in self.pids():
                Path(f"/proc/{pid}/clear_refs").write_text("5")
            return True
        except OSError:
            return False

    def peak(self) -> int:
        """The sum of each process's peak: an upper bound, as the peaks need not coincide."""
        return sum(_status_kb(pid, "VmHWM") for pid in self.pids()) * 1024

    def by_process(self, key: str) -> dict[str, int]:
        """``VmRSS`` or ``VmHWM`` of each process in bytes, by the name the supervisor gives
        it (``front``, ``pipeline-1``, ``outbox-1``, ...; its own process is ``serve``)."""
        return {("serve" if pid == self.pid else _name(pid)): _status_kb(pid, key) * 1024
                for pid in self.pids()}


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit():
                stat = (entry / "stat").read_text()
                if int(stat[stat.rindex(")") + 2:].split()[1]) == pid:
                    found.append(int(entry.name))
        except (OSError, ValueError):
            continue
    return found


def _name(pid: int) -> str:
    """The name set by ``prctl(PR_SET_NAME)`` (mediate.supervisor), else the pid."""
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return str(pid)


def _status_kb(pid: int, key: str) -> int:
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:  # the process ended meanwhile
        return 0
    for line in lines:
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


def _listening_port(pids: list[int], exclude: set[int]) -> int:
    """The TCP port the processes listen on, other than ``exclude`` (that is SMTP)."""
    inodes = set()
    try:
        for pid in pids:
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                target = os.readlink(fd)
                match = re.match(r"socket:\[(\d+)\]", target)
                if match:
                    inodes.add(match[1])
    except OSError:
        return 0
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        parts = line.split()
        port = int(parts[1].split(":")[1], 16)
        if parts[3] == "0A" and parts[9] in inodes and port not in exclude:  # 0A = LISTEN
            return port
    return 0


class Probe:
    """Reads the queue depths of serve's database (plain reads: no write lock is taken)."""

    def __init__(self, url: str) -> None:
        self.engine = sqlalchemy.create_engine(url, poolclass=sqlalchemy.pool.NullPool)

    def pending(self) -> int:
        with self.engine.connect() as connection:
            inbound = connection.exec_driver_sql(
                "SELECT count(*) FROM inboundmail WHERE status = 'pending'").scalar_one()
            outbound = connection.exec_driver_sql(
                "SELECT count(*) FROM outgoingmail WHERE status = 'pending'").scalar_one()
        return int(inbound) + int(outbound)

    async def settle(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if await asyncio.to_thread(self.pending) == 0:
                return True
            await asyncio.sleep(0.1)
        return False

    def close(self) -> None:
        self.engine.dispose()


def pg_schema_url(schema: str) -> str:
    return f"{PG_URL}?options=-csearch_path%3D{schema}"


def pg_create_schema(schema: str) -> None:
    admin = sqlalchemy.create_engine(PG_URL, poolclass=sqlalchemy.pool.NullPool)
    with admin.begin() as connection:
        connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    admin.dispose()


def pg_drop_schema(schema: str) -> None:
    admin = sqlalchemy.create_engine(PG_URL, poolclass=sqlalchemy.pool.NullPool)
    with admin.begin() as connection:
        connection.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    admin.dispose()


def pg_available() -> bool:
    try:
        engine = sqlalchemy.create_engine(PG_URL, poolclass=sqlalchemy.pool.NullPool,
                                          connect_args={"connect_timeout": 3})
        with engine.connect() as connection:
            connection.exec_driver_sql("SELECT 1")
        engine.dispose()
        return True
    except Exception:  # noqa: BLE001 (any failure means: no PostgreSQL here)
        return False
