"""Readiness: the mediator is told, once, when every party has completed what the case requires.

``check_ready`` is meant for the transaction in which a party completes a step (registration,
intake, signature), and the scheduler's sweep calls it again for every case that looks ready but
has no record yet (a safety net). Two parties finishing in the same second on two processes are
safe: the case row lock (``lock_case``) makes the second check wait for the first to commit and
then see both steps, and the ``Reminder`` claim record ``ready`` (unique per case's mediator)
lets only one of them send the mail.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import exists, or_
from sqlmodel import Session, col, select

from threads import audit
from threads.cases import lock_case, mediator_of, parties_of
from threads.models import Case, Participant, Reminder, utcnow
from threads.notices import Notice
from threads.reminders import Due, claim

STEP_COLUMN = {"register": "registered_at", "intake": "intake_submitted_at", "sign": "signed_at"}
READY = "ready"


def _missing(steps: tuple[str, ...]):  # noqa: ANN202
    return or_(*(col(getattr(Participant, STEP_COLUMN[step])).is_(None) for step in steps))


def _active_party():  # noqa: ANN202
    return (Participant.case_id == Case.id, Participant.role == "party",
            col(Participant.active).is_(True))


def ready_due(session: Session, steps: tuple[str, ...]) -> list[int]:
    """Open cases whose active parties have all completed ``steps`` and were not announced."""
    if not steps:
        return []
    query = (
        select(Case.id)
        .where(
            Case.status == "open",
            exists().where(*_active_party()),
            ~exists().where(*_active_party(), _missing(steps)),
            ~exists().where(Reminder.case_id == Case.id, Reminder.kind == READY),
        )
        .order_by(col(Case.id))
    )
    return list(session.exec(query))


def check_ready(
    session: Session, case: Case, steps: tuple[str, ...], now: datetime | None = None
) -> list[Notice]:
    """The readiness notice for the mediator if ``case`` just became ready, else nothing."""
    if not steps:
        return []
    case = lock_case(session, case.id)
    if case.status != "open":
        return []
    parties = parties_of(session, case)
    if not parties or any(
        getattr(p, STEP_COLUMN[step]) is None for p in parties for step in steps
    ):
        return []
    mediator = mediator_of(session, case)
    already = session.exec(
        select(Reminder.id).where(Reminder.participant_id == mediator.id, Reminder.kind == READY)
    ).first()
    if already is not None:
        return []
    now = now or utcnow()
    if not claim(session, Due(READY, case.id, mediator.id, 0, 1, now), mediator.id, now):
        return []
    audit.record(session, case, "ready", parties=[p.name for p in parties], steps=list(steps))
    return [Notice("ready", case, mediator, author=mediator,
                   context={"parties": parties, "steps": list(steps)})]
