"""Claiming work rows (inbound mail to process, outgoing copies to send) with a lease.

A claim sets ``claimed_until`` and ``claimed_by`` in its own short transaction; on PostgreSQL
the candidate rows are selected ``FOR UPDATE SKIP LOCKED`` so that several ``mediate serve``
processes never take the same row. Work is done at least once and the idempotency keys make it
count once:

- a worker that dies leaves its lease to run out, after which any worker claims the row again;
- a worker that restarts under the same name (``claimant``: host and SMTP port, and which of
  serve's worker processes, e.g. ``pipeline-1``) first takes back what its previous life held
  (``release_claims``), so a ``kill -9`` and a restart do not wait for the lease; only one
  live process can hold a name, because only one supervisor can listen on that port and it
  starts a slot again only once the process in it has died;
- a long batch keeps its rows by renewing the lease (``extend``) while it works.

The claimant is carried in a context variable set once by the service (``CLAIMANT``), so the
stages that claim need not pass it around.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterable
from contextvars import ContextVar
from datetime import timedelta
from typing import TypeVar

from sqlalchemy import Engine, or_, update
from sqlmodel import Session, SQLModel, col, select

from threads.db import session_scope
from threads.models import InboundMail, OutgoingMail, utcnow

Row = TypeVar("Row", bound=SQLModel)
CLAIMANT: ContextVar[str | None] = ContextVar("mediate_claimant", default=None)


def claim(
    engine: Engine,
    model: type[Row],
    *,
    limit: int,
    lease_seconds: float,
    due_column: str | None = None,
) -> list[int]:
    """Claim up to ``limit`` pending rows of ``model`` and return their ids.

    Two plain statements, whatever the count: the ids (only the ids, not the rows: an
    outgoing row carries its whole mail), then one UPDATE of them. Loading the rows as objects
    and flushing one UPDATE each cost the outbox about 0.4 ms per copy it relayed."""
    now = utcnow()
    table = model.__table__  # type: ignore[attr-defined]
    with session_scope(engine) as session:
        query = (
            select(table.c.id)
            .where(table.c.status == "pending")
            .where(or_(table.c.claimed_until.is_(None), table.c.claimed_until < now))
        )
        if due_column:
            query = query.where(table.c[due_column] <= now)
        query = query.order_by(table.c.id).limit(limit)
        if engine.dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        ids = list(session.exec(query))
        if ids:
            session.execute(update(table).where(table.c.id.in_(ids)).values(
                claimed_until=now + timedelta(seconds=lease_seconds),
                claimed_by=CLAIMANT.get()))
        return ids


def extend(engine: Engine, model: type[Row], ids: Iterable[int], lease_seconds: float) -> int:
    """Renew the lease on rows this worker still holds; return how many it still holds."""
    ids = list(ids)
    if not ids:
        return 0
    until = utcnow() + timedelta(seconds=lease_seconds)
    with session_scope(engine) as session:
        result = session.exec(  # type: ignore[call-overload]
            update(model)
            .where(col(model.id).in_(ids))  # type: ignore[attr-defined]
            .where(model.status == "pending")  # type: ignore[attr-defined]
            .where(col(model.claimed_until).is_not(None))  # type: ignore[attr-defined]
            .values(claimed_until=until)
        )
        return result.rowcount or 0


def release_claims(engine: Engine, model: type[Row], claimant: str | None) -> int:
    """Give back every pending row ``claimant`` holds (after a crash, or on a clean stop)."""
    if not claimant:
        return 0
    with session_scope(engine) as session:
        result = session.exec(  # type: ignore[call-overload]
            update(model)
            .where(model.claimed_by == claimant)  # type: ignore[attr-defined]
            .where(model.status == "pending")  # type: ignore[attr-defined]
            .where(col(model.claimed_until).is_not(None))  # type: ignore[attr-defined]
            .values(claimed_until=None)
        )
        return result.rowcount or 0


def claimant_name(port: int, worker: str = "", pid: int | None = None) -> str:
    """This process's name in claims: host and SMTP port (one live process per pair), and
    which of its worker processes (``pipeline-1``) when `mediate serve` runs several; without
    a port, the pid of the process that owns the name (``pid``, by default this one)."""
    host = socket.gethostname()
    name = f"{host}:{port}" if port else f"{host}:pid{pid or os.getpid()}"
    return f"{name}/{worker}" if worker else name


def release_work(engine: Engine, claimant: str | None) -> int:
    """Give back the inbound mail and outgoing copies ``claimant`` holds."""
    return sum(release_claims(engine, model, claimant) for model in (InboundMail, OutgoingMail))


def release(session: Session, row: SQLModel) -> None:
    row.claimed_until = None  # type: ignore[attr-defined]
    session.add(row)
