"""The reminder sweep's database work follows what is due, not the size of the installation.

The bench's first sweep over 100,000 participants looked 180 times slower one week than the
week before: the earlier run had fallen in quiet hours and sent nothing. What a sweep costs
per reminder is counted here in statements and transactions, so a change that makes it grow
(a query per party, a transaction per case) fails a test instead of waiting for a bench run.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from reminder_world import World, days, local
from sqlalchemy import event
from sqlmodel import col, select

from threads import audit, sweep
from threads.db import session_scope
from threads.models import Case, Participant
from threads.reminders import mark_awaiting

MONDAY_10 = local(2026, 3, 2, 10, 0)


class Counter:
    def __init__(self, engine) -> None:  # noqa: ANN001
        self.statements = 0
        self.transactions = 0
        event.listen(engine, "before_cursor_execute", self._statement)
        event.listen(engine, "begin", self._begin)

    def _statement(self, *_args) -> None:  # noqa: ANN002
        self.statements += 1

    def _begin(self, *_args) -> None:  # noqa: ANN002
        self.transactions += 1


@pytest.fixture
def world(tmp_path, database_url):
    return World.make(tmp_path, database_url)


def _sweep_counted(world: World, when) -> tuple[Counter, int]:  # noqa: ANN001
    counter = Counter(world.engine)
    with time_machine.travel(when, tick=False):
        report = world.sweep()
    event.remove(world.engine, "before_cursor_execute", counter._statement)
    event.remove(world.engine, "begin", counter._begin)
    return counter, report.sent["register"]


def _open_waiting(world: World, count: int, first: int, opened, held) -> None:  # noqa: ANN001
    """``count`` cases of two parties who have not registered since ``opened``, where the
    mediator waits for Bram's answer and has not reviewed the message Anna wrote at ``held``:
    four reminders each once due."""
    with time_machine.travel(opened, tick=False):
        cases = [world.open_case(f"Anna{n}", f"Bram{n}") for n in range(first, first + count)]
        with session_scope(world.engine) as session:
            for case_id in cases:
                bram = session.exec(select(Participant).where(
                    Participant.case_id == case_id, Participant.role == "party")
                    .order_by(col(Participant.id).desc())).first()
                mark_awaiting(session, session.get(Case, case_id), bram, None)
    with time_machine.travel(held, tick=False):
        for number, case_id in enumerate(cases, start=first):
            world.hold_message(case_id, f"Anna{number}")


def _ten_then_forty(world: World) -> tuple[Counter, Counter]:
    """What a sweep costs that reminds 10 cases, and one that reminds 40 (each sweep finds
    only its own cases due: registration after 3 days, review after 24 hours)."""
    _open_waiting(world, 10, 0, MONDAY_10 - days(1), MONDAY_10 + timedelta(hours=23))
    _open_waiting(world, 40, 10, MONDAY_10, MONDAY_10 + timedelta(hours=47))
    few, sent = _sweep_counted(world, MONDAY_10 + days(2))
    assert sent == 20 and world.count("reminder-reply") == 10
    assert world.count("reminder-review") == 10
    many, sent = _sweep_counted(world, MONDAY_10 + days(3))
    assert sent == 80 and world.count("reminder-reply") == 50
    assert world.count("reminder-review") == 50
    return few, many


def test_the_statements_of_a_sweep_do_not_grow_with_the_cases_it_reminds(world):
    # The first bench sweep took 33.7 s for 3,500 reminders: each cost its case lock, its
    # case's participants, a savepoint for its claim, two reads for its audit entry, and an
    # INSERT per outgoing copy and per new thread. A batch of cases now costs the same
    # statements however many reminders it holds: 40 cases cost what 10 cost.
    few, many = _ten_then_forty(world)
    assert many.statements == few.statements, (few.statements, many.statements)
    assert many.transactions == few.transactions
    with session_scope(world.engine) as session:  # the audit chains, written in bulk, hold
        assert all(audit.check(session, case) is None for case in session.exec(select(Case)))


def test_each_batch_of_cases_adds_a_bounded_number_of_statements(world, monkeypatch):
    monkeypatch.setattr(sweep, "CASES_PER_TRANSACTION", 10)
    few, many = _ten_then_forty(world)  # one batch, then four
    per_batch = (many.statements - few.statements) / 3
    # lock, parties, begun, held messages, requests, claims, audit heads and entries, thread
    # roots, copies, new threads, updated threads, commit
    assert per_batch <= 15, f"{per_batch:.1f} statements per batch of 10 cases"
    assert many.transactions - few.transactions == 3


def test_a_sweep_costs_a_bounded_number_of_statements_per_reminder(world):
    # 4 cases become due on Wednesday, 12 more on Thursday: the difference between the two
    # sweeps is what 16 more reminders cost, whatever a sweep costs by itself.
    with time_machine.travel(MONDAY_10 - timedelta(days=1), tick=False):
        for number in range(4):
            world.open_case(f"Anna{number}", f"Bram{number}")
    with time_machine.travel(MONDAY_10, tick=False):
        for number in range(12):
            world.open_case(f"Cees{number}", f"Dirk{number}")
    few, sent = _sweep_counted(world, MONDAY_10 + days(2))
    assert sent == 8
    many, sent = _sweep_counted(world, MONDAY_10 + days(3))
    assert sent == 24
    per_reminder = (many.statements - few.statements) / 16
    # Per reminder: its claim, its audit entry, its outgoing copy and thread, plus a share of
    # the case's lock and participant read. More than this means a query per something.
    assert per_reminder <= 8, f"{per_reminder:.1f} statements per reminder"
    # All cases' reminders are committed together, not in a transaction per case.
    assert many.transactions == few.transactions


def test_cases_with_nothing_due_add_no_work_to_a_sweep(world):
    with time_machine.travel(MONDAY_10 - timedelta(days=1), tick=False):
        for number in range(4):
            world.open_case(f"Anna{number}", f"Bram{number}")
    _, sent = _sweep_counted(world, MONDAY_10 + days(2))
    assert sent == 8
    before, sent = _sweep_counted(world, MONDAY_10 + days(2) + timedelta(minutes=5))
    assert sent == 0  # already reminded
    with time_machine.travel(MONDAY_10 + days(2), tick=False):
        for number in range(10):  # opened just now: nothing due for them
            world.open_case(f"Cees{number}", f"Dirk{number}")
    after, sent = _sweep_counted(world, MONDAY_10 + days(2) + timedelta(minutes=10))
    assert sent == 0
    assert after.statements == before.statements
