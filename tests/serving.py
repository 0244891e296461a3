"""Helpers for tests that run real `mediate serve` processes: config files, free loopback
ports, starting, killing and stopping the process, and an MTA-like sender that retries."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiosmtplib
from conftest import DOMAIN, MEDIATOR

from mediate import casework
from mediate import config as configuration
from mediate.config import Settings

SECRET = "test-secret-key-0123456789-abcdefghij"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def write_config(folder: Path, database_url: str, smtp_port: int, sink_port: int,
                 web_port: int = 0, serve: str = "") -> Path:
    """``web_port``: serve the pages (and /healthz) there; ``serve``: lines for ``[serve]``."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "config.toml"
    path.write_text(f"""
[service]
domain = "{DOMAIN}"
secret_key = "{SECRET}"

[database]
url = "{database_url}"

[web]
enabled = {"true" if web_port else "false"}
host = "127.0.0.1"
port = {web_port}

[serve]
{serve}

[inbound]
# These tests are about processes and crashes, not about who the mediator is.
mediator_authentication = "address-only"

[inbound.smtp]
host = "127.0.0.1"
port = {smtp_port}

[outbound]
transport = "smtp"
host = "127.0.0.1"
port = {sink_port}
timeout_seconds = 5

[relay]
# on the real clock, at any hour: open-mode copies must not wait for the morning here
night_hold = false

[[mediators]]
email = "{MEDIATOR}"
name = "Maria de Vries"
language = "en"
""", encoding="utf-8")
    return path


def load(path: Path) -> Settings:
    return configuration.load(path, environ={})


def open_cases(settings: Settings, count: int, parties: int = 3) -> list[casework.Opened]:
    """Open ``count`` open-mode cases; party k of case c is ``p<k>.c<c>@home.test``."""
    return [
        casework.open_case(
            settings, title=f"Case {c}", mediator_email=MEDIATOR, moderation="open",
            parties=[f"Party {k} <p{k}.c{c}@home.test>" for k in range(parties)], language="en",
        )
        for c in range(count)
    ]


@dataclass
class ServeProcess:
    """One `mediate --config X serve`, its output kept in a log file beside the config."""

    config: Path
    smtp_port: int
    name: str = "serve"
    process: subprocess.Popen | None = None
    starts: int = 0
    logs: list[Path] = field(default_factory=list)

    def start(self) -> None:
        self.starts += 1
        log = self.config.parent / f"{self.name}-{self.starts}.log"
        self.logs.append(log)
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "mediate.cli", "--config", str(self.config), "serve"],
                stdout=out, stderr=subprocess.STDOUT, env=os.environ.copy(),
            )

    async def ready(self, timeout: float = 20.0) -> None:
        """Wait until the SMTP port greets with 220 (the process is up)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process is not None and self.process.poll() is None, self.output()
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", self.smtp_port)
                greeting = await asyncio.wait_for(reader.readline(), 2)
                writer.close()
                if greeting.startswith(b"220"):
                    return
            except (OSError, TimeoutError):
                pass
            await asyncio.sleep(0.05)
        raise TimeoutError(f"{self.name} did not come up:\n{self.output()}")

    def kill(self) -> None:
        """kill -9 of `mediate serve` (the supervisor: the kernel ends its processes too)."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)
        wait_until_closed(self.smtp_port)

    def terminate(self, timeout: float = 30.0) -> int:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout)

    def output(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in self.logs if p.exists())[-6000:]

    def ensure_stopped(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)


def processes_of(pid: int) -> dict[str, int]:
    """The live child processes of ``pid`` by name (`mediate serve` names each after its
    slot: ``front``, ``pipeline-1``, ``outbox-1``, ``scheduler``)."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:  # it ended while we looked
            continue
        name = stat[stat.index("(") + 1:stat.rindex(")")]
        state, parent = stat[stat.rindex(")") + 2:].split()[:2]
        if int(parent) == pid and state != "Z":
            found[name] = int(entry.name)
    return found


def wait_until_closed(port: int, timeout: float = 10.0) -> None:
    """Until nothing listens on ``port`` (the killed processes are really gone)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) != 0:
                return
        time.sleep(0.02)
    raise TimeoutError(f"port {port} still open")


async def send_like_an_mta(
    port: int, sender: str, rcpt: str, raw: bytes, deadline: float
) -> bool:
    """Send until the server answers 250 (retrying refusals, 4xx and dropped connections,
    as a real MTA would); False if the deadline passed first."""
    while time.monotonic() < deadline:
        try:
            await aiosmtplib.send(
                raw, sender=sender, recipients=[rcpt], hostname="127.0.0.1", port=port,
                timeout=5,
            )
            return True
        except (aiosmtplib.SMTPException, OSError):
            await asyncio.sleep(0.1)
    return False
