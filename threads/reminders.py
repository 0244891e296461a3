"""Reminders: what is due at ``now``, and sending each one exactly once.

The scheduler only triggers; this module decides, from the database alone:

- ``register`` / ``intake`` / ``sign``: a party has not taken that step ``first_after_days``
  after the invitation (or the previous step), then again every ``repeat_every_days``, at most
  ``max_reminders`` times;
- ``reply``: the mediator is waiting for a party's answer (``mark_awaiting``) and the party has
  not written since: first at the reply-by date (or ``first_after_days`` after asking);
- ``silent-<kind>``: after the last reminder (and one more interval) the mediator is told, once,
  who is not responding;
- ``proposal``: a party has not answered a proposal put to them (threads.proposals), counted
  from the day it was sent, as ``reply`` is;
- ``review``: a message has waited for the mediator's review ``review_after_hours``.

Every "what is due" question is one SQL query filtered to open cases and to participants still
missing the step (partial indexes in ``models``); nothing loads every participant. Each reminder
is claimed by inserting its ``Reminder`` row (unique per participant, kind, subject and round)
in the same transaction as its outgoing mail (see ``threads.sweep``), so a sweep that runs twice,
late, or on two machines at once sends it once. Reminders to parties wait for the end of quiet
hours (``threads.quiet_hours``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, exists, func, or_
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from threads import audit
from threads.models import (
    Awaiting,
    Case,
    Message,
    Participant,
    Proposal,
    ProposalParty,
    Reminder,
    Signature,
    utcnow,
)
from threads.settings import ReminderSettings

STEPS = ("register", "intake", "sign")
# INSERT ... ON CONFLICT DO NOTHING, written the way each supported database spells it
_INSERT_OR_SKIP = {"sqlite": sqlite.insert, "postgresql": postgresql.insert}
STEP_COLUMN = {"register": "registered_at", "intake": "intake_submitted_at", "sign": "signed_at"}
PARTY_KINDS = (*STEPS, "reply", "proposal")


@dataclass(frozen=True)
class Due:
    """One reminder or notice that is due, and why."""

    kind: str  # register | intake | sign | reply | silent-<kind> | review
    case_id: int
    participant_id: int  # the party it is about; for ``review`` the held message's author
    about: int  # Awaiting.id for reply, ProposalParty.id for proposal, Message.id for review
    round: int
    since: datetime  # when the wait began
    reminders_sent: int = 0

    @property
    def to_party(self) -> bool:
        return self.kind in PARTY_KINDS

    @property
    def claim_key(self) -> tuple[int, str, int, int]:
        return (self.participant_id, self.kind, self.about, self.round)

    def reason(self) -> str:
        started = self.since.strftime("%Y-%m-%d %H:%M UTC")
        what = {
            "register": "has not registered since the invitation",
            "intake": "has not submitted the intake since registering",
            "sign": "has not signed the agreement",
            "reply": "has not answered the mediator since being asked",
            "proposal": "has not answered a proposal",
            "review": "message is waiting for the mediator's review",
        }
        if self.kind.startswith("silent-"):
            step = self.kind.removeprefix("silent-")
            return (f"{what.get(step, step)} ({started}); {self.reminders_sent} reminder(s) "
                    "sent without effect: tell the mediator")
        return f"{what.get(self.kind, self.kind)} ({started}); reminder {self.round}"


def _days(value: float) -> timedelta:
    return timedelta(days=value)


def _open_party():  # noqa: ANN202
    return and_(
        Case.id == Participant.case_id,
        Case.status == "open",
        Participant.role == "party",
        col(Participant.active).is_(True),
        col(Participant.bouncing).is_(False),
    )


def _progress(settings: ReminderSettings, now: datetime, kind: str, about=None):  # noqa: ANN001,ANN202
    """Correlated (count, last sent, silent already told) for one participant's reminders."""
    same = [Reminder.participant_id == Participant.id, Reminder.kind == kind]
    told = [Reminder.participant_id == Participant.id, Reminder.kind == f"silent-{kind}"]
    if about is not None:
        same.append(Reminder.about == about)
        told.append(Reminder.about == about)
    count = select(func.count(col(Reminder.id))).where(*same).scalar_subquery()
    last = select(func.max(Reminder.sent_at)).where(*same).scalar_subquery()
    return count, last, exists().where(*told)


def _decide(
    settings: ReminderSettings, now: datetime, kind: str, case_id: int, participant_id: int,
    about: int, since: datetime, sent: int, last: datetime | None,
) -> Due | None:
    repeat_due = now - _days(settings.repeat_every_days)
    if sent < settings.max_reminders:
        if sent == 0 or (last is not None and last <= repeat_due):
            return Due(kind, case_id, participant_id, about, sent + 1, since, sent)
        return None
    if settings.max_reminders == 0 or (last is not None and last <= repeat_due):
        return Due(f"silent-{kind}", case_id, participant_id, about, 1, since, sent)
    return None


