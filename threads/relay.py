"""The relay policy: who receives what a participant wrote.

- ``review`` (default): a party's message goes to the mediator only, held until released.
- ``open``: a party's message goes to every other party at once; the mediator gets a copy.
- The mediator's message goes to every party; lines starting with ``#`` are commands.
- A message from an address that is not the participant's is held, never relayed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlmodel import Session, select

from threads import audit, commands
from threads.cases import mediator_of, parties_of
from threads.models import Case, Message, Participant, utcnow
from threads.notices import Notice


@dataclass
class Contribution:
    """What arrived, already reduced to the author's new words by the mail pipeline."""

    text: str
    subject: str = ""
    message_id: str | None = None
    refs: list[str] = field(default_factory=list)  # In-Reply-To first, then References
    dedupe_key: str = ""
    inbound_id: int | None = None
    sender_address: str | None = None
    sender_matches: bool = True


def receive(
    session: Session, case: Case, author: Participant, contribution: Contribution
) -> list[Notice] | None:
    """Decide what happens to one contribution; None when it was already received before."""
    if contribution.dedupe_key and session.exec(
        select(Message.id).where(
            Message.author_id == author.id, Message.dedupe_key == contribution.dedupe_key
        )
    ).first():
        return None
    author.last_message_at = utcnow()
    if not contribution.sender_matches:
        return _hold_wrong_sender(session, case, author, contribution)
    if author.role == "mediator":
        return _from_mediator(session, case, author, contribution)
    if case.moderation == "open":
        return _open(session, case, author, contribution)
    return _hold_for_review(session, case, author, contribution)


def new_message(
    session: Session, case: Case, author: Participant, contribution: Contribution, status: str
) -> Message:
    case.message_seq += 1
    message = Message(
        case_id=case.id, seq=case.message_seq, author_id=author.id,
        inbound_id=contribution.inbound_id, dedupe_key=contribution.dedupe_key or "",
        status=status, subject=contribution.subject[:500], text=contribution.text,
        message_id=contribution.message_id,
    )
    session.add(case)
    session.add(message)
    session.flush()
    return message


def _hold_wrong_sender(
    session: Session, case: Case, author: Participant, contribution: Contribution
) -> list[Notice]:
    message = new_message(session, case, author, contribution, "held")
    message.hold_reason = "sent from an address that is not registered for this participant"
    audit.record(
        session, case, "held", actor=author.name, message=message.seq, reason="wrong sender"
    )
    mediator = mediator_of(session, case)
    notices = [
        Notice("review-wrong-sender", case, mediator, author=author, message=message),
    ]
    if contribution.sender_address:
        notices.append(
            Notice(
                "wrong-sender", case, None, author=mediator, message=message,
                to_address=contribution.sender_address, language=author.language,
                answers=contribution.message_id,
            )
        )
    return notices


def _hold_for_review(
    session: Session, case: Case, author: Participant, contribution: Contribution
) -> list[Notice]:
    message = new_message(session, case, author, contribution, "held")
    audit.record(session, case, "held", actor=author.name, message=message.seq, reason="review")
    mediator = mediator_of(session, case)
    return [
        Notice("review", case, mediator, author=author, message=message),
        Notice(
            "received", case, author, author=mediator, message=message,
            answers=contribution.message_id,
        ),
    ]


def _open(
    session: Session, case: Case, author: Participant, contribution: Contribution
) -> list[Notice]:
    message = new_message(session, case, author, contribution, "released")
    message.released_text = message.text
    message.decided_at = utcnow()
    audit.record(session, case, "relayed", actor=author.name, message=message.seq, mode="open")
    mediator = mediator_of(session, case)
    notices = [Notice("copy-to-mediator", case, mediator, author=author, message=message)]
    notices += relay_to_parties(session, case, message, author, exclude=author)
    return notices


def _from_mediator(
    session: Session, case: Case, mediator: Participant, contribution: Contribution
) -> list[Notice]:
    parsed = commands.parse(contribution.text)
    if parsed.commands or parsed.errors:
        return commands.execute(session, case, mediator, parsed, contribution)
    if not contribution.text.strip():
        return [
            Notice(
                "command-reply", case, mediator, author=mediator, answers=contribution.message_id,
                context={"lines": [], "errors": ["Your message was empty: nothing was sent."]},
            )
        ]
    message = new_message(session, case, mediator, contribution, "released")
    message.released_text = message.text
    message.decided_at = utcnow()
    audit.record(session, case, "mediator-message", actor=mediator.name, message=message.seq)
    return relay_to_parties(session, case, message, mediator, exclude=None)


def relay_to_parties(
    session: Session,
    case: Case,
    message: Message,
    author: Participant,
    exclude: Participant | None,
) -> list[Notice]:
    return [
        Notice("relay", case, party, author=author, message=message, automatic=False)
        for party in parties_of(session, case)
        if exclude is None or party.id != exclude.id
    ]
