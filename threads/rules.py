"""What happens to each inbound mail: one ordered table of rules, the way Mailman declares its
chains (and like mailgate.classify's STAGES).

mailgate hands over an ``Arrival`` (what it read from the mail) and the recipients it resolved.
For each case the mail reached, one recipient is chosen (``decide``), then the rules in
``RULES`` are asked in order; the first that answers decides, with its name and a reason.

Why this order:
- mail about our own copies (bounces) and to the open address is not about one case address;
- then what no sender can change: no case, a revoked address, an auto-reply, a loop;
- then who wrote: nobody of the case; a mail stored before under its author (a duplicate);
  someone claiming to be the mediator who is not proven to be (before the wrong-sender rule,
  which would answer the forger, and before anything the mediator may do); the wrong sender
  (``seen`` then notes that the author was heard from, deciding nothing);
- then the mediator's commands and messages, which work even in a closed case;
- then a party's message: an answer to the after-care follow-up (threads.aftercare, which
  reaches the mediator even in a closed case), closed case, a hold our MTA asked for, an answer
  to a proposal (recorded, never relayed: threads.proposals), a request for links, an answer to
  a message cooling off ('stop', or a new version that goes through the rest afresh:
  threads.cooling), the private line (to the mediator alone, whatever its tone, which is
  still read: a threat alerts the mediator, threads.heat.private), a paused case (kept for
  #resume), heat (a threat is never relayed, heated words are held in open mode:
  threads.heat), open moderation, and last of all review, which holds everything else.

A mail is carried out once per case: ``MailDecision`` keeps a key of its Message-ID, body and
case, inserted with the decision, so a redelivery or a second address of the same case finds
it and changes nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from threads import aftercare, attachments, audit, cooling, heat, proposals
from threads.actions import from_mediator
from threads.addresses import Recipient, RecipientKind
from threads.attachments import IncomingFile
from threads.cases import find_mediator, lock_case, mediator_of
from threads.delivery import copy_failed, participant_wrote
from threads.intake import Form
from threads.links import resend_links
from threads.lookup import is_address
from threads.models import (
    Case,
    InboundStatus,
    MailDecision,
    Message,
    MessageStatus,
    OutgoingMail,
    Participant,
    utcnow,
)
from threads.notices import Notice
from threads.opening import open_by_mail
from threads.redaction import redact
from threads.relay import (
    WRONG_SENDER,
    Contribution,
    _open,
    _private_from_party,
    answered_message,
    asks_for_links,
    hold,
    new_message,
    sent_recently,
)
from threads.routing import Route, route
from threads.settings import CaseSettings, MediatorSettings

UNVERIFIED = "unverified-mediator"
NOTICES_PER_HOUR = 3  # the mediator hears of mail in their name at most this often


@dataclass
class Arrival:
    """One inbound mail as the case domain needs it, built by mailgate from its analysis."""

    inbound_id: int | None
    kind: str  # mailgate's classification: normal | auto-reply | bounce | loop | malformed ...
    relayable: bool
    reason: str
    sender: str | None  # the From address
    subject: str = ""
    message_id: str | None = None
    refs: list[str] = field(default_factory=list)  # In-Reply-To first, then References
    text: str = ""
    signed_text: str = ""  # the text with the writer's closing kept (the mediator's words)
    files: list[IncomingFile] = field(default_factory=list)
    body_hash: str = ""
    # The From address is authenticated (mailgate.authentication); only ever checked when it
    # is a mediator's address. ``unverified_why`` says why not.
    verified: bool = False
    unverified_why: str = ""
    trust_hold: str | None = None  # our MTA reported a DKIM/DMARC failure
    bounce_permanent: bool = False
    bounce_statuses: list[str] = field(default_factory=list)
    bounce_said: list[str] = field(default_factory=list)  # Diagnostic-Code, else the status
    # mailgate found no new text, only quoted history: held for the mediator ("no-new-text"),
    # who is shown ``quoted_text``, what came; never relayed as a party's words.
    hold: str | None = None
    quoted_text: str = ""
    reading: heat.Reading | None = None  # the tone of the new words (threads.heat)
    rsvp: tuple[str, str] | None = None  # a calendar reply: (accepted|declined|tentative, UID)

    @property
    def dedupe_key(self) -> str:
        """This mail's identity (DESIGN.md: the same Message-ID and body is the same mail)."""
        return hashlib.sha256(f"{self.message_id or ''}|{self.body_hash}".encode()).hexdigest()

    def key(self, scope: str) -> str:
        """This mail's identity within one case (or the open address, or a bounced copy)."""
        return hashlib.sha256(f"{self.dedupe_key}|{scope}".encode()).hexdigest()


