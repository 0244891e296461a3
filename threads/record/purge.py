"""Purging a case: everything personal goes, a minimal tombstone stays (GDPR art. 5(1)(e), 17).

Removed: messages, raw inbound and outgoing mail, attachments, intake answers, signatures,
participants (names and addresses), aliases, reminders, time entries, exports, and the audit
rows themselves. Kept: the case reference, its dates and outcome, and in a ``Tombstone`` the
audit chain's final hash and length. A last audit event ``purged`` chains onto that hash.

What belongs to the case is found by following foreign keys from the case row through the
whole schema, so tables added later (intake answers, signatures) are purged too without a
change here. Rows the case's rows point to but do not own (attachment blobs, stored once by
SHA-256 and possibly shared with another case) go when nothing refers to them any more.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Table, delete, select
from sqlmodel import Session, SQLModel, col
from sqlmodel import select as sm_select

from threads import audit
from threads.models import AuditEvent, Case, CaseExport, Tombstone, utcnow

KEEP = {"case", "tombstone"}


@dataclass
class PurgeResult:
    ref: str
    final_hash: str
    events: int
    removed: dict[str, int]  # table name -> rows deleted


def _pk(table: Table):  # noqa: ANN202
    [column] = list(table.primary_key.columns)
    return column


def belonging_rows(session: Session, case: Case) -> dict[str, set]:
    """Primary keys of every row that hangs off the case, directly or through other rows."""
    tables = SQLModel.metadata.sorted_tables
    scope: dict[str, set] = {"case": {case.id}}
    changed = True
    while changed:
        changed = False
        for table in tables:
            if table.name in KEEP:
                continue
            for fk in table.foreign_keys:
                target = fk.column.table.name
                keys = scope.get(target)
                if not keys:
                    continue
                found = set(session.execute(
                    select(_pk(table)).where(fk.parent.in_(list(keys)))
                ).scalars())
                new = found - scope.setdefault(table.name, set())
                if new:
                    scope[table.name] |= new
                    changed = True
    scope.pop("case")
    return scope


def shared_parents(session: Session, scope: dict[str, set]) -> dict[str, set]:
    """Rows outside the case that its rows point to (attachment blobs stored once by hash)."""
    found: dict[str, set] = {}
    for table in SQLModel.metadata.sorted_tables:
        keys = scope.get(table.name)
        if not keys:
            continue
        for fk in table.foreign_keys:
            parent = fk.column.table
            if parent.name in KEEP or fk.column is not _pk(parent):
                continue
            values = set(session.execute(
                select(fk.parent).where(_pk(table).in_(list(keys)))
            ).scalars()) - {None}
            values -= scope.get(parent.name, set())
            if values:
                found.setdefault(parent.name, set()).update(values)
    return found


def _drop_orphans(session: Session, candidates: dict[str, set]) -> dict[str, int]:
    """Delete the candidate rows nothing refers to any more (another case may share one)."""
    removed = {}
    tables = {t.name: t for t in SQLModel.metadata.sorted_tables}
    for name, keys in candidates.items():
        parent = tables[name]
        still = set()
        for table in SQLModel.metadata.sorted_tables:
            for fk in table.foreign_keys:
                if fk.column is _pk(parent):
                    still |= set(session.execute(
                        select(fk.parent).where(fk.parent.in_(list(keys)))).scalars())
        orphans = sorted(keys - still)
        if orphans:
            session.execute(delete(parent).where(_pk(parent).in_(orphans)))
            removed[name] = len(orphans)
    return removed


def purge(session: Session, case: Case, actor: str = "system",
          now: datetime | None = None) -> PurgeResult:
    """Delete the case down to its tombstone. The caller holds the case lock and commits."""
    now = now or utcnow()
    final = audit.final_hash(session, case)
    events = len(session.exec(sm_select(AuditEvent.id).where(AuditEvent.case_id == case.id))
                 .all())
    last_export = session.exec(
        sm_select(CaseExport).where(CaseExport.case_id == case.id, CaseExport.kind == "case")
        .order_by(col(CaseExport.id).desc()).limit(1)
    ).first()
    export_sha = last_export.sha256 if last_export is not None else None
    scope = belonging_rows(session, case)
    shared = shared_parents(session, scope)
    removed: dict[str, int] = {}
    for table in reversed(SQLModel.metadata.sorted_tables):  # children before parents
        keys = scope.get(table.name)
        if keys:
            pk = _pk(table)
            ordered = sorted(keys)
            for start in range(0, len(ordered), 500):
                session.execute(delete(table).where(pk.in_(ordered[start:start + 500])))
            removed[table.name] = len(keys)
    removed |= _drop_orphans(session, shared)
    previous = session.exec(sm_select(Tombstone).where(Tombstone.case_id == case.id)).first()
    if previous is not None:  # purged before (e.g. a late mail): extend the same tombstone
        events += previous.events
        session.delete(previous)
        session.flush()
    tomb = Tombstone(
        case_id=case.id, ref=case.ref, opened_at=case.created_at, closed_at=case.closed_at,
        outcome=case.outcome, purged_at=now, final_hash=final, events=events,
        export_sha256=export_sha or (previous.export_sha256 if previous else None),
    )
    session.add(tomb)
    case.title, case.close_note, case.status = "", None, "purged"
    case.hourly_rate = case.platform_fee = 0.0
    session.add(case)
    session.flush()
    audit.record(session, case, "purged", actor=actor, final_hash=final, events=events)
    return PurgeResult(case.ref, final, events, removed)
