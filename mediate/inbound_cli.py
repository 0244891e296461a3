"""`mediate inbound list|retry`: mail that could not be processed (threads.quarantine).

- ``list`` shows quarantined mail, oldest first: its id, when it came, its case, the sender
  (redacted unless ``--addresses``) and the reason, which names the error's type and place,
  never the mail's text.
- ``retry ID...`` (or ``--all``) puts it back in the queue; a running ``serve`` decides it
  within seconds, and a fixed fault lets it through. Retrying decides it as new mail: what
  it asks is carried out once (threads.rules' MailDecision).
"""

from __future__ import annotations

import argparse

from sqlmodel import Session

from mediate.outbox_cli import _engine, redact
from threads import quarantine
from threads.db import session_scope
from threads.models import Case


def register(sub: argparse._SubParsersAction, add) -> None:  # noqa: ANN001
    """Add ``inbound list|retry`` to the ``mediate`` parser (from ``mediate.cli``)."""
    inbound = sub.add_parser("inbound", help="inbound mail that could not be processed")
    commands = inbound.add_subparsers(dest="inbound", required=True)
    listing = add("list", cmd_list, "quarantined mail, oldest first", commands)
    listing.add_argument("--addresses", action="store_true", help="show full sender addresses")
    retry = add("retry", cmd_retry, "process quarantined mail again", commands)
    retry.add_argument("ids", nargs="*", type=int, help="mail ids (see 'inbound list')")
    retry.add_argument("--all", action="store_true")


def cmd_list(args: argparse.Namespace) -> int:
    engine = _engine(args)
    with Session(engine) as session:
        rows = quarantine.listed(session)
        if not rows:
            print("No mail is waiting in quarantine.")
        for row in rows:
            case = session.get(Case, row.case_id) if row.case_id else None
            sender = row.mail_from if args.addresses else redact(row.mail_from)
            print(f"{row.id:>6}  {row.received_at:%Y-%m-%d %H:%M}  "
                  f"{case.ref if case else '-':<10} {sender:<30} tries {row.attempts}  "
                  f"{row.reason or ''}")
    return 0


def cmd_retry(args: argparse.Namespace) -> int:
    engine = _engine(args)
    with session_scope(engine) as session:
        ids = [r.id for r in quarantine.listed(session)] if args.all else args.ids
        if not ids:
            print("Name the mail to retry (see 'mediate inbound list'), or --all.")
            return 1
        done = quarantine.retry(session, ids)
    missing = sorted(set(ids) - set(done))
    print(f"{len(done)} mail queued again; 'mediate serve' processes it shortly.")
    if missing:
        print(f"not quarantined (nothing done): {', '.join(map(str, missing))}")
    return 0
