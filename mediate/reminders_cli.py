"""`mediate reminders preview [--at DATETIME]`: what a sweep would send and why, sending nothing.

``--at`` takes an ISO 8601 date or date-time (``2026-03-02``, ``2026-03-02T09:30``,
``2026-03-02 09:30+01:00``); without an offset it is read in ``service.timezone``. Quiet hours are
applied as the sweep would: a reminder to a party that falls in them is listed with the time it
will go out instead.
"""

from __future__ import annotations

import argparse
from datetime import datetime
from zoneinfo import ZoneInfo

from mediate.config import Settings, load_settings
from mediate.scheduler import required_steps
from mediate.service import prepare_database
from threads.models import utcnow
from threads.sweep import preview as due_preview


def parse_moment(text: str, timezone: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise LookupError(
            f"--at {text!r} is not a date or date-time such as 2026-03-02T09:30") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(timezone))
    return moment


def format_rows(rows: list[dict], at: datetime, timezone: str) -> str:
    local = at.astimezone(ZoneInfo(timezone))
    lines = [f"At {local.isoformat(timespec='minutes')} ({timezone}):"]
    if not rows:
        lines.append("  nothing is due.")
    for row in rows:
        case = f"[{row['case']}] " if row["case"] else ""
        lines.append(f"  {case}{row['kind']} to {row['to']} ({row['when']}): {row['why']}")
    return "\n".join(lines)


def preview(settings: Settings, at: datetime | None, engine=None) -> str:  # noqa: ANN001
    engine = engine or prepare_database(settings)
    at = at or utcnow()
    rows = due_preview(engine, settings, at, steps=required_steps(settings))
    return format_rows(rows, at, settings.service.timezone)


def cmd_reminders_preview(args: argparse.Namespace) -> int:
    settings = load_settings(args.config)
    at = parse_moment(args.at, settings.service.timezone) if args.at else None
    print(preview(settings, at))
    return 0


def register(sub: argparse._SubParsersAction, add) -> None:  # noqa: ANN001
    """Add ``reminders preview`` to the ``mediate`` parser (called from ``mediate.cli``)."""
    group = sub.add_parser("reminders", help="reminders and notices the scheduler sends")
    commands = group.add_subparsers(dest="reminders", required=True)
    shown = add("preview", cmd_reminders_preview,
                "list what would be sent and why, without sending", commands)
    shown.add_argument("--at", metavar="DATETIME",
                       help="as if it were this moment (ISO 8601; default now)")
