"""The relay policy: who receives what a participant wrote.

- ``review`` (default): a party's message goes to the mediator only, held until released.
- ``open``: a party's message goes to every other party at once; the mediator gets a copy.
- The mediator's message goes to every party; lines starting with ``#`` are commands.
- Private (caucus): on a party's private line, the party and the mediator write to each other
  alone; nothing there ever reaches another party.
- A message from an address that is not the participant's is held, never relayed.
- A closed case accepts only the mediator's commands; anyone else is told it is closed.

Which of these applies to a mail is decided by threads.rules; this module carries it out.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func
from sqlmodel import Session, col, select

from threads import attachments, audit, commands, heat, night, suggestions
from threads.cases import mediator_of, parties_of
from threads.lookup import is_address
from threads.models import Case, Message, OutgoingMail, Participant, utcnow
from threads.notices import Notice

WRONG_SENDER = "wrong-sender"
NO_TOKEN = "no-personal-address"
NOTICES_PER_HOUR = 3


@dataclass
class Contribution:
    """What arrived, already reduced to the author's new words by the mail pipeline."""

    text: str
    signed_text: str = ""  # the text with the writer's closing kept (used for the mediator)
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
    night_hold: str = ""  # quiet hours open-mode copies wait out (threads.night); "": never
    files: list[attachments.IncomingFile] = field(default_factory=list)
    templates_dir: Path = Path("templates")  # the installation's, for the settlement


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
        OutgoingMail.kind == kind, is_address(session, OutgoingMail.rcpt_hash, rcpt),
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
        inbound_id=contribution.inbound_id,
        # never empty: UNIQUE (author, dedupe_key) would refuse a second keyless message
        dedupe_key=contribution.dedupe_key or uuid.uuid4().hex,
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
    reason: str | None, *, always: bool = False,
) -> list[Notice]:
    """Keep a party's message for the mediator's decision; tell the mediator (and the author).
    A party the mediator set to open moderation (#open Name) is relayed at once instead,
    unless the message is held for a reason, or ``always`` (it answers the mediator)."""
    if reason is None and author.moderation == "open" and not always:
        return _open(session, case, author, contribution)
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
                              context={"reason": reason,
                                       "sender": contribution.sender_address or ""}))
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
    if author.moderation == "review":  # this party's messages are read first (#review Name)
        return hold(session, case, author, contribution, None)
    message = new_message(session, case, author, contribution, "released")
    message.released_text = message.text
    message.decided_at = utcnow()
    audit.record(session, case, "relayed", actor=author.name, message=message.seq, mode="open")
    mediator = mediator_of(session, case)
    notices = [Notice("copy-to-mediator", case, mediator, author=author, message=message)]
    relayed = relay_to_parties(session, case, message, author, exclude=author)
    for notice in relayed:  # the footer says so: sent on without the mediator reading first
        notice.context["travelled"] = "open"
    notices += relayed
    return night.hold_until_morning(session, case, message, notices, contribution.night_hold,
                                    case.timezone or contribution.timezone)


def _private_from_party(
    session: Session, case: Case, author: Participant, contribution: Contribution
) -> list[Notice]:
    offered = _answered_suggestion(session, case, author, contribution.refs)
    if offered is not None:
        return answer_suggestion(session, case, author, offered, contribution)
    contribution.counterpart = author
    message = new_message(session, case, author, contribution, "delivered")
    audit.record(session, case, "private-message", actor=author.name, message=message.seq)
    mediator = mediator_of(session, case)
    return [Notice("private-to-mediator", case, mediator, author=author, message=message,
                   channel="private", counterpart=author, automatic=False)]


def _answered_suggestion(
    session: Session, case: Case, author: Participant, refs: list[str]
) -> Message | None:
    """The author's held message whose suggested wording this mail answers, if still open."""
    message = answered_message(session, case, refs, (suggestions.KIND,))
    if (message is None or message.author_id != author.id or message.status != "held"
            or not message.suggested_text):
        return None
    return message