def step_due(
    session: Session, settings: ReminderSettings, now: datetime, steps: tuple[str, ...] = STEPS
) -> list[Due]:
    """Parties in open cases who have not taken a required step in time."""
    found: list[Due] = []
    first_due = now - _days(settings.first_after_days)
    previous: str | None = None
    for kind in STEPS:
        if kind not in steps:
            continue
        missing = getattr(Participant, STEP_COLUMN[kind])
        anchor = Participant.created_at if previous is None else getattr(
            Participant, STEP_COLUMN[previous])
        count, last, told = _progress(settings, now, kind)
        query = (
            select(Participant.id, Participant.case_id, anchor, count, last)
            .where(_open_party(), col(missing).is_(None), anchor <= first_due, ~told)
        )
        for pid, case_id, since, sent, last_sent in session.exec(query):
            due = _decide(settings, now, kind, case_id, pid, 0, since, sent, last_sent)
            if due is not None:
                found.append(due)
        previous = kind
    return found


def reply_due(session: Session, settings: ReminderSettings, now: datetime) -> list[Due]:
    """Parties the mediator is waiting for who have not written since they were asked."""
    first_due = now - _days(settings.first_after_days)
    count, last, told = _progress(settings, now, "reply", about=Awaiting.id)
    query = (
        select(Awaiting.id, Awaiting.case_id, Awaiting.participant_id, Awaiting.asked_at,
               count, last)
        .join(Participant, Participant.id == Awaiting.participant_id)
        .where(
            col(Awaiting.closed_at).is_(None), _open_party(), ~told,
            or_(col(Participant.last_message_at).is_(None),
                col(Participant.last_message_at) < Awaiting.asked_at),
            or_(and_(col(Awaiting.reply_by).is_(None), Awaiting.asked_at <= first_due),
                col(Awaiting.reply_by) <= now),
        )
    )
    found = []
    for awaiting_id, case_id, pid, asked_at, sent, last_sent in session.exec(query):
        due = _decide(settings, now, "reply", case_id, pid, awaiting_id, asked_at, sent, last_sent)
        if due is not None:
            found.append(due)
    return found


def proposal_due(session: Session, settings: ReminderSettings, now: datetime) -> list[Due]:
    """Parties who have not answered a proposal that still stands."""
    first_due = now - _days(settings.first_after_days)
    count, last, told = _progress(settings, now, "proposal", about=ProposalParty.id)
    query = (
        select(ProposalParty.id, Participant.case_id, ProposalParty.participant_id,
               Proposal.created_at, count, last)
        .join(Proposal, col(Proposal.id) == ProposalParty.proposal_id)
        .join(Participant, col(Participant.id) == ProposalParty.participant_id)
        .where(col(ProposalParty.answer).is_(None), col(Proposal.withdrawn_at).is_(None),
               Proposal.created_at <= first_due, _open_party(), ~told)
    )
    found = []
    for row_id, case_id, pid, sent_at, sent, last_sent in session.exec(query):
        due = _decide(settings, now, "proposal", case_id, pid, row_id, sent_at, sent, last_sent)
        if due is not None:
            found.append(due)
    return found


def review_due(session: Session, settings: ReminderSettings, now: datetime) -> list[Due]:
    """Held messages in open cases the mediator has not reviewed in time (told once each)."""
    threshold = now - timedelta(hours=settings.review_after_hours)
    told = exists().where(Reminder.participant_id == Message.author_id,
                          Reminder.kind == "review", Reminder.about == Message.id)
    query = (
        select(Message.id, Message.case_id, Message.author_id, Message.created_at)
        .join(Case, Case.id == Message.case_id)
        .where(Case.status == "open", Message.status == "held",
               Message.created_at <= threshold, ~told)
        .order_by(col(Message.case_id), col(Message.id))
    )
    return [
        Due("review", case_id, author_id, message_id, 1, created_at)
        for message_id, case_id, author_id, created_at in session.exec(query)
    ]


def due(
    session: Session, settings: ReminderSettings, now: datetime, steps: tuple[str, ...] = STEPS
) -> list[Due]:
    """Everything due at ``now``, quiet hours not yet applied (the preview shows both)."""
    return [
        *step_due(session, settings, now, steps),
        *reply_due(session, settings, now),
        *proposal_due(session, settings, now),
        *review_due(session, settings, now),
    ]


def claim(session: Session, item: Due, recipient_id: int, now: datetime) -> bool:
    """Insert the claim record; False when another sweep already sent this one.

    ``recipient_id`` is whose row the claim is keyed on: the party, or for ``review`` the
    held message's author (``about`` makes it unique per message).
    """
    try:
        with session.begin_nested():
            session.add(Reminder(
                case_id=item.case_id, participant_id=recipient_id, kind=item.kind,
                about=item.about, round=item.round, sent_at=now,
            ))
            session.flush()
    except IntegrityError:
        return False
    return True


