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
from collections.abc import Callable

from aiosmtpd.lmtp import LMTP
from aiosmtpd.smtp import SMTP, Envelope, Session
from sqlalchemy import Engine

from mailgate import replies
from threads.addresses import resolve
from threads.db import session_scope
from threads.models import InboundMail

log = logging.getLogger("mediate.smtp")
_MESSAGE_ID = re.compile(rb"^message-id:[ \t]*(.*(?:\r?\n[ \t].*)*)", re.I | re.M)


def header_message_id(raw: bytes) -> str | None:
    head = raw.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
    match = _MESSAGE_ID.search(head)
    if not match:
        return None
    value = b" ".join(match.group(1).split()).decode("ascii", "replace").strip()
    return value[:500] or None


def store_inbound(
    engine: Engine, raw: bytes, mail_from: str, rcpt_tos: list[str], source: str
) -> int:
    """Write the raw mail durably; the id is returned once the transaction is committed."""
    with session_scope(engine) as session:
        row = InboundMail(
            raw=raw, size=len(raw), sha256=hashlib.sha256(raw).hexdigest(),
            mail_from=mail_from[:500], rcpt_tos=list(rcpt_tos), source=source,
            message_id=header_message_id(raw),
        )
        session.add(row)
        session.flush()
        return row.id  # type: ignore[return-value]


class InboundHandler:
    def __init__(
        self, engine: Engine, domain: str, secret: str, on_stored: Callable[[], None],
        source: str = "smtp",
    ) -> None:
        self.engine = engine
        self.domain = domain
        self.secret = secret
        self.on_stored = on_stored
        self.source = source
        self.accepting = True

    def _check(self, address: str) -> str | None:
        with session_scope(self.engine) as session:
            recipient = resolve(session, address, self.domain, self.secret)
        if recipient.accepted:
            return None
        if recipient.kind == "revoked":
            return replies.REVOKED_RECIPIENT
        if recipient.kind == "no-reply":
            return replies.NO_REPLY
        return replies.UNKNOWN_RECIPIENT

    async def handle_RCPT(  # noqa: N802 (aiosmtpd's hook name)
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list
    ) -> str:
        if not self.accepting:
            return replies.SHUTTING_DOWN
        refusal = await asyncio.to_thread(self._check, address)
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
            await asyncio.to_thread(
                store_inbound, self.engine, raw, envelope.mail_from or "",
                envelope.rcpt_tos, self.source,
            )
        except Exception:  # the sender's MTA keeps the mail and retries: nothing is lost
            log.exception("could not store inbound mail")
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
    protocol = LMTP if lmtp else SMTP
    loop = asyncio.get_running_loop()
    return await loop.create_server(
        lambda: protocol(
            handler, data_size_limit=max_size, enable_SMTPUTF8=True, decode_data=False,
            hostname=handler.domain, ident="Mediate",
        ),
        host=host, port=port,
    )
