"""The discussion of a case as a record: every message in order, with what became of it.

The whole case (for the mediator's file) holds every message: shared and private (caucus),
held, released (with the words passed on when the mediator edited them) and rejected.

One party's own share (their right of access, GDPR art. 15) holds what they wrote (their own
words and, where the mediator edited them, what was passed on), what they received (others'
words only as released to them, the mediator's shared messages and the mediator's private
messages on their own line) and nothing of anyone else's private line or unreleased words.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlmodel import Session, col, select

from threads.models import Case, Message, OutgoingMail, Participant

SHOWN_TO_OTHERS = ("released", "delivered")


@dataclass
class Entry:
    seq: int
    at: datetime
    author: str
    role: str  # mediator | party
    channel: str  # shared | private
    line_of: str | None  # private: the party whose line with the mediator this is
    status: str  # held | released | rejected | delivered
    text: str  # the words as written
    passed_on: str | None  # the words as released to the others, when they differ
    hold_reason: str | None = None
    decided_at: datetime | None = None
    message_id: int | None = None
    inbound_id: int | None = None
    own: bool = False  # in a party's share: written by that party

    @property
    def private(self) -> bool:
        return self.channel == "private"

    @property
    def edited(self) -> bool:
        return self.passed_on is not None


@dataclass
class Transcript:
    case: Case
    participants: list[Participant]
    entries: list[Entry] = field(default_factory=list)
    party: Participant | None = None  # set for one party's own share


def _entry(message: Message, people: dict[int, Participant]) -> Entry:
    author = people.get(message.author_id)
    counterpart = people.get(message.counterpart_id) if message.counterpart_id else None
    released = message.released_text
    return Entry(
        seq=message.seq, at=message.created_at,
        author=author.name if author else "?", role=author.role if author else "party",
        channel=message.channel or "shared",
        line_of=counterpart.name if counterpart is not None else None,
        status=message.status, text=message.text,
        passed_on=released if released is not None and released != message.text else None,
        hold_reason=message.hold_reason, decided_at=message.decided_at,
        message_id=message.id, inbound_id=message.inbound_id,
    )


def _people(session: Session, case: Case) -> list[Participant]:
    return list(session.exec(
        select(Participant).where(Participant.case_id == case.id).order_by(col(Participant.id))
    ))


def _messages(session: Session, case: Case) -> list[Message]:
    return list(session.exec(
        select(Message).where(Message.case_id == case.id).order_by(col(Message.seq))
    ))


def transcript(session: Session, case: Case) -> Transcript:
    """Every message of the case, in order."""
    people = _people(session, case)
    by_id = {p.id: p for p in people if p.id is not None}
    return Transcript(case, people, [_entry(m, by_id) for m in _messages(session, case)])


def _received_ids(session: Session, party: Participant) -> set[int]:
    return set(session.exec(
        select(OutgoingMail.message_ref_id).where(
            OutgoingMail.participant_id == party.id, col(OutgoingMail.message_ref_id).is_not(None)
        )
    ))


def visible_to(message: Message, party: Participant, received: set[int]) -> bool:
    """Whether this message belongs in the party's own share."""
    if message.author_id == party.id:
        return True
    if message.id not in received or message.status not in SHOWN_TO_OTHERS:
        return False
    if message.channel == "private":
        return message.counterpart_id == party.id
    return True


def party_transcript(session: Session, case: Case, party: Participant) -> Transcript:
    """What this party wrote and received, and nothing private of anyone else."""
    people = _people(session, case)
    by_id = {p.id: p for p in people if p.id is not None}
    received = _received_ids(session, party)
    entries = []
    for message in _messages(session, case):
        if not visible_to(message, party, received):
            continue
        entry = _entry(message, by_id)
        entry.own = message.author_id == party.id
        if not entry.own:
            # others' words exactly as they reached this party, nothing of the original
            entry.text = message.released_text if message.released_text is not None \
                else message.text
            entry.passed_on = None
            entry.hold_reason = None
        entries.append(entry)
    # other participants by name and role only: never their addresses
    return Transcript(case, people, entries, party=party)
