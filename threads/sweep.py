"""One sweep: everything due at ``now`` is claimed and handed to the mailer, case by case.

``sweep`` asks ``threads.reminders`` and ``threads.readiness`` what is due (read-only queries),
then per case, in one transaction holding the case lock: checks again that each item is still
due (the party may have acted a moment ago), inserts its claim record, and enqueues its mail
through ``mailer.enqueue`` (the Composer: one outbox row per notice, same transaction). A claim
that already exists means another sweep sent it; it is counted and skipped. A failure in one
case is logged and rolled back without stopping the others. Digests follow (``threads.digest``),
then heated messages whose cooling-off wait is over (``threads.cooling``).
"""

from __future__ import annotations

import logging
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, or_
from sqlmodel import Session, col, select

from threads import aftercare, audit, cooling, digest, readiness
from threads.cases import lock_cases
from threads.db import read_scope, session_scope
from threads.links import Links
from threads.models import (
    Awaiting,
    Case,
    Message,
    Participant,
    Proposal,
    ProposalParty,
    utcnow,
)
from threads.notices import Notice
from threads.proposals import channel as proposal_thread
from threads.quiet_hours import is_quiet, next_send_time
from threads.reminders import (
    STEP_COLUMN,
    STEPS,
    Due,
    begun_in,
    claim_all,
    due,
    signed_among,
    wording,
)

log = logging.getLogger("mediate.sweep")
# See _send_batch. Small enough that a batch holds SQLite's write lock only briefly (mail
# arriving meanwhile waits for it), large enough that commits stop dominating.
CASES_PER_TRANSACTION = 50
LINK_PURPOSE = {"register": "register", "intake": "intake", "sign": "agreement"}


class Mailer(Protocol):
    def enqueue(self, session: Session, notices: list[Notice]) -> Sequence[Any]: ...


@dataclass
class SweepReport:
    at: datetime
    quiet: bool = False
    sent: Counter = field(default_factory=Counter)  # kind -> reminders/notices claimed and sent
    already_claimed: int = 0  # another sweep was first
    waiting_for_quiet_hours: int = 0
    no_longer_due: int = 0
    ready: int = 0
    released: int = 0  # messages cooling off that went out (threads.cooling)
    digests: int = 0
    failed_cases: list[int] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def total(self) -> int:
        return sum(self.sent.values())


def sweep(
    engine: Engine, mailer: Mailer, settings: Any, now: datetime | None = None,
    *, steps: tuple[str, ...] = STEPS,
) -> SweepReport:
    """Send every reminder, notice, readiness mail and digest due at ``now``, each once.

    ``settings`` is the application settings (``.reminders``, ``.service.timezone``,
    ``.mediators``); ``steps`` are the steps a case requires of each party.
    """
    started = time.perf_counter()
    now = now or utcnow()
    rs, timezone = settings.reminders, settings.service.timezone
    report = SweepReport(at=now, quiet=is_quiet(now, rs, timezone))
    with read_scope(engine) as session:
        items = due(session, rs, now, steps)
        ready_cases = readiness.ready_due(session, steps)
    by_case: dict[int, list[Due]] = defaultdict(list)
    for item in items:
        if item.to_party and report.quiet:
            report.waiting_for_quiet_hours += 1
            continue
        by_case[item.case_id].append(item)
    links = _links(settings)
    cases = sorted(by_case.items())  # the same lock order in every sweep: no deadlock
    for start in range(0, len(cases), CASES_PER_TRANSACTION):
        _send_batch(engine, cases[start:start + CASES_PER_TRANSACTION], mailer, now, report,
                    settings, links)
    for case_id in ready_cases:
        try:
            with session_scope(engine) as session:
                case = session.get(Case, case_id)
                notices = readiness.check_ready(session, case, steps, now) if case else []
                mailer.enqueue(session, notices)
                report.ready += len(notices)
        except Exception:
            log.exception("readiness check failed for case id %s", case_id)
            report.failed_cases.append(case_id)
    report.digests = digest.send_due(engine, mailer, settings, now, steps)
    try:
        report.released = cooling.sweep(engine, mailer, now)
    except Exception:
        log.exception("cooling-off release failed")
    if made := aftercare.send_due(engine, mailer, settings, now):
        report.sent["aftercare"] += made
    report.seconds = time.perf_counter() - started
    if report.total or report.ready or report.digests or report.released:
        log.info("sweep sent %s, %d ready, %d digests, %d released after cooling off (%.2fs)",
                 dict(report.sent), report.ready, report.digests, report.released,
                 report.seconds)
    return report


@dataclass
class _Known:
    """What a batch of cases needs to decide and word its reminders, read once for the whole
    batch in a fixed number of queries: a sweep's cost follows its batches, not its reminders
    (tests/test_sweep_cost.py)."""

    cases: dict[int, Case]  # locked and read afresh
    people: dict[int, Participant]  # those the due items are about, and every mediator
    mediators: dict[int, Participant]  # case id -> its mediator (the first, as ever)
    begun: set[int]  # cases whose conversation has begun (threads.reminders.begun)
    signed: set[int]  # parties with a signature under some text (signed_before)
    messages: dict[int, Message]  # held messages of review items
    awaiting: dict[int, Awaiting]  # requests of reply items
    answers: dict[int, tuple[ProposalParty, Proposal | None]]  # proposal items: row, proposal


