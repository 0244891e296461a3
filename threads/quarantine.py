"""Mail we could not process (our fault, not the sender's): announced, counted, retried.

Nothing a participant sends is set aside silently. A mail the pipeline could not process is
kept with status ``quarantined`` and a safe reason (the error's type and place, never the
mail's text); the mediator of its case is told, ``#status`` and ``/healthz`` count it, and the
administrator lists and retries it with ``mediate inbound list`` / ``retry``.
"""

from __future__ import annotations

import traceback

from sqlalchemy import func
from sqlmodel import Session, col, select

from threads import audit
from threads.addresses import Recipient
from threads.cases import mediator_of
from threads.models import Case, InboundMail, InboundStatus
from threads.notices import Notice
from threads.relay import sent_recently

ANNOUNCED_PER_HOUR = 10  # a fault that hits every mail must not bury the mediator


def announce(session: Session, row: InboundMail, recipients: list[Recipient]) -> list[Notice]:
    """Tell the mediator of each case the mail reached that it waits, unprocessed."""
    notices = []
    for case in {r.case.id: r.case for r in recipients if r.case is not None}.values():
        row.case_id = row.case_id or case.id
        audit.record(session, case, "quarantined", inbound=row.id)
        mediator = mediator_of(session, case)
        if sent_recently(session, "mail-quarantined", mediator.email, 1) < ANNOUNCED_PER_HOUR:
            notices.append(Notice("mail-quarantined", case, mediator, author=mediator,
                                  context={"inbound": row, "sender": row.mail_from}))
    session.add(row)
    return notices


def count(session: Session, case: Case | None = None) -> int:
    """Mail waiting in quarantine (for one case, or all of it)."""
    query = select(func.count()).select_from(InboundMail).where(
        InboundMail.status == InboundStatus.QUARANTINED)
    if case is not None:
        query = query.where(InboundMail.case_id == case.id)
    return session.exec(query).one()


def listed(session: Session) -> list[InboundMail]:
    return list(session.exec(
        select(InboundMail).where(InboundMail.status == InboundStatus.QUARANTINED)
        .order_by(col(InboundMail.id))
    ))


def retry(session: Session, ids: list[int]) -> list[int]:
    """Put quarantined mail back in the queue; returns the ids that were quarantined."""
    rows = session.exec(select(InboundMail).where(
        col(InboundMail.id).in_(ids), InboundMail.status == InboundStatus.QUARANTINED)).all()
    for row in rows:
        row.status = InboundStatus.PENDING
        row.claimed_until = None
        row.claimed_by = None
        session.add(row)
    return [row.id for row in rows]


def safe_description(error: BaseException) -> str:
    """The error's type and where in our code it happened, never its message (which may quote
    the mail): 'KeyError in threads/relay.py:120 (hold)'."""
    frames = traceback.extract_tb(error.__traceback__)
    ours = [f for f in frames if "/threads/" in f.filename or "/mailgate/" in f.filename
            or "/mediate/" in f.filename] or frames
    if not ours:
        return type(error).__name__
    frame = ours[-1]
    where = "/".join(frame.filename.replace("\\", "/").split("/")[-2:])
    return f"{type(error).__name__} in {where}:{frame.lineno} ({frame.name})"
