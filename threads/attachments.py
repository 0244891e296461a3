"""Files that come with a message: kept once per SHA-256, passed on only when allowed.

The mail gateway decides which files may travel (type and size rules); this module records
that decision with the message, stores the bytes once, and says which files go with a copy.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session, col, select

from threads.models import Blob, Message, MessageAttachment

# Copies that carry the message's files: what parties and the mediator actually read.
CARRIES_FILES = {"relay", "copy-to-mediator", "review", "review-held", "tone-alert",
                 "private-to-mediator",
                 "private-from-mediator"}


@dataclass
class IncomingFile:
    filename: str
    content_type: str
    sha256: str  # of the plain bytes
    size: int
    stored: bytes  # the bytes as they are to be stored (sealed when encryption is on)
    passed: bool
    reason: str = ""
    inline: bool = False


def keep(session: Session, message: Message, files: list[IncomingFile]) -> None:
    for item in files:
        if session.get(Blob, item.sha256) is None:
            session.add(Blob(sha256=item.sha256, size=item.size, data=item.stored))
            session.flush()
        session.add(MessageAttachment(
            message_id=message.id, sha256=item.sha256, filename=item.filename[:255],
            content_type=item.content_type[:255], size=item.size, passed=item.passed,
            reason=item.reason[:300],
        ))
    if files:
        session.flush()


def of(session: Session, message: Message) -> list[MessageAttachment]:
    return list(session.exec(
        select(MessageAttachment).where(MessageAttachment.message_id == message.id)
        .order_by(col(MessageAttachment.id))
    ))


def for_copy(session: Session, message: Message | None, kind: str) -> list[dict]:
    """The files a copy of this kind carries: the passed ones, for the kinds that carry any."""
    if message is None or kind not in CARRIES_FILES:
        return []
    return [{"sha256": a.sha256, "filename": a.filename, "content_type": a.content_type}
            for a in of(session, message) if a.passed]


def held_back(files: list[IncomingFile]) -> list[IncomingFile]:
    """Files the author should hear about: refused ones, not signature images."""
    return [f for f in files if not f.passed and not f.inline]