def _look_up(session: Session, batch: list[tuple[int, list[Due]]]) -> _Known:
    """Lock the batch's cases (in id order) and read everything its due items refer to."""
    cases = lock_cases(session, [case_id for case_id, _ in batch])
    items = [item for _, case_items in batch for item in case_items]
    ids = sorted({case_id for case_id, _ in batch if case_id in cases})
    people = {p.id: p for p in session.exec(select(Participant).where(
        col(Participant.case_id).in_(ids),
        or_(Participant.role == "mediator",
            col(Participant.id).in_(sorted({item.participant_id for item in items}))),
    ).order_by(col(Participant.id)))} if ids else {}
    mediators: dict[int, Participant] = {}
    for person in people.values():
        if person.role == "mediator":
            mediators.setdefault(person.case_id, person)

    def about(kind: str) -> list[int]:
        return sorted({item.about for item in items if item.kind.removeprefix("silent-") == kind})

    def rows(model: Any, kind: str) -> dict:
        wanted = about(kind)
        return {row.id: row for row in session.exec(
            select(model).where(col(model.id).in_(wanted)))} if wanted else {}

    answers = {}
    if wanted := about("proposal"):
        answers = {row.id: (row, proposal) for row, proposal in session.exec(
            select(ProposalParty, Proposal)
            .join(Proposal, col(Proposal.id) == ProposalParty.proposal_id, isouter=True)
            .where(col(ProposalParty.id).in_(wanted)))}
    return _Known(
        cases=cases, people=people, mediators=mediators,
        begun=begun_in(session, (cases[case_id] for case_id in ids)),
        signed=signed_among(session, (item.participant_id for item in items
                                      if item.kind == "sign")),
        messages=rows(Message, "review"), awaiting=rows(Awaiting, "reply"), answers=answers,
    )


def _still_due(item: Due, person: Participant | None, known: _Known) -> bool:
    """Re-check under the case lock: the party may have acted since the due query ran."""
    if item.kind == "review":
        message = known.messages.get(item.about)
        return message is not None and message.status == "held"
    if person is None or not person.active:
        return False
    kind = item.kind.removeprefix("silent-")
    if kind in STEP_COLUMN:
        return getattr(person, STEP_COLUMN[kind]) is None
    if kind == "proposal":
        row, proposal = known.answers.get(item.about, (None, None))
        return proposal is not None and row.answer is None and proposal.withdrawn_at is None
    request = known.awaiting.get(item.about)
    return (request is not None and request.closed_at is None
            and (person.last_message_at is None or person.last_message_at < request.asked_at))


def _links(settings: Any) -> Links:
    """The signed-link maker (``threads.links``, the registration pages)."""
    return Links(settings.service.secret_key, settings.service.base_url,
                 getattr(getattr(settings, "links", None), "max_age_days", 30.0))


def _link(links: Any, person: Participant, kind: str) -> str | None:
    """A fresh signed link for the step the party is reminded of (None for replies)."""
    purpose = LINK_PURPOSE.get(kind)
    return links.url(person, purpose) if purpose and links is not None else None


def _send_batch(
    engine: Engine, batch: list[tuple[int, list[Due]]], mailer: Mailer, now: datetime,
    report: SweepReport, settings: Any, links: Any,
) -> None:
    """Send a batch of cases in one transaction; when it fails, send them case by case.

    One transaction per case made the first sweep of a large installation cost a commit, a
    case lock and the composer's set-up per reminder (3,500 cases: 14.6 s); and queries per
    reminder (its claim, its audit entry, its party) kept it at 13.6 s. A batch now costs a
    fixed number of statements (``_look_up``, ``claim_all``, ``audit.record_all``, the
    composer's batch). A broken case still only costs itself: the batch is rolled back and
    redone one case at a time."""
    outcome = SweepReport(at=now)
    try:
        with session_scope(engine) as session:
            notices = _send_cases(session, batch, now, outcome, settings, links)
            mailer.enqueue(session, notices)  # one composer batch: threads read in one query
    except Exception:
        if len(batch) > 1:
            for one in batch:
                _send_batch(engine, [one], mailer, now, report, settings, links)
            return
        log.exception("reminder sweep failed for case id %s", batch[0][0])
        report.failed_cases.append(batch[0][0])
        return
    # counted only once the transaction holding claims and mails has committed
    report.sent.update(outcome.sent)
    report.already_claimed += outcome.already_claimed
    report.no_longer_due += outcome.no_longer_due