def claim_all(session: Session, items: Sequence[Due], now: datetime) -> set[tuple]:
    """Insert the claim records of many items in one statement (a sweep's batch); the claim
    keys inserted here. A key missing from the answer was claimed before: another sweep sent it.

    ``ON CONFLICT DO NOTHING`` is ``claim``'s savepoint for a whole batch: a key that exists is
    skipped without failing the transaction, and on PostgreSQL a key another machine is
    claiming at that moment waits for its transaction to end, then counts as claimed or not.
    """
    if not items:
        return set()
    table = Reminder.__table__
    statement = (
        _INSERT_OR_SKIP[session.get_bind().dialect.name](table).on_conflict_do_nothing()
        .returning(table.c.participant_id, table.c.kind, table.c.about, table.c.round)
    )
    rows = [{"case_id": item.case_id, "participant_id": item.participant_id, "kind": item.kind,
             "about": item.about, "round": item.round, "sent_at": now} for item in items]
    return {tuple(row) for row in session.execute(statement, rows)}


def mark_awaiting(
    session: Session, case: Case, participant: Participant, by: datetime | None,
    *, now: datetime | None = None, actor: str = "mediator",
) -> Awaiting:
    """The mediator waits for ``participant``'s answer (optionally by ``by``, aware datetime).

    Replaces any earlier open request for the same party. The party is reminded when the date
    passes (or ``first_after_days`` after asking) unless they write to the case first.
    """
    now = now or utcnow()
    clear_awaiting(session, case, participant, now=now, record=False)
    request = Awaiting(case_id=case.id, participant_id=participant.id, asked_at=now, reply_by=by)
    session.add(request)
    session.flush()
    audit.record(session, case, "awaiting", actor=actor, participant=participant.name,
                 reply_by=by.isoformat() if by else None)
    return request


def clear_awaiting(
    session: Session, case: Case, participant: Participant | None = None,
    *, now: datetime | None = None, record: bool = True, actor: str = "mediator",
) -> int:
    """Stop waiting for ``participant`` (or everyone in the case); returns how many ended."""
    now = now or utcnow()
    query = select(Awaiting).where(Awaiting.case_id == case.id, col(Awaiting.closed_at).is_(None))
    if participant is not None:
        query = query.where(Awaiting.participant_id == participant.id)
    ended = 0
    for request in session.exec(query):
        request.closed_at = now
        session.add(request)
        ended += 1
    if ended and record:
        audit.record(session, case, "awaiting-cleared", actor=actor,
                     participant=participant.name if participant else None)
    return ended


WORDINGS = 3  # phrasings per reminder kind in templates/mail/*/reminder*.txt


def wording(participant_id: int, count: int) -> int:
    """Which phrasing a reminder takes (0 .. WORDINGS-1): fixed by who it is for and how many
    reminders of its kind came before, so a sweep run twice picks the same words, and two
    reminders in a row (count and count + 1) never read the same."""
    return (participant_id + count) % WORDINGS


def begun(session: Session, case: Case) -> bool:
    """Has the conversation begun: has the mediator written to the parties? Until then a
    reminder may say "the mediation starts once everyone has ..."; after it, that would not be
    true (a party added later). A case without any message yet costs no query: a sweep's
    work follows what is due (tests/test_sweep_cost.py)."""
    if not case.message_seq:
        return False
    return session.exec(select(Message.id).join(
        Participant, col(Participant.id) == Message.author_id).where(
        Message.case_id == case.id, Message.channel == "shared",
        Participant.role == "mediator")).first() is not None


def begun_in(session: Session, cases: Iterable[Case]) -> set[int]:
    """``begun`` for many cases in one query: the ids of those whose conversation has begun
    (a case without any message costs nothing, as there)."""
    ids = sorted(case.id for case in cases if case.message_seq)
    if not ids:
        return set()
    return set(session.exec(select(Message.case_id).join(
        Participant, col(Participant.id) == Message.author_id).where(
        col(Message.case_id).in_(ids), Message.channel == "shared",
        Participant.role == "mediator").distinct()))


def signed_among(session: Session, participant_ids: Iterable[int]) -> set[int]:
    """``signed_before`` for many parties in one query: those who have signed some text."""
    ids = sorted(set(participant_ids))
    if not ids:
        return set()
    return set(session.exec(select(Signature.participant_id).where(
        col(Signature.participant_id).in_(ids)).distinct()))


def signed_before(session: Session, participant_id: int) -> bool:
    """A party asked to sign who has a signature under an older text: they sign *again*
    (the agreement changed), which is not the same as never having signed."""
    return session.exec(select(Signature.id).where(
        Signature.participant_id == participant_id)).first() is not None
