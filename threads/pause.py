"""``#pause [reason]`` and ``#resume``: the mediator stops the exchange for a while.

While a case is paused nothing is relayed and no reminder is sent (reminders only look at open
cases). Every party is told, in their own language. What parties write meanwhile is kept
(``hold_reason = "paused"``; the author hears that it waits) and decided on ``#resume`` exactly
as it would have been on arrival: relayed in open mode, held for review otherwise, and always
held when the tone check found heat or a threat (``threads.heat``; heated words in a case that
cools off with a delay wait from the moment of #resume). A message cooling off whose moment
came during the pause goes out on #resume (``threads.cooling``).
"""

from __future__ import annotations

from sqlmodel import Session, col, select

from threads import audit, cooling, heat, night
from threads.cases import mediator_of, parties_of
from threads.commands import Command, Context, Plan, phrase
from threads.models import Case, Message, Participant, utcnow
from threads.notices import Notice
from threads.relay import relay_to_parties
from threads.tone import Level

PAUSED = heat.PAUSED


def pause(session: Session, case: Case, mediator: Participant, command: Command,
          ctx: Context) -> Plan | None:
    if case.status != "open":
        ctx.errors.append(phrase("pause-not-open", line=command.line, status=case.status))
        return None
    # the reason on the command line, or as text below it (the way a mediator writes a note)
    reason = (command.args.strip() or ctx.rest.strip())[:1000]

    def run():  # noqa: ANN202
        case.status = PAUSED
        session.add(case)
        audit.record(session, case, "paused", actor=mediator.name)
        # copies waiting for the morning (threads.night) now wait for #resume instead
        taken_back = night.pause_waiting(session, case, PAUSED)
        notices = [Notice("paused", case, p, author=mediator, automatic=False,
                          context={"reason": reason}) for p in parties_of(session, case)]
        return notices, [phrase("paused", waiting=taken_back)]

    return run


def resume(session: Session, case: Case, mediator: Participant, command: Command,
           ctx: Context) -> Plan | None:
    if case.status != PAUSED:
        ctx.errors.append(phrase("not-paused", line=command.line))
        return None

    def run():  # noqa: ANN202
        case.status = "open"
        session.add(case)
        audit.record(session, case, "resumed", actor=mediator.name)
        notices = [Notice("resumed", case, p, author=mediator, automatic=False)
                   for p in parties_of(session, case)]
        waiting = session.exec(
            select(Message).where(Message.case_id == case.id, Message.hold_reason == PAUSED)
            .order_by(col(Message.seq))
        ).all()
        for message in waiting:
            notices += _decide_again(session, case, message, ctx)
        # messages cooling off whose moment came during the pause go out now
        notices += cooling.release_due(session, case, utcnow())
        return notices, [phrase("resumed", count=len(waiting))]

    return run


def _decide_again(session: Session, case: Case, message: Message,
                  ctx: Context) -> list[Notice]:
    """What arrival would have done with this message, had the case not been paused."""
    author = session.get(Participant, message.author_id)
    mediator = mediator_of(session, case)
    level = (message.tone or {}).get("level", Level.CALM)
    if level == Level.THREATENING:
        message.hold_reason = heat.THREATENING
        notices = [Notice("tone-alert", case, mediator, author=author, message=message)]
    elif level == Level.HEATED and (author.moderation or case.moderation) == "open":
        message.hold_reason = heat.HEATED
        # its wait, if the case has one, starts now: it could not go out during the pause
        notices = cooling.schedule(case, [
            Notice("review", case, mediator, author=author, message=message),
            Notice(cooling.HOLD_NOTICE, case, author, author=mediator, message=message)],
            since=utcnow())
    elif case.moderation == "open":
        message.hold_reason, message.status = None, "released"
        message.released_text, message.decided_at = message.text, utcnow()
        audit.record(session, case, "relayed", actor=author.name, message=message.seq,
                     mode="open", after="resume")
        notices = [Notice("copy-to-mediator", case, mediator, author=author, message=message)]
        relayed = relay_to_parties(session, case, message, author, exclude=author)
        for notice in relayed:
            notice.context["travelled"] = "open"
        notices = night.hold_until_morning(session, case, message, notices + relayed,
                                           ctx.night_hold, case.timezone or ctx.timezone)
    else:
        message.hold_reason = None
        notices = [Notice("review", case, mediator, author=author, message=message)]
    session.add(message)
    return notices
