"""SQLite's one writer at a time, queued across the processes that share the file.

`mediate serve` runs the front door and the workers as separate processes on one SQLite file
(WAL). The in-process ``threads.db.WriterLock`` does not reach across processes: a writer that
finds another process's transaction running meets SQLite's busy handler, which sleeps (1, 2, 5,
10 ... 100 ms) and tries again, and while it sleeps other writers get in first. Measured with
``python -m bench.writers`` (bench/README.md): behind two busy worker processes the front
door's store waited a p99 of tens of milliseconds in the busy handler, however short the
workers' transactions were.

Two ``flock`` files beside the database queue the writers instead; the kernel wakes a waiter
the moment the lock is free, and a process that dies releases its locks with it (``kill -9``
leaves nothing held):

- ``<db>-writer``: held for the whole write transaction by whoever writes;
- ``<db>-queue``: taken first by the writers that may wait (the workers), and held until their
  transaction is over. So at most one of them waits for ``-writer`` at any time, while a writer
  marked ``first`` (the SMTP server storing mail it has not answered yet) goes straight to
  ``-writer``: it waits behind at most the one transaction that is running.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class WriterQueue:
    def __init__(self, database: Path) -> None:
        self.database = database
        self._pid = 0
        self._writer = self._queue = -1

    def _open(self) -> None:
        """Open the lock files in this process: descriptors inherited through ``fork`` share
        their lock with the parent, so a child must not use them."""
        if self._pid == os.getpid():
            return
        self._pid = os.getpid()
        self._writer = os.open(f"{self.database}-writer", os.O_RDWR | os.O_CREAT, 0o600)
        self._queue = os.open(f"{self.database}-queue", os.O_RDWR | os.O_CREAT, 0o600)

    @contextmanager
    def hold(self, first: bool = False) -> Iterator[None]:
        self._open()
        if not first:
            fcntl.flock(self._queue, fcntl.LOCK_EX)
        try:
            fcntl.flock(self._writer, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(self._writer, fcntl.LOCK_UN)
        finally:
            if not first:
                fcntl.flock(self._queue, fcntl.LOCK_UN)
