"""Files that come with a message: kept once per SHA-256, passed on only when allowed.

The mail gateway decides which files may travel (type and size rules); this module records
that decision with the message, stores the bytes once, and says which files go with a copy.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session, col, select

from threads import large_values
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
    # a small plain-text file, read (a template the mediator attaches to #settlement)
    text: str | None = None


TEXT_LIMIT = 64 * 1024


def as_text(content_type: str, filename: str, data: bytes) -> str | None:
    """The file's text when it is a small UTF-8 text file, else None."""
    if len(data) > TEXT_LIMIT or not (content_type.startswith("text/plain")
                                      or filename.lower().endswith(".txt")):
        return None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None


def keep(session: Session, message: Message, files: list[IncomingFile]) -> None:
    for item in files:
        # Whether it is stored, asked without reading it (a 25 MB file sent again), and once
        # written the row is let go: the session would otherwise hold the file's bytes until
        # the end of the transaction, beside the other work of the decision.
        if session.exec(select(Blob.sha256).where(Blob.sha256 == item.sha256)).first() is None:
            large = large_values.is_large(session, item.stored)
            blob = Blob(sha256=item.sha256, size=item.size,
                        data=large_values.placeholder(item.stored) if large else item.stored)
            session.add(blob)
            session.flush()
            session.expunge(blob)
            if large:
                large_values.fill(session, "blob", "data",
                                  large_values.rowid(session, "blob", "sha256", item.sha256),
                                  item.stored)
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