@dataclass
class Policy:
    """The settings the rules need (from the configuration, passed in by the application)."""

    mediators: list[MediatorSettings] = field(default_factory=list)
    case_settings: CaseSettings = field(default_factory=CaseSettings)
    platform_fee: float = 0.0
    vat_percent: float = 0.0
    default_language: str = "nl"
    intake_forms: Mapping[str, Form] | None = None
    open_per_hour: int = 10  # cases one mediator may open by mail in an hour
    video_url_template: str = ""  # [video] url_template, for the mediator's #video
    timezone: str = "Europe/Amsterdam"  # service.timezone: local times in what is written
    night_hold: str = ""  # quiet hours open-mode copies wait out (threads.night); "": never
    templates_dir: Path = Path("templates")  # the installation's (settlement templates)


@dataclass
class Decision:
    rule: str
    status: InboundStatus
    reason: str = ""
    notices: list[Notice] = field(default_factory=list)


@dataclass
class Situation:
    """One mail at one recipient, with what the rules look up on the way."""

    session: Session
    arrival: Arrival
    recipient: Recipient
    policy: Policy
    case: Case | None = None
    found: Route | None = None

    @property
    def author(self) -> Participant | None:
        return self.found.author if self.found else None

    @property
    def unproven_mediator(self) -> bool:
        """In the mediator's name, but not at their own address with an authenticated sender."""
        return self.found is not None and self.found.claims_mediator and not (
            self.recipient.mediators_own and self.arrival.verified)

    @property
    def hold_reason(self) -> str | None:
        """No personal address, or our MTA reported the sender's DKIM/DMARC failing."""
        if self.found is None:
            return None
        return self.found.hold_reason or self._no_new_text or (
            self.arrival.trust_hold if self.found.sender_matches else None)

    @property
    def _no_new_text(self) -> str | None:
        """A party's mail of quoted history only (a mediator's is answered as empty)."""
        author = self.author
        return self.arrival.hold if author is not None and author.role != "mediator" else None

    def contribution(self) -> Contribution:
        a, found = self.arrival, self.found
        return Contribution(
            text=a.text or (a.quoted_text if self._no_new_text else ""),
            signed_text=a.signed_text, subject=a.subject,
            message_id=a.message_id, refs=a.refs,
            dedupe_key=a.dedupe_key, inbound_id=a.inbound_id, sender_address=a.sender,
            sender_matches=found.sender_matches if found else False,
            hold_reason=self.hold_reason,
            channel=found.channel if found else "shared",
            counterpart=found.counterpart if found else None,
            max_participants=self.policy.case_settings.max_participants, files=a.files,
            reading=a.reading if self.author is not None and self.author.role == "party"
            else None,
            video_url_template=self.policy.video_url_template, timezone=self.policy.timezone,
            night_hold=self.policy.night_hold,
            templates_dir=self.policy.templates_dir,
        )


Rule = Callable[[Situation], Decision | None]
IGNORED, PROCESSED = InboundStatus.IGNORED, InboundStatus.PROCESSED


def bounce(s: Situation) -> Decision | None:
    """A bounce of one of our copies (VERP, RFC 3464): mark it; the mediator hears once."""
    if s.recipient.kind != RecipientKind.BOUNCE:
        return None
    copy = s.session.get(OutgoingMail, s.recipient.copy_id)
    party = s.session.get(Participant, copy.participant_id) \
        if copy is not None and copy.participant_id is not None else None
    if party is None or s.arrival.kind != "bounce":
        return Decision("bounce", IGNORED, "not a bounce of a copy to a participant")
    case = lock_case(s.session, party.case_id)
    permanent = s.arrival.bounce_permanent
    audit.record(s.session, case, "bounce", actor=party.name, permanent=permanent, copy=copy.id)
    notices = []
    if permanent:  # the same path as a relay's 5xx: marked, the mediator told once
        copy.last_error = "; ".join(s.arrival.bounce_said) or s.arrival.reason
        notices = copy_failed(s.session, copy, permanent=True, bounced=True)
    return Decision("bounce", PROCESSED, "permanent" if permanent else "temporary", notices)


