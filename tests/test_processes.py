"""`mediate serve` as several processes: how many of each, and a process that cannot start.

The kill -9 and SIGTERM behaviour of the processes is tested in test_crash.py and
test_graceful_stop.py with real mail."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

from serving import free_port, load, write_config

from mediate.processes import plan, workers_for


def test_worker_counts_follow_the_cores_unless_configured(tmp_path):
    settings = load(write_config(tmp_path, "sqlite:///x.sqlite3", 2525, 2526))
    assert workers_for(settings, cores=1) == (1, 1)
    assert workers_for(settings, cores=2) == (1, 1)
    assert workers_for(settings, cores=8) == (4, 2)
    configured = load(write_config(tmp_path / "c", "sqlite:///x.sqlite3", 2525, 2526,
                                   serve="pipeline_workers = 3\noutbox_workers = 2"))
    assert [s.name for s in plan(configured, cores=1)] == [
        "front", "pipeline-1", "pipeline-2", "pipeline-3", "outbox-1", "outbox-2", "scheduler"]


def test_a_front_door_that_cannot_start_stops_every_process_and_serve_exits_1(tmp_path):
    port = free_port()
    config = write_config(tmp_path, f"sqlite:///{tmp_path / 'm.sqlite3'}", port, free_port())
    with socket.socket() as taken:  # someone else listens on the SMTP port
        taken.bind(("127.0.0.1", port))
        taken.listen()
        process = subprocess.Popen(
            [sys.executable, "-m", "mediate.cli", "--config", str(config), "serve"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        try:
            output, _ = process.communicate(timeout=60)
        finally:
            process.kill()
    assert process.returncode == 1
    assert b"front could not start" in output
    assert running_with(str(config)) == []  # no worker outlived the supervisor


def running_with(argument: str) -> list[int]:
    """Pids whose command line holds ``argument`` (forked workers keep serve's)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and argument.encode() in (entry / "cmdline").read_bytes():
                found.append(int(entry.name))
        except OSError:
            continue
    return found
