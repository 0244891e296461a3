"""From stored raw mail to a recorded decision: parse, classify, route, decide, enqueue.

Each inbound mail is claimed, then handled in one transaction: the decision (a Message, a hold,
a bounce mark) and every outgoing copy it causes are committed together. Any failure leaves the
mail ``quarantined`` with its reason; nothing is dropped and the pipeline goes on.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import Engine
from sqlalchemy.orm import defer
from sqlmodel import Session

from mailgate.attachments import AttachmentPolicy
from mailgate.authentication import sender_trust
from mailgate.classify import ClassifyContext
from mailgate.compose import Composer
from mailgate.inspect import Analysis, analyse
from mailgate.parse import ParsedMail
from threads import audit
from threads.addresses import Recipient, resolve
from threads.attachments import IncomingFile
from threads.cases import lock_case
from threads.claims import claim
from threads.crypto import AtRestKey, seal, unseal
from threads.db import read_scope, session_scope
from threads.delivery import copy_failed
from threads.models import Case, InboundMail, OutgoingMail, Participant, utcnow
from threads.notices import Notice
from threads.opening import open_by_mail
from threads.relay import Contribution, receive, sent_recently
from threads.routing import route
from threads.settings import CaseSettings, MediatorSettings

log = logging.getLogger("mediate.pipeline")
LEASE_SECONDS = 120
QUIET_SECONDS = 0.02  # a pause in arrivals this long lets the pipeline take the next mail
MAX_DEFER_SECONDS = 0.1  # ... and it never waits longer than this per mail


def body_hash(raw: bytes) -> str:
    for separator in (b"\r\n\r\n", b"\n\n"):
        at = raw.find(separator)
        if at != -1:  # hashed in place: no copy of a large body
            return hashlib.sha256(memoryview(raw)[at + len(separator):]).hexdigest()
    return hashlib.sha256(raw).hexdigest()


def redact(address: str | None) -> str:
    """'anna@example.org' -> 'a***@example.org' for logs."""
    if not address or "@" not in address:
        return "?"
    local, _, host = address.partition("@")
    return f"{local[:1]}***@{host}"


@dataclass
class Pipeline:
    engine: Engine
    composer: Composer
    domain: str
    secret: str
    policy: AttachmentPolicy
    on_enqueued: object = None  # callable nudging the outbox worker
    mediators: list[MediatorSettings] = field(default_factory=list)
    case_settings: CaseSettings = field(default_factory=CaseSettings)
    platform_fee: float = 0.0
    open_local: str = "open"
    default_language: str = "nl"
    at_rest: AtRestKey | None = None  # privacy.encryption_key: raw mail is stored sealed
    trusted_authserv_id: str = ""  # inbound.trusted_authserv_id (mailgate.authentication)
    intake_forms: set[str] | None = None  # the names an ``intake:`` line may choose
    # when the SMTP server is another process: the time.monotonic() of its last stored mail
    arrivals: Callable[[], float] | None = None

    def __post_init__(self) -> None:
        self.wakeup = asyncio.Event()
        self.context = ClassifyContext(own_domain=self.domain)
        self.last_arrival = 0.0  # time.monotonic() of the last mail the SMTP server stored

    def nudge(self) -> None:
        self.last_arrival = time.monotonic()
        self.wakeup.set()

    async def run(self, poll_seconds: float = 5.0) -> None:
        while True:
            done = await self.process_pending(yield_to_arrivals=True)
            if done:
                continue
            self.wakeup.clear()
            try:
                await asyncio.wait_for(self.wakeup.wait(), poll_seconds)
            except TimeoutError:
                pass

    async def process_pending(self, limit: int = 20, yield_to_arrivals: bool = False) -> int:
        ids = await asyncio.to_thread(
            claim, self.engine, InboundMail, limit=limit, lease_seconds=LEASE_SECONDS
        )
        for inbound_id in ids:
            if yield_to_arrivals:
                await self._let_arrivals_in()
            await asyncio.to_thread(self.process, inbound_id)
            if callable(self.on_enqueued):  # copies go out while the next mail is decided
                self.on_enqueued()
        return len(ids)

    async def _let_arrivals_in(self) -> None:
        """Accepting mail comes first: the pipeline's work holds Python's GIL (in one process)
        and SQLite's write lock (in any process), so deciding a mail while others are
        arriving slows every SMTP transaction down. While mail keeps
        arriving, wait for a pause of QUIET_SECONDS, but never more than MAX_DEFER_SECONDS per
        mail: the stored mail is safe, and under a steady stream processing still goes on."""
        deadline = time.monotonic() + MAX_DEFER_SECONDS
        last = self.arrivals or (lambda: self.last_arrival)
        while time.monotonic() < deadline and time.monotonic() - last() < QUIET_SECONDS:
            await asyncio.sleep(QUIET_SECONDS)

    def process(self, inbound_id: int) -> None:
        try:
            # Parsing is the slow part: do it before the write transaction, not holding the
            # lock that the SMTP server needs to store the next mail.
            read = self._analyse(inbound_id)
            with session_scope(self.engine) as session:
                self._process(session, inbound_id, read)
        except Exception as error:  # the quarantine: keep the mail, record why, go on
            log.exception("inbound %s quarantined", inbound_id)
            with session_scope(self.engine) as session:
                row = session.get(InboundMail, inbound_id)
                if row is not None:
                    row.status = "quarantined"
                    row.reason = f"internal error: {type(error).__name__}: {error}"[:2000]
                    row.claimed_until = None
                    row.attempts += 1
                    session.add(row)

    def _analyse(self, inbound_id: int) -> tuple[Analysis, str] | None:
        """The analysis and the body's hash, read once from the stored raw mail."""
        with read_scope(self.engine) as session:
            row = session.get(InboundMail, inbound_id)
            raw = unseal(row.raw, self.at_rest) \
                if row is not None and row.status == "pending" else None
        if raw is None:
            return None
        return analyse(raw, self.context, self.policy), body_hash(raw)

    def _process(
        self, session: Session, inbound_id: int, read: tuple[Analysis, str] | None = None
    ) -> None:
        # Locked (PostgreSQL) so that a second worker whose lease on this mail began after
        # ours ran out waits here, then finds it no longer pending: decided exactly once.
        # The raw mail is not loaded again (a large one would be held twice).
        row = session.get(InboundMail, inbound_id, with_for_update=True,
                          options=[defer(InboundMail.raw)])
        if row is None or row.status != "pending":
            return
        if read is None:
            raw = unseal(row.raw, self.at_rest)
            read = analyse(raw, self.context, self.policy), body_hash(raw)
        analysis, digest = read
        row.classification = analysis.verdict.kind
        row.attempts += 1
        row.claimed_until = None
        row.processed_at = utcnow()
        recipients = [resolve(session, r, self.domain, self.secret, self.open_local)
                      for r in row.rcpt_tos]
        if analysis.verdict.kind == "malformed":
            self._finish(row, "quarantined", analysis.verdict.reason, recipients)
            return
        outcomes = [self._route(session, row, analysis, r, digest) for r in recipients]
        status = "processed" if "processed" in outcomes else (outcomes or ["ignored"])[0]
        reason = "; ".join(analysis.reasons) or analysis.verdict.reason
        self._finish(row, status, reason, recipients)
        session.add(row)

    @staticmethod
    def _finish(row: InboundMail, status: str, reason: str, recipients: list[Recipient]) -> None:
        row.status = status
        row.reason = (reason or "")[:2000]
        case = next((r.case for r in recipients if r.case is not None), None)
        if case is not None:
            row.case_id = case.id
        log.info(
            "inbound %s %s: %s (case %s)", row.id, status, row.classification,
            case.ref if case else "-",
        )

    def _route(
        self, session: Session, row: InboundMail, analysis: Analysis, recipient: Recipient,
        digest: str,
    ) -> str:
        verdict = analysis.verdict
        parsed = analysis.parsed
        if recipient.kind == "bounce":
            return self._bounce(session, recipient, analysis)
        if recipient.kind == "open":
            return self._open_case(session, analysis) if verdict.relayable else "ignored"
        if recipient.case is None or parsed is None:
            return "ignored"
        case = lock_case(session, recipient.case.id)
        if recipient.kind == "revoked":  # e.g. fetched by IMAP, which asks no RCPT question
            audit.record(session, case, "revoked-address",
                         actor=recipient.participant.name if recipient.participant else "?")
            return "ignored"
        found = route(session, recipient, parsed.from_address,
                      parsed.in_reply_to + parsed.references)
        author = found.author
        if verdict.kind == "auto-reply":
            if author is not None and found.sender_matches:
                author.away_note = (parsed.subject or "auto-reply")[:300]
                session.add(author)
                audit.record(session, case, "auto-reply", actor=author.name)
            return "ignored"
        if not verdict.relayable:
            audit.record(session, case, verdict.kind,
                         actor=author.name if author else "unknown", reason=verdict.reason)
            return "ignored"
        if author is None:
            return self._stranger(session, case, parsed)
        contribution = Contribution(
            text=analysis.text,
            subject=parsed.subject,
            message_id=parsed.message_id,
            refs=parsed.in_reply_to + parsed.references,
            dedupe_key=hashlib.sha256(
                f"{row.message_id or ''}|{digest}".encode()
            ).hexdigest(),
            inbound_id=row.id,
            sender_address=parsed.from_address,
            sender_matches=found.sender_matches,
            hold_reason=found.hold_reason or (  # a DMARC/DKIM failure our MTA reported
                sender_trust(parsed.headers, self.trusted_authserv_id)
                if found.sender_matches else None),
            channel=found.channel,
            counterpart=found.counterpart,
            max_participants=self.case_settings.max_participants,
            files=[
                IncomingFile(
                    filename=item.filename, content_type=item.content_type, sha256=item.sha256,
                    size=item.size, stored=seal(item.data, self.at_rest), passed=passed,
                    reason=reason if not passed else "", inline=item.inline,
                )
                for item, passed, reason in analysis.attachments
            ],
        )
        notices = receive(session, case, author, contribution)
        if notices is None:
            audit.record(session, case, "duplicate", actor=author.name)
            return "duplicate"
        self.composer.enqueue(session, notices)
        return "processed"

    def _stranger(self, session: Session, case: Case, parsed: ParsedMail) -> str:
        """Mail to a case address from nobody of the case: explain, at most once a day."""
        audit.record(session, case, "unknown-sender", actor="unknown")
        if parsed.from_address and not sent_recently(
            session, "unknown-sender", parsed.from_address, hours=24
        ):
            self.composer.enqueue(session, [Notice(
                "unknown-sender", case, None, to_address=parsed.from_address,
                language=case.language, answers=parsed.message_id,
            )])
        return "ignored"

    def _open_case(self, session: Session, analysis: Analysis) -> str:
        parsed = analysis.parsed
        assert parsed is not None
        case, notices = open_by_mail(
            session, sender=parsed.from_address, subject=parsed.subject, text=analysis.text,
            mediators=self.mediators, settings=self.case_settings,
            platform_fee=self.platform_fee, answers=parsed.message_id,
            default_language=self.default_language, intake_forms=self.intake_forms,
        )
        if case is None and parsed.from_address and sent_recently(
            session, "open-refused", parsed.from_address, hours=1
        ):
            return "ignored"
        self.composer.enqueue(session, notices)
        return "processed" if case is not None else "ignored"

    def _bounce(self, session: Session, recipient: Recipient, analysis: Analysis) -> str:
        copy = session.get(OutgoingMail, recipient.copy_id)
        if copy is None or copy.participant_id is None:
            return "ignored"
        participant = session.get(Participant, copy.participant_id)
        permanent = any(b.permanent for b in analysis.verdict.bounced)
        if analysis.verdict.kind == "bounce" and participant is not None:
            case = lock_case(session, participant.case_id)
            audit.record(
                session, case, "bounce", actor=participant.name, permanent=permanent,
                copy=copy.id,
            )
            if permanent:  # the same path as a relay's 5xx: marked, the mediator told once
                statuses = [b.status for b in analysis.verdict.bounced if b.status]
                copy.last_error = f"bounced: {', '.join(statuses) or analysis.verdict.reason}"
                self.composer.enqueue(session, copy_failed(session, copy, permanent=True))
            return "processed"
        return "ignored"
