"""Night hold: in open mode, a party's words reach the others when their night is over.

A message relayed at once (open moderation) while its recipients are in their quiet hours
(``[reminders] quiet_hours``, in the case's time zone, which is every participant's) is
relayed all the same, but its copies carry a not-before time: the outbox row's
``next_attempt_at`` is the end of the quiet hours, so the copy waits in the database, survives
a restart, and the outbox sends it in the morning like any due copy. ``[relay] night_hold``
turns this off.

Only the copies to the other parties wait. The mediator's copy, safety alerts and everything
the mediator writes go out at once. The author hears that the message reaches the others in
the morning (never that it was delivered already); the mediator's copy says so too, and until
then the mediator can still withdraw it (``#reject n reason``) or send their own wording
in the morning instead (``#approve n`` with the text below it). ``#pause`` takes the waiting
copies back: the message waits for ``#resume`` like one written during the pause.

A waiting copy is one of a message's relay copies that was never tried (``attempts == 0``)
and is not due yet: a fresh copy is due at once, a retried one has been tried.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from threads import audit
from threads.models import Case, Message, OutgoingMail, Participant, utcnow
from threads.notices import Notice
from threads.quiet_hours import next_send_time
from threads.settings import ReminderSettings

RELAY = "relay"
WITHDRAWN = "withdrawn"  # an outbox status: a waiting copy taken back, never sent


def morning(window: str, zone: str, now: datetime | None = None) -> datetime | None:
    """When the quiet hours ``window`` (in ``zone``) end, if ``now`` is inside them."""
    if not window:
        return None
    now = now or utcnow()
    until = next_send_time(now, ReminderSettings(quiet_hours=window), zone)
    return until if until > now else None


def hold_until_morning(
    session: Session, case: Case, message: Message, notices: list[Notice], window: str,
    zone: str,
) -> list[Notice]:
    """Give the relay copies among ``notices`` the end of the night as their not-before time;
    say so on the mediator's copy and tell the author. Nothing changes by day."""
    until = morning(window, zone)
    relays = [n for n in notices if n.kind == RELAY and n.message is message]
    if until is None or not relays:
        return notices
    for notice in relays:
        notice.not_before = until
    local = local_time(until, zone)
    for notice in notices:
        if notice.kind == "copy-to-mediator":
            notice.context["morning"] = local
    audit.record(session, case, "night-hold", actor="relay", message=message.seq,
                 until=until.isoformat())
    author = session.get(Participant, message.author_id)
    mediator = next((n.recipient for n in notices if n.kind == "copy-to-mediator"), None)
    notices.append(Notice("night-received", case, author, author=mediator, message=message,
                          context={"morning": local}))
    return notices


def aware(moment: datetime) -> datetime:
    """A database without time zones (SQLite) gives UTC back naive."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def local_time(moment: datetime, zone: str) -> str:
    """The hour a waiting copy goes out, as its recipients read it ("08:00")."""
    return aware(moment).astimezone(ZoneInfo(zone)).strftime("%H:%M")


def waiting(session: Session, message: Message) -> list[OutgoingMail]:
    """This message's copies that still wait for the morning."""
    return list(session.exec(select(OutgoingMail).where(
        OutgoingMail.message_ref_id == message.id, OutgoingMail.kind == RELAY,
        OutgoingMail.status == "pending", OutgoingMail.attempts == 0,
        OutgoingMail.next_attempt_at > utcnow(),
    ).order_by(col(OutgoingMail.id))).all())


def withdraw(session: Session, message: Message) -> list[OutgoingMail]:
    """Take back the copies that still wait; the ones already sent stay sent."""
    copies = waiting(session, message)
    for copy in copies:
        copy.status, copy.last_error = WITHDRAWN, "withdrawn before the morning"
        session.add(copy)
    return copies


def waiting_messages(session: Session, case: Case) -> list[Message]:
    """The case's relayed messages whose copies wait for the morning, in order."""
    ids = session.exec(select(OutgoingMail.message_ref_id).where(
        OutgoingMail.case_id == case.id, OutgoingMail.kind == RELAY,
        OutgoingMail.status == "pending", OutgoingMail.attempts == 0,
        OutgoingMail.next_attempt_at > utcnow(),
    ).distinct()).all()
    return sorted((m for m in (session.get(Message, i) for i in ids if i) if m),
                  key=lambda m: m.seq)


def pause_waiting(session: Session, case: Case, paused: str) -> int:
    """``#pause``: messages waiting for the morning wait for ``#resume`` instead."""
    messages = waiting_messages(session, case)
    for message in messages:
        withdraw(session, message)
        message.status, message.hold_reason = "held", paused
        message.released_text, message.decided_at = None, None
        session.add(message)
        audit.record(session, case, "night-hold-paused", actor="relay", message=message.seq)
    return len(messages)

