"""`mediate outbox list|retry|purge-failed`: the administrator's view of outgoing mail.

- ``list`` shows copies waiting or failed (``--status``, ``--case``), oldest first, with the
  relay's last answer; recipients are shown redacted unless ``--addresses`` is given.
- ``retry`` makes failed (or deferred) copies due now, with a fresh retry window; a running
  ``serve`` picks them up within seconds. It does not clear a participant's failure episode:
  the next copy that reaches them does.
- ``purge-failed`` deletes failed copies older than ``--older-than`` days (default 30); the
  case record keeps the audit event of each failure.
"""

from __future__ import annotations

import argparse
from datetime import timedelta

from sqlalchemy import delete, func
from sqlmodel import Session, col, select

from mediate.config import load_settings
from mediate.logging_setup import redact as redact_all
from mediate.service import prepare_database
from threads.db import session_scope
from threads.models import Case, OutgoingMail, utcnow


def redact(address: str) -> str:
    local, _, host = address.partition("@")
    return f"{local[:1]}***@{host}" if host else "?"


def register(sub: argparse._SubParsersAction, add) -> None:  # noqa: ANN001
    """Add ``outbox list|retry|purge-failed`` to the ``mediate`` parser (from ``mediate.cli``)."""
    outbox = sub.add_parser("outbox", help="outgoing mail: list, retry, purge failed")
    commands = outbox.add_subparsers(dest="outbox", required=True)
    listing = add("list", cmd_list, "copies waiting or failed, oldest first", commands)
    listing.add_argument("--status", choices=["pending", "failed", "sent", "all"],
                         default="unsent", help="default: pending and failed")
    listing.add_argument("--case", metavar="REF")
    listing.add_argument("--limit", type=int, default=50)
    listing.add_argument("--addresses", action="store_true", help="show full recipient addresses")
    retry = add("retry", cmd_retry, "send failed copies again now", commands)
    retry.add_argument("ids", nargs="*", type=int, help="copy ids (see 'outbox list')")
    retry.add_argument("--all-failed", action="store_true")
    purge = add("purge-failed", cmd_purge_failed, "delete old failed copies", commands)
    purge.add_argument("--older-than", type=float, default=30.0, metavar="DAYS")


def _engine(args: argparse.Namespace):  # noqa: ANN202
    return prepare_database(load_settings(args.config))


def cmd_list(args: argparse.Namespace) -> int:
    engine = _engine(args)
    with Session(engine) as session:
        query = select(OutgoingMail, Case.ref).join(
            Case, col(Case.id) == col(OutgoingMail.case_id), isouter=True)
        if args.status == "unsent":
            query = query.where(col(OutgoingMail.status).in_(["pending", "failed"]))
        elif args.status != "all":
            query = query.where(OutgoingMail.status == args.status)
        if args.case:
            query = query.where(Case.ref == args.case)
        rows = session.exec(query.order_by(col(OutgoingMail.id)).limit(args.limit)).all()
        counts = dict(session.exec(  # type: ignore[arg-type]
            select(OutgoingMail.status, func.count()).group_by(OutgoingMail.status)).all())
    print("Outbox: " + (", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "empty"))
    if not rows:
        print("No copies match.")
    for row, ref in rows:
        rcpt = row.rcpt_to if args.addresses else redact(row.rcpt_to)
        due = f" next {row.next_attempt_at:%Y-%m-%d %H:%M}" if row.status == "pending" else ""
        print(f"{row.id:>7} {row.status:<7} {ref or '-':<10} {row.kind:<18} {rcpt:<32} "
              f"tries {row.attempts}{due}")
        if row.last_error and row.status != "sent":
            error = " ".join(row.last_error.split())[:160]
            print(f"{'':>8}{error if args.addresses else redact_all(error)}")
    return 0


def cmd_retry(args: argparse.Namespace) -> int:
    if not args.ids and not args.all_failed:
        print("error: name copy ids, or give --all-failed")
        return 1
    engine = _engine(args)
    now = utcnow()
    with session_scope(engine) as session:
        query = select(OutgoingMail).where(col(OutgoingMail.status).in_(["failed", "pending"]))
        if args.ids:
            query = query.where(col(OutgoingMail.id).in_(args.ids))
        else:
            query = query.where(OutgoingMail.status == "failed")
        rows = list(session.exec(query))
        for row in rows:
            # A fresh retry window: max_retry_hours counts from now, not from the first try.
            row.status, row.next_attempt_at, row.created_at = "pending", now, now
            row.claimed_until = None
            session.add(row)
    missing = sorted(set(args.ids) - {r.id for r in rows})
    print(f"{len(rows)} copies will be sent again within seconds by the running service.")
    if missing:
        print("Not found or already sent: " + ", ".join(map(str, missing)))
    return 0


def cmd_purge_failed(args: argparse.Namespace) -> int:
    engine = _engine(args)
    before = utcnow() - timedelta(days=args.older_than)
    with session_scope(engine) as session:
        result = session.exec(  # type: ignore[call-overload]
            delete(OutgoingMail).where(
                OutgoingMail.status == "failed", col(OutgoingMail.created_at) < before)
        )
        count = result.rowcount or 0
    print(f"Deleted {count} failed copies older than {args.older_than:g} days.")
    return 0
