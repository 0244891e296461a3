"""The outbox worker: claims due copies, hands them to the transport, records the outcome.

Temporary failures are retried with exponential backoff and jitter until
``outbound.max_retry_hours`` have passed since the copy was written; a permanent failure (5xx)
stops at once. A copy whose worker died mid-send is sent again when its lease runs out, with
the same Message-ID, so a receiving client shows it once.
"""

from __future__ import annotations

import asyncio
import logging
import random
from datetime import timedelta

from sqlalchemy import Engine
from sqlmodel import col, select

from mailgate.settings import OutboundSettings
from mailgate.transports import Envelope, Transport
from threads.claims import claim
from threads.db import session_scope
from threads.models import OutgoingMail, utcnow

log = logging.getLogger("mediate.outbox")
BATCH = 100
LEASE_SECONDS = 300


def backoff(attempts: int) -> timedelta:
    base = min(60 * 2 ** max(attempts - 1, 0), 3600)
    return timedelta(seconds=base * random.uniform(0.8, 1.2))


class OutboxWorker:
    def __init__(self, engine: Engine, transport: Transport, settings: OutboundSettings) -> None:
        self.engine = engine
        self.transport = transport
        self.settings = settings
        self.wakeup = asyncio.Event()

    def nudge(self) -> None:
        self.wakeup.set()

    async def run(self, poll_seconds: float = 5.0) -> None:
        while True:
            sent = await self.deliver_due()
            if sent:
                continue
            self.wakeup.clear()
            try:
                await asyncio.wait_for(self.wakeup.wait(), poll_seconds)
            except TimeoutError:
                pass

    async def deliver_due(self) -> int:
        """Deliver one batch of due copies; return how many were attempted."""
        ids = await asyncio.to_thread(
            claim, self.engine, OutgoingMail, limit=BATCH, lease_seconds=LEASE_SECONDS,
            due_column="next_attempt_at",
        )
        if not ids:
            return 0
        envelopes = await asyncio.to_thread(self._load, ids)
        results = await self.transport.send(envelopes)
        await asyncio.to_thread(self._record, results)
        return len(ids)

    def _load(self, ids: list[int]) -> list[Envelope]:
        with session_scope(self.engine) as session:
            rows = session.exec(select(OutgoingMail).where(col(OutgoingMail.id).in_(ids)))
            return [Envelope(r.id, r.envelope_from, r.rcpt_to, r.raw) for r in rows]

    def _record(self, results: dict) -> None:
        now = utcnow()
        limit = timedelta(hours=self.settings.max_retry_hours)
        with session_scope(self.engine) as session:
            for copy_id, result in results.items():
                row = session.get(OutgoingMail, copy_id)
                if row is None:
                    continue
                row.attempts += 1
                row.claimed_until = None
                if result.ok:
                    row.status, row.sent_at, row.last_error = "sent", now, None
                elif result.permanent or now - row.created_at > limit:
                    row.status, row.last_error = "failed", result.error[:2000]
                    log.warning("copy %s failed permanently: %s", row.id, result.error[:200])
                else:
                    row.last_error = result.error[:2000]
                    row.next_attempt_at = now + backoff(row.attempts)
                    log.info("copy %s deferred: %s", row.id, result.error[:200])
                session.add(row)
