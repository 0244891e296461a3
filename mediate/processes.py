"""The processes of `mediate serve` and the little they share besides the database.

`mediate serve` runs the front door (SMTP/LMTP, the IMAP poller, the web pages) in one process
and the workers (pipeline, outbox sender, scheduler) in others, the way Mailman 3 runs its
runners: deciding and sending mail hold Python's GIL for milliseconds per mail, and in their
own processes they no longer hold up the SMTP conversation. The work itself is coordinated only
through the database, with the same claims that let several machines share PostgreSQL
(``threads.claims``). What the processes of one machine share on top of that is small:

- a *wake-up* per worker, a pipe: the front door writes a byte to the pipeline workers'
  after storing mail, the pipeline and the scheduler to the outbox workers' after enqueueing
  copies; the worker's event loop reads it. A worker also looks at the database every few
  seconds by itself, so work stored by another machine is found without one;
- a *board* in shared memory where every process posts its pid, a heartbeat and its state
  (the outbox's last round, the scheduler's last sweep) for ``/healthz``, which the front door
  answers;
- ``workers_stopped``, another pipe: on SIGTERM the front door keeps greeting new SMTP clients
  with 421 until the workers are gone, as the single process did while its outbox finished.

Nothing here takes a lock another process could die holding: ``kill -9`` of any process must
not stop the others (a ``multiprocessing.Event`` would: its lock stays taken by the dead).
Writing to a pipe never blocks (a full pipe means the worker is awake already), and the board
is a seqlock that a reader gives up on while the slot's writer is dead mid-write.

The supervisor that creates these and starts, restarts and stops the processes is
``mediate.supervisor``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import select
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger("mediate.processes")

FRONT, PIPELINE, OUTBOX, SCHEDULER = "front", "pipeline", "outbox", "scheduler"
ALL_ROLES = frozenset({FRONT, PIPELINE, OUTBOX, SCHEDULER})  # the single-process form
BEAT_SECONDS = 1.0
ALIVE_SECONDS = 5.0  # a process whose heartbeat is older than this is reported as not alive
BOARD_BYTES = 4096  # one process's report as JSON; its state is dropped if it grows larger


@dataclass(frozen=True)
class Slot:
    """One process of the plan: ``front``, ``pipeline-1``, ``outbox-1``, ``scheduler``. A
    restarted process takes the slot, and with it the claimant name, of the one that died."""

    name: str
    role: str


def workers_for(settings: Any, cores: int | None = None) -> tuple[int, int]:
    """How many pipeline and outbox workers: as configured, or from the machine's cores.

    Deciding mail is CPU work (parsing, rules, composing copies): half the cores, so the front
    door and the senders keep the rest. Sending is mostly waiting on the relay, and one worker
    already keeps ``outbound.connections`` lanes busy: a quarter of the cores."""
    cores = cores or os.cpu_count() or 1
    serve = settings.serve
    return (serve.pipeline_workers or max(1, cores // 2),
            serve.outbox_workers or max(1, cores // 4))


def plan(settings: Any, cores: int | None = None) -> list[Slot]:
    pipelines, outboxes = workers_for(settings, cores)
    return [
        Slot(FRONT, FRONT),
        *(Slot(f"{PIPELINE}-{n}", PIPELINE) for n in range(1, pipelines + 1)),
        *(Slot(f"{OUTBOX}-{n}", OUTBOX) for n in range(1, outboxes + 1)),
        Slot(SCHEDULER, SCHEDULER),
    ]


def _pipe() -> tuple[int, int]:
    read, write = os.pipe()
    os.set_blocking(read, False)
    os.set_blocking(write, False)
    return read, write


def _drain(fd: int) -> None:
    with contextlib.suppress(BlockingIOError):
        while os.read(fd, 4096):
            pass


@dataclass
class Cell:
    """One slot's report on the board: a seqlock (even ``sequence``: the bytes are whole)."""

    sequence: Any  # multiprocessing.RawValue("L")
    data: Any  # multiprocessing.RawArray("c", BOARD_BYTES)

    def write(self, value: bytes) -> None:
        self.sequence.value += 1  # odd: being written
        self.data.value = value
        self.sequence.value += 1

    def read(self) -> bytes | None:
        for _ in range(100):
            before = self.sequence.value
            if before % 2 == 0:
                value = self.data.value
                if self.sequence.value == before:
                    return value
            time.sleep(0.0001)
        return None  # its writer died mid-write; the supervisor clears the slot on restart


