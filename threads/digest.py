"""The mediator's overview: a daily or weekly digest of every open case, sent only on change.

For each configured mediator, once per period (``2026-03-02`` daily, ``2026-W10`` weekly, from
``reminders.digest_hour`` local time; weekly on Mondays), the sweep builds a summary per open
case: which parties the mediator is waiting on and since when (a missing step or an awaited
answer), messages waiting for review, bouncing or away parties, and hours logged. The summary's
fingerprint is compared with the last digest actually sent: unchanged means nothing is sent.
The period is claimed with a unique ``DigestRecord`` (mediator, period) in the transaction that
enqueues the mail, so two sweeps never send a period twice. All questions are grouped SQL
queries over that mediator's open cases.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, func, or_
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from threads import balance, heat, models
from threads.db import read_scope, session_scope
from threads.lookup import is_address
from threads.models import Awaiting, Case, DigestRecord, Message, Participant, SafetyAlert
from threads.notices import Notice
from threads.reminders import STEP_COLUMN, STEPS


def period_key(now: datetime, frequency: str, hour: int, timezone: str) -> str | None:
    """The digest period that is due at ``now``, or None before its hour (or when off)."""
    if frequency not in ("daily", "weekly"):
        return None
    local = now.astimezone(ZoneInfo(timezone))
    if frequency == "daily":
        return local.date().isoformat() if local.hour >= hour else None
    monday = local.date() - timedelta(days=local.weekday())
    if local.date() == monday and local.hour < hour:
        return None
    year, week, _ = monday.isocalendar()
    return f"{year}-W{week:02d}"


def _day(value: datetime | None, timezone: str) -> str | None:
    return value.astimezone(ZoneInfo(timezone)).date().isoformat() if value else None


def summarize(
    session: Session, mediator_email: str, steps: tuple[str, ...], timezone: str
) -> list[dict[str, Any]]:
    """One entry per open case of this mediator, with only what matters (stable across days)."""
    mine = (
        select(Participant.case_id)
        .join(Case, Case.id == Participant.case_id)
        .where(Participant.role == "mediator",
               is_address(session, Participant.email_hash, mediator_email),
               Case.status == "open")
    )
    cases = list(session.exec(select(Case).where(col(Case.id).in_(mine)).order_by(col(Case.id))))
    if not cases:
        return []
    ids = [case.id for case in cases]
    summary = {case.id: {"ref": case.ref, "title": case.title, "waiting": [], "held": 0,
                         "held_since": None, "bouncing": [], "away": [], "minutes": 0,
                         "alerts": []}
               for case in cases}
    missing = [col(getattr(Participant, STEP_COLUMN[s])).is_(None) for s in steps]
    people = session.exec(
        select(Participant).where(
            col(Participant.case_id).in_(ids), Participant.role == "party",
            col(Participant.active).is_(True),
            or_(col(Participant.bouncing).is_(True), col(Participant.away_note).is_not(None),
                *missing),
        ).order_by(col(Participant.case_id), col(Participant.id))
    )
    previous_step = {"register": "created_at", "intake": "registered_at",
                     "sign": "intake_submitted_at" if "intake" in steps else "registered_at"}
    for person in people:
        entry = summary[person.case_id]
        for step in STEPS:
            if step in steps and getattr(person, STEP_COLUMN[step]) is None:
                since = getattr(person, previous_step[step]) or person.created_at
                entry["waiting"].append(
                    {"name": person.name, "what": step, "since": _day(since, timezone)})
                break
        if person.bouncing:
            entry["bouncing"].append(person.name)
        if person.away_note:
            entry["away"].append(person.name)
    awaited = session.exec(
        select(Awaiting.case_id, Participant.name, Awaiting.asked_at, Awaiting.reply_by)
        .join(Participant, Participant.id == Awaiting.participant_id)
        .where(col(Awaiting.case_id).in_(ids), col(Awaiting.closed_at).is_(None),
               or_(col(Participant.last_message_at).is_(None),
                   col(Participant.last_message_at) < Awaiting.asked_at))
        .order_by(col(Awaiting.id))
    )
    for case_id, name, asked_at, reply_by in awaited:
        summary[case_id]["waiting"].append({"name": name, "what": "reply",
                                            "since": _day(asked_at, timezone),
                                            "by": _day(reply_by, timezone)})
    held = session.exec(
        select(Message.case_id, func.count(col(Message.id)), func.min(Message.created_at))
        .where(col(Message.case_id).in_(ids), Message.status == "held")
        .group_by(col(Message.case_id))
    )
    for case_id, count, oldest in held:
        summary[case_id]["held"] = count
        summary[case_id]["held_since"] = _day(oldest, timezone)
    alerts = session.exec(
        select(SafetyAlert.case_id, Participant.name)
        .join(Participant, Participant.id == SafetyAlert.participant_id)
        .where(col(SafetyAlert.case_id).in_(ids)).order_by(col(SafetyAlert.at))
    )
    for case_id, name in alerts:  # the digest opens with these (threads.attention)
        if name not in summary[case_id]["alerts"]:
            summary[case_id]["alerts"].append(name)
    entries = getattr(models, "TimeEntry", None)  # the mediator's #time log, when present
    if entries is not None:
        logged = session.exec(
            select(entries.case_id, func.sum(entries.minutes))
            .where(col(entries.case_id).in_(ids)).group_by(entries.case_id)
        )
        for case_id, minutes in logged:
            summary[case_id]["minutes"] = int(minutes or 0)
    for case in cases:  # safety alerts and participation balance, case by case
        summary[case.id]["alerts"] = [m.seq for m in heat.open_alerts(session, case)]
        found = balance.of(session, case)
        summary[case.id]["silent"] = found.silent
        summary[case.id]["loud"] = list(found.loud) if found.loud else None
    return [summary[case_id] for case_id in ids]


def fingerprint(cases: list[dict[str, Any]]) -> str:
    return hashlib.sha256(json.dumps(cases, sort_keys=True).encode()).hexdigest()


def _last_sent(session: Session, email: str) -> str | None:
    return session.exec(
        select(DigestRecord.fingerprint)
        .where(is_address(session, DigestRecord.mediator_hash, email),
               col(DigestRecord.sent).is_(True))
        .order_by(col(DigestRecord.id).desc()).limit(1)
    ).first()


def _claimed(session: Session, email: str, period: str) -> bool:
    return session.exec(select(DigestRecord.id).where(
        is_address(session, DigestRecord.mediator_hash, email),
        DigestRecord.period == period)).first() is not None


def send_due(
    engine: Engine, mailer: Any, settings: Any, now: datetime,
    steps: tuple[str, ...] = STEPS,
) -> int:
    """Send each mediator's digest for the current period if due and changed; returns sent."""
    rs, timezone = settings.reminders, settings.service.timezone
    period = period_key(now, rs.digest, rs.digest_hour, timezone)
    if period is None:
        return 0
    sent = 0
    for mediator in settings.mediators:
        with read_scope(engine) as session:
            if _claimed(session, mediator.email, period):
                continue
        with session_scope(engine) as session:
            cases = summarize(session, mediator.email, steps, timezone)
            mark = fingerprint(cases)
            changed = bool(cases) and mark != _last_sent(session, mediator.email)
            try:
                with session.begin_nested():
                    session.add(DigestRecord(mediator_email=mediator.email, period=period,
                                             fingerprint=mark, sent=changed, created_at=now))
                    session.flush()
            except IntegrityError:
                continue  # another sweep claimed this period
            if changed:
                mailer.enqueue(session, [Notice(
                    "digest", None, None, to_address=mediator.email, language=mediator.language,
                    context={"name": mediator.name, "cases": cases, "period": period,
                             "frequency": rs.digest},
                )])
                sent += 1
    return sent


def preview(session: Session, settings: Any, now: datetime, steps: tuple[str, ...]) -> list[dict]:
    rs, timezone = settings.reminders, settings.service.timezone
    period = period_key(now, rs.digest, rs.digest_hour, timezone)
    rows: list[dict] = []
    if period is None:
        return rows
    for mediator in settings.mediators:
        if _claimed(session, mediator.email, period):
            continue
        cases = summarize(session, mediator.email, steps, timezone)
        if cases and fingerprint(cases) != _last_sent(session, mediator.email):
            rows.append({"case": "", "kind": "digest", "to": mediator.email, "about": "",
                         "round": 1, "when": "now",
                         "why": f"{rs.digest} digest {period}: {len(cases)} open case(s)"})
    return rows
