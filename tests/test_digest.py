"""The mediator's digest: at the configured hour, once per period, and only when something
changed since the last one sent."""

from __future__ import annotations

import threading

import time_machine
from reminder_world import World, local

from mediate.scheduler import run_sweep
from mediate.service import make_composer
from threads import db
from threads.digest import period_key

MONDAY_7 = local(2026, 3, 2, 7, 0)


def test_daily_digest_comes_at_its_hour_once_and_skips_unchanged_days(tmp_path, database_url):
    world = World.make(tmp_path, database_url, digest="daily", digest_hour=8)
    with time_machine.travel(MONDAY_7, tick=False) as clock:
        case = world.open_case("Anna", "Bram")
        clock.move_to(local(2026, 3, 2, 7, 59))
        assert world.sweep().digests == 0
        clock.move_to(local(2026, 3, 2, 8, 0))
        assert world.sweep().digests == 1
        clock.move_to(local(2026, 3, 2, 15, 0))
        assert world.sweep().digests == 0  # today's is sent
        clock.move_to(local(2026, 3, 3, 8, 5))
        assert world.sweep().digests == 0  # nothing changed since yesterday
        world.hold_message(case, "Anna")
        world.update(case, "Bram", registered_at=local(2026, 3, 3, 9, 0))
        clock.move_to(local(2026, 3, 4, 8, 0))
        assert world.sweep().digests == 1
    first, second = world.mails("digest")
    assert first.rcpt_to == second.rcpt_to == "mediator@office.test"
    text = first.raw.decode()
    assert "Sharing the house" in text and "waiting for Anna to register" in text
    later = second.raw.decode()
    assert "1 message waiting for your review" in later
    assert "Bram to complete the intake" in later


def test_weekly_digest_comes_on_monday_or_the_first_sweep_after(tmp_path, database_url):
    world = World.make(tmp_path, database_url, digest="weekly", digest_hour=8)
    with time_machine.travel(local(2026, 3, 3, 12, 0), tick=False) as clock:  # a Tuesday
        world.open_case("Anna", "Bram")
        assert world.sweep().digests == 1  # this week's, late
        clock.move_to(local(2026, 3, 6, 9, 0))
        assert world.sweep().digests == 0
        clock.move_to(local(2026, 3, 9, 7, 0))  # next Monday, before the hour
        assert world.sweep().digests == 0
        clock.move_to(local(2026, 3, 9, 8, 0))
        assert world.sweep().digests == 0  # unchanged
    assert period_key(local(2026, 3, 9, 8, 0), "weekly", 8, "Europe/Amsterdam") == "2026-W11"


def test_no_digest_when_off_or_without_open_cases(tmp_path, database_url):
    world = World.make(tmp_path, database_url, digest="daily")
    with time_machine.travel(local(2026, 3, 2, 9, 0), tick=False):
        assert world.sweep().digests == 0  # no cases at all
    off = World.make(tmp_path / "off", database_url.replace("mediate.sqlite3", "off.sqlite3"))
    with time_machine.travel(local(2026, 3, 2, 9, 0), tick=False):
        off.open_case("Anna", "Bram")
        assert off.sweep().digests == 0


def test_two_sweeps_at_once_send_one_digest(tmp_path, database_url):
    world = World.make(tmp_path, database_url, digest="daily")
    with time_machine.travel(MONDAY_7, tick=False):
        world.open_case("Anna", "Bram")
    moment = local(2026, 3, 2, 9, 0)
    engines = [db.make_engine(world.settings.database_url) for _ in range(2)]
    start = threading.Barrier(2)
    results: list[int] = []

    def sweep(index: int) -> None:
        start.wait(timeout=30)
        report = run_sweep(engines[index], make_composer(world.settings), world.settings, moment)
        results.append(report.digests)

    threads = [threading.Thread(target=sweep, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    for engine in engines:
        engine.dispose()
    assert sorted(results) == [0, 1]
    assert len(world.mails("digest")) == 1
