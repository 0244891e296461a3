"""The outbox worker: claims due copies, hands them to the transport, records each outcome.

- Each copy's outcome is committed soon after the relay has answered for it: the answers of
  up to ``GATHER_SECONDS`` (and those that came in while the previous commit ran) share one
  transaction, so a crash can repeat at most the copies whose answer came in but was not yet
  committed; such a repeat carries the same bytes and Message-ID, so the recipient's client
  shows it once. The common outcome, a
  copy accepted for a recipient whose mail works, is one UPDATE for all such copies of the
  transaction; only failures and recoveries go through the objects (``_record``).
- Temporary failures (4xx, refused connections, timeouts) are retried with exponential backoff
  and full jitter until ``outbound.max_retry_hours`` have passed since the copy was written; a
  permanent failure (5xx) stops at once. Either way, when a copy fails for good,
  ``threads.delivery`` marks the recipient and the mediator is told once (a notice composed
  into the outbox in the same transaction).
- Claims are leases held in the copy's row (``threads.claims``), renewed while a batch is
  being sent, so several workers on one PostgreSQL database never send the same copy.
- ``stop()`` lets the copy on the wire finish and hands the rest of the batch back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

from sqlalchemy import Engine, update
from sqlmodel import Session, col, select

from mailgate.compose import Composer, FileParts, copy_pieces
from mailgate.dkim import DkimSigner
from mailgate.settings import OutboundSettings
from mailgate.transports import Envelope, Result, Transport
from threads.cases import lock_case
from threads.claims import claim, extend
from threads.crypto import AtRestKey, unseal
from threads.db import session_scope
from threads.delivery import copy_delivered, copy_failed, needs_case_lock
from threads.models import Blob, Case, OutgoingMail, Participant, utcnow

log = logging.getLogger("mediate.outbox")
BATCH = 100
LEASE_SECONDS = 120
FIRST_RETRY_SECONDS = 60
LONGEST_WAIT_SECONDS = 3600
# A commit per answer or two cost a relay to 30 parties a dozen transactions (~1 ms of the
# GIL each, taken from the copies on the wire); answers gathered this long share one.
GATHER_SECONDS = 0.02


def backoff(attempts: int) -> timedelta:
    """Wait before retry number ``attempts``: 1, 2, 4 ... minutes up to an hour, jittered.

    The jitter keeps a relay that comes back from being hit by every copy at the same second.
    """
    ceiling = min(FIRST_RETRY_SECONDS * 2 ** max(attempts - 1, 0), LONGEST_WAIT_SECONDS)
    return timedelta(seconds=random.uniform(ceiling / 2, ceiling))


@dataclass(frozen=True)
class _Copy:
    """What recording a sent copy needs of its row, kept from loading it for the wire."""

    case_id: int | None
    participant_id: int | None
    kind: str
    rcpt_to: str
    attempts: int
    ref: str  # the case's, for the log


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=utcnow().tzinfo)


class OutboxWorker:
    def __init__(
        self, engine: Engine, transport: Transport, settings: OutboundSettings,
        composer: Composer | None = None, signer: DkimSigner | None = None,
        at_rest: AtRestKey | None = None,
    ) -> None:
        self.engine = engine
        self.transport = transport
        self.settings = settings
        self.composer = composer
        self.signer = signer
        self.at_rest = at_rest  # privacy.encryption_key: rows are stored sealed
        self.wakeup = asyncio.Event()
        self.stopping = False
        self.last_round_at: datetime | None = None

    def nudge(self) -> None:
        self.wakeup.set()

    def stop(self) -> None:
        """Finish the copy on the wire, attempt no other (the batch's rest is handed back)."""
        self.stopping = True
        self.wakeup.set()

    async def run(self, poll_seconds: float = 5.0) -> None:
        while not self.stopping:
            try:
                sent = await self.deliver_due()
            except Exception:  # the database may be away for a moment; try again shortly
                log.exception("outbox round failed")
                sent = 0
            if sent or self.stopping:
                continue
            self.wakeup.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wakeup.wait(), poll_seconds)

    async def deliver_due(self) -> int:
        """Deliver one batch of due copies; return how many were claimed."""
        self.last_round_at = utcnow()
        ids = await asyncio.to_thread(
            claim, self.engine, OutgoingMail, limit=BATCH, lease_seconds=LEASE_SECONDS,
            due_column="next_attempt_at",
        )
        if not ids:
            return 0
        envelopes, copies = await asyncio.to_thread(self._load, ids)
        open_ids = {env.id for env in envelopes}
        keeper = asyncio.create_task(self._keep_lease(open_ids))

        # Outcomes are committed as they come in, in one transaction for all the answers of a
        # moment and those that arrived while the previous commit ran (not one write-lock round
        # per copy).
        answered: list[tuple[int, Result]] = []
        recording: list[asyncio.Task] = []
        sent_all = asyncio.Event()

        async def record() -> None:
            while answered:
                with contextlib.suppress(TimeoutError):  # the batch's last answer: at once
                    await asyncio.wait_for(sent_all.wait(), GATHER_SECONDS)
                batch = answered[:]
                del answered[:len(batch)]
                if await asyncio.to_thread(self._record_all, batch, copies):
                    self.wakeup.set()  # a notice for the mediator went into the outbox

        async def report(env: Envelope, result: Result) -> None:
            open_ids.discard(env.id)
            answered.append((env.id, result))
            if not recording or recording[-1].done():
                recording.append(asyncio.create_task(record()))

        try:
            await self.transport.send(envelopes, report, lambda: not self.stopping)
        finally:
            sent_all.set()
            for task in recording:
                await task
            await record()  # nothing answered stays unrecorded
            keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await keeper
            if open_ids:  # not attempted (stopping, or no lane could reach the relay)
                await asyncio.to_thread(self._hand_back, list(open_ids))
        return len(ids)

    async def _keep_lease(self, ids: set[int]) -> None:
        while ids:
            await asyncio.sleep(LEASE_SECONDS / 3)
            await asyncio.to_thread(extend, self.engine, OutgoingMail, list(ids), LEASE_SECONDS)

    def _load(self, ids: list[int]) -> tuple[list[Envelope], dict[int, _Copy]]:
        with session_scope(self.engine) as session:
            rows = session.exec(select(OutgoingMail).where(col(OutgoingMail.id).in_(ids))
                                .order_by(col(OutgoingMail.id))).all()
            cases = {row.case_id for row in rows if row.case_id is not None}
            refs = dict(session.exec(select(Case.id, Case.ref).where(
                col(Case.id).in_(cases))).all()) if cases else {}
            copies = {row.id: _Copy(row.case_id, row.participant_id, row.kind, row.rcpt_to,
                                    row.attempts, refs.get(row.case_id, "-"))
                      for row in rows}

            def blob(sha256: str) -> bytes:
                return unseal(session.get(Blob, sha256).data, self.at_rest)

            parts = FileParts(blob)  # each file encoded once for all copies of this batch
            envelopes = []
            for row in rows:
                text = unseal(row.raw, self.at_rest)
                if not row.attachments:
                    envelopes.append(Envelope(row.id, row.envelope_from, row.rcpt_to,
                                              self._signed(text)))
                    continue
                for item in row.attachments:
                    parts.part(item)  # read and encoded now, while the session is open
                # A file relayed to 30 parties is stored once but sent 30 times: each full
                # copy is put together only when its turn on the wire comes, and dropped after.
                envelopes.append(Envelope(
                    row.id, row.envelope_from, row.rcpt_to,
                    build=partial(self._assemble, text, row.attachments, parts)))
        return envelopes, copies

    def _assemble(self, text: bytes, files: list[dict], parts: FileParts) -> list[bytes]:
        pieces = copy_pieces(text, files, parts)
        # DKIM signs the whole copy (its body hash): a signed copy is joined, once, here
        return pieces if self.signer is None else [self._signed(b"".join(pieces))]

    def _signed(self, raw: bytes) -> bytes:
        return raw if self.signer is None else self.signer.sign(raw)

    def _hand_back(self, ids: list[int]) -> None:
        with session_scope(self.engine) as session:
            for row in session.exec(select(OutgoingMail).where(col(OutgoingMail.id).in_(ids))):
                if row.status == "pending":
                    row.claimed_until = None
                    session.add(row)

    def _record_all(self, outcomes: list[tuple[int, Result]],
                    copies: dict[int, _Copy] | None = None) -> bool:
        """Commit these copies' outcomes together; True when a notice went into the outbox.
        Should the joint commit fail, each outcome is tried on its own, so one bad row cannot
        keep the others from being recorded."""
        try:
            with session_scope(self.engine) as session:
                plain, others = self._triage(session, outcomes, copies or {})
                noticed = False
                if others:
                    loaded = self._preload(session, [copy_id for copy_id, _ in others])
                    case_of = {row.id: row.case_id or 0 for row in loaded[0]}
                    # Case by case, in one order, as every writer takes case locks.
                    ordered = sorted(others, key=lambda outcome: case_of.get(outcome[0], 0))
                    noticed = any([self._record(session, copy_id, result)
                                   for copy_id, result in ordered])
                # After any case lock: the order every writer keeps (case, then its copies).
                self._sent(session, plain, copies or {})
                return noticed
        except Exception:  # noqa: BLE001
            if len(outcomes) == 1:
                raise
        noticed = False
        for outcome in outcomes:
            try:
                noticed = self._record_all([outcome], copies) or noticed
            except Exception:  # the lease runs out and the copy is tried again
                log.exception("could not record the outcome of copy %s", outcome[0])
        return noticed

    @staticmethod
    def _triage(session: Session, outcomes: list[tuple[int, Result]],
                copies: dict[int, _Copy]) -> tuple[list[int], list[tuple[int, Result]]]:
        """The copies that were simply sent (accepted, to a recipient in no failure episode:
        nothing to tell anyone, no case to lock) and the outcomes that need ``_record``."""
        accepted = [copy_id for copy_id, result in outcomes
                    if result.ok and copy_id in copies]
        people = {copies[copy_id].participant_id for copy_id in accepted} - {None}
        failing = set(session.exec(select(Participant.id).where(
            col(Participant.id).in_(people),
            col(Participant.delivery_failed_at).is_not(None)))) if people else set()
        plain = [copy_id for copy_id in accepted
                 if copies[copy_id].participant_id not in failing]
        chosen = set(plain)
        return plain, [outcome for outcome in outcomes if outcome[0] not in chosen]

    @staticmethod
    def _sent(session: Session, ids: list[int], copies: dict[int, _Copy]) -> None:
        """Record copies as sent in one statement (what ``_record`` does for an accepted copy
        whose recipient's mail works), and log each."""
        if not ids:
            return
        table = OutgoingMail.__table__
        done = session.execute(  # type: ignore[call-overload]
            update(table)
            .where(table.c.id.in_(sorted(ids)), table.c.status == "pending")
            .values(status="sent", sent_at=utcnow(), last_error=None, claimed_until=None,
                    attempts=table.c.attempts + 1)
            .returning(table.c.id)
        ).scalars().all()
        for copy_id in sorted(done):
            copy = copies[copy_id]
            log.info("copy sent", extra={"case": copy.ref, "copy": copy_id, "kind": copy.kind,
                                         "to": copy.rcpt_to, "attempts": copy.attempts + 1})

    @staticmethod
    def _preload(session: Session, ids: list[int]) -> tuple[list, list, list]:
        """The copies, their recipients and cases in three queries, not three per copy (the
        session's identity map then answers every ``session.get`` of ``_record``)."""
        rows = session.exec(select(OutgoingMail).where(col(OutgoingMail.id).in_(ids))).all()
        people = {row.participant_id for row in rows if row.participant_id is not None}
        cases = {row.case_id for row in rows if row.case_id is not None}
        return (
            rows,
            session.exec(select(Participant).where(col(Participant.id).in_(people))).all()
            if people else [],
            session.exec(select(Case).where(col(Case.id).in_(cases))).all() if cases else [],
        )

    def _record(self, session: Session, copy_id: int, result: Result) -> bool:
        """One copy's outcome; True when it put a notice in the outbox."""
        now = utcnow()
        row = session.get(OutgoingMail, copy_id)
        if row is None or row.status != "pending":
            return False
        if row.case_id is not None and needs_case_lock(session, row, result.ok):
            # The case lock first, before this row's: the order every writer keeps.
            lock_case(session, row.case_id)
        row.attempts += 1
        row.claimed_until = None
        ref = session.get(Case, row.case_id).ref if row.case_id else "-"  # type: ignore[union-attr]
        if result.ok:
            row.status, row.sent_at, row.last_error = "sent", now, None
            session.add(row)
            copy_delivered(session, row)
            log.info("copy sent", extra={"case": ref, "copy": row.id, "kind": row.kind,
                                         "to": row.rcpt_to, "attempts": row.attempts})
            return False
        row.last_error = result.error[:2000]
        deadline = _aware(row.created_at) + timedelta(hours=self.settings.max_retry_hours)
        if result.permanent or now >= deadline:
            row.status = "failed"
            session.add(row)
            reason = "refused" if result.permanent else "gave up after retrying"
            log.warning("copy failed", extra={
                "case": ref, "copy": row.id, "kind": row.kind, "to": row.rcpt_to,
                "reason": f"{reason}: {result.error[:200]}", "attempts": row.attempts})
            notices = copy_failed(session, row, permanent=result.permanent)
            if notices and self.composer is not None:
                self.composer.enqueue(session, notices)
                return True
            return False
        row.next_attempt_at = min(now + backoff(row.attempts), deadline)
        session.add(row)
        log.info("copy deferred", extra={
            "case": ref, "copy": row.id, "kind": row.kind, "to": row.rcpt_to,
            "reason": result.error[:200], "attempts": row.attempts,
            "retry_at": row.next_attempt_at.isoformat(timespec="seconds")})
        return False
