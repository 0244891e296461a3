"""Participation balance: who is doing the writing in a case, over the last two weeks.

Written mediation has a known weakness: one party can drown out another, and a party who goes
quiet is easily forgotten. ``#status`` and the digest show each party's share of the messages
and words they wrote to the case (private lines to the mediator are not counted: they are not
part of the conversation between the parties) and point out when one party writes much more
than another, or nothing at all.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from threads.cases import parties_of
from threads.models import Case, Message, utcnow

WINDOW_DAYS = 14
LOUD_RATIO = 3.0  # one party writing three times the words of another is worth a look
LOUD_MIN_WORDS = 150  # below this in total, a few long mails say nothing about balance


@dataclass
class Share:
    name: str
    messages: int
    words: int
    message_share: int  # percent of all parties' messages in the window
    word_share: int


@dataclass
class Balance:
    days: int
    shares: list[Share] = field(default_factory=list)
    silent: list[str] = field(default_factory=list)  # wrote nothing in the window
    loud: tuple[str, str, float] | None = None  # (most, least, times as many words)


def _percent(part: int, whole: int) -> int:
    return round(100 * part / whole) if whole else 0


def of(session: Session, case: Case, now: datetime | None = None,
       days: int = WINDOW_DAYS) -> Balance:
    """Each active party's share of the shared conversation in the last ``days`` days."""
    since = (now or utcnow()) - timedelta(days=days)
    parties = [p for p in parties_of(session, case) if p.active]
    counts = {p.id: [0, 0] for p in parties}
    for author_id, text in session.exec(
        select(Message.author_id, Message.text).where(
            Message.case_id == case.id, Message.channel == "shared",
            Message.created_at >= since, col(Message.author_id).in_(list(counts)))
    ):
        counts[author_id][0] += 1
        counts[author_id][1] += len(text.split())
    messages = sum(c[0] for c in counts.values())
    words = sum(c[1] for c in counts.values())
    result = Balance(days)
    for party in parties:
        wrote, said = counts[party.id]
        result.shares.append(Share(party.name, wrote, said, _percent(wrote, messages),
                                   _percent(said, words)))
        if not wrote and messages:  # silent while others write, not before anyone has
            result.silent.append(party.name)
    writing = sorted((s for s in result.shares if s.words), key=lambda s: s.words)
    if len(writing) >= 2 and words >= LOUD_MIN_WORDS:
        least, most = writing[0], writing[-1]
        if most.words >= LOUD_RATIO * least.words:
            result.loud = (most.name, least.name, round(most.words / least.words, 1))
    return result
