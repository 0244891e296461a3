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
