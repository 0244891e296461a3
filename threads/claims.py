"""Claiming work rows (inbound mail to process, outgoing copies to send) with a lease.

A claim sets ``claimed_until`` in its own short transaction; on PostgreSQL the candidate rows
are selected ``FOR UPDATE SKIP LOCKED`` so that several ``mediate serve`` processes never take
the same row. A worker that dies leaves its lease to run out, after which the row is claimed
again: work is done at least once, and the idempotency keys make it count once.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TypeVar

from sqlalchemy import Engine, or_
from sqlmodel import Session, SQLModel, col, select

from threads.db import session_scope
from threads.models import utcnow

Row = TypeVar("Row", bound=SQLModel)


def claim(
    engine: Engine,
    model: type[Row],
    *,
    limit: int,
    lease_seconds: float,
    due_column: str | None = None,
) -> list[int]:
    """Claim up to ``limit`` pending rows of ``model`` and return their ids."""
    now = utcnow()
    with session_scope(engine) as session:
        query = (
            select(model)
            .where(model.status == "pending")  # type: ignore[attr-defined]
            .where(
                or_(
                    col(model.claimed_until).is_(None),  # type: ignore[attr-defined]
                    col(model.claimed_until) < now,  # type: ignore[attr-defined]
                )
            )
        )
        if due_column:
            query = query.where(getattr(model, due_column) <= now)
        query = query.order_by(model.id).limit(limit)  # type: ignore[attr-defined]
        if engine.dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        rows = list(session.exec(query))
        until = now + timedelta(seconds=lease_seconds)
        for row in rows:
            row.claimed_until = until  # type: ignore[attr-defined]
            session.add(row)
        return [row.id for row in rows]  # type: ignore[attr-defined]


def release(session: Session, row: SQLModel) -> None:
    row.claimed_until = None  # type: ignore[attr-defined]
    session.add(row)
