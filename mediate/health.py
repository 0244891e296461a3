"""What ``GET /healthz`` reports: is the database there, is mail flowing, does the scheduler run.

``ok`` is false only when the database cannot be reached: a backlog or failed copies are worth
a look, not a reason for a load balancer to take the machine out. Counts are for the whole
database, so every machine sharing it reports the same backlog; ``claimant`` says which
machine answered. ``processes`` lists the processes of this machine's `mediate serve`, each
with its pid, heartbeat and restarts (``mediate.processes``); the outbox worker's and the
scheduler's state then come from their own processes.
"""

from __future__ import annotations

import os
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_
from sqlmodel import Session, select

from threads import quarantine
from threads.db import read_scope
from threads.models import InboundMail, InboundStatus, OutgoingMail, utcnow


def _seconds_since(moment: datetime | None, now: datetime) -> float | None:
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=now.tzinfo)
    return round(max((now - moment).total_seconds(), 0.0), 1)


def backlog(session: Session) -> dict[str, Any]:
    now = utcnow()
    pending = OutgoingMail.status == "pending"
    count = lambda *where: session.exec(  # noqa: E731
        select(func.count()).select_from(OutgoingMail).where(*where)).one()
    # copies waiting for the morning (threads.night: never tried, not due) are not late
    waiting = (OutgoingMail.attempts == 0, OutgoingMail.next_attempt_at > now)
    late = or_(OutgoingMail.attempts > 0, OutgoingMail.next_attempt_at <= now)
    oldest = session.exec(select(func.min(OutgoingMail.created_at)).where(pending, late)).one()
    inbound = session.exec(select(func.count()).select_from(InboundMail)
                           .where(InboundMail.status == InboundStatus.PENDING)).one()
    return {
        "outbox": {
            "pending": count(pending),
            "due": count(pending, OutgoingMail.next_attempt_at <= now),
            "deferred": count(pending, OutgoingMail.attempts > 0),
            "waiting_for_morning": count(pending, *waiting),
            "failed": count(OutgoingMail.status == "failed"),
            "oldest_pending_seconds": _seconds_since(oldest, now),
        },
        # mail that could not be processed, kept for `mediate inbound list` / `retry`
        "inbound": {"pending": inbound, "quarantined": quarantine.count(session)},
    }


def health(service: Any) -> dict[str, Any]:
    """A JSON-ready report on ``service`` (a running ``mediate.service.Service``)."""
    report: dict[str, Any] = {"ok": True, "claimant": getattr(service, "claimant", "")}
    try:
        with read_scope(service.engine) as session:
            report["database"] = {"ok": True, "dialect": service.engine.dialect.name}
            report.update(backlog(session))
    except Exception as error:  # noqa: BLE001 (the report says what is wrong)
        report["ok"] = False
        report["database"] = {"ok": False, "error": f"{type(error).__name__}: {error}"[:300]}
    report.update(local_parts(service))
    handler = getattr(service, "handler", None)
    report["accepting_mail"] = bool(getattr(handler, "accepting", False))
    shared = getattr(service, "shared", None)
    if shared is not None:  # one of several processes: the others report on the board
        report.update(shared.report())
    else:
        report["processes"] = [{"name": "serve", "role": "all", "pid": os.getpid(),
                                "alive": True, "restarts": 0}]
    return report


def local_parts(service: Any) -> dict[str, Any]:
    """The outbox worker's and the scheduler's state as this process knows it."""
    report: dict[str, Any] = {}
    outbox = getattr(service, "outbox", None)
    last_round = getattr(outbox, "last_round_at", None)
    report["outbox_worker"] = {
        "last_round_seconds_ago": _seconds_since(last_round, utcnow()),
        "stopping": bool(getattr(outbox, "stopping", False)),
    }
    scheduler = getattr(service, "scheduler", None)
    if scheduler is not None:
        state = getattr(scheduler, "state", None)
        report["scheduler"] = state() if callable(state) else {"present": True}
    return report
