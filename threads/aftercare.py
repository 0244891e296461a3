"""After a settlement: an evaluation questionnaire, and a follow-up some months later.

When the mediator closes a case as settled (``#close settled``), the next sweep sends each party
a link to the evaluation questionnaire (``intake_forms/evaluation.toml``, when it exists and
``[aftercare] evaluation`` is on), and ``[aftercare] follow_up_months`` after the closing a mail
asking whether the agreements still work. A party's reply to that mail reaches the mediator,
though the case is closed (``reply``, one of threads.rules' rules). Each mail is claimed by a
``Reminder`` row (kind ``evaluation`` or ``follow-up``) in the same transaction as the mail, so
it goes out once however many sweeps run, and the sweep waits for the end of quiet hours.
Only cases closed within ``WINDOW_DAYS`` of when a mail falls due are considered: switching
the follow-up on does not write to every party of years past.
"""

from __future__ import annotations

import calendar
import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, exists
from sqlmodel import Session, col, select

from threads import audit
from threads.cases import lock_case, mediator_of
from threads.db import read_scope, session_scope
from threads.intake import Answer, Form
from threads.models import Case, IntakeAnswer, OutgoingMail, Participant, Reminder
from threads.notices import Notice
from threads.onboarding import summarize
from threads.quiet_hours import is_quiet
from threads.relay import Contribution
from threads.reminders import Due, claim

log = logging.getLogger(__name__)
SETTLED = "settled"
WINDOW_DAYS = 30
EVALUATION_FORM = "evaluation"


def months_later(moment: datetime, months: int) -> datetime:
    """The same day ``months`` calendar months later (the month's last day when shorter)."""
    month = moment.month - 1 + months
    year, month = moment.year + month // 12, month % 12 + 1
    return moment.replace(year=year, month=month,
                          day=min(moment.day, calendar.monthrange(year, month)[1]))


def _waiting(session: Session, kind: str, closed_after: datetime,
             closed_before: datetime) -> list[tuple[int, int, datetime]]:
    """(case id, party id, closed at) of present parties of settled cases closed in the window
    who have not been sent this mail."""
    sent = exists().where(Reminder.participant_id == Participant.id, Reminder.kind == kind)
    return list(session.exec(
        select(Case.id, Participant.id, Case.closed_at)
        .join(Participant, col(Participant.case_id) == Case.id)
        .where(Case.status == "closed", Case.outcome == SETTLED,
               col(Case.closed_at) > closed_after, col(Case.closed_at) <= closed_before,
               Participant.role == "party", col(Participant.active).is_(True), ~sent)
        .order_by(col(Case.id), col(Participant.id))))


def due(session: Session, settings: Any, now: datetime, evaluation: bool) -> list[Due]:
    found = []
    window = timedelta(days=WINDOW_DAYS)
    if evaluation:
        found += [Due("evaluation", case_id, pid, 0, 1, closed)
                  for case_id, pid, closed in _waiting(session, "evaluation", now - window, now)]
    months = settings.aftercare.follow_up_months
    if months:
        # closed at least ``months`` ago: a superset by days, then each checked to the day
        early, late = now - timedelta(days=31 * months) - window, now - timedelta(days=28 * months)
        found += [Due("follow-up", case_id, pid, 0, 1, closed)
                  for case_id, pid, closed in _waiting(session, "follow-up", early, late)
                  if now - window < months_later(closed, months) <= now]
    return found


def send_due(engine: Engine, mailer: Any, settings: Any, now: datetime) -> int:
    """Send what is due now, each once; returns how many mails went out."""
    if is_quiet(now, settings.reminders, settings.service.timezone):
        return 0
    evaluation = settings.aftercare.evaluation and \
        (settings.intake_forms_dir / f"{EVALUATION_FORM}.toml").exists()
    with read_scope(engine) as session:
        items = due(session, settings, now, evaluation)
    sent = 0
    for case_id in sorted({item.case_id for item in items}):
        try:
            with session_scope(engine) as session:
                notices = _for_case(session, case_id,
                                    [i for i in items if i.case_id == case_id], now)
                mailer.enqueue(session, notices)
                sent += len(notices)
        except Exception:
            log.exception("after-care mail failed for case id %s", case_id)
    return sent


def _for_case(session: Session, case_id: int, items: list[Due], now: datetime) -> list[Notice]:
    case = lock_case(session, case_id)
    if case.status != "closed" or case.outcome != SETTLED:  # reopened meanwhile
        return []
    mediator = mediator_of(session, case)
    notices = []
    for item in items:
        party = session.get(Participant, item.participant_id)
        if not claim(session, item, party.id, now):
            continue
        audit.record(session, case, item.kind, participant=party.name)
        notices.append(Notice(item.kind, case, party, author=mediator,
                              context={"closed": case.closed_at}))
    return notices


def reply(session: Session, case: Case, party: Participant,
          contribution: Contribution) -> list[Notice] | None:
    """A party's answer to the follow-up (or any after-care mail) in a closed case: to the
    mediator, with thanks to the party. None: not an answer to an after-care mail."""
    if case.status != "closed" or party.role != "party" or not contribution.refs:
        return None
    answered = session.exec(select(OutgoingMail.id).where(
        col(OutgoingMail.message_id).in_(contribution.refs[:50]),
        OutgoingMail.case_id == case.id, OutgoingMail.participant_id == party.id,
        col(OutgoingMail.kind).in_(("follow-up", "evaluation")))).first()
    if answered is None:
        return None
    mediator = mediator_of(session, case)
    audit.record(session, case, "follow-up-answer", actor=party.name)
    return [
        Notice("follow-up-answer", case, mediator, author=party,
               context={"party": party, "text": contribution.text}),
        Notice("follow-up-thanks", case, party, author=mediator,
               answers=contribution.message_id),
    ]


def evaluated(session: Session, case: Case, party: Participant, form: Form,
              answers: dict[str, Answer], now: datetime) -> list[Notice]:
    """Store a party's evaluation (once) and send the mediator their answers."""
    case = lock_case(session, case.id)
    if not claim(session, Due("evaluation-answered", case.id, party.id, 0, 1, now), party.id,
                 now):
        return []  # answered before: the first answers stand
    for qid, value in answers.items():
        if value is not None:
            session.add(IntakeAnswer(participant_id=party.id, form=form.name, question_id=qid,
                                     value=value))
    audit.record(session, case, "evaluation", participant=party.name)
    mediator = mediator_of(session, case)
    return [Notice("evaluation-to-mediator", case, mediator, author=party, context={
        "party": party, "summary": summarize(form, answers, mediator.language)})]


def answered(session: Session, party: Participant) -> bool:
    return session.exec(select(Reminder.id).where(
        Reminder.participant_id == party.id, Reminder.kind == "evaluation-answered",
    )).first() is not None