@dataclass
class Shared:
    """Created by the supervisor before it forks; every process of the machine holds it."""

    slots: list[Slot]
    wakes: dict[str, tuple[int, int]]  # slot name -> the pipe that wakes that worker
    board: dict[str, Cell]
    restarts: dict[str, Any]  # slot name -> multiprocessing.RawValue("i"), the supervisor's
    stopped: tuple[int, int]  # the pipe the supervisor writes to when the workers are gone
    arrival: Any  # multiprocessing.RawValue("d"): time.monotonic() of the last stored mail
    supervisor_pid: int = field(default_factory=os.getpid)

    @classmethod
    def create(cls, context: Any, slots: list[Slot]) -> Shared:
        return cls(
            slots=slots,
            wakes={s.name: _pipe() for s in slots if s.role in (PIPELINE, OUTBOX)},
            board={s.name: Cell(context.RawValue("L", 0), context.RawArray("c", BOARD_BYTES))
                   for s in slots},
            restarts={s.name: context.RawValue("i", 0) for s in slots},
            stopped=_pipe(),
            arrival=context.RawValue("d", 0.0),
        )

    def arrived(self) -> None:
        """The front door stored mail (CLOCK_MONOTONIC is one clock for all processes)."""
        self.arrival.value = time.monotonic()

    def last_arrival(self) -> float:
        return self.arrival.value

    def wake(self, role: str) -> None:
        """Wake every worker of ``role``: a byte in its pipe, no lock, no database."""
        for slot in self.slots:
            if slot.role == role:
                with contextlib.suppress(BlockingIOError):  # full: it has enough to wake
                    os.write(self.wakes[slot.name][1], b"!")

    def workers_stopped(self) -> None:
        os.write(self.stopped[1], b"!")

    def wait_for_workers(self, timeout: float) -> bool:
        return bool(select.select([self.stopped[0]], [], [], timeout)[0])

    def post(self, slot: Slot, report: dict[str, Any]) -> None:
        data = json.dumps(report, default=str).encode()
        if len(data) >= BOARD_BYTES:  # the essentials without the state
            data = json.dumps({k: v for k, v in report.items() if k != "state"}).encode()
        self.board[slot.name].write(data)

    def read(self, slot: Slot) -> dict[str, Any] | None:
        data = self.board[slot.name].read()
        try:
            return json.loads(data) if data else None
        except ValueError:
            return None

    def clear(self, slot: Slot) -> None:
        cell = self.board[slot.name]
        cell.sequence.value = 0  # a writer that died mid-write left it odd
        cell.data.value = b""

    def report(self) -> dict[str, Any]:
        """For ``/healthz``: each process, and the outbox's and scheduler's state from theirs."""
        now = time.time()
        processes, outbox_rounds, scheduler = [], [], None
        for slot in self.slots:
            posted = self.read(slot) or {}
            beat = posted.get("beat")
            age = round(now - beat, 1) if beat else None
            state = posted.get("state") or {}
            processes.append({
                "name": slot.name, "role": slot.role, "pid": posted.get("pid"),
                "alive": age is not None and age < ALIVE_SECONDS,
                "heartbeat_seconds_ago": age, "restarts": self.restarts[slot.name].value,
            })
            if slot.role == OUTBOX and "outbox_worker" in state:
                outbox_rounds.append(state["outbox_worker"])
            if slot.role == SCHEDULER and "scheduler" in state:
                scheduler = state["scheduler"]
        report: dict[str, Any] = {"processes": processes}
        if outbox_rounds:  # the most recent round of any outbox worker
            known = [r for r in outbox_rounds if r.get("last_round_seconds_ago") is not None]
            report["outbox_worker"] = min(
                known, key=lambda r: r["last_round_seconds_ago"]) if known else outbox_rounds[0]
        if scheduler is not None:
            report["scheduler"] = scheduler
        return report


def listen_for_wakes(shared: Shared, slot: Slot, loop: asyncio.AbstractEventLoop,
                     wake: Callable[[], None]) -> Callable[[], None]:
    """In a worker: call ``wake`` on the loop when its pipe has a byte; returns the undo."""
    fd = shared.wakes[slot.name][0]

    def readable() -> None:
        _drain(fd)  # before the work is looked for: a later byte wakes it again
        wake()

    loop.add_reader(fd, readable)
    return lambda: loop.remove_reader(fd)


async def heartbeat(shared: Shared, slot: Slot, state: Callable[[], dict[str, Any]],
                    orphaned: Callable[[], None]) -> None:
    """Post this process's heartbeat and state on the board every second; call ``orphaned``
    once the supervisor is gone (a worker must not outlive it and hold claims nobody sees)."""
    parent = shared.supervisor_pid
    told = False
    while True:
        with contextlib.suppress(Exception):  # a report that fails is no reason to stop
            shared.post(slot, {"pid": os.getpid(), "beat": time.time(), "ready": True,
                               "state": state()})
        if os.getppid() != parent and not told:
            log.warning("the supervisor is gone: stopping", extra={"reason": "orphaned"})
            told = True
            orphaned()
        await asyncio.sleep(BEAT_SECONDS)