def open_request(s: Situation) -> Decision | None:
    """Mail to the open address: only an authenticated mediator opens a case, at most
    ``open_per_hour`` an hour."""
    if s.recipient.kind != RecipientKind.OPEN:
        return None
    a, policy = s.arrival, s.policy
    if not a.relayable:
        return Decision("open-request", IGNORED, a.kind)
    mediator = find_mediator(policy.mediators, a.sender or "")
    if mediator is not None and not a.verified:
        notices = [] if sent_recently(s.session, "mediator-unverified", mediator.email, 1) \
            >= NOTICES_PER_HOUR else [Notice(
                "mediator-unverified", None, None, to_address=mediator.email,
                language=mediator.language, context={"why": a.unverified_why, "where": "open"})]
        return Decision("open-request", IGNORED, f"{UNVERIFIED}: {a.unverified_why}", notices)
    if mediator is not None and _opened_lately(s.session, mediator.email) >= policy.open_per_hour:
        notices = [] if sent_recently(s.session, "open-problems", mediator.email, 1) \
            >= NOTICES_PER_HOUR else [Notice(
                "open-problems", None, None, to_address=mediator.email,
                language=mediator.language, answers=a.message_id,
                context={"errors": [{"key": "open-limit", "limit": policy.open_per_hour}],
                         "title": a.subject})]
        return Decision("open-request", IGNORED, "hourly limit reached", notices)
    case, notices = open_by_mail(
        s.session, sender=a.sender, subject=a.subject, text=a.text,
        mediators=policy.mediators, settings=policy.case_settings,
        platform_fee=policy.platform_fee, vat_percent=policy.vat_percent,
        answers=a.message_id,
        default_language=policy.default_language, intake_forms=policy.intake_forms,
    )
    if case is None and a.sender and sent_recently(s.session, "open-refused", a.sender, hours=1):
        return Decision("open-request", IGNORED, "refused lately already")
    return Decision("open-request", PROCESSED if case else IGNORED,
                    "opened" if case else "not opened", notices)


def _opened_lately(session: Session, email: str) -> int:
    """Cases this mediator opened in the last hour (their rows found by address hash)."""
    since = utcnow() - timedelta(hours=1)
    return session.exec(select(func.count()).select_from(Participant).join(
        Case, Case.id == Participant.case_id).where(
        Participant.role == "mediator",
        is_address(session, Participant.email_hash, email),
        Case.created_at >= since,
    )).one()


def no_case(s: Situation) -> Decision | None:
    if s.case is None:
        return Decision("no-case", IGNORED, s.recipient.reason or "no case")
    return None


def revoked(s: Situation) -> Decision | None:
    """e.g. fetched by IMAP, which asks no RCPT question."""
    if s.recipient.kind != RecipientKind.REVOKED:
        return None
    participant = s.recipient.participant
    audit.record(s.session, s.case, "revoked-address",
                 actor=participant.name if participant else "?")
    return Decision("revoked", IGNORED, "revoked address")


def auto_reply(s: Situation) -> Decision | None:
    """An out-of-office (RFC 3834): remembered as the author's away note, never relayed."""
    if s.arrival.kind != "auto-reply":
        return None
    author = s.author
    if author is not None and s.found.sender_matches and not s.unproven_mediator:
        author.away_note = (s.arrival.subject or "auto-reply")[:300]
        s.session.add(author)
        audit.record(s.session, s.case, "auto-reply", actor=author.name)
    return Decision("auto-reply", IGNORED, s.arrival.reason)


def calendar_reply(s: Situation) -> Decision | None:
    """A party's calendar answering the #video invitation (mailgate.classify.calendar): the
    mediator hears who accepted or declined; nothing goes to the others, nothing back to the
    party, who only pressed a button."""
    if s.arrival.kind != "calendar-reply" or s.arrival.rsvp is None:
        return None
    author = s.author
    if author is None or author.role != "party" or not s.found.sender_matches:
        return Decision("calendar-reply", IGNORED, "a calendar reply from no known party")
    answer, uid = s.arrival.rsvp
    audit.record(s.session, s.case, "video-reply", actor=author.name, answer=answer, uid=uid)
    mediator = mediator_of(s.session, s.case)
    return Decision("calendar-reply", PROCESSED, f"{author.name} {answer} the invitation",
                    [Notice("video-reply", s.case, mediator, author=author,
                            context={"answer": answer})])


