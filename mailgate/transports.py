"""Outbound transports behind one small interface: ``maildir``, ``smtp`` and ``memory``.

Like Django's mail backends: the outbox worker does not care where a copy goes. A transport
sends a batch and reports each copy as soon as its fate is known (so the worker can commit it
at once): sent, temporary failure (retry later) or permanent failure (RFC 5321 5xx: stop).

The SMTP transport keeps a small pool of open connections to the relay and reuses them across
copies and batches (RFC 5321 section 3.3: several transactions per session), sending with up to
``outbound.connections`` lanes at once. A connection idle for a while is checked with NOOP
before reuse; servers may close idle sessions (RFC 5321 section 4.5.3.2.7). Problems with the
relay itself (refused connection, failed TLS or login, timeouts) are always temporary: they are
ours to fix, never a reason to give up on a recipient.
"""

from __future__ import annotations

import asyncio
import contextlib
import mailbox
import ssl
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import aiosmtplib

from mailgate.settings import OutboundSettings

IDLE_REUSE_SECONDS = 120.0  # keep an idle relay connection this long (servers allow >= 300 s)
NOOP_AFTER_SECONDS = 5.0  # check a connection idle for longer than this before reusing it
WRITE_BYTES = 1 << 20  # a copy with files goes to the socket at most this much at a time


@dataclass
class Envelope:
    id: int
    mail_from: str
    rcpt_to: str
    raw: bytes = b""
    # A copy with files is put together only when it is sent (mailgate.outbox), as pieces
    # (mailgate.compose.copy_pieces) that share the encoded files with the other copies.
    build: Callable[[], list[bytes]] | None = None

    async def pieces(self) -> list[bytes]:
        return [self.raw] if self.build is None else await asyncio.to_thread(self.build)

    async def content(self) -> bytes:
        """The copy as one bytes object, for a transport that needs it whole."""
        return self.raw if self.build is None else b"".join(await self.pieces())


@dataclass
class Result:
    ok: bool
    permanent: bool = False
    error: str = ""


Report = Callable[[Envelope, Result], Awaitable[None]]
KeepGoing = Callable[[], bool]


class Transport(Protocol):
    async def send(
        self, envelopes: Sequence[Envelope], report: Report | None = None,
        keep_going: KeepGoing | None = None,
    ) -> dict[int, Result]:
        """Send what it can; call ``report`` per copy; stop early once ``keep_going()`` is
        false. Copies left unreported were not attempted."""
        ...

    async def close(self) -> None: ...


async def _reported(
    results: dict[int, Result], report: Report | None, env: Envelope, result: Result
) -> None:
    results[env.id] = result
    if report is not None:
        await report(env, result)


