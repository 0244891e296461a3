"""The relay policy: who receives what a participant wrote.

- ``review`` (default): a party's message goes to the mediator only, held until released.
- ``open``: a party's message goes to every other party at once; the mediator gets a copy.
- The mediator's message goes to every party; lines starting with ``#`` are commands.
- Private (caucus): on a party's private line, the party and the mediator write to each other
  alone; nothing there ever reaches another party.
- A message from an address that is not the participant's is held, never relayed.
- A closed case accepts only the mediator's commands; anyone else is told it is closed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import func
from sqlmodel import Session, select

from threads import attachments, audit, commands, heat
from threads.cases import mediator_of, parties_of
from threads.models import Case, Message, OutgoingMail, Participant, utcnow
from threads.notices import Notice

WRONG_SENDER = "wrong-sender"
NO_TOKEN = "no-personal-address"
NOTICES_PER_HOUR = 3


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
    hold_reason: str | None = None  # hold for the mediator even when the sender matches
    channel: str = "shared"  # shared | private
    counterpart: Participant | None = None  # private: the party whose line this is
    max_participants: int = 30
    reading: heat.Reading | None = None  # the tone check, read by the pipeline
    video_url_template: str = ""  # [video] url_template, for the mediator's #video
    timezone: str = "Europe/Amsterdam"  # service.timezone
    files: list[attachments.IncomingFile] = field(default_factory=list)


def receive(
    session: Session, case: Case, author: Participant, contribution: Contribution
) -> list[Notice] | None:
    """Decide what happens to one contribution; None when it was already received before."""
    notices = _decide(session, case, author, contribution)
    refused = attachments.held_back(contribution.files)
    if notices and refused and contribution.sender_matches:
        # The author hears which files did not travel, and why; the mediator sees it too.
        notices.append(Notice("files-held", case, author, author=mediator_of(session, case),
                              answers=contribution.message_id,
                              context={"files": refused}))
    return notices


def _decide(
    session: Session, case: Case, author: Participant, contribution: Contribution
) -> list[Notice] | None:
    if contribution.dedupe_key and session.exec(
        select(Message.id).where(
            Message.author_id == author.id, Message.dedupe_key == contribution.dedupe_key
        )
    ).first():
        return None
    if not contribution.sender_matches:
        return hold(session, case, author, contribution, WRONG_SENDER)
    author.last_message_at = utcnow()
    session.add(author)
    if author.role == "mediator" and contribution.hold_reason:
        return [Notice("command-reply", case, author, author=author,
                       answers=contribution.message_id,
                       context={"lines": [], "errors": [commands.phrase("no-token")]})]
    if author.role == "mediator":
        return _from_mediator(session, case, author, contribution)
    if case.status == "closed":
        if sent_recently(session, "case-closed", author.email, 24, case):
            return []
        return [Notice("case-closed", case, author, author=mediator_of(session, case),
                       answers=contribution.message_id)]
    if contribution.hold_reason:
        return hold(session, case, author, contribution, contribution.hold_reason)
    if asks_for_links(contribution.text):
        from threads.links import resend_links

        return resend_links(session, case, author)
    if contribution.channel == "private":
        return _private_from_party(session, case, author, contribution)
    reading = contribution.reading or heat.read(contribution.text)
    if case.status == heat.PAUSED:  # kept until #resume (threads.pause)
        return heat.settle(hold(session, case, author, contribution, heat.PAUSED), reading,
                           heat.PAUSED)
    if reason := heat.hold_reason(case, reading):  # never relayed as it is, in any mode
        return heat.settle(hold(session, case, author, contribution, reason), reading, reason)
    if case.moderation == "open":
        return _open(session, case, author, contribution)
    return heat.settle(hold(session, case, author, contribution, None), reading, None)


_LINK_WORDS = {"link", "links", "new link", "new links", "nieuwe link", "nieuwe links",
               "link please", "links please", "graag een nieuwe link", "a new link please"}


def asks_for_links(text: str) -> bool:
    """A party's reply that only says 'link' asks for fresh links to the forms (as the
    invitation and the expired-link page tell them), not for a message to the others."""
    words = re.sub(r"[^\w\s]", " ", text.lower())
    return " ".join(words.split()) in _LINK_WORDS


def sent_recently(
    session: Session, kind: str, rcpt: str, hours: float, case: Case | None = None
) -> int:
    """How many mails of this kind went to this address lately (to keep notices rare)."""
    since = utcnow() - timedelta(hours=hours)
    query = select(func.count()).select_from(OutgoingMail).where(
        OutgoingMail.kind == kind, OutgoingMail.rcpt_to == rcpt.lower(),
        OutgoingMail.created_at >= since,
    )
    if case is not None:
        query = query.where(OutgoingMail.case_id == case.id)
    return session.exec(query).one()


def new_message(
    session: Session, case: Case, author: Participant, contribution: Contribution, status: str
) -> Message:
    case.message_seq += 1
    message = Message(
        case_id=case.id, seq=case.message_seq, author_id=author.id,
        inbound_id=contribution.inbound_id, dedupe_key=contribution.dedupe_key or "",
        status=status, subject=contribution.subject[:500], text=contribution.text,
        message_id=contribution.message_id, channel=contribution.channel,
        counterpart_id=contribution.counterpart.id if contribution.counterpart else None,
    )
    session.add(case)
    session.add(message)
    session.flush()
    attachments.keep(session, message, contribution.files)
    return message


def hold(
    session: Session, case: Case, author: Participant, contribution: Contribution,
    reason: str | None,
) -> list[Notice]:
    """Keep a party's message for the mediator's decision; tell the mediator (and the author)."""
    message = new_message(session, case, author, contribution, "held")
    message.channel = "shared"
    message.hold_reason = reason
    audit.record(session, case, "held", actor=author.name, message=message.seq,
                 reason=reason or "review")
    mediator = mediator_of(session, case)
    if reason is None:
        return [
            Notice("review", case, mediator, author=author, message=message),
            Notice("received", case, author, author=mediator, message=message,
                   answers=contribution.message_id),
        ]
    notices = []
    # One review mail per held message, but never a storm: wrong-sender holds (which a
    # misconfigured forwarder can produce by the dozen) are announced at most 3 times an hour.
    if reason != WRONG_SENDER or sent_recently(
        session, "review-held", mediator.email, 1, case
    ) < NOTICES_PER_HOUR:
        notices.append(Notice("review-held", case, mediator, author=author, message=message,
                              context={"reason": reason}))
    if reason == WRONG_SENDER and contribution.sender_address and not sent_recently(
        session, "wrong-sender", contribution.sender_address, 24
    ):
        # The stranger learns nothing about the case beyond its title and that it was held.
        notices.append(Notice(
            "wrong-sender", case, None, author=mediator, message=message,
            to_address=contribution.sender_address, language=author.language,
            answers=contribution.message_id,
        ))
    elif reason != WRONG_SENDER:
        notices.append(Notice("received", case, author, author=mediator, message=message,
                              answers=contribution.message_id))
    return notices


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


def _private_from_party(
    session: Session, case: Case, author: Participant, contribution: Contribution
) -> list[Notice]:
    contribution.counterpart = author
    message = new_message(session, case, author, contribution, "delivered")
    audit.record(session, case, "private-message", actor=author.name, message=message.seq)
    mediator = mediator_of(session, case)
    return [Notice("private-to-mediator", case, mediator, author=author, message=message,
                   channel="private", counterpart=author, automatic=False)]


def send_private(
    session: Session, case: Case, mediator: Participant, party: Participant, text: str,
    ctx: commands.Context | None = None, contribution: Contribution | None = None,
) -> list[Notice]:
    """The mediator writes to one party alone."""
    contribution = contribution or Contribution(text=text)
    contribution.text, contribution.channel, contribution.counterpart = text, "private", party
    message = new_message(session, case, mediator, contribution, "delivered")
    audit.record(session, case, "private-message", actor=mediator.name, message=message.seq,
                 to=party.name)
    return [Notice("private-from-mediator", case, party, author=mediator, message=message,
                   channel="private", counterpart=party, automatic=False)]


def _from_mediator(
    session: Session, case: Case, mediator: Participant, contribution: Contribution
) -> list[Notice]:
    parsed = commands.parse(contribution.text)
    private_with = contribution.counterpart if contribution.channel == "private" else None
    if parsed.commands or parsed.errors:
        ctx = commands.Context(
            refs=contribution.refs, rest=parsed.rest, answers=contribution.message_id,
            private_with=private_with, max_participants=contribution.max_participants,
            video_url_template=contribution.video_url_template, timezone=contribution.timezone,
        )
        return commands.execute(session, case, mediator, parsed, ctx)
    problem = None
    if not contribution.text.strip():
        problem = commands.phrase("empty")
    elif case.status == "closed":
        problem = commands.phrase("case-is-closed")
    elif case.status == heat.PAUSED and private_with is None:
        problem = commands.phrase("case-is-paused")
    if problem:
        return [Notice("command-reply", case, mediator, author=mediator,
                       answers=contribution.message_id,
                       context={"lines": [], "errors": [problem]})]
    if private_with is not None:
        return send_private(session, case, mediator, private_with, contribution.text,
                            contribution=contribution)
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