def not_relayable(s: Situation) -> Decision | None:
    if s.arrival.relayable:
        return None
    audit.record(s.session, s.case, s.arrival.kind,  # the trail is readable: no addresses
                 actor=s.author.name if s.author else "unknown",
                 reason=redact(s.arrival.reason))
    return Decision("not-relayable", IGNORED, s.arrival.reason)


def stranger(s: Situation) -> Decision | None:
    """Mail to a case address from nobody of the case: explain, at most once a day."""
    if s.author is not None:
        return None
    a = s.arrival
    audit.record(s.session, s.case, "unknown-sender", actor="unknown")
    notices = []
    if a.sender and not sent_recently(s.session, "unknown-sender", a.sender, hours=24):
        notices.append(Notice("unknown-sender", s.case, None, to_address=a.sender,
                              language=s.case.language, answers=a.message_id))
    return Decision("stranger", IGNORED, "unknown sender", notices)


def duplicate(s: Situation) -> Decision | None:
    """Stored before under this author (a mail decided before MailDecision existed)."""
    if not s.session.exec(select(Message.id).where(
            Message.author_id == s.author.id, Message.dedupe_key == s.arrival.dedupe_key)).first():
        return None
    audit.record(s.session, s.case, "duplicate", actor=s.author.name)
    return Decision("duplicate", InboundStatus.DUPLICATE, "stored before")


def unverified_mediator(s: Situation) -> Decision | None:
    """Mail in the mediator's name that is not proven theirs: it arrived at an address that
    is not the mediator's own, or its sender is not authenticated. Nothing in it is carried
    out; it is held on the record and the mediator is told (rarely: a forger may send many)."""
    if not s.unproven_mediator:
        return None
    why = "not-own-address" if not s.recipient.mediators_own else s.arrival.unverified_why
    mediator = mediator_of(s.session, s.case)
    message = new_message(s.session, s.case, mediator, s.contribution(), MessageStatus.HELD)
    message.channel, message.hold_reason = "shared", UNVERIFIED
    audit.record(s.session, s.case, "held", actor=mediator.name, message=message.seq,
                 reason=UNVERIFIED, why=why)
    notices = [] if sent_recently(s.session, "mediator-unverified", mediator.email, 1, s.case) \
        >= NOTICES_PER_HOUR else [Notice(
            "mediator-unverified", s.case, mediator, author=mediator, message=message,
            answers=s.arrival.message_id, context={"why": why, "where": "case"})]
    return Decision("unverified-mediator", PROCESSED, f"{UNVERIFIED}: {why}", notices)


def wrong_sender(s: Situation) -> Decision | None:
    if s.found.sender_matches:
        return None
    notices = hold(s.session, s.case, s.author, s.contribution(), WRONG_SENDER)
    return Decision("wrong-sender", PROCESSED, WRONG_SENDER, notices)


def seen(s: Situation) -> Decision | None:
    """Decides nothing: from here on the author is who they say, so they were heard from."""
    s.author.last_message_at = utcnow()
    s.session.add(s.author)
    participant_wrote(s.session, s.case, s.author)  # their address works: a bounce is over
    return None


def mediator(s: Situation) -> Decision | None:
    if s.author.role != "mediator":
        return None
    return Decision("mediator", PROCESSED, "mediator",
                    from_mediator(s.session, s.case, s.author, s.contribution()))


def aftercare_reply(s: Situation) -> Decision | None:
    """In a closed case, a party's answer to the follow-up of a settlement (threads.aftercare)
    reaches the mediator: before the closed-case rule, which would only say it is closed."""
    notices = aftercare.reply(s.session, s.case, s.author, s.contribution())
    if notices is None:
        return None
    return Decision("aftercare-reply", PROCESSED, "follow-up answer", notices)


def closed_case(s: Situation) -> Decision | None:
    if s.case.status != "closed":
        return None
    author = s.author
    if sent_recently(s.session, "case-closed", author.email, 24, s.case):
        return Decision("closed-case", PROCESSED, "case closed, told lately")
    return Decision("closed-case", PROCESSED, "case closed", [Notice(
        "case-closed", s.case, author, author=mediator_of(s.session, s.case),
        answers=s.arrival.message_id)])


