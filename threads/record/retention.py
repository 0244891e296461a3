"""Retention: when a closed case must be warned about, and when it is purged.

``privacy.retain_days`` after a case closes it is purged, but never before:
- an export of the whole case exists, made after it closed (the mediator's file is complete);
- the mediator was warned, and at least ``WARN_DAYS`` have passed since that warning.
The warning goes out ``WARN_DAYS`` before the purge date, once per case: the ``Reminder``
row (kind ``purge-warning``) is the exactly-once claim, inserted with the notice.

``retain_days = 0`` keeps every case until it is purged by hand. The scheduler calls
``warn_due`` and ``purge_due`` with its own clock; both are safe to run twice or on two
machines at once (the warning's unique key; the purge under the case lock).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from threads.cases import mediator_of
from threads.models import Case, CaseExport, Reminder
from threads.notices import Notice

WARN_DAYS = 7
WARNING = "purge-warning"


def _utc(at: datetime) -> datetime:
    """Aware UTC; a naive time is taken to be UTC already (as the database stores it)."""
    return at.astimezone(UTC) if at.tzinfo is not None else at.replace(tzinfo=UTC)


def _closed_cases(session: Session) -> list[Case]:
    return list(session.exec(
        select(Case).where(Case.status == "closed", col(Case.closed_at).is_not(None))
        .order_by(col(Case.id))
    ))


def _warning(session: Session, case: Case) -> Reminder | None:
    return session.exec(
        select(Reminder).where(Reminder.case_id == case.id, Reminder.kind == WARNING,
                               Reminder.about == case.id)
    ).first()


def has_export(session: Session, case: Case) -> bool:
    """An export of the whole case made after it closed."""
    exports = session.exec(
        select(CaseExport.created_at).where(CaseExport.case_id == case.id,
                                            CaseExport.kind == "case")
    ).all()
    closed = _utc(case.closed_at) if case.closed_at else None
    return any(closed is None or _utc(at) >= closed for at in exports)


def purge_date(case: Case, retain_days: float, warned_at: datetime | None) -> datetime:
    """The earliest moment the case may go: retain_days after closing, a week after warning."""
    assert case.closed_at is not None
    date = _utc(case.closed_at) + timedelta(days=retain_days)
    if warned_at is not None:
        date = max(date, _utc(warned_at) + timedelta(days=WARN_DAYS))
    return date


def warn_due(session: Session, now: datetime, retain_days: float) -> list[Notice]:
    """Claim and return the warnings due now: one ``purge-warning`` to each case's mediator."""
    if retain_days <= 0:
        return []
    now = _utc(now)
    notices = []
    for case in _closed_cases(session):
        if now < purge_date(case, retain_days, None) - timedelta(days=WARN_DAYS):
            continue
        if _warning(session, case) is not None:
            continue
        mediator = mediator_of(session, case)
        try:
            with session.begin_nested():
                session.add(Reminder(case_id=case.id, participant_id=mediator.id, kind=WARNING,
                                     about=case.id, round=1, sent_at=now))
                session.flush()
        except IntegrityError:  # another sweep claimed it first
            continue
        exported = has_export(session, case)
        notices.append(Notice(
            WARNING, case, mediator, author=mediator,
            context={"purge_on": purge_date(case, retain_days, now).date(),
                     "exported": exported, "retain_days": retain_days},
        ))
    return notices


def purge_due(session: Session, now: datetime, retain_days: float) -> list[Case]:
    """Closed cases whose time has come: past retention, exported, and warned a week ago."""
    if retain_days <= 0:
        return []
    now = _utc(now)
    due = []
    for case in _closed_cases(session):
        warning = _warning(session, case)
        if warning is None or not has_export(session, case):
            continue
        if now >= purge_date(case, retain_days, warning.sent_at):
            due.append(case)
    return due
