"""The front door: an aiosmtpd SMTP (or LMTP) server that checks recipients and stores mail.

Thin by design (Mailman's LMTP runner, Zulip's mirror): RCPT asks the one recipient resolver
whether the address exists; DATA stores the raw bytes and envelope durably and only then answers
250 (RFC 5321 section 6.1: once accepted, the message is ours to deliver). Parsing and decisions
happen later in the pipeline. Database work runs in a thread so the event loop never blocks.

It faces the internet, so it behaves like a mail server there: STARTTLS (RFC 3207) when a
certificate is configured, postmaster@ accepted (RFC 5321 section 4.5.1), and ``Limits`` on what
one client may ask: connections at once, a deadline per session (aiosmtpd's own timeout restarts
with every line, so a client dripping a byte at a time was held for ever), recipients per
transaction (RFC 5321 section 4.5.3.1.10: 452 past the limit) and mails per sender and hour.
An address shaped like a case address without its token is accepted whether or not that case
exists: a 250 against a 550 would tell a stranger which case references are real.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import ssl
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from aiosmtpd.lmtp import LMTP
from aiosmtpd.smtp import MISSING, SMTP, Envelope, Session
from sqlalchemy import Engine

from mailgate import replies
from mailgate.receive import receive
from threads.addresses import RecipientKind, case_shaped, resolve
from threads.crypto import AtRestKey, seal
from threads.db import read_scope, session_scope
from threads.models import InboundMail
from threads.quarantine import safe_description

log = logging.getLogger("mediate.smtp")
_MESSAGE_ID = re.compile(rb"^message-id:[ \t]*(.*(?:\r?\n[ \t].*)*)", re.I | re.M)


def header_message_id(raw: bytes) -> str | None:
    head = raw[:1 << 20].split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]  # no body copy
    match = _MESSAGE_ID.search(head)
    if not match:
        return None
    # (UTF-8: an internationalised Message-ID, RFC 6532, is kept as the parser reads it)
    value = b" ".join(match.group(1).split()).decode("utf-8", "replace").strip()
    return value[:500] or None


def store_inbound(
    engine: Engine, raw: bytes, mail_from: str, rcpt_tos: list[str], source: str,
    key: AtRestKey | None = None,
) -> int:
    """Write the raw mail durably; the id is returned once the transaction is committed."""
    return store_batch(engine, [(raw, mail_from, rcpt_tos, source)], key)[0]


def store_batch(engine: Engine, mails: list[tuple[bytes, str, list[str], str]],
                key: AtRestKey | None = None) -> list[int]:
    """Write several mails in one transaction (group commit); ids once it is committed.

    With ``privacy.encryption_key`` set the raw bytes are stored sealed (threads.crypto)."""
    with session_scope(engine, first=True) as session:  # a sender waits for our 250
        rows = [
            InboundMail(
                raw=seal(raw, key), size=len(raw), sha256=hashlib.sha256(raw).hexdigest(),
                mail_from=mail_from[:500], rcpt_tos=list(rcpt_tos), source=source,
                message_id=header_message_id(raw),
            )
            for raw, mail_from, rcpt_tos, source in mails
        ]
        session.add_all(rows)
        session.flush()
        return [row.id for row in rows]  # type: ignore[misc]


class GroupCommit:
    """Stores mails arriving at the same time in one transaction: one commit (and on SQLite one
    wait for the write lock) serves every DATA that came in while the previous one ran."""

    def __init__(self, engine: Engine, key: AtRestKey | None = None,
                 executor: ThreadPoolExecutor | None = None) -> None:
        self.engine = engine
        self.key = key
        self.executor = executor
        self.waiting: list[tuple[tuple[bytes, str, list[str], str], asyncio.Future]] = []
        self.running = False

    async def store(self, raw: bytes, mail_from: str, rcpt_tos: list[str], source: str) -> int:
        future = asyncio.get_running_loop().create_future()
        self.waiting.append(((raw, mail_from, list(rcpt_tos), source), future))
        if not self.running:
            self.running = True
            asyncio.ensure_future(self._flush())
        return await future

    async def _flush(self) -> None:
        try:
            while self.waiting:
                batch, self.waiting = self.waiting[:200], self.waiting[200:]
                try:
                    ids = await asyncio.get_running_loop().run_in_executor(
                        self.executor, store_batch, self.engine, [m for m, _ in batch], self.key)
                except Exception as error:  # noqa: BLE001 (each waiting DATA answers 451)
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(error)
                    continue
                for (_, future), row_id in zip(batch, ids, strict=True):
                    if not future.done():
                        future.set_result(row_id)
        finally:
            self.running = False


class RecipientCache:
    """RCPT answers of the last few seconds, kept in memory: a party's MTA sending several
    mails, or a mail to several parties, is answered on the event loop without a database
    round trip in a thread (each such hop waits for Python's GIL). The pipeline resolves
    every recipient again when it decides, so a participant removed a moment ago is still
    treated as removed; only the SMTP answer may lag by ``ttl`` seconds."""

    def __init__(self, ttl: float = 5.0, size: int = 10_000) -> None:
        self.ttl = ttl
        self.size = size
        self.answers: dict[str, tuple[float, str]] = {}

    def get(self, address: str) -> str | None:
        found = self.answers.get(address.lower())
        if found is None or found[0] < time.monotonic():
            return None
        return found[1]

    def put(self, address: str, answer: str) -> None:
        if len(self.answers) >= self.size:
            self.answers.clear()  # crude but bounded; refilled within seconds
        self.answers[address.lower()] = (time.monotonic() + self.ttl, answer)


@dataclass(frozen=True)
class Limits:
    """What one client may ask of the front door (``[inbound.smtp]``)."""

    max_connections: int = 20  # at once; each may buffer up to inbound.max_message_size
    session_seconds: float = 300.0  # from connect to the last answer, whatever the pace
    idle_seconds: float = 60.0  # waiting for the client's next line
    max_recipients: int = 50  # per transaction
    sender_rate_per_hour: int = 120  # mails per envelope sender


class SenderRate:
    """A token bucket per envelope sender: ``per_hour`` mails an hour, in bursts of as many.
    The null sender (bounces) is counted per client address instead, since every bounce has
    it. In memory and per process: a limit against floods, not an accounting."""

    def __init__(self, per_hour: int, size: int = 10_000) -> None:
        self.per_hour = per_hour
        self.size = size
        self.buckets: dict[str, tuple[float, float]] = {}

    def allow(self, key: str, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        tokens, since = self.buckets.get(key, (float(self.per_hour), now))
        tokens = min(float(self.per_hour), tokens + (now - since) * self.per_hour / 3600)
        if len(self.buckets) >= self.size and key not in self.buckets:
            self.buckets.clear()  # crude but bounded, as RecipientCache
        self.buckets[key] = (tokens - 1, now) if tokens >= 1 else (tokens, now)
        return tokens >= 1


class InboundHandler:
    def __init__(
        self, engine: Engine, domain: str, secret: str, on_stored: Callable[[], None],
        source: str = "smtp", at_rest: AtRestKey | None = None, limits: Limits | None = None,
    ) -> None:
        self.engine = engine
        self.domain = domain
        self.secret = secret
        self.on_stored = on_stored
        self.source = source
        self.accepting = True
        self.limits = limits or Limits()
        self.rate = SenderRate(self.limits.sender_rate_per_hour)
        self.connections = 0  # open right now (the connection cap)
        # The front door's own threads: a RCPT check or a store never queues behind the
        # pipeline's or the outbox's work in asyncio's shared default executor.
        self.executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="smtp")
        self.writer = GroupCommit(engine, at_rest, self.executor)
        self.recipients = RecipientCache()

    def _check(self, address: str) -> str:
        with read_scope(self.engine) as session:
            recipient = resolve(session, address, self.domain, self.secret)
        if recipient.accepted:
            return ""
        if recipient.kind == RecipientKind.REVOKED:
            return replies.REVOKED_RECIPIENT
        if recipient.kind == RecipientKind.NO_REPLY:
            return replies.NO_REPLY
        if case_shaped(address, self.domain):  # alike whether or not the case exists
            return ""
        return replies.UNKNOWN_RECIPIENT

    async def handle_MAIL(  # noqa: N802 (aiosmtpd's hook name)
        self, server: SMTP, session: Session, envelope: Envelope, address: str,
        options: list[str],
    ) -> str:
        if not self.accepting:
            return replies.SHUTTING_DOWN
        peer = session.peer[0] if isinstance(session.peer, tuple) else str(session.peer)
        if not self.rate.allow(address.lower() if address else f"<>{peer}"):
            log.warning("sender over its rate", extra={"sender": address or "<>"})
            return replies.SENDER_RATE
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 2.1.0 Sender ok"

    async def handle_RCPT(  # noqa: N802 (aiosmtpd's hook name)
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list
    ) -> str:
        if not self.accepting:
            return replies.SHUTTING_DOWN
        if len(envelope.rcpt_tos) >= self.limits.max_recipients:
            return replies.TOO_MANY_RECIPIENTS
        refusal = self.recipients.get(address)
        if refusal is None:
            refusal = await asyncio.get_running_loop().run_in_executor(
                self.executor, self._check, address)
            self.recipients.put(address, refusal)
        if refusal:
            return refusal
        envelope.rcpt_tos.append(address)
        return replies.RECIPIENT_OK

    async def handle_DATA(  # noqa: N802
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        if not self.accepting:
            return _answer(server, envelope, replies.SHUTTING_DOWN)
        raw = envelope.original_content or b""
        # One stored recipient per address, however often RCPT named it (LMTP still answers
        # each RCPT, see _answer): 2,000 RCPTs to one address are one delivery, not 2,000.
        recipients = list(dict.fromkeys(address.lower() for address in envelope.rcpt_tos))
        try:
            await self.writer.store(raw, envelope.mail_from or "", recipients, self.source)
        except Exception as error:  # the sender's MTA keeps the mail and retries: nothing is lost
            # Not log.exception: a database error quotes its parameters, the mail among them.
            log.error("could not store inbound mail: %s", safe_description(error))
            return _answer(server, envelope, replies.STORE_FAILED)
        self.on_stored()
        return _answer(server, envelope, replies.ACCEPTED)


def _answer(server: SMTP, envelope: Envelope, reply: str) -> str:
    """SMTP answers DATA once; LMTP once per accepted RCPT, in RCPT order, a repeated address
    included (RFC 2033 section 4.2), or the client waits for the missing replies. aiosmtpd's
    LMTP class only adds LHLO and writes whatever DATA returns plus CRLF: the handler gives
    one reply line per recipient (envelope.rcpt_tos holds the accepted ones only)."""
    if isinstance(server, LMTP):
        return "\r\n".join([reply] * max(len(envelope.rcpt_tos), 1))
    return reply


async def start_server(
    handler: InboundHandler, host: str, port: int, max_size: int, lmtp: bool = False,
    tls: ssl.SSLContext | None = None, require_tls: bool = False,
) -> asyncio.base_events.Server:
    """Serve on the running loop (no controller thread): one asyncio process runs everything.
    ``tls`` offers STARTTLS; ``require_tls`` refuses mail before it (530, RFC 3207 section 4)."""
    # aiosmtpd logs envelopes at INFO and every DATA line at DEBUG: addresses and message text
    # never belong in our logs, whatever log.level says (tests/test_record_logs.py).
    logging.getLogger("mail.log").setLevel(logging.WARNING)
    protocol = _LimitedLMTP if lmtp else _LimitedSMTP
    loop = asyncio.get_running_loop()

    def connection() -> asyncio.Protocol:
        if not handler.accepting:  # stopping: greet with 421 (RFC 5321 section 3.8)
            return _Refuse(replies.SHUTTING_DOWN)
        if handler.connections >= handler.limits.max_connections:
            return _Refuse(replies.TOO_MANY_CONNECTIONS)
        return protocol(
            handler, data_size_limit=max_size, enable_SMTPUTF8=True, decode_data=False,
            hostname=handler.domain, ident="Mediate", tls_context=tls,
            require_starttls=require_tls, timeout=handler.limits.idle_seconds,
        )

    return await loop.create_server(connection, host=host, port=port)


class _Limited:
    """Mixed into aiosmtpd's SMTP and LMTP: counts the connection against the cap and ends the
    session at its deadline with 421 (RFC 5321 section 4.5.3.2 lets a server close a session
    it will not serve further)."""

    event_handler: InboundHandler
    loop: asyncio.AbstractEventLoop
    transport: asyncio.BaseTransport | None
    _deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        first = self.transport is None  # it runs again, on the TLS transport, after STARTTLS
        super().connection_made(transport)  # type: ignore[misc]
        if first:
            self.event_handler.connections += 1
            self._deadline = self.loop.call_later(
                self.event_handler.limits.session_seconds, self._out_of_time)

    def connection_lost(self, error: Exception | None) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None
            self.event_handler.connections -= 1
        super().connection_lost(error)  # type: ignore[misc]

    async def smtp_DATA(self, arg: str) -> None:  # noqa: N802 (aiosmtpd's command name)
        """aiosmtpd's DATA, receiving into one buffer (mailgate.receive): the handler gets the
        mail as ``envelope.original_content``, a ``bytearray`` held once."""
        server: SMTP = self  # type: ignore[assignment]
        if await server.check_helo_needed() or await server.check_auth_needed("DATA"):
            return
        assert server.envelope is not None
        if not server.envelope.rcpt_tos:
            await server.push("503 Error: need RCPT command")
            return
        if arg:
            await server.push("501 Syntax: DATA")
            return
        await server.push("354 End data with <CR><LF>.<CR><LF>")
        try:
            received = await receive(server._reader, server.data_size_limit,
                                     server.line_length_limit)
        except asyncio.CancelledError:  # the connection was lost during DATA
            server._writer.close()
            raise
        if received.refusal:
            await server.push(received.refusal)
            server._set_post_data_state()
            return
        server.envelope.content = server.envelope.original_content = received.data
        status = await server._call_handler_hook("DATA")
        server._set_post_data_state()
        await server.push("250 OK" if status is MISSING else status)

    def _out_of_time(self) -> None:
        log.info("SMTP session over its deadline; closed")
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(f"{replies.SESSION_TOO_LONG}\r\n".encode())  # type: ignore[attr-defined]
            self.transport.close()


class _LimitedSMTP(_Limited, SMTP):
    pass


class _LimitedLMTP(_Limited, LMTP):
    pass


class _Refuse(asyncio.Protocol):
    """Greets with one 421 and closes: shutting down, or too many connections."""

    def __init__(self, reply: str) -> None:
        self.reply = reply

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport.write(f"{self.reply}\r\n".encode())  # type: ignore[attr-defined]
        transport.close()