def _send_cases(
    session: Session, batch: list[tuple[int, list[Due]]], now: datetime,
    report: SweepReport, settings: Any, links: Any,
) -> list[Notice]:
    """The notices a batch of cases' due items make, each claimed first (the claim is the
    record), in case order and within a case in the order the items came."""
    known = _look_up(session, batch)
    still: list[tuple[Case, list[Due]]] = []
    for case_id, items in batch:
        case = known.cases[case_id]
        if case.status != "open":
            report.no_longer_due += len(items)
            continue
        if case.id not in known.mediators:  # the case fails alone (see _send_batch)
            raise LookupError(f"case id {case.id} has no mediator")
        kept = [item for item in items
                if _still_due(item, known.people.get(item.participant_id), known)]
        report.no_longer_due += len(items) - len(kept)
        still.append((case, kept))
    claimed = claim_all(session, [item for _, items in still for item in items], now)
    notices: list[Notice] = []
    events: list[tuple[Case, str, dict]] = []
    for case, items in still:
        mine = []
        for item in items:
            if item.claim_key not in claimed:
                report.already_claimed += 1
                continue
            claimed.discard(item.claim_key)  # the same key twice is sent once
            mine.append(item)
        notices += _word_case(case, mine, known, settings, links, report, events)
    audit.record_all(session, events)
    return notices


def _word_case(
    case: Case, items: list[Due], known: _Known, settings: Any, links: Any,
    report: SweepReport, events: list[tuple[Case, str, dict]],
) -> list[Notice]:
    """The notices one case's claimed items make; their audit entries go onto ``events``."""
    zone = ZoneInfo(settings.service.timezone)
    last_round = settings.reminders.max_reminders
    mediator = known.mediators[case.id]
    started = case.id in known.begun
    notices: list[Notice] = []
    review: list[dict] = []
    silent: list[dict] = []
    for item in items:
        person = known.people[item.participant_id]
        report.sent[item.kind] += 1
        facts = {"name": person.name, "since": item.since.astimezone(zone),
                 "round": item.round, "last": item.round == last_round, "kind": item.kind,
                 "reminders": item.reminders_sent,
                 "variant": wording(person.id, item.round), "started": started}
        if item.to_party:
            request = known.awaiting.get(item.about) if item.kind == "reply" else None
            by = request.reply_by.astimezone(zone) if request and request.reply_by else None
            # a proposal's reminder travels in the proposal's thread: a reply to it answers it
            proposal = known.answers[item.about][1] if item.kind == "proposal" else None
            notices.append(Notice(
                f"reminder-{item.kind}", case, person, author=mediator,
                context={**facts, "by": by, "link": _link(links, person, item.kind),
                         "again": item.kind == "sign" and person.id in known.signed,
                         "proposal": proposal},
                channel=proposal_thread(proposal) if proposal else "shared",
            ))
            events.append((case, "reminder", {"participant": person.name, "step": item.kind,
                                              "round": item.round}))
        elif item.kind == "review":
            review.append({**facts, "seq": known.messages[item.about].seq})
        else:
            step = item.kind.removeprefix("silent-")
            silent.append({**facts, "step": step})
            events.append((case, "not-responding", {"participant": person.name, "step": step,
                                                    "reminders": item.reminders_sent}))
    if review:
        notices.append(Notice("reminder-review", case, mediator, author=mediator,
                              context={"held": review}))
    if silent:
        notices.append(Notice("not-responding", case, mediator, author=mediator,
                              context={"silent": silent}))
    return notices


def preview(
    engine: Engine, settings: Any, now: datetime | None = None,
    *, steps: tuple[str, ...] = STEPS,
) -> list[dict]:
    """What a sweep at ``now`` would send and why, changing nothing."""
    now = now or utcnow()
    rs, timezone = settings.reminders, settings.service.timezone
    quiet = is_quiet(now, rs, timezone)
    rows: list[dict] = []
    with Session(engine) as session:
        cases = {}
        names = {}

        def lookup(case_id: int, participant_id: int) -> tuple[str, str]:
            if case_id not in cases:
                cases[case_id] = session.get(Case, case_id).ref
            if participant_id not in names:
                names[participant_id] = session.get(Participant, participant_id).name
            return cases[case_id], names[participant_id]

        for item in due(session, rs, now, steps):
            ref, name = lookup(item.case_id, item.participant_id)
            to = name if item.to_party else "mediator"
            when = "now"
            if item.to_party and quiet:
                at = next_send_time(now, rs, timezone).astimezone(ZoneInfo(timezone))
                when = f"after quiet hours ({at.isoformat(timespec='minutes')})"
            rows.append({"case": ref, "kind": item.kind, "to": to, "about": name,
                         "round": item.round, "when": when, "why": f"{name} {item.reason()}"})
        for case_id in readiness.ready_due(session, steps):
            ref = session.get(Case, case_id).ref
            rows.append({"case": ref, "kind": "ready", "to": "mediator", "about": "", "round": 1,
                         "when": "now", "why": "every party has completed " + ", ".join(steps)})
        rows += digest.preview(session, settings, now, steps)
        rows += cooling.preview(session, now)
    return rows