def sender_not_trusted(s: Situation) -> Decision | None:
    """No personal address, or our MTA could not confirm the sender: the mediator decides."""
    reason = s.hold_reason
    if not reason:
        return None
    return Decision("held", PROCESSED, reason,
                    hold(s.session, s.case, s.author, s.contribution(), reason))


def proposal_answer(s: Situation) -> Decision | None:
    """A party's "akkoord" / "not agreed" to a proposal (threads.proposals) is recorded, never
    relayed: it comes after the rules that prove who wrote (an answer counts only from the
    party's own address) and before everything that would hold or pass words on (the private
    line, a pause, heat, open moderation, review). A reply to a proposal that is no answer is
    held for the mediator like any message under review, even in open moderation."""
    if s.author.role != "party":
        return None
    notices = proposals.answer_by_mail(s.session, s.case, s.author, s.contribution())
    if notices is None:
        return None
    return Decision("proposal-answer", PROCESSED, "proposal answer", notices)


def link_request(s: Situation) -> Decision | None:
    if not asks_for_links(s.arrival.text):
        return None
    return Decision("link-request", PROCESSED, "links", resend_links(s.session, s.case, s.author))


def private_line(s: Situation) -> Decision | None:
    if s.found.channel != "private":
        return None
    notices = _private_from_party(s.session, s.case, s.author, s.contribution())
    return Decision("private-line", PROCESSED, "private", heat.private(notices, _reading(s)))


def cooling_answer(s: Situation) -> Decision | None:
    """The author of a message cooling off (threads.cooling) answers: 'stop' keeps it from
    going out; a new version, on the shared line or in answer to the cooling-off mail,
    replaces it and goes through the rules below afresh (tone check and all)."""
    waiting = cooling.pending(s.session, s.case, s.author)
    if not waiting:
        return None
    a = s.arrival
    # the one whose cooling-off mail this answers, else every one of theirs that waits
    answered = answered_message(s.session, s.case, a.refs, (cooling.DELAY_NOTICE,))
    meant = [answered] if answered in waiting else waiting
    if cooling.says_stop(a.text):
        return Decision("cooling-stop", PROCESSED, f"stopped {[m.seq for m in meant]}",
                        cooling.stop(s.session, s.case, s.author, meant, a.message_id))
    if s.found.channel == "private" and answered not in waiting:
        return None  # a word to the mediator alone, not a new version
    replaced = cooling.supersede(s.session, s.case, s.author, meant)
    s.found.channel, s.found.counterpart = "shared", None
    for rule in RULES[RULES.index(cooling_answer) + 1:]:
        decision = rule(s)
        if decision is not None:
            for notice in decision.notices:
                if notice.kind in ("review", "copy-to-mediator", "tone-alert"):
                    notice.context.update(replaces=replaced[-1], replaced_why="cooling-off")
            decision.reason = f"new version of {replaced}: {decision.reason}"
            return decision
    raise AssertionError("review always decides")  # pragma: no cover


def _reading(s: Situation) -> heat.Reading:
    return s.arrival.reading or heat.read(s.arrival.text)


def paused(s: Situation) -> Decision | None:
    """While the case is paused (#pause) a party's words wait for #resume (threads.pause)."""
    if s.case.status != heat.PAUSED:
        return None
    notices = hold(s.session, s.case, s.author, s.contribution(), heat.PAUSED)
    return Decision("paused", PROCESSED, heat.PAUSED,
                    heat.settle(notices, _reading(s), heat.PAUSED))


def heated(s: Situation) -> Decision | None:
    """A threat is never relayed as it is, in any mode; heated words are held in open mode
    (threads.heat decides which, from the tone check)."""
    reason = heat.hold_reason(s.case, _reading(s), s.author)
    if not reason:
        return None
    notices = hold(s.session, s.case, s.author, s.contribution(), reason)
    notices = heat.settle(notices, _reading(s), reason)
    if reason == heat.HEATED:  # the case's cooling-off setting: hold, or go out after a wait
        notices = cooling.schedule(s.case, notices)
    return Decision("heat", PROCESSED, reason, notices)


