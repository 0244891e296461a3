"""From stored raw mail to a recorded decision: parse, classify, authenticate, decide, enqueue.

Each inbound mail is claimed, read (parsed, classified and, when it is in a mediator's name,
its sender authenticated: mailgate.authentication), then decided by threads.rules in one
transaction: the decision (a Message, a hold, a bounce mark) and every outgoing copy it causes
are committed together. Any failure leaves the mail ``quarantined`` with a safe reason, and the
mediator of its case is told; nothing is dropped and the pipeline goes on.
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
from sqlmodel import Session, select

from mailgate.attachments import AttachmentPolicy
from mailgate.authentication import (
    DKIM,
    DnsFunction,
    Verification,
    sender_authenticated,
    sender_trust,
    verify_sender,
)
from mailgate.classify import ClassifyContext
from mailgate.compose import Composer
from mailgate.inspect import Analysis, analyse
from mailgate.parse import ParsedMail
from threads import heat
from threads.addresses import Recipient, RecipientKind, resolve
from threads.attachments import IncomingFile, as_text
from threads.cases import mediator_of
from threads.claims import claim
from threads.crypto import AtRestKey, seal, unseal
from threads.db import read_scope, session_scope
from threads.intake import Form
from threads.lookup import is_address
from threads.models import Blob, InboundMail, InboundStatus, Participant, utcnow
from threads.notices import Notice
from threads.quarantine import announce, safe_description
from threads.routing import route
from threads.rules import Arrival, Policy, decide
from threads.settings import CaseSettings, MediatorSettings
from threads.tone import Lexicon

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
    vat_percent: float = 0.0  # fees.vat_percent, fixed on each case when it opens
    open_local: str = "open"
    default_language: str = "nl"
    at_rest: AtRestKey | None = None  # privacy.encryption_key: raw mail is stored sealed
    trusted_authserv_id: str = ""  # inbound.trusted_authserv_id (mailgate.authentication)
    intake_forms: dict[str, Form] | None = None  # what an ``intake:`` line may choose
    admin_address: str = ""  # where mail to postmaster@ and abuse@ is passed on
    mediator_authentication: str = DKIM  # inbound.mediator_authentication
    open_per_hour: int = 10  # inbound.open_per_hour: cases a mediator opens by mail an hour
    dkim_dns: DnsFunction | None = None  # DKIM key lookups (tests answer them themselves)
    analysis_seconds: float = 10.0  # inbound.analysis_seconds: past it a mail is quarantined
    tone_lexicon: Lexicon | None = None  # [tone] extra_files added to the shipped lists
    timezone: str = "Europe/Amsterdam"  # service.timezone: "written at 03:07" is local
    video_url_template: str = ""  # [video] url_template: the room #video invites to
    night_hold: str = ""  # the quiet hours open-mode copies wait out ([relay] night_hold)
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
            # Parsing (and a DKIM check's DNS lookup) is the slow part: do it before the write
            # transaction, not holding the lock the SMTP server needs to store the next mail.
            read = self._analyse(inbound_id)
            with session_scope(self.engine) as session:
                self._process(session, inbound_id, read)
        except Exception as error:  # the quarantine: keep the mail, record why, go on
            self._quarantine(inbound_id, error)

    def _quarantine(self, inbound_id: int, error: Exception) -> None:
        """Our fault, not the sender's: the mail is kept, listed by ``mediate inbound list``
        and retried by hand, and the mediator of its case is told. Neither the log nor the
        reason carries the error's text: it may quote the mail (an address, a line of it)."""
        reason = f"internal error: {safe_description(error)}"
        log.error("inbound %s quarantined: %s", inbound_id, reason)
        with session_scope(self.engine) as session:
            row = session.get(InboundMail, inbound_id, options=[defer(InboundMail.raw)])
            if row is None:
                return
            row.status = InboundStatus.QUARANTINED
            row.reason = reason
            row.claimed_until = None
            row.attempts += 1
            session.add(row)
            try:  # in a savepoint: a fault in telling must not undo the quarantine itself
                with session.begin_nested():
                    recipients = [resolve(session, r, self.domain, self.secret, self.open_local)
                                  for r in row.rcpt_tos]
                    self.composer.enqueue(session, announce(session, row, recipients))
            except Exception as again:  # noqa: BLE001 (the mail is safe; the log says why)
                log.error("inbound %s: the mediator could not be told: %s", inbound_id,
                          safe_description(again))

    def _analyse(self, inbound_id: int) -> tuple[Analysis, str, Verification | None] | None:
        """The analysis, the body's hash and (for mail in a mediator's name) whether its sender
        is authenticated, read once from the stored raw mail."""
        with read_scope(self.engine) as session:
            row = session.get(InboundMail, inbound_id)
            raw = unseal(row.raw, self.at_rest) \
                if row is not None and row.status == InboundStatus.PENDING else None
        if raw is None:
            return None
        return self._read(raw, self._mediators_address)

    def _mediators_address(self, address: str) -> bool:
        with read_scope(self.engine) as session:
            return is_mediator_address(session, self.mediators, address)

    def _read(
        self, raw: bytes, is_mediators: Callable[[str], bool]
    ) -> tuple[Analysis, str, Verification | None]:
        analysis = analyse(raw, self.context, self.policy, seconds=self.analysis_seconds)
        verification = None
        parsed = analysis.parsed
        if parsed is not None and parsed.from_address and is_mediators(parsed.from_address):
            verification = verify_sender(
                raw, parsed.headers, mode=self.mediator_authentication,
                authserv_id=self.trusted_authserv_id, dnsfunc=self.dkim_dns)
        return analysis, body_hash(raw), verification

    def _process(
        self, session: Session, inbound_id: int,
        read: tuple[Analysis, str, Verification | None] | None = None,
    ) -> None:
        # Locked (PostgreSQL) so that a second worker whose lease on this mail began after
        # ours ran out waits here, then finds it no longer pending: decided exactly once.
        # The raw mail is not loaded again (a large one would be held twice).
        row = session.get(InboundMail, inbound_id, with_for_update=True,
                          options=[defer(InboundMail.raw)])
        if row is None or row.status != InboundStatus.PENDING:
            return
        if read is None:
            read = self._read(unseal(row.raw, self.at_rest),
                              lambda address: is_mediator_address(session, self.mediators, address))
        analysis, digest, verification = read
        # The row itself is changed only at the end, once (_finish): on SQLite every UPDATE
        # of it rewrites the whole row, the raw mail included, which holds two copies of
        # that mail in memory for a moment; an early change would be flushed by the first
        # query below, with the decoded files held beside them.
        recipients = [resolve(session, r, self.domain, self.secret, self.open_local)
                      for r in row.rcpt_tos]
        # postmaster@ and abuse@ are the administrator's, not a case's: passed on once.
        postmaster = any(r.kind == RecipientKind.POSTMASTER for r in recipients)
        recipients = [r for r in recipients if r.kind != RecipientKind.POSTMASTER]
        if analysis.verdict.kind == "malformed":
            self._finish(row, InboundStatus.QUARANTINED, analysis.verdict.reason, recipients,
                         analysis)
            if analysis.too_slow:
                self._tell_quarantined(session, row, analysis, recipients)
            return
        arrival = self._arrival(row, analysis, digest, verification)
        decisions = decide(session, arrival, recipients, self.rules_policy()) \
            if recipients else []
        for decision in decisions:
            self.composer.enqueue(session, self._not_to_forged(decision.notices,
                                                               analysis.parsed))
        # The files are stored now (threads.attachments.keep): their decoded bytes need not
        # wait in memory beside the row's UPDATE.
        for files in (analysis.attachments, arrival.files,
                      analysis.parsed.attachments if analysis.parsed else []):
            files.clear()
        statuses = [d.status for d in decisions]
        if postmaster:
            statuses.append(self._postmaster(session, row))
        status = InboundStatus.PROCESSED if InboundStatus.PROCESSED in statuses \
            else (statuses or [InboundStatus.IGNORED])[0]
        reason = "; ".join([*analysis.reasons, *(f"{d.rule}: {d.reason}" for d in decisions)])
        self._finish(row, status, reason or analysis.verdict.reason, recipients, analysis)
        session.add(row)

    def rules_policy(self) -> Policy:
        return Policy(
            mediators=self.mediators, case_settings=self.case_settings,
            platform_fee=self.platform_fee, vat_percent=self.vat_percent,
            default_language=self.default_language,
            intake_forms=self.intake_forms, open_per_hour=self.open_per_hour,
            video_url_template=self.video_url_template, timezone=self.timezone,
            night_hold=self.night_hold,
            templates_dir=self.composer.templates_dir,
        )

    def _arrival(self, row: InboundMail, analysis: Analysis, digest: str,
                 verification: Verification | None) -> Arrival:
        """The threads-owned record of what this mail is (threads.rules decides on it)."""
        parsed, verdict = analysis.parsed, analysis.verdict
        assert parsed is not None
        return Arrival(
            inbound_id=row.id, kind=verdict.kind, relayable=verdict.relayable,
            reason=verdict.reason, sender=parsed.from_address, subject=parsed.subject,
            message_id=parsed.message_id, refs=parsed.in_reply_to + parsed.references,
            text=analysis.text, signed_text=analysis.signed_text, body_hash=digest,
            # quoted history only: held for the mediator, who sees what came
            hold=analysis.hold, quoted_text=parsed.text if analysis.hold else "",
            # the tone of the new words (threads.heat); only a party's is ever used
            reading=heat.read(analysis.text, self.tone_lexicon, self.timezone, row.received_at)
            if analysis.text else None,
            verified=verification is not None and verification.verified,
            unverified_why=verification.reason if verification else "",
            trust_hold=sender_trust(parsed.headers, self.trusted_authserv_id),
            rsvp=verdict.rsvp,
            bounce_permanent=any(b.permanent for b in verdict.bounced),
            bounce_statuses=[b.status for b in verdict.bounced if b.status],
            # the remote server's own words, for the mediator's notice
            bounce_said=list(dict.fromkeys(b.diagnostic or b.status for b in verdict.bounced
                                           if b.diagnostic or b.status)),
            files=[
                IncomingFile(
                    filename=item.filename, content_type=item.content_type, sha256=item.sha256,
                    size=item.size, stored=seal(item.data, self.at_rest), passed=passed,
                    reason=reason if not passed else "", inline=item.inline,
                    text=as_text(item.content_type, item.filename, item.data),
                )
                for item, passed, reason in analysis.attachments
            ],
        )

    def _tell_quarantined(self, session: Session, row: InboundMail, analysis: Analysis,
                          recipients: list[Recipient]) -> None:
        """A party's mail that could not be read within the time budget: it waits in the
        quarantine, and the case's mediator hears of it (a stranger's does not reach them)."""
        for recipient in recipients:
            if recipient.case is None or recipient.kind != RecipientKind.PARTICIPANT:
                continue
            found = route(session, recipient, analysis.sender, [])
            if found.author is None or not found.sender_matches \
                    or found.author.role == "mediator":
                continue
            case = recipient.case
            self.composer.enqueue(session, [Notice(
                "quarantined", case, mediator_of(session, case), author=found.author,
                context={"seconds": f"{self.analysis_seconds:g}", "inbound": row.id})])

    @staticmethod
    def _finish(row: InboundMail, status: str, reason: str, recipients: list[Recipient],
                analysis: Analysis) -> None:
        row.classification = analysis.verdict.kind
        row.attempts += 1
        row.claimed_until = None
        row.processed_at = utcnow()
        row.status = status
        row.reason = (reason or "")[:2000]
        case = next((r.case for r in recipients if r.case is not None), None)
        if case is not None:
            row.case_id = case.id
        log.info(
            "inbound %s %s: %s (case %s)", row.id, status, row.classification,
            case.ref if case else "-",
        )

    def _not_to_forged(self, notices: list[Notice], parsed: ParsedMail) -> list[Notice]:
        """Automatic answers go to the case's own people (a participant's registered address,
        a configured mediator) and to an outside From address only when our receiving MTA
        vouches for it (DMARC pass): a From header alone may name an innocent third party."""
        mediators = {m.email for m in self.mediators}
        vouched = sender_authenticated(parsed.headers, self.trusted_authserv_id)
        return [n for n in notices
                if n.recipient is not None or not n.to_address
                or n.to_address.lower() in mediators or vouched]

    def _postmaster(self, session: Session, row: InboundMail) -> InboundStatus:
        """Mail to postmaster@ or abuse@: passed on to the administrator as it arrived."""
        if not self.admin_address:
            return InboundStatus.IGNORED
        if session.get(Blob, row.sha256) is None:  # sealed already, as the blob store keeps it
            session.add(Blob(sha256=row.sha256, size=row.size, data=row.raw))
            session.flush()
        original = {"sha256": row.sha256, "filename": "original.eml",
                    "content_type": "message/rfc822"}
        self.composer.enqueue(session, [Notice(
            "postmaster", None, None, to_address=self.admin_address,
            language=self.default_language, answers=row.message_id,
            context={"original": original, "sender": row.mail_from or "<>",
                     "recipients": ", ".join(row.rcpt_tos)},
        )])
        return InboundStatus.PROCESSED

def is_mediator_address(
    session: Session, configured: list[MediatorSettings], address: str
) -> bool:
    """Whether mail from this address may claim to be a mediator's: one configured, or one
    leading a case (found by its keyed hash, threads.lookup: one indexed query)."""
    if address.lower() in {m.email for m in configured}:
        return True
    return session.exec(select(Participant.id).where(
        Participant.role == "mediator",
        is_address(session, Participant.email_hash, address),
    ).limit(1)).first() is not None
