"""The case record: append-only audit events, each chained to the previous one by SHA-256.

The hash covers a canonical JSON form of the event (sorted keys, no spaces, times as naive UTC
ISO 8601 with microseconds) and the previous event's hash, so editing or deleting any row
breaks every link after it. Callers hold the case lock (``lock_case``) so that two writers
never chain onto the same predecessor.

A purged case keeps only its tombstone with the chain's final hash; later events (the purge
itself) chain onto that hash, so the surviving rows still prove what came before them.
The same check runs on exported ``audit.jsonl`` rows (``verify_rows``), offline.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, insert
from sqlmodel import Session, col, select

from threads.models import AuditEvent, Case, Tombstone, utcnow


def _timestamp(at: datetime | str) -> str:
    """Naive UTC, microseconds: the same text whether the database kept the zone or not."""
    if isinstance(at, str):
        at = datetime.fromisoformat(at)
    if at.tzinfo is not None:
        at = at.astimezone(UTC).replace(tzinfo=None)
    return at.isoformat(timespec="microseconds")


def canonical_row(row: dict[str, Any]) -> bytes:
    body = {
        "case_id": row["case_id"],
        "at": _timestamp(row["at"]),
        "kind": row["kind"],
        "actor": row["actor"],
        "detail": row["detail"],
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":"), default=str).encode()


def canonical(event: AuditEvent) -> bytes:
    return canonical_row(as_row(event))


def row_hash(prev_hash: str, row: dict[str, Any]) -> str:
    return hashlib.sha256(prev_hash.encode() + canonical_row(row)).hexdigest()


def chain_hash(prev_hash: str, event: AuditEvent) -> str:
    return row_hash(prev_hash, as_row(event))


def as_row(event: AuditEvent) -> dict[str, Any]:
    """The event as exported in ``audit.jsonl``: everything the hash covers, and the links."""
    return {
        "id": event.id, "case_id": event.case_id, "at": _timestamp(event.at),
        "kind": event.kind, "actor": event.actor, "detail": event.detail,
        "prev_hash": event.prev_hash, "hash": event.hash,
    }


def anchor(session: Session, case_id: int | None) -> str:
    """The hash the case's first surviving event chains onto: '' or the tombstone's."""
    if case_id is None:
        return ""
    tomb = session.exec(select(Tombstone).where(Tombstone.case_id == case_id)).first()
    return tomb.final_hash if tomb is not None else ""


def events_of(session: Session, case: Case) -> list[AuditEvent]:
    return list(session.exec(
        select(AuditEvent).where(AuditEvent.case_id == case.id).order_by(col(AuditEvent.id))
    ))


def final_hash(session: Session, case: Case) -> str:
    last = session.exec(
        select(AuditEvent.hash).where(AuditEvent.case_id == case.id)
        .order_by(col(AuditEvent.id).desc()).limit(1)
    ).first()
    return last if last is not None else anchor(session, case.id)


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
    event.prev_hash = last.hash if last is not None else anchor(session, case_id)
    event.hash = chain_hash(event.prev_hash, event)
    session.add(event)
    session.flush()
    return event


def record_all(
    session: Session, entries: Sequence[tuple[Case, str, dict[str, Any]]], actor: str = "system",
) -> None:
    """``record`` for many events at once (a sweep's batch of cases), each ``(case, kind,
    detail)``, chained per case exactly as one ``record`` after another would chain them.

    Each case's last hash is read in one query for all of them, and the events are inserted
    in their order in one statement, so the ids (the chain's order) follow the list."""
    if not entries:
        return
    ids = sorted({case.id for case, _, _ in entries})
    last = select(func.max(AuditEvent.id)).where(
        col(AuditEvent.case_id).in_(ids)).group_by(col(AuditEvent.case_id))
    heads: dict[int, str] = {case_id: hash_ for case_id, hash_ in session.exec(
        select(AuditEvent.case_id, AuditEvent.hash).where(col(AuditEvent.id).in_(last)))}
    if fresh := [case_id for case_id in ids if case_id not in heads]:
        heads.update({case_id: "" for case_id in fresh})
        heads.update({case_id: final for case_id, final in session.exec(
            select(Tombstone.case_id, Tombstone.final_hash).where(
                col(Tombstone.case_id).in_(fresh)))})
    rows = []
    for case, kind, detail in entries:
        row = {"case_id": case.id, "at": utcnow(), "kind": kind, "actor": actor,
               "detail": detail, "prev_hash": heads[case.id]}
        row["hash"] = heads[case.id] = row_hash(row["prev_hash"], row)
        rows.append(row)
    session.execute(insert(AuditEvent.__table__), rows)


@dataclass(frozen=True)
class BrokenLink:
    index: int  # position in the chain, from 0
    row: dict[str, Any]
    reason: str

    def describe(self) -> str:
        return (f"event {self.index + 1} (id {self.row.get('id')}, {self.row.get('kind')}, "
                f"{self.row.get('at')}): {self.reason}")


def verify_rows(rows: list[dict[str, Any]], start: str = "") -> BrokenLink | None:
    """The first row whose link is broken, or None when every hash recomputes."""
    prev = start
    for index, row in enumerate(rows):
        try:
            if row["prev_hash"] != prev:
                return BrokenLink(index, row, "does not follow the event before it "
                                  "(a row was removed, added or reordered)")
            if row["hash"] != row_hash(prev, row):
                return BrokenLink(index, row, "its content was changed after it was written")
        except (KeyError, TypeError, ValueError) as error:
            return BrokenLink(index, row if isinstance(row, dict) else {},
                              f"unreadable row ({error})")
        prev = row["hash"]
    return None


def check(session: Session, case: Case) -> BrokenLink | None:
    """Recompute the case's chain in the database; the first broken link, or None."""
    rows = [as_row(e) for e in events_of(session, case)]
    return verify_rows(rows, anchor(session, case.id))


def verify(session: Session, case: Case) -> AuditEvent | None:
    """Return the first event whose link is broken, or None when the chain holds."""
    broken = check(session, case)
    if broken is None:
        return None
    return session.get(AuditEvent, broken.row["id"])