def open_moderation(s: Situation) -> Decision | None:
    if s.case.moderation != "open":
        return None
    return Decision("open", PROCESSED, "relayed",
                    _open(s.session, s.case, s.author, s.contribution()))


def review(s: Situation) -> Decision | None:
    notices = hold(s.session, s.case, s.author, s.contribution(), None)
    return Decision("review", PROCESSED, "held for review",
                    heat.settle(notices, _reading(s), None))


RULES: tuple[Rule, ...] = (
    bounce, open_request, no_case, revoked, auto_reply, calendar_reply, not_relayable, stranger,
    duplicate, unverified_mediator, wrong_sender, seen, mediator, aftercare_reply, closed_case,
    sender_not_trusted, proposal_answer, link_request, cooling_answer, private_line, paused,
    heated, open_moderation, review,
)
_CASE_RULES = RULES[RULES.index(auto_reply):]  # these need the author found by routing


def decide(session: Session, arrival: Arrival, recipients: list[Recipient],
           policy: Policy) -> list[Decision]:
    """Every decision this mail causes: at most one per case, one for the open address, one
    per bounced copy; already decided before (a redelivery) counts as a duplicate."""
    decisions = []
    for scope, recipient in chosen(recipients):
        if not recipient.accepted and recipient.kind != RecipientKind.REVOKED:
            decisions.append(Decision("unknown-address", IGNORED, recipient.reason))
            continue
        if not _first_time(session, arrival, scope):
            decisions.append(Decision("duplicate", InboundStatus.DUPLICATE, "decided before"))
            continue
        decisions.append(decide_one(session, arrival, recipient, policy))
    return decisions


def decide_one(session: Session, arrival: Arrival, recipient: Recipient,
               policy: Policy) -> Decision:
    s = Situation(session, arrival, recipient, policy)
    if recipient.case is not None:  # decisions on one case happen one at a time
        s.case = lock_case(session, recipient.case.id)
    for rule in RULES:
        if rule in _CASE_RULES and s.found is None:  # who wrote, once the case is certain
            s.found = route(session, recipient, arrival.sender, arrival.refs)
        decision = rule(s)
        if decision is not None:
            if s.found is not None:
                _files_held(s, decision)
            return decision
    raise AssertionError("review always decides")  # pragma: no cover


def _files_held(s: Situation, decision: Decision) -> None:
    """The author hears which files did not travel, and why; the mediator sees it too."""
    refused = attachments.held_back(s.arrival.files)
    if decision.notices and refused and s.found.sender_matches and s.author is not None \
            and decision.rule not in ("unverified-mediator", "stranger"):
        decision.notices.append(Notice(
            "files-held", s.case, s.author, author=mediator_of(s.session, s.case),
            answers=s.arrival.message_id, context={"files": refused}))


# Which of a case's addresses speaks for a mail that reached several: the mediator's own
# first (so their mail to their address and a private line is theirs, once), then the shared
# reply addresses, then private lines, then the address without a token.
def _rank(recipient: Recipient) -> tuple[int, int]:
    if recipient.kind == RecipientKind.PARTICIPANT:
        order = 0 if recipient.mediators_own and recipient.channel == "shared" else \
            1 if recipient.mediators_own else 2 if recipient.channel == "shared" else 3
        return order, recipient.participant.id or 0
    return (4, 0) if recipient.kind == RecipientKind.CASE else (5, 0)


def chosen(recipients: list[Recipient]) -> list[tuple[str, Recipient]]:
    """One recipient per scope (a case, the open address, a bounced copy), in arrival order."""
    best: dict[str, Recipient] = {}
    for recipient in recipients:
        if recipient.case is not None:
            scope = f"case:{recipient.case.id}"
        elif recipient.kind == RecipientKind.BOUNCE:
            scope = f"bounce:{recipient.copy_id}"
        else:
            scope = str(recipient.kind)
        if scope not in best or _rank(recipient) < _rank(best[scope]):
            best[scope] = recipient
    return list(best.items())


def _first_time(session: Session, arrival: Arrival, scope: str) -> bool:
    """Insert this mail's key for the scope; False when it was decided before. On PostgreSQL
    a second machine inserting the same key waits for the first and then fails here."""
    try:
        with session.begin_nested():
            session.add(MailDecision(key=arrival.key(scope), inbound_id=arrival.inbound_id))
            session.flush()
    except IntegrityError:
        return False
    return True

