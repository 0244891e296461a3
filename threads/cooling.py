"""Cooling off: what becomes of a heated message in open mode once it is held (issue #15).

A case's setting (``Case.cooling_off_minutes``; ``case open --cooling-off hold|delay N``,
``#cooling-off hold|N``) decides:

- ``hold`` (None, the default): the message waits for the mediator, as ``threads.heat`` holds it.
- ``delay N``: it goes out by itself N minutes after it arrived (``Message.release_at``, in the
  database, so a restart loses nothing: the sweep releases what is due). Its author is told
  privately what was noticed and when it goes out; until then they may reply ``stop`` (it is
  kept on the record, not sent) or send a new version (the old one is superseded, the new one
  goes through the rules afresh, tone check and all). The mediator still decides first if they
  want to: ``#approve``, ``#reject``, ``#dismiss``, ``#suggest``, or ``#hold`` to keep it.

A threat is never delayed (it is never relayed automatically), and nothing goes out while the
case is paused: a release that fell due then waits for ``#resume``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from threads import audit
from threads.cases import lock_case, mediator_of
from threads.commands import Command, Context, Plan, first_words, held_target, phrase
from threads.db import read_scope, session_scope
from threads.models import Case, Message, MessageStatus, Participant, utcnow
from threads.notices import Notice
from threads.relay import relay_to_parties

MAX_MINUTES = 24 * 60
DELAY_NOTICE = "cooling-delay"  # to the author: what was noticed, when it goes out
HOLD_NOTICE = "cooling-off"  # to the author: the mediator reads it first (threads.heat)
# Settings in Dutch and English alike: "hold", "delay 30", "30", "30 min", "uitstel 30".
_HOLD = {"hold", "vasthouden", "houden", "off", "uit"}
_DELAY = re.compile(r"^(?:(?:delay|uitstel|wacht|wachten)\s+)?(?P<n>\d{1,4})\s*"
                    r"(?:m|min|mins|minutes?|minuten)?$")
# An answer whose first line says only this stops the message.
_STOP = {"stop", "stoppen", "stop it", "stop please", "please stop", "stop maar", "niet sturen",
         "niet versturen", "stop alsjeblieft", "stop alstublieft", "graag stoppen"}


class Mailer(Protocol):
    def enqueue(self, session: Session, notices: list[Notice]) -> Sequence[Any]: ...


def parse_setting(text: str) -> int | None:
    """Minutes to wait, or None for hold; ValueError when it is neither."""
    words = " ".join(text.lower().split())
    if words in _HOLD:
        return None
    match = _DELAY.match(words)
    if match is None or not 1 <= int(match["n"]) <= MAX_MINUTES:
        raise ValueError(f"say 'hold' or 'delay N' with N minutes from 1 to {MAX_MINUTES}")
    return int(match["n"])


def says_stop(text: str) -> bool:
    first = next((line for line in text.splitlines() if line.strip()), "")
    return " ".join(re.sub(r"[^\w\s]", " ", first.lower()).split()) in _STOP


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)  # SQLite hands back naive


def schedule(case: Case, notices: list[Notice], since: datetime | None = None) -> list[Notice]:
    """A heated message just held in open mode (``heat.settle``'s notices): with a delay, it
    gets its moment (``since`` its arrival, unless said otherwise) and its author hears when,
    instead of the plain cooling-off word."""
    if case.cooling_off_minutes is None:
        return notices
    for notice in notices:
        if notice.kind == HOLD_NOTICE and notice.message is not None:
            message = notice.message
            message.release_at = _aware(since or message.created_at) + timedelta(
                minutes=case.cooling_off_minutes)
            notice.kind = DELAY_NOTICE
    return notices


def pending(session: Session, case: Case, author: Participant) -> list[Message]:
    """This author's messages that wait to go out by themselves."""
    return list(session.exec(
        select(Message).where(Message.case_id == case.id, Message.author_id == author.id,
                              Message.status == MessageStatus.HELD,
                              col(Message.release_at).is_not(None))
        .order_by(col(Message.seq))).all())


def stop(session: Session, case: Case, author: Participant, waiting: list[Message],
         answers: str | None) -> list[Notice]:
    """The author said stop: kept on the record, never sent; both sides are told."""
    mediator = mediator_of(session, case)
    notices = []
    for message in waiting:
        message.status, message.decided_at = MessageStatus.WITHDRAWN, utcnow()
        message.release_at = None
        session.add(message)
        audit.record(session, case, "withdrawn", actor=author.name, message=message.seq)
        notices.append(Notice("withdrawn", case, mediator, author=author, message=message,
                              context={"words": first_words(message.text)}))
    notices.append(Notice("cooling-stopped", case, author, author=mediator, answers=answers,
                          context={"seqs": [m.seq for m in waiting]}))
    return notices


def supersede(session: Session, case: Case, author: Participant,
              waiting: list[Message]) -> list[int]:
    """A new version replaces what waited: the old one stays on the record, never sent."""
    for message in waiting:
        message.status, message.decided_at = MessageStatus.SUPERSEDED, utcnow()
        message.release_at = None
        session.add(message)
        audit.record(session, case, "superseded", actor=author.name, message=message.seq,
                     after="cooling-off")
    return [m.seq for m in waiting]


def release(session: Session, case: Case, message: Message) -> list[Notice]:
    """The wait is over and nobody stopped it: it goes to the others as an open message
    does; the mediator hears that it went."""
    author = session.get(Participant, message.author_id)
    message.release_at = None
    if not author.active:  # removed meanwhile: the mediator decides, as for any held message
        session.add(message)
        return []
    message.status, message.released_text = MessageStatus.RELEASED, message.text
    message.decided_at = utcnow()
    session.add(message)
    audit.record(session, case, "released", actor=author.name, message=message.seq,
                 after="cooling-off")
    notices = relay_to_parties(session, case, message, author, exclude=author)
    for notice in notices:  # the footer says so: it went out after a wait, not read first
        notice.context["travelled"] = "cooled"
    mediator = mediator_of(session, case)
    return notices + [Notice("cooling-released", case, mediator, author=author, message=message)]


def release_due(session: Session, case: Case, now: datetime) -> list[Notice]:
    """Every message of this (locked, open) case whose moment has come."""
    notices: list[Notice] = []
    for message, _ in session.exec(_due(now).where(Message.case_id == case.id)).all():
        notices += release(session, case, message)
    return notices


def _due(now: datetime):  # noqa: ANN202
    """Messages of open cases whose wait is over, with their case."""
    return (select(Message, Case).join(Case, col(Case.id) == Message.case_id)
            .where(col(Message.release_at).is_not(None), Message.release_at <= now,
                   Message.status == MessageStatus.HELD, Case.status == "open")
            .order_by(col(Message.case_id), col(Message.seq)))


def preview(session: Session, now: datetime) -> list[dict]:
    """What a sweep at ``now`` would release (``mediate reminders preview``)."""
    rows = []
    for message, case in session.exec(_due(now)).all():
        author = session.get(Participant, message.author_id)
        rows.append({"case": case.ref, "kind": "cooling-off", "to": "parties",
                     "about": author.name, "round": 1, "when": "now",
                     "why": f"message {message.seq} by {author.name} waited until "
                            f"{_aware(message.release_at).isoformat(timespec='minutes')} "
                            "and nobody stopped it"})
    return rows


def sweep(engine: Engine, mailer: Mailer, now: datetime | None = None) -> int:
    """Release what is due in every open case, one case (and its lock) at a time; what another
    machine released a moment ago is no longer held when asked again under the lock."""
    now = now or utcnow()
    with read_scope(engine) as session:
        cases = sorted({case.id for _, case in session.exec(_due(now)).all()})
    released = 0
    for case_id in cases:
        with session_scope(engine) as session:
            notices = release_due(session, lock_case(session, case_id), now)
            mailer.enqueue(session, notices)
            released += sum(1 for n in notices if n.kind == "cooling-released")
    return released


def setting(session: Session, case: Case, mediator: Participant, command: Command,
            ctx: Context) -> Plan | None:
    """'#cooling-off hold|N' ('#afkoelen'): what becomes of heated messages from now on."""
    try:
        minutes = parse_setting(command.args)
    except ValueError:
        ctx.errors.append(phrase("cooling-off-value", line=command.line, max=MAX_MINUTES))
        return None

    def run():  # noqa: ANN202
        case.cooling_off_minutes = minutes
        session.add(case)
        audit.record(session, case, "cooling-off", actor=mediator.name,
                     minutes=minutes if minutes is not None else "hold")
        waiting = session.exec(
            select(Message).where(Message.case_id == case.id,
                                  Message.status == MessageStatus.HELD,
                                  col(Message.release_at).is_not(None))
            .order_by(col(Message.seq))).all()
        return [], [phrase("cooling-off-set", minutes=minutes, open=case.moderation == "open",
                           waiting=[{"seq": m.seq, "at": m.release_at} for m in waiting])]

    return run


def hold(session: Session, case: Case, mediator: Participant, command: Command,
         ctx: Context) -> Plan | None:
    """'#hold [n]' ('#vasthouden'): a message cooling off waits for the mediator after all."""
    message = held_target(session, case, command, ctx)
    if message is None:
        return None
    if message.release_at is None:
        ctx.errors.append(phrase("hold-not-delayed", line=command.line, seq=message.seq))
        return None
    return lambda: (keep(session, case, mediator, message),
                    [phrase("held-for-you", seq=message.seq)])


def keep(session: Session, case: Case, mediator: Participant, message: Message) -> list[Notice]:
    """Take a waiting message off the clock; its author, who was told a time, hears so."""
    was = message.release_at
    if was is None:
        return []
    message.release_at = None
    session.add(message)
    audit.record(session, case, "kept-for-mediator", actor=mediator.name, message=message.seq)
    author = session.get(Participant, message.author_id)
    return [Notice(HOLD_NOTICE, case, author, author=mediator, message=message,
                   context={"instead_of": was})]
