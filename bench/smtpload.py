"""The load generator: a small raw SMTP client (RFC 5321) on asyncio streams.

Each worker keeps one connection open and sends its share of the jobs one transaction after
another, as an MTA with connection reuse does; ``concurrency`` workers run side by side. A
transaction is timed from MAIL FROM to the 250 after the final dot. The client is deliberately
thin (no MIME work, data dot-stuffed once up front) so that it costs the machine little next to
the server it measures. Loopback only; bounded by the job count and a deadline.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from dataclasses import dataclass, field

HOST = "127.0.0.1"


@dataclass
class Job:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes  # already dot-stuffed and ending in CRLF


def stuff(raw: bytes) -> bytes:
    """Dot-stuffing (RFC 5321 section 4.5.2) and CRLF line ends, done once per message."""
    raw = raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    if not raw.endswith(b"\r\n"):
        raw += b"\r\n"
    if raw.startswith(b"."):
        raw = b"." + raw
    return raw.replace(b"\r\n.", b"\r\n..")


class SmtpError(Exception):
    pass


class Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, port: int, timeout: float = 10.0) -> Connection:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(HOST, port), timeout)
        conn = cls(reader, writer)
        await conn.expect(220)
        writer.write(b"EHLO bench.test\r\n")
        await conn.expect(250)
        return conn

    async def reply(self) -> tuple[int, bytes]:
        while True:
            line = await self.reader.readline()
            if not line:
                raise SmtpError("connection closed by server")
            if line[3:4] != b"-":
                return int(line[:3]), line

    async def expect(self, *codes: int) -> None:
        code, line = await self.reply()
        if code not in codes:
            raise SmtpError(line.decode("ascii", "replace").strip())

    async def send(self, job: Job) -> float:
        started = time.perf_counter()
        self.writer.write(f"MAIL FROM:<{job.mail_from}>\r\n".encode())
        await self.expect(250)
        for rcpt in job.rcpt_tos:
            self.writer.write(f"RCPT TO:<{rcpt}>\r\n".encode())
            await self.expect(250, 251)
        self.writer.write(b"DATA\r\n")
        await self.expect(354)
        self.writer.write(job.data)
        self.writer.write(b".\r\n")
        await self.writer.drain()
        await self.expect(250)
        return time.perf_counter() - started

    async def close(self) -> None:
        try:
            self.writer.write(b"QUIT\r\n")
            await asyncio.wait_for(self.reply(), 2)
        except (SmtpError, OSError, TimeoutError):
            pass
        self.writer.close()


@dataclass
class LoadResult:
    sent: int = 0
    errors: list[str] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    started: float = 0.0  # time.monotonic(), comparable across processes on Linux
    finished: float = 0.0

    @property
    def seconds(self) -> float:
        return max(self.finished - self.started, 1e-9)

    @property
    def rate(self) -> float:
        return self.sent / self.seconds

    def percentile(self, p: float) -> float:
        return percentile(self.latencies, p)


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[index]


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


async def run_load(port: int, jobs: list[Job], concurrency: int, deadline: float) -> LoadResult:
    """Send every job over ``concurrency`` reused connections; stop at ``deadline`` seconds."""
    result = LoadResult()
    queue = iter(jobs)
    stop_at = time.monotonic() + deadline

    async def worker() -> None:
        try:
            conn = await Connection.open(port)
        except (OSError, SmtpError, TimeoutError) as error:
            result.errors.append(f"connect: {error}")
            return
        try:
            for job in queue:
                if time.monotonic() > stop_at:
                    result.errors.append("deadline reached")
                    break
                try:
                    result.latencies.append(await asyncio.wait_for(conn.send(job), 60))
                    result.sent += 1
                except (SmtpError, OSError, TimeoutError) as error:
                    result.errors.append(str(error) or type(error).__name__)
                    await conn.close()
                    conn = await Connection.open(port)
        finally:
            await conn.close()

    result.started = time.monotonic()
    await asyncio.gather(*(worker() for _ in range(max(1, concurrency))))
    result.finished = time.monotonic()
    return result
