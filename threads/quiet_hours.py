"""Quiet hours and weekends in the service time zone: when reminders to parties may go out.

``reminders.quiet_hours`` is ``"HH:MM-HH:MM"`` in ``service.timezone`` (IANA names, Python's
zoneinfo); a window whose end is before its start runs over midnight (21:00-08:00). With
``skip_weekends`` Saturday and Sunday (local) are quiet all day. A reminder that falls due in a
quiet period is simply not sent yet; the first sweep after the period sends it.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from threads.settings import ReminderSettings


def _window(spec: str) -> tuple[time, time] | None:
    if not spec:
        return None
    start, end = spec.split("-")
    return time.fromisoformat(start.zfill(5)), time.fromisoformat(end.zfill(5))


def is_quiet(now: datetime, settings: ReminderSettings, timezone: str) -> bool:
    """True when a reminder to a party must wait (quiet hours, or a weekend if configured)."""
    local = now.astimezone(ZoneInfo(timezone))
    if settings.skip_weekends and local.weekday() >= 5:
        return True
    window = _window(settings.quiet_hours)
    if window is None:
        return False
    start, end = window
    clock = local.time().replace(tzinfo=None)
    if start == end:
        return False
    if start < end:
        return start <= clock < end
    return clock >= start or clock < end


def next_send_time(now: datetime, settings: ReminderSettings, timezone: str) -> datetime:
    """The first moment at or after ``now`` that is not quiet (to the minute)."""
    moment = now
    # A week of minutes is the longest any quiet period can last; step by 15 minutes, then
    # back up to the exact minute the quiet period ends.
    for _ in range(7 * 24 * 4 + 1):
        if not is_quiet(moment, settings, timezone):
            break
        moment += timedelta(minutes=15)
    else:  # every minute is quiet (a misconfiguration): never block forever
        return now
    step = moment
    while step > now and not is_quiet(step - timedelta(minutes=1), settings, timezone):
        step -= timedelta(minutes=1)
    return step.replace(second=0, microsecond=0) if step > now else now
