"""The case record: append-only audit events, each chained to the previous one by SHA-256.

The hash covers a canonical JSON form of the event and the previous event's hash, so editing or
deleting any row breaks every link after it. Callers hold the case lock (``lock_case``) so that
two writers never chain onto the same predecessor.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from sqlmodel import Session, col, select

from threads.models import AuditEvent, Case, utcnow


def canonical(event: AuditEvent) -> bytes:
    body = {
        "case_id": event.case_id,
        "at": event.at.isoformat(timespec="microseconds"),
        "kind": event.kind,
        "actor": event.actor,
        "detail": event.detail,
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":"), default=str).encode()


def chain_hash(prev_hash: str, event: AuditEvent) -> str:
    return hashlib.sha256(prev_hash.encode() + canonical(event)).hexdigest()


def record(
    session: Session, case: Case | None, kind: str, actor: str = "system", **detail: Any
) -> AuditEvent:
    case_id = case.id if case is not None else None
    last = session.exec(
        select(AuditEvent)
        .where(AuditEvent.case_id == case_id)
        .order_by(col(AuditEvent.id).desc())
        .limit(1)
    ).first()
    event = AuditEvent(case_id=case_id, at=utcnow(), kind=kind, actor=actor, detail=detail)
    event.prev_hash = last.hash if last is not None else ""
    event.hash = chain_hash(event.prev_hash, event)
    session.add(event)
    session.flush()
    return event


def verify(session: Session, case: Case) -> AuditEvent | None:
    """Return the first event whose link is broken, or None when the chain holds."""
    prev = ""
    events = session.exec(
        select(AuditEvent).where(AuditEvent.case_id == case.id).order_by(col(AuditEvent.id))
    )
    for event in events:
        if event.prev_hash != prev or event.hash != chain_hash(prev, event):
            return event
        prev = event.hash
    return None
