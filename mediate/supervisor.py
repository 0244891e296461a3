"""`mediate serve` as a supervisor of processes: one front door, the workers, and nothing else.

The supervisor brings the schema up to date, creates what the processes share
(``mediate.processes.Shared``), forks them and watches them; it touches no mail itself:

- a process that dies (``kill -9``, a crash) is started again under the same slot, so it takes
  the same claimant name and first takes back what its predecessor held
  (``threads.claims.release_work``); the mail it was deciding or the copy it was sending is
  taken up again, and the idempotency keys make it count once. A process that fails on its
  first start (a busy port, a bad key) is not retried: the supervisor stops the others and
  exits 1, so the administrator sees the problem at once;
- on SIGTERM or SIGINT every process is sent SIGTERM: the front door greets new SMTP clients
  with 421 until the workers are gone, the outbox workers finish the copies on the wire, and
  everything exits within ``STOP_SECONDS``; a second signal ends everything at once;
- the children run in their own process group, so Ctrl-C in a terminal reaches only the
  supervisor, which stops them in that order. Under systemd use ``KillMode=mixed`` (SIGTERM to
  the supervisor alone, SIGKILL to stragglers);
- when the supervisor itself dies, the kernel kills its children (``PR_SET_PDEATHSIG``, and a
  check of the parent pid every second where that does not exist): a supervisor started again
  must find the port and the claimant names free. Nothing is lost that way either, as with
  ``kill -9`` of the single process.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import logging
import multiprocessing
import os
import signal
import sys
import time
from multiprocessing.connection import wait
from multiprocessing.process import BaseProcess

from mailgate.dkim import DkimError
from mediate.config import Settings
from mediate.processes import FRONT, Shared, Slot, plan
from mediate.serve import STOP_SECONDS, serve
from mediate.service import prepare_database

log = logging.getLogger("mediate.supervisor")
RESTART_WINDOW = 30.0  # a slot restarted more than RESTARTS_BEFORE_PAUSE times in this window
RESTARTS_BEFORE_PAUSE = 5  # ... waits PAUSE_SECONDS before the next start (a crash loop)
PAUSE_SECONDS = 2.0
PR_SET_NAME, PR_SET_PDEATHSIG = 15, 1  # linux/prctl.h


def run(settings: Settings) -> int:
    """`mediate serve`: several processes (``serve.processes``, the default) or one."""
    if not settings.serve.processes:
        return asyncio.run(serve(settings))
    return Supervisor(settings).run()


class Supervisor:
    def __init__(self, settings: Settings, cores: int | None = None) -> None:
        self.settings = settings
        # fork: the children share the imported code and start in a fraction of a second;
        # the supervisor has no threads and no open database connection when it forks
        self.context = multiprocessing.get_context("fork")
        self.slots = plan(settings, cores)
        self.shared = Shared.create(self.context, self.slots)
        self.children: dict[str, BaseProcess] = {}
        self.started_at: dict[str, list[float]] = {s.name: [] for s in self.slots}
        self.ready: set[str] = set()
        self.signals = 0
        self.failed = False

    def run(self) -> int:
        prepare_database(self.settings).dispose()
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, self._on_signal)
        for slot in self.slots:
            self._start(slot)
        log.info("supervising %s", ", ".join(s.name for s in self.slots))
        while not self.signals:
            self._watch()
        return self._stop()

    def _on_signal(self, signum: int, _frame: object) -> None:
        self.signals += 1
        if self.signals > 1:
            log.warning("second signal: ending every process at once")
            for process in self.children.values():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(process.pid, signal.SIGKILL)  # type: ignore[arg-type]
            os._exit(1)
        log.info("stopping", extra={"reason": signal.Signals(signum).name})

    def _start(self, slot: Slot) -> None:
        self.shared.clear(slot)
        process = self.context.Process(target=child, args=(self.settings, self.shared, slot),
                                       name=f"mediate-{slot.name}")
        process.start()
        self.children[slot.name] = process
        self.started_at[slot.name].append(time.monotonic())

    def _watch(self) -> None:
        wait([p.sentinel for p in self.children.values()], timeout=0.2)
        for slot in self.slots:
            process = self.children[slot.name]
            if slot.name not in self.ready and (self.shared.read(slot) or {}).get("ready"):
                self.ready.add(slot.name)
            if process.is_alive() or self.signals:
                continue
            process.join()
            if slot.name not in self.ready:  # never came up: retrying would fail the same way
                failed = (self.shared.read(slot) or {}).get("failed")
                if failed:  # one line naming the setting, as the single process prints it
                    print(f"mediate serve could not start: {failed}", file=sys.stderr)
                log.error("%s could not start (exit code %s); stopping", slot.name,
                          process.exitcode)
                self.failed = True
                self.signals = max(self.signals, 1)
                return
            log.warning("%s ended (exit code %s); starting it again", slot.name,
                        process.exitcode)
            recent = [t for t in self.started_at[slot.name]
                      if t > time.monotonic() - RESTART_WINDOW]
            self.started_at[slot.name] = recent
            if len(recent) > RESTARTS_BEFORE_PAUSE:
                time.sleep(PAUSE_SECONDS)
            self.shared.restarts[slot.name].value += 1
            self._start(slot)

    def _stop(self) -> int:
        """SIGTERM to all; the front door waits for the workers (``workers_stopped``)."""
        deadline = time.monotonic() + STOP_SECONDS
        for process in self.children.values():
            if process.is_alive():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(process.pid, signal.SIGTERM)  # type: ignore[arg-type]
        workers = [p for name, p in self.children.items() if name != FRONT]
        for process in workers:
            process.join(max(deadline - time.monotonic(), 0))
        self.shared.workers_stopped()
        front = self.children.get(FRONT)
        if front is not None:
            front.join(max(deadline - time.monotonic(), 0))
        late = [name for name, p in self.children.items() if p.is_alive()]
        for name in late:
            log.warning("%s did not stop in time; ending it", name)
            self.children[name].kill()
            self.children[name].join(5)
        log.info("stopped")
        return 1 if self.failed or late else 0


def child(settings: Settings, shared: Shared, slot: Slot) -> None:
    """The entry of one process: the same `serve` as the single process, with one role."""
    os.setpgid(0, 0)  # Ctrl-C in a terminal reaches the supervisor alone (see the docstring)
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, signal.SIG_DFL)  # the supervisor's handlers came with the fork
    _prctl_name_and_death_signal(slot)
    if os.getppid() != shared.supervisor_pid:  # it died before the death signal was set
        os._exit(1)
    try:
        code = asyncio.run(serve(settings, shared, slot))
    except (OSError, DkimError) as error:  # a busy port, an unreadable file: named setting
        shared.post(slot, {"failed": str(error)})  # the supervisor says it, once
        code = 1
    sys.exit(code)


def _prctl_name_and_death_signal(slot: Slot) -> None:
    """Linux: name the process after its slot (``ps -o comm``, ``top``) and have the kernel
    kill it when the supervisor dies. Elsewhere the heartbeat's parent check does the latter."""
    if not sys.platform.startswith("linux"):
        return
    name = ctypes.util.find_library("c")
    if not name:
        return
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(name, use_errno=True)
        libc.prctl(PR_SET_NAME, ctypes.c_char_p(slot.name.encode()[:15]), 0, 0, 0)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
