"""``#pause [reason]`` and ``#resume``: the mediator stops the exchange for a while.

While a case is paused nothing is relayed and no reminder is sent (reminders only look at open
cases). Every party is told, in their own language. What parties write meanwhile is kept
(``hold_reason = "paused"``; the author hears that it waits) and decided on ``#resume`` exactly
as it would have been on arrival: relayed in open mode, held for review otherwise, and always
held when the tone check found heat or a threat (``threads.heat``).
"""

from __future__ import annotations

from sqlmodel import Session, col, select

from threads import audit, heat
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
        notices = [Notice("paused", case, p, author=mediator, automatic=False,
                          context={"reason": reason}) for p in parties_of(session, case)]
        return notices, [phrase("paused")]

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
            notices += _decide_again(session, case, message)
        return notices, [phrase("resumed", count=len(waiting))]

    return run


def _decide_again(session: Session, case: Case, message: Message) -> list[Notice]:
    """What arrival would have done with this message, had the case not been paused."""
    author = session.get(Participant, message.author_id)
    mediator = mediator_of(session, case)
    level = (message.tone or {}).get("level", Level.CALM)
    if level == Level.THREATENING:
        message.hold_reason = heat.THREATENING
        notices = [Notice("tone-alert", case, mediator, author=author, message=message)]
    elif level == Level.HEATED and case.moderation == "open":
        message.hold_reason = heat.HEATED
        notices = [Notice("review", case, mediator, author=author, message=message),
                   Notice("cooling-off", case, author, author=mediator, message=message)]
    elif case.moderation == "open":
        message.hold_reason, message.status = None, "released"
        message.released_text, message.decided_at = message.text, utcnow()
        audit.record(session, case, "relayed", actor=author.name, message=message.seq,
                     mode="open", after="resume")
        notices = [Notice("copy-to-mediator", case, mediator, author=author, message=message)]
        notices += relay_to_parties(session, case, message, author, exclude=author)
    else:
        message.hold_reason = None
        notices = [Notice("review", case, mediator, author=author, message=message)]
    session.add(message)
    return notices
