"""Reminders to parties fire at the right moment, respect quiet hours, stop after the limit or
when the party acts, and the mediator hears once who is not responding. The clock is
time-machine's; nothing sleeps."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from reminder_world import World, days, local
from sqlmodel import Session

from threads.models import Case, Participant
from threads.reminders import mark_awaiting

MONDAY_10 = local(2026, 3, 2, 10, 0)  # a Monday morning in Amsterdam


@pytest.fixture
def world(tmp_path, database_url):
    return World.make(tmp_path, database_url)


def test_registration_reminders_come_three_times_then_the_mediator_is_told_once(world):
    with time_machine.travel(MONDAY_10, tick=False) as clock:
        case = world.open_case("Anna", "Bram")
        clock.move_to(MONDAY_10 + days(3) - timedelta(minutes=1))
        assert world.sweep().total == 0
        clock.move_to(MONDAY_10 + days(3))
        assert world.sweep().sent["register"] == 2
        assert {m.rcpt_to for m in world.mails("reminder-register")} == {
            "anna@home.test", "bram@home.test"}
        assert world.sweep().total == 0  # the same moment again sends nothing
        clock.move_to(MONDAY_10 + days(7) - timedelta(minutes=1))
        assert world.sweep().total == 0
        for moment in (days(7), days(11)):
            clock.move_to(MONDAY_10 + moment)
            assert world.sweep().sent["register"] == 2
        clock.move_to(MONDAY_10 + days(15))
        report = world.sweep()
        assert report.sent["register"] == 0 and report.sent["silent-register"] == 2
        [notice] = world.mails("not-responding")
        assert notice.rcpt_to == "mediator@office.test"
        assert b"Anna" in notice.raw and b"Bram" in notice.raw
        clock.move_to(MONDAY_10 + days(40))
        assert world.sweep().total == 0
    assert world.count("reminder-register") == 6
    assert case


def test_a_party_who_registers_gets_no_more_registration_reminders_but_the_intake_one(world):
    with time_machine.travel(MONDAY_10, tick=False) as clock:
        case = world.open_case("Anna", "Bram")
        clock.move_to(MONDAY_10 + days(3))
        world.sweep()
        clock.move_to(MONDAY_10 + days(5))
        world.update(case, "Anna", registered_at=MONDAY_10 + days(5))
        clock.move_to(MONDAY_10 + days(7))
        report = world.sweep()
        assert report.sent["register"] == 1  # Bram only
        assert [m.rcpt_to for m in world.mails("reminder-register")][-1] == "bram@home.test"
        assert report.sent["intake"] == 0  # Anna registered only two days ago
        clock.move_to(MONDAY_10 + days(8))
        assert world.sweep().sent["intake"] == 1
        [intake] = world.mails("reminder-intake")
        assert intake.rcpt_to == "anna@home.test" and b"intake" in intake.raw
        world.update(case, "Anna", intake_submitted_at=MONDAY_10 + days(9))
        clock.move_to(MONDAY_10 + days(12))
        assert world.sweep().sent["sign"] == 1  # three days after the intake
        [sign] = world.mails("reminder-sign")
        assert sign.rcpt_to == "anna@home.test"
        world.update(case, "Anna", signed_at=MONDAY_10 + days(13))
        clock.move_to(MONDAY_10 + days(30))
        world.sweep()
    assert world.count("reminder-sign") == 1 and world.count("reminder-intake") == 1


def test_reminders_to_parties_wait_for_the_end_of_quiet_hours(world):
    evening = local(2026, 3, 2, 22, 0)
    with time_machine.travel(evening, tick=False) as clock:
        world.open_case("Anna", "Bram")
        clock.move_to(evening + days(3))  # Thursday 22:00: due, but quiet
        report = world.sweep()
        assert report.quiet and report.total == 0 and report.waiting_for_quiet_hours == 2
        clock.move_to(local(2026, 3, 6, 7, 59))
        assert world.sweep().total == 0
        clock.move_to(local(2026, 3, 6, 8, 0))
        assert world.sweep().sent["register"] == 2


def test_weekends_can_be_quiet_too(tmp_path, database_url):
    world = World.make(tmp_path, database_url, skip_weekends=True)
    wednesday = local(2026, 3, 4, 10, 0)
    with time_machine.travel(wednesday, tick=False) as clock:
        world.open_case("Anna", "Bram")
        clock.move_to(wednesday + days(3))  # Saturday
        assert world.sweep().total == 0
        clock.move_to(local(2026, 3, 8, 23, 0))  # Sunday night
        assert world.sweep().total == 0
        clock.move_to(local(2026, 3, 9, 8, 0))  # Monday morning
        assert world.sweep().sent["register"] == 2


def test_settings_change_timing_and_limit(tmp_path, database_url):
    world = World.make(tmp_path, database_url, first_after_days=1, repeat_every_days=2,
                       max_reminders=1, quiet_hours="off")
    with time_machine.travel(MONDAY_10, tick=False) as clock:
        world.open_case("Anna", "Bram")
        clock.move_to(MONDAY_10 + days(1))
        assert world.sweep().sent["register"] == 2
        clock.move_to(MONDAY_10 + days(3))
        assert world.sweep().sent["silent-register"] == 2
    assert world.count("reminder-register") == 2 and world.count("not-responding") == 1


def test_awaited_reply_is_reminded_after_the_reply_by_date_until_the_party_writes(world):
    with time_machine.travel(MONDAY_10, tick=False) as clock:
        case = world.open_case("Anna", "Bram")
        done = MONDAY_10 + timedelta(hours=1)
        for name in ("Anna", "Bram"):
            world.update(case, name, registered_at=done, intake_submitted_at=done,
                         signed_at=done)
        anna_id, bram_id = world.party(case, "Anna").id, world.party(case, "Bram").id
        with Session(world.engine) as session:
            the_case = session.get(Case, case)
            anna, bram = session.get(Participant, anna_id), session.get(Participant, bram_id)
            mark_awaiting(session, the_case, anna, MONDAY_10 + days(2))
            mark_awaiting(session, the_case, bram, None)
            session.commit()
        clock.move_to(MONDAY_10 + days(2) - timedelta(minutes=1))
        assert world.sweep().sent["reply"] == 0
        clock.move_to(MONDAY_10 + days(2))
        assert world.sweep().sent["reply"] == 1  # Anna, at her reply-by date
        [first] = world.mails("reminder-reply")
        assert first.rcpt_to == "anna@home.test"
        clock.move_to(MONDAY_10 + days(3))
        world.update(case, "Anna", last_message_at=MONDAY_10 + days(3))  # Anna answers
        report = world.sweep()
        assert report.sent["reply"] == 1  # Bram, three days after being asked
        assert world.mails("reminder-reply")[-1].rcpt_to == "bram@home.test"
        for moment in (7, 11, 15, 30):
            clock.move_to(MONDAY_10 + days(moment))
            world.sweep()
    [silent] = world.mails("not-responding")
    assert b"Bram" in silent.raw and b"Anna" not in silent.raw
    to_anna = world.mails("reminder-reply", to="anna@home.test")
    assert len(to_anna) == 1  # never again after she wrote
    assert len(world.mails("reminder-reply", to="bram@home.test")) == 3


def test_held_messages_are_brought_to_the_mediators_attention_once(world):
    with time_machine.travel(MONDAY_10, tick=False) as clock:
        case = world.open_case("Anna", "Bram")
        world.hold_message(case, "Anna")
        clock.move_to(MONDAY_10 + timedelta(hours=23))
        assert world.sweep().sent["review"] == 0
        clock.move_to(MONDAY_10 + timedelta(hours=24))
        world.hold_message(case, "Bram")
        assert world.sweep().sent["review"] == 1
        clock.move_to(MONDAY_10 + timedelta(hours=48))
        assert world.sweep().sent["review"] == 1  # Bram's message, in its own mail
        clock.move_to(MONDAY_10 + days(5))
        assert world.sweep().sent["review"] == 0
    mails = world.mails("reminder-review")
    assert [m.rcpt_to for m in mails] == ["mediator@office.test"] * 2
    assert b"message 1 from Anna" in mails[0].raw


def test_mediator_reminders_ignore_quiet_hours(world):
    night = local(2026, 3, 2, 23, 0)
    with time_machine.travel(night, tick=False) as clock:
        case = world.open_case("Anna", "Bram")
        world.hold_message(case, "Anna")
        clock.move_to(night + timedelta(hours=24))
        assert world.sweep().sent["review"] == 1


def test_closed_cases_and_removed_or_bouncing_parties_get_no_reminders(world):
    with time_machine.travel(MONDAY_10, tick=False) as clock:
        closed = world.open_case("Anna", "Bram", title="Closed one")
        world.close(closed)
        other = world.open_case("Cees", "Dirk", title="Open one")
        world.update(other, "Cees", active=False)
        world.update(other, "Dirk", bouncing=True)
        clock.move_to(MONDAY_10 + days(20))
        assert world.sweep().total == 0