def answer_suggestion(
    session: Session, case: Case, author: Participant, message: Message,
    contribution: Contribution,
) -> list[Notice]:
    """'yes' lets the mediator's wording go out; anything else is the author's new version,
    held for review as usual (even in open moderation: it answers a question of the mediator)."""
    mediator = mediator_of(session, case)
    message.decided_at = utcnow()
    session.add(message)
    if suggestions.consents(contribution.text):
        message.status, message.released_text = "released", message.suggested_text
        audit.record(session, case, "released", actor=author.name, message=message.seq,
                     edited=True, consented=True)
        notices = relay_to_parties(session, case, message, author, exclude=author)
        return notices + [
            Notice("released", case, author, author=mediator, message=message,
                   answers=contribution.message_id, context={"edited": True}),
            Notice("suggestion-accepted", case, mediator, author=author, message=message),
        ]
    message.status = "superseded"
    audit.record(session, case, "superseded", actor=author.name, message=message.seq)
    contribution.channel, contribution.counterpart = "shared", None
    notices = hold(session, case, author, contribution, None, always=True)
    for notice in notices:
        if notice.kind == "review":
            notice.context["replaces"] = message.seq
    return notices


def send_private(
    session: Session, case: Case, mediator: Participant, party: Participant, text: str,
    ctx: commands.Context | None = None, contribution: Contribution | None = None,
) -> list[Notice]:
    """The mediator writes to one party alone."""
    if contribution is None:
        contribution = Contribution(text=text, dedupe_key=ctx.message_key() if ctx else "",
                                    inbound_id=ctx.inbound_id if ctx else None)
    contribution.text, contribution.channel, contribution.counterpart = text, "private", party
    message = new_message(session, case, mediator, contribution, "delivered")
    audit.record(session, case, "private-message", actor=mediator.name, message=message.seq,
                 to=party.name)
    return [Notice("private-from-mediator", case, party, author=mediator, message=message,
                   channel="private", counterpart=party, automatic=False)]


def mediator_message(
    session: Session, case: Case, mediator: Participant, contribution: Contribution
) -> list[Notice]:
    """The mediator's message without commands: to one party on a private line, to the author
    alone when it answers a review copy (confidential by default), else to every party."""
    private_with = contribution.counterpart if contribution.channel == "private" else None
    # The mediator's own words go out as written, with their closing ("Hartelijke groet, ...").
    contribution.text = contribution.signed_text or contribution.text
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
    answered = answered_review(session, case, contribution.refs)
    if answered is not None:
        return _confidential_answer(session, case, mediator, answered, contribution)
    message = new_message(session, case, mediator, contribution, "released")
    message.released_text = message.text
    message.decided_at = utcnow()
    audit.record(session, case, "mediator-message", actor=mediator.name, message=message.seq)
    return relay_to_parties(session, case, message, mediator, exclude=None)


REVIEW_KINDS = ("review", "review-held")


def answered_message(
    session: Session, case: Case, refs: list[str], kinds: tuple[str, ...]
) -> Message | None:
    """The message whose copy (of one of these kinds) this mail answers directly: its
    In-Reply-To, the first reference. Older references are the thread's history, not what
    the writer answers."""
    if not refs:
        return None
    message_ref = session.exec(
        select(OutgoingMail.message_ref_id).where(
            OutgoingMail.message_id == refs[0], OutgoingMail.case_id == case.id,
            col(OutgoingMail.kind).in_(kinds),
        )
    ).first()
    return session.get(Message, message_ref) if message_ref is not None else None


def answered_review(session: Session, case: Case, refs: list[str]) -> Message | None:
    """The party's message whose review copy this mail answers."""
    message = answered_message(session, case, refs, REVIEW_KINDS)
    if message is None:
        return None
    author = session.get(Participant, message.author_id)
    return message if author is not None and author.role == "party" and author.active else None


def _confidential_answer(
    session: Session, case: Case, mediator: Participant, answered: Message,
    contribution: Contribution,
) -> list[Notice]:
    """A plain reply to a review copy goes to that message's author alone (confidential by
    default); the mediator is told so, and how the held message is passed on."""
    author = session.get(Participant, answered.author_id)
    notices = send_private(session, case, mediator, author, contribution.text,
                           contribution=contribution)
    notices.append(Notice(
        "command-reply", case, mediator, author=mediator, answers=contribution.message_id,
        context={"lines": [commands.phrase("private-by-default", name=author.name,
                                           seq=answered.seq,
                                           held=answered.status == "held")],
                 "errors": []},
    ))
    return notices


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
