"""One sweep: everything due at ``now`` is claimed and handed to the mailer, case by case.

``sweep`` asks ``threads.reminders`` and ``threads.readiness`` what is due (read-only queries),
then per case, in one transaction holding the case lock: checks again that each item is still
due (the party may have acted a moment ago), inserts its claim record, and enqueues its mail
through ``mailer.enqueue`` (the Composer: one outbox row per notice, same transaction). A claim
that already exists means another sweep sent it; it is counted and skipped. A failure in one
case is logged and rolled back without stopping the others. Digests follow (``threads.digest``).
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

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from threads import audit, digest, readiness
from threads.cases import lock_case
from threads.db import read_scope, session_scope
from threads.links import Links
from threads.models import Awaiting, Case, Message, Participant, utcnow
from threads.notices import Notice
from threads.quiet_hours import is_quiet, next_send_time
from threads.reminders import STEP_COLUMN, STEPS, Due, claim, due

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
    report.seconds = time.perf_counter() - started
    if report.total or report.ready or report.digests:
        log.info("sweep sent %s, %d ready, %d digests (%.2fs)", dict(report.sent),
                 report.ready, report.digests, report.seconds)
    return report


def _still_due(session: Session, item: Due, person: Participant | None) -> bool:
    """Re-check under the case lock: the party may have acted since the due query ran."""
    if item.kind == "review":
        message = session.get(Message, item.about)
        return message is not None and message.status == "held"
    if person is None or not person.active:
        return False
    kind = item.kind.removeprefix("silent-")
    if kind in STEP_COLUMN:
        return getattr(person, STEP_COLUMN[kind]) is None
    request = session.get(Awaiting, item.about)
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
    case lock and the composer's set-up per reminder (3,500 cases: 14.6 s). A broken case
    still only costs itself: the batch is rolled back and redone one case at a time."""
    outcome = SweepReport(at=now)
    try:
        with session_scope(engine) as session:
            notices: list[Notice] = []
            for case_id, items in batch:
                notices += _send_case(session, case_id, items, now, outcome, settings, links)
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


def _send_case(
    session: Session, case_id: int, items: list[Due], now: datetime,
    report: SweepReport, settings: Any, links: Any,
) -> list[Notice]:
    """The notices one case's due items make, each claimed first (the claim is the record)."""
    zone = ZoneInfo(settings.service.timezone)
    last_round = settings.reminders.max_reminders
    case = lock_case(session, case_id)
    if case.status != "open":
        report.no_longer_due += len(items)
        return []
    people = {p.id: p for p in session.exec(
        select(Participant).where(Participant.case_id == case.id).order_by(col(Participant.id)))}
    mediator = next(p for p in people.values() if p.role == "mediator")
    notices: list[Notice] = []
    review: list[dict] = []
    silent: list[dict] = []
    for item in items:
        person = people.get(item.participant_id)
        if not _still_due(session, item, person):
            report.no_longer_due += 1
            continue
        if not claim(session, item, item.participant_id, now):
            report.already_claimed += 1
            continue
        report.sent[item.kind] += 1
        facts = {"name": person.name, "since": item.since.astimezone(zone),
                 "round": item.round, "last": item.round == last_round, "kind": item.kind,
                 "reminders": item.reminders_sent}
        if item.to_party:
            request = session.get(Awaiting, item.about) if item.kind == "reply" else None
            by = request.reply_by.astimezone(zone) if request and request.reply_by else None
            notices.append(Notice(
                f"reminder-{item.kind}", case, person, author=mediator,
                context={**facts, "by": by, "link": _link(links, person, item.kind)},
            ))
            audit.record(session, case, "reminder", participant=person.name, step=item.kind,
                         round=item.round)
        elif item.kind == "review":
            message = session.get(Message, item.about)
            review.append({**facts, "seq": message.seq})
        else:
            silent.append({**facts, "step": item.kind.removeprefix("silent-")})
            audit.record(session, case, "not-responding", participant=person.name,
                         step=item.kind.removeprefix("silent-"), reminders=item.reminders_sent)
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
    return rows