class MaildirTransport:
    """Writes each copy into a local Maildir, as an MDA would (Return-Path, Delivered-To)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _write(self, env: Envelope, raw: bytes) -> Result:
        box = mailbox.Maildir(str(self.path), create=True)
        head = f"Return-Path: <{env.mail_from}>\r\nDelivered-To: {env.rcpt_to}\r\n".encode()
        box.add(head + raw)
        return Result(ok=True)

    async def send(
        self, envelopes: Sequence[Envelope], report: Report | None = None,
        keep_going: KeepGoing | None = None,
    ) -> dict[int, Result]:
        results: dict[int, Result] = {}
        for env in envelopes:
            if keep_going is not None and not keep_going():
                break
            try:
                result = await asyncio.to_thread(self._write, env, await env.content())
            except OSError as error:
                result = Result(ok=False, error=f"maildir: {error}")
            await _reported(results, report, env, result)
        return results

    async def close(self) -> None:
        return None


@dataclass
class MemoryTransport:
    """Keeps what would have been sent; for tests and ``mediate demo``."""

    sent: list[Envelope] = field(default_factory=list)

    async def send(
        self, envelopes: Sequence[Envelope], report: Report | None = None,
        keep_going: KeepGoing | None = None,
    ) -> dict[int, Result]:
        results: dict[int, Result] = {}
        for env in envelopes:
            if keep_going is not None and not keep_going():
                break
            self.sent.append(Envelope(env.id, env.mail_from, env.rcpt_to, await env.content()))
            await _reported(results, report, env, Result(ok=True))
        return results

    async def close(self) -> None:
        return None


class SmtpTransport:
    """Relays through an SMTP server with aiosmtplib, reusing connections across copies."""

    def __init__(self, settings: OutboundSettings, ehlo_name: str = "") -> None:
        self.settings = settings
        # Relays refuse or score down a client greeting as "localhost" (aiosmtplib's default
        # is the machine's own name, often just that): greet with the service's domain.
        self.ehlo_name = settings.ehlo_name or ehlo_name or None
        self._idle: list[tuple[aiosmtplib.SMTP, float]] = []
        self._large = asyncio.Lock()
        self.connects = 0  # connections opened so far (operations, tests)

    def _client(self) -> aiosmtplib.SMTP:
        s = self.settings
        context = None
        if s.security != "none":
            context = ssl.create_default_context(cafile=s.ca_file or None)
        return aiosmtplib.SMTP(
            hostname=s.host, port=s.port, timeout=s.timeout_seconds,
            use_tls=s.security == "tls", start_tls=s.security == "starttls",
            tls_context=context, username=s.username or None, password=s.password or None,
            local_hostname=self.ehlo_name,
        )

    async def _acquire(self) -> aiosmtplib.SMTP:
        now = time.monotonic()
        while self._idle:
            client, since = self._idle.pop()
            if client.is_connected and now - since < IDLE_REUSE_SECONDS:
                if now - since < NOOP_AFTER_SECONDS:
                    return client
                try:
                    await client.noop()
                    return client
                except (aiosmtplib.SMTPException, OSError):
                    pass
            _drop(client)
        client = self._client()
        await client.connect()
        self.connects += 1
        return client

    def _release(self, client: aiosmtplib.SMTP) -> None:
        if client.is_connected and len(self._idle) < self.settings.connections:
            self._idle.append((client, time.monotonic()))
        else:
            _drop(client)

    async def send(
        self, envelopes: Sequence[Envelope], report: Report | None = None,
        keep_going: KeepGoing | None = None,
    ) -> dict[int, Result]:
        results: dict[int, Result] = {}
        queue = iter(envelopes)  # shared by the lanes: each copy is taken by exactly one
        lanes = max(1, min(self.settings.connections, len(envelopes)))
        await asyncio.gather(
            *(self._lane(queue, results, report, keep_going) for _ in range(lanes))
        )
        return results

    async def _lane(
        self, queue: Iterator[Envelope], results: dict[int, Result], report: Report | None,
        keep_going: KeepGoing | None,
    ) -> None:
        client: aiosmtplib.SMTP | None = None
        try:
            for env in queue:
                if keep_going is not None and not keep_going():
                    return
                if client is None:
                    try:
                        client = await self._acquire()
                    except (aiosmtplib.SMTPException, OSError) as error:
                        text = f"relay {self.settings.host}:{self.settings.port}: {error}"
                        await _reported(results, report, env, Result(ok=False, error=text))
                        return  # the other lanes, or the next round, take the rest
                if env.build is None:
                    result = await self._send_one(client, env, env.raw)
                else:  # one copy with files on the wire at a time: memory stays bounded
                    async with self._large:
                        result = await self._send_large(client, env, await env.pieces())
                if not client.is_connected:
                    client = None
                await _reported(results, report, env, result)
        finally:
            if client is not None:
                self._release(client)

    @classmethod
    async def _send_large(cls, client: aiosmtplib.SMTP, env: Envelope,
                          pieces: list[bytes]) -> Result:
        """A copy with files, written to the relay piece by piece as it is. aiosmtplib's DATA
        joins the message and rewrites it twice with regular expressions (line endings, then
        leading dots) on the event loop: about 1.5 s and three extra copies for a 34 MB mail.
        Our copies are CRLF already (one that is not takes aiosmtplib's way); a line starting
        with '.' gets a second one (RFC 5321 section 4.5.2), which only then costs a copy of
        that piece. The file's pieces are shared by every copy (mailgate.compose), and each is
        written only once the socket has taken the one before: the transport never buffers
        the unsent rest of a whole copy."""
        if any(piece.count(b"\n") != piece.count(b"\r\n") for piece in pieces) \
                or any(piece.endswith(b"\r") for piece in pieces):
            return await cls._send_one(client, env, b"".join(pieces))
        pieces = _stuffed(pieces)
        try:
            options = ["BODY=8BITMIME"] if client.supports_extension("8bitmime") and \
                not all(piece.isascii() for piece in pieces) else []
            await client.mail(env.mail_from, options=options)
            await client.rcpt(env.rcpt_to)
            started = await client.execute_command(b"DATA")
            if started.code != 354:
                raise aiosmtplib.SMTPDataError(started.code, started.message)
            protocol = client.protocol
            assert protocol is not None
            for piece in pieces:
                for start in range(0, len(piece), WRITE_BYTES):
                    protocol.write(memoryview(piece)[start:start + WRITE_BYTES])
                    # aiosmtplib's flow control (its StreamWriter's drain): wait until the
                    # socket has taken what was written before handing it more
                    await asyncio.wait_for(protocol._drain_helper(), client.timeout)
            if not pieces[-1].endswith(b"\r\n"):
                protocol.write(b"\r\n")
            protocol.write(b".\r\n")
            answer = await protocol.read_response(timeout=client.timeout)
            if answer.code != 250:
                raise aiosmtplib.SMTPDataError(answer.code, answer.message)
        except aiosmtplib.SMTPResponseException as error:
            with contextlib.suppress(aiosmtplib.SMTPException, OSError):
                await client.rset()
            return Result(ok=False, permanent=500 <= error.code < 600, error=_answer(error))
        except (aiosmtplib.SMTPException, OSError) as error:  # disconnects and timeouts
            _drop(client)
            return Result(ok=False, error=f"{type(error).__name__}: {error}")
        return Result(ok=True)

    @staticmethod
    async def _send_one(client: aiosmtplib.SMTP, env: Envelope, raw: bytes) -> Result:
        try:
            errors, _ = await client.sendmail(env.mail_from, [env.rcpt_to], raw)
        except aiosmtplib.SMTPRecipientsRefused as error:
            code = error.recipients[0].code if error.recipients else 550
            return Result(ok=False, permanent=500 <= code < 600, error=_answer(error))
        except aiosmtplib.SMTPResponseException as error:
            return Result(ok=False, permanent=500 <= error.code < 600, error=_answer(error))
        except (aiosmtplib.SMTPException, OSError) as error:  # disconnects and timeouts
            _drop(client)
            return Result(ok=False, error=f"{type(error).__name__}: {error}")
        if errors:
            code, text = next(iter(errors.values()))
            return Result(ok=False, permanent=500 <= code < 600, error=f"{code} {text}")
        return Result(ok=True)

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        for client, _ in idle:
            try:
                await asyncio.wait_for(client.quit(), 2)
            except (aiosmtplib.SMTPException, OSError, TimeoutError):
                _drop(client)


def _stuffed(pieces: list[bytes]) -> list[bytes]:
    """Dot-stuffed (RFC 5321 section 4.5.2) piece by piece: a piece without a line starting
    with '.' is kept as the same object (a shared file part is never copied)."""
    out = []
    line_start = True  # the previous piece ended a line (or there was none)
    for piece in pieces:
        if not piece:
            continue
        if b"\r\n." in piece:
            piece = piece.replace(b"\r\n.", b"\r\n..")
        if line_start and piece.startswith(b"."):
            piece = b"." + piece
        out.append(piece)
        line_start = piece.endswith(b"\n")
    return out or [b""]


def _answer(error: aiosmtplib.SMTPException) -> str:
    if isinstance(error, aiosmtplib.SMTPRecipientsRefused) and error.recipients:
        first = error.recipients[0]
        return f"{first.code} {first.message}"
    if isinstance(error, aiosmtplib.SMTPResponseException):
        return f"{error.code} {error.message}"
    return str(error)


def _drop(client: aiosmtplib.SMTP) -> None:
    if client.is_connected:
        client.close()


def make_transport(settings: OutboundSettings, base: Path, ehlo_name: str = "") -> Transport:
    """``ehlo_name``: what the relay is greeted with unless outbound.ehlo_name says otherwise
    (the service domain)."""
    if settings.transport == "smtp":
        return SmtpTransport(settings, ehlo_name)
    if settings.transport == "memory":
        return MemoryTransport()
    path = Path(settings.maildir)
    return MaildirTransport(path if path.is_absolute() else base / path)
