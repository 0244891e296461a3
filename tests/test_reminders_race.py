"""Exactly once under races: two sweeps at the same moment on their own connections send each
reminder once, and two parties finishing in the same second produce one readiness mail. On
PostgreSQL the two run truly in parallel (two threads, two engines); on SQLite they queue."""

from __future__ import annotations

import threading

import pytest
import time_machine
from reminder_world import World, days, local
from sqlalchemy import func
from sqlmodel import Session, select

from mediate.scheduler import run_sweep
from mediate.service import make_composer
from threads import db, readiness
from threads import sweep as sweep_module
from threads.db import session_scope
from threads.models import Case, Participant, Reminder

MONDAY_10 = local(2026, 3, 2, 10, 0)


@pytest.fixture
def world(tmp_path, database_url):
    return World.make(tmp_path, database_url)


def _in_threads(count: int, work) -> list:  # noqa: ANN001
    results: list = [None] * count
    errors: list[BaseException] = []

    def run(index: int) -> None:
        try:
            results[index] = work(index)
        except BaseException as error:  # surfaced below
            errors.append(error)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    return results


def test_two_sweeps_at_once_send_every_reminder_exactly_once(world):
    with time_machine.travel(MONDAY_10, tick=False):
        for n in range(6):
            world.open_case("Anna", "Bram", "Cees", title=f"Case {n}")
    moment = MONDAY_10 + days(3)
    engines = [db.make_engine(world.settings.database_url) for _ in range(2)]
    start = threading.Barrier(2)

    def sweep(index: int):  # noqa: ANN202
        start.wait(timeout=30)
        return run_sweep(engines[index], make_composer(world.settings), world.settings, moment)

    try:
        reports = _in_threads(2, sweep)
    finally:
        for engine in engines:
            engine.dispose()
    assert sum(r.sent["register"] for r in reports) == 18
    mails = world.mails("reminder-register")
    assert len(mails) == 18 and len({m.rcpt_to + str(m.case_id) for m in mails}) == 18
    with Session(world.engine) as session:
        assert session.exec(select(func.count()).select_from(Reminder)).one() == 18
    assert world.sweep(moment).total == 0  # and a third, late sweep adds nothing


def test_two_parties_finishing_in_the_same_second_give_one_readiness_mail(world, database_url):
    with time_machine.travel(MONDAY_10, tick=False):
        case_id = world.open_case("Anna", "Bram")
    done = MONDAY_10 + days(1)
    for name in ("Anna", "Bram"):
        world.update(case_id, name, registered_at=done, intake_submitted_at=done)
    names = ["Anna", "Bram"]
    engines = [db.make_engine(world.settings.database_url) for _ in range(2)]
    # On PostgreSQL both updates are made before either checks; SQLite takes one writer at a
    # time, so there the second simply waits for the first transaction.
    meet = threading.Barrier(2) if database_url.startswith("postgresql") else None
    steps = ("register", "intake", "sign")

    def finish(index: int) -> int:
        composer = make_composer(world.settings)
        with session_scope(engines[index]) as session:
            person = session.exec(select(Participant).where(
                Participant.case_id == case_id, Participant.name == names[index])).one()
            person.signed_at = done
            session.add(person)
            session.flush()
            if meet is not None:
                meet.wait(timeout=30)
            notices = readiness.check_ready(session, session.get(Case, case_id), steps, done)
            composer.enqueue(session, notices)
            return len(notices)

    try:
        sent = _in_threads(2, finish)
    finally:
        for engine in engines:
            engine.dispose()
    assert sorted(sent) == [0, 1]
    [ready] = world.mails("ready")
    assert ready.rcpt_to == "mediator@office.test" and b"Anna" in ready.raw
    assert world.sweep(done + days(1)).ready == 0  # the safety net finds nothing left to do


def test_the_sweep_announces_a_ready_case_that_was_missed(world):
    with time_machine.travel(MONDAY_10, tick=False):
        case_id = world.open_case("Anna", "Bram")
    done = MONDAY_10 + days(1)
    for name in ("Anna", "Bram"):
        world.update(case_id, name, registered_at=done, intake_submitted_at=done, signed_at=done)
    report = world.sweep(done)
    assert report.ready == 1 and world.count("ready") == 1
    assert world.sweep(done).ready == 0


class Killed(BaseException):
    """The process dying in the middle of a sweep (not an error any code catches)."""


class Failing:
    """The real composer, except that it dies at the ``die_at``-th batch, or fails for the
    cases in ``broken`` (the mailer's error rolls back the whole transaction it is in)."""

    def __init__(self, world: World, die_at: int = 0, broken: frozenset[int] = frozenset()):
        self.composer = make_composer(world.settings)
        self.die_at, self.broken, self.batches = die_at, broken, 0

    def enqueue(self, session, notices):  # noqa: ANN001, ANN201
        self.batches += 1
        if self.batches == self.die_at:
            raise Killed
        if any(notice.case.id in self.broken for notice in notices):
            raise ValueError("a case the composer cannot write")
        return self.composer.enqueue(session, notices)


def _five_cases_due(world: World) -> list[int]:
    with time_machine.travel(MONDAY_10, tick=False):
        return [world.open_case("Anna", "Bram", title=f"Case {n}") for n in range(5)]


def test_a_sweep_killed_between_batches_and_run_again_sends_each_reminder_once(
        world, monkeypatch):
    monkeypatch.setattr(sweep_module, "CASES_PER_TRANSACTION", 2)
    _five_cases_due(world)
    moment = MONDAY_10 + days(3)
    with pytest.raises(Killed):
        sweep_module.sweep(world.engine, Failing(world, die_at=2), world.settings, moment)
    assert world.count("reminder-register") == 4  # the first batch of two cases committed
    again = world.sweep(moment)
    assert again.sent["register"] == 6 and again.already_claimed == 0
    mails = world.mails("reminder-register")
    assert len({(m.case_id, m.rcpt_to) for m in mails}) == len(mails) == 10
    with Session(world.engine) as session:
        assert session.exec(select(func.count()).select_from(Reminder)).one() == 10


def test_a_case_that_fails_in_a_batch_costs_only_itself(world):
    cases = _five_cases_due(world)
    moment = MONDAY_10 + days(3)
    report = sweep_module.sweep(world.engine, Failing(world, broken=frozenset({cases[2]})),
                                world.settings, moment)
    assert report.failed_cases == [cases[2]] and report.sent["register"] == 8
    assert {m.case_id for m in world.mails("reminder-register")} == set(cases) - {cases[2]}
    later = world.sweep(moment)  # once it can be written, it is sent, and only it
    assert later.sent["register"] == 2 and world.count("reminder-register") == 10
