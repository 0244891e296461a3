"""The scheduler inside ``mediate serve``: APScheduler 3 triggers sweeps, the database decides.

An ``AsyncIOScheduler`` on the service's event loop runs one interval job every
``reminders.sweep_interval_seconds``, and a small one every half minute that sends heated
messages whose cooling-off wait is over (``threads.cooling``). The jobs only trigger: what is
due and what was sent lives in the database (``threads.sweep``), so a sweep that runs late,
twice, or on several machines at once sends every reminder once. The sweep's database work
runs in a worker thread so the SMTP server and the pipeline stay responsive; afterwards the
outbox is nudged to deliver at once.
``state()`` tells ``/healthz`` whether the scheduler runs and how the last sweep went.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy import Engine

from mailgate.compose import Composer
from mediate.config import Settings
from threads import cooling, record
from threads import sweep as sweeping
from threads.cases import lock_case
from threads.db import read_scope, session_scope
from threads.models import utcnow

log = logging.getLogger("mediate.scheduler")
JOB_ID = "sweep"
RELEASE_JOB_ID = "cooling-off"
# A heated message cooling off goes out within this long of the time its author was told,
# however long the reminder sweep's interval (threads.cooling: the database holds the time).
RELEASE_EVERY_SECONDS = 30
FIRST_SWEEP_AFTER = timedelta(seconds=30)  # let the service settle before the first sweep


def required_steps(settings: Settings) -> tuple[str, ...]:
    """The steps every party completes before a case is ready (``cases.require`` if set)."""
    configured = getattr(settings.cases, "require", None)
    return tuple(configured) if configured is not None else sweeping.STEPS


def retention_sweep(engine: Engine, composer: Composer, settings: Settings,
                    now: datetime) -> dict[str, int]:
    """The retention sweep (issue 7): warn the mediator a week ahead, then purge closed cases.

    ``threads.record`` decides: a case is purged ``privacy.retain_days`` after closing, only
    once it was exported and the warning went out a week before; 0 keeps every case.
    """
    privacy = getattr(settings, "privacy", None)
    retain_days = float(getattr(privacy, "retain_days", 0) or 0)
    if retain_days <= 0:
        return {"warned": 0, "purged": 0}
    with session_scope(engine) as session:
        notices = record.warn_due(session, now, retain_days)
        composer.enqueue(session, notices)
    with read_scope(engine) as session:
        due = [case.id for case in record.purge_due(session, now, retain_days)]
    purged = 0
    for case_id in due:
        with session_scope(engine) as session:
            case = lock_case(session, case_id)
            # under the lock, ask again: another machine may have purged it a moment ago
            if case.id in {c.id for c in record.purge_due(session, now, retain_days)}:
                record.purge(session, case, actor="retention", now=now)
                purged += 1
    return {"warned": len(notices), "purged": purged}


def run_sweep(engine: Engine, composer: Composer, settings: Settings,
              now: datetime | None = None) -> sweeping.SweepReport:
    """One complete sweep, synchronously: reminders, readiness, digests, retention."""
    now = now or utcnow()
    report = sweeping.sweep(engine, composer, settings, now, steps=required_steps(settings))
    try:
        retention_sweep(engine, composer, settings, now)
    except Exception:
        log.exception("retention sweep failed")
    return report


class Scheduler:
    """Triggers ``run_sweep`` on an interval, one at a time, on the running event loop."""

    def __init__(self, engine: Engine, composer: Composer, settings: Settings,
                 on_enqueued: Callable[[], None] | None = None) -> None:
        self.engine, self.composer, self.settings = engine, composer, settings
        self.on_enqueued = on_enqueued
        self.aps = AsyncIOScheduler(timezone=settings.service.timezone)
        self.last_report: sweeping.SweepReport | None = None
        self.last_error: str | None = None
        self.sweeps = 0
        self._lock = asyncio.Lock()

    @property
    def running(self) -> bool:
        return bool(self.aps.running)

    def start(self, first_after: timedelta = FIRST_SWEEP_AFTER) -> None:
        """Start on the running loop; the first sweep follows after ``first_after``."""
        interval = self.settings.reminders.sweep_interval_seconds
        self.aps.add_job(
            self.sweep_now, "interval", seconds=interval, id=JOB_ID, replace_existing=True,
            next_run_time=datetime.now(self.aps.timezone) + first_after,
            max_instances=1, coalesce=True, misfire_grace_time=interval,
        )
        every = min(RELEASE_EVERY_SECONDS, interval)
        self.aps.add_job(
            self.release_now, "interval", seconds=every, id=RELEASE_JOB_ID,
            replace_existing=True, max_instances=1, coalesce=True, misfire_grace_time=every,
        )
        self.aps.start()

    async def stop(self) -> None:
        if self.aps.running:
            self.aps.shutdown(wait=False)
        async with self._lock:  # let a sweep in progress finish its transaction
            pass

    async def sweep_now(self, now: datetime | None = None) -> sweeping.SweepReport | None:
        """Run one sweep in a worker thread (never two at once in this process)."""
        async with self._lock:
            try:
                report = await asyncio.to_thread(
                    run_sweep, self.engine, self.composer, self.settings, now)
            except Exception as error:  # the next interval tries again
                log.exception("sweep failed")
                self.last_error = f"{type(error).__name__}: {error}"
                return None
            self.sweeps += 1
            self.last_report, self.last_error = report, None
        if (report.total or report.ready or report.digests or report.released) \
                and self.on_enqueued:
            self.on_enqueued()
        return report

    async def release_now(self, now: datetime | None = None) -> int:
        """Send the heated messages whose cooling-off wait is over (between two sweeps)."""
        async with self._lock:
            try:
                released = await asyncio.to_thread(cooling.sweep, self.engine, self.composer,
                                                    now)
            except Exception:  # the next interval tries again
                log.exception("cooling-off release failed")
                return 0
        if released and self.on_enqueued:
            self.on_enqueued()
        return released

    def state(self) -> dict[str, Any]:
        """For /healthz: is it running, when is the next sweep, how did the last one go."""
        job = self.aps.get_job(JOB_ID) if self.aps.running else None
        last = self.last_report
        return {
            "running": self.running,
            "next_sweep": job.next_run_time.isoformat() if job and job.next_run_time else None,
            "sweeps": self.sweeps,
            "last_sweep": last.at.isoformat() if last else None,
            "last_sweep_seconds": round(last.seconds, 3) if last else None,
            "last_sent": dict(last.sent) if last else {},
            "last_error": self.last_error,
        }
