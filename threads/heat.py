"""Heat at the decision point: what the tone check means for a party's shared message.

- ``threatening``: never relayed automatically, in any mode. The message is held, the mediator
  gets a safety alert at once (a subject that stands out), and the alert is repeated in
  ``#status`` until the mediator acknowledges it with ``#ack n``.
- ``heated`` in open mode: held for the mediator instead of going out; the author is told
  privately and kindly that the mediator reads it first and that a new version may be sent,
  or, when the case says ``delay N``, when it goes out by itself (``threads.cooling``).
- ``heated`` in review mode: held as every message is; the review copy opens with what was
  noticed.

The author's receipt never promises what the mediator has not decided. The reading (level,
signals with their words, and the local time when written at night) is kept on the message,
so every copy about it can say what was noticed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from threads import audit
from threads.commands import Command, Context, Plan, phrase, target_message
from threads.models import Case, Message, Participant, utcnow
from threads.notices import Notice
from threads.tone import Level, Lexicon, Tone, analyse_tone

THREATENING = "threatening"
HEATED = "heated"
PAUSED = "paused"  # written while the case was paused (threads.pause): decided on #resume
HOLD_REASONS = (THREATENING, HEATED, PAUSED)
_NIGHT = range(0, 6)  # hours at which writing is itself worth a mediator's notice
_NIGHT_FROM = 23


@dataclass(frozen=True)
class Reading:
    tone: Tone
    written_at: str | None = None  # "03:07", local time, only when written at night

    def as_record(self) -> dict:
        return {**self.tone.as_dict(), "written_at": self.written_at}


def read(text: str, lexicon: Lexicon | None = None, timezone: str = "Europe/Amsterdam",
         when: datetime | None = None) -> Reading:
    """The tone of a party's new words, and the hour when it is the middle of the night."""
    when = when or utcnow()
    if when.tzinfo is None:  # a database without time zones gives UTC back naive
        when = when.replace(tzinfo=UTC)
    local = when.astimezone(ZoneInfo(timezone))
    night = local.hour in _NIGHT or local.hour >= _NIGHT_FROM
    return Reading(analyse_tone(text, lexicon), local.strftime("%H:%M") if night else None)


def hold_reason(case: Case, reading: Reading, author: Participant | None = None) -> str | None:
    """Why this message may not go out as it is, whatever the moderation mode says. Open mode
    is the author's own when the mediator set one (#open Name, #review Name)."""
    if reading.tone.level == Level.THREATENING:
        return THREATENING
    mode = (author.moderation if author is not None else None) or case.moderation
    if reading.tone.level == Level.HEATED and mode == "open":
        return HEATED
    return None


def settle(notices: list[Notice], reading: Reading, reason: str | None) -> list[Notice]:
    """Keep the reading on the held message and choose the mails that go with the reason.

    ``relay.hold`` announces a held message with "review-held" (to the mediator) and
    "received" (to the author); heat replaces them: a safety alert for a threat, the ordinary
    review copy and a private word to the author for a heated message in open mode.
    """
    if reason == PAUSED:  # the mediator sees it on #resume; its author hears that it waits
        notices = [n for n in notices if n.kind != "review-held"]
    for notice in notices:
        if notice.message is not None:
            notice.message.tone = reading.as_record()
        if reason == PAUSED and notice.kind == "received":
            notice.kind = "paused-received"
        elif reason == THREATENING and notice.kind == "review-held":
            notice.kind = "tone-alert"
        elif reason == HEATED and notice.kind == "review-held":
            notice.kind = "review"
        elif reason == HEATED and notice.kind == "received":
            notice.kind = "cooling-off"
    return notices


def private(notices: list[Notice], reading: Reading) -> list[Notice]:
    """A party's private mail to the mediator is never relayed, but it is read all the same:
    heated words are marked on the mediator's copy, and a threat or a sign of self-harm raises
    the safety alert (saying it came privately), repeated until ``#ack n``. Nobody else hears
    of it. A new version written there in answer to the mediator's suggested wording is held
    for review: its review copy shows the tone, and a threat turns it into the alert."""
    threat = reading.tone.level == Level.THREATENING
    for notice in list(notices):
        if notice.message is None or notice.kind not in ("private-to-mediator", "review"):
            continue
        notice.message.tone = reading.as_record()
        if notice.kind == "review" and threat:
            notice.message.hold_reason, notice.kind = THREATENING, "tone-alert"
        elif notice.kind == "private-to-mediator" and threat:
            notice.message.hold_reason = THREATENING  # open until #ack (open_alerts)
            notices.append(Notice("tone-alert", notice.case, notice.recipient,
                                  author=notice.author, message=notice.message,
                                  context={"private": True}))
    return notices


def open_alerts(session: Session, case: Case) -> list[Message]:
    """Threatening messages whose safety alert the mediator has not acknowledged yet."""
    return list(session.exec(
        select(Message).where(Message.case_id == case.id, Message.hold_reason == THREATENING,
                              col(Message.tone_ack_at).is_(None))
        .order_by(col(Message.seq))
    ).all())


def ack(session: Session, case: Case, mediator: Participant, command: Command,
        ctx: Context) -> Plan | None:
    """``#ack n``: the mediator has seen the safety alert of message n and takes it from here."""
    message = target_message(session, case, command, ctx)
    if message is None:
        return None
    if message.hold_reason != THREATENING:
        ctx.errors.append(phrase("ack-not-alert", line=command.line, seq=message.seq))
        return None

    def run():  # noqa: ANN202
        if message.tone_ack_at is None:
            message.tone_ack_at = utcnow()
            session.add(message)
            audit.record(session, case, "safety-alert-acknowledged", actor=mediator.name,
                         message=message.seq)
        return [], [phrase("acknowledged", seq=message.seq)]

    return run
