"""The front door: an aiosmtpd SMTP (or LMTP) server that checks recipients and stores mail.

Thin by design (Mailman's LMTP runner, Zulip's mirror): RCPT asks the one recipient resolver
whether the address exists; DATA stores the raw bytes and envelope durably and only then answers
250 (RFC 5321 section 6.1: once accepted, the message is ours to deliver). Parsing and decisions
happen later in the pipeline. Database work runs in a thread so the event loop never blocks.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from aiosmtpd.lmtp import LMTP
from aiosmtpd.smtp import SMTP, Envelope, Session
from sqlalchemy import Engine

from mailgate import replies
from threads.addresses import RecipientKind, resolve
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
    value = b" ".join(match.group(1).split()).decode("ascii", "replace").strip()
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


class InboundHandler:
    def __init__(
        self, engine: Engine, domain: str, secret: str, on_stored: Callable[[], None],
        source: str = "smtp", at_rest: AtRestKey | None = None,
    ) -> None:
        self.engine = engine
        self.domain = domain
        self.secret = secret
        self.on_stored = on_stored
        self.source = source
        self.accepting = True
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
        return replies.UNKNOWN_RECIPIENT

    async def handle_RCPT(  # noqa: N802 (aiosmtpd's hook name)
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list
    ) -> str:
        if not self.accepting:
            return replies.SHUTTING_DOWN
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
        try:
            await self.writer.store(raw, envelope.mail_from or "", envelope.rcpt_tos, self.source)
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
    handler: InboundHandler, host: str, port: int, max_size: int, lmtp: bool = False
) -> asyncio.base_events.Server:
    """Serve on the running loop (no controller thread): one asyncio process runs everything."""
    # aiosmtpd logs envelopes at INFO and every DATA line at DEBUG: addresses and message text
    # never belong in our logs, whatever log.level says (tests/test_record_logs.py).
    logging.getLogger("mail.log").setLevel(logging.WARNING)
    protocol = LMTP if lmtp else SMTP
    loop = asyncio.get_running_loop()

    def connection() -> asyncio.Protocol:
        if not handler.accepting:  # stopping: greet with 421 (RFC 5321 section 3.8)
            return _ShuttingDown()
        return protocol(
            handler, data_size_limit=max_size, enable_SMTPUTF8=True, decode_data=False,
            hostname=handler.domain, ident="Mediate",
        )

    return await loop.create_server(connection, host=host, port=port)


class _ShuttingDown(asyncio.Protocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport.write(f"{replies.SHUTTING_DOWN}\r\n".encode())  # type: ignore[attr-defined]
        transport.close()

