"""SMTP sinks in their own processes: the bare aiosmtpd baseline and the relay's receiver.

Each sink is a plain aiosmtpd server on 127.0.0.1 with a handler that only counts: copies
received (one per accepted recipient) and the ``time.monotonic()`` of the first and last one,
kept in shared memory so the benchmark can read them without talking SMTP. Running the sink in
a separate process (spawned, not forked) keeps it off the load generator's event loop, so a
baseline server gets a core of its own just as ``mediate serve`` does. ``capture`` keeps the
first few raw copies, for scenarios that need to read a mail (the intake link).
"""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import time
from typing import Any

HOST = "127.0.0.1"
_CTX = mp.get_context("spawn")


class _CountingHandler:
    def __init__(self, count: Any, first: Any, last: Any, captured: Any, capture: int) -> None:
        self.count, self.first, self.last = count, first, last
        self.captured, self.capture = captured, capture

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802, ANN001
        now = time.monotonic()
        if self.count.value == 0:
            self.first.value = now
        self.count.value += len(envelope.rcpt_tos)
        self.last.value = now
        raw = envelope.original_content or b""
        if self.capture and len(raw) < 200_000 and self.captured.qsize() < self.capture:
            self.captured.put((list(envelope.rcpt_tos), raw))
        return "250 OK"


def _serve(port: int, values: tuple, ready: Any, stop: Any, capture: int) -> None:
    from aiosmtpd.smtp import SMTP

    async def main() -> None:
        handler = _CountingHandler(*values, capture)
        loop = asyncio.get_running_loop()
        server = await loop.create_server(
            lambda: SMTP(handler, decode_data=False, data_size_limit=None,
                         hostname="sink.bench.test"),
            host=HOST, port=port,
        )
        ready.set()
        deadline = time.monotonic() + 3600  # a sink never outlives an hour
        while not stop.is_set() and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        server.close()

    import logging

    logging.getLogger("mail.log").setLevel(logging.ERROR)
    asyncio.run(main())


class SinkProcess:
    """A counting aiosmtpd server in a child process."""

    def __init__(self, port: int, capture: int = 0) -> None:
        self.port = port
        self._count = _CTX.Value("q", 0, lock=False)
        self._first = _CTX.Value("d", 0.0, lock=False)
        self._last = _CTX.Value("d", 0.0, lock=False)
        self._captured = _CTX.Queue()
        self._ready, self._stop = _CTX.Event(), _CTX.Event()
        values = (self._count, self._first, self._last, self._captured)
        self._process = _CTX.Process(
            target=_serve, args=(port, values, self._ready, self._stop, capture), daemon=True
        )

    def start(self, timeout: float = 20.0) -> SinkProcess:
        self._process.start()
        if not self._ready.wait(timeout):
            self.stop()
            raise RuntimeError(f"sink on port {self.port} did not start")
        return self

    @property
    def count(self) -> int:
        return self._count.value

    @property
    def first(self) -> float:
        return self._first.value

    @property
    def last(self) -> float:
        return self._last.value

    def reset(self) -> None:
        self._count.value = 0
        self._first.value = 0.0
        self._last.value = 0.0

    def captured(self, limit: int = 200) -> list[tuple[list[str], bytes]]:
        items = []
        while len(items) < limit and not self._captured.empty():
            items.append(self._captured.get(timeout=1))
        return items

    async def wait_for(self, count: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while self.count < count and time.monotonic() < deadline:
            await asyncio.sleep(0.005)
        return self.count >= count

    def stop(self) -> None:
        self._stop.set()
        self._process.join(5)
        if self._process.is_alive():
            self._process.terminate()
            self._process.join(5)
