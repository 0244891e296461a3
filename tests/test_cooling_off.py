"""Cooling off with a delay (issue #15), end to end over real loopback SMTP with a fake clock for
the release: a heated message in open mode goes out by itself N minutes after it arrived, in the
case's time zone, unless its author says stop or sends a new version, or the mediator decides
first; it survives a restart, and waits while the case is paused."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from conftest import DOMAIN, MEDIATOR
from sqlmodel import Session, select
from support import DKIM_KEY, compose, smtp_send
from test_case_open import cli_case
from test_walking_skeleton import ANNA, BRAM, CEES, reply

from mediate import casework
from mediate.service import Service
from threads import cooling
from threads.cases import CaseError
from threads.locales import when
from threads.models import Case, Message
from threads.opening import read_request
from threads.sweep import preview

HEATED = "Bram is a liar and you know it. Every single time he changes the plan."
CALM = "I was upset. Could we agree on the plan for the children's weekends first?"
THREAT = "I know where Bram parks his van. It would be a shame if something happened to it."
ZONE = "Asia/Tokyo"  # far from the service's own zone: the time told must be the case's


async def open_cooling_case(service, cooling_off="delay 30", language="en"):
    names = {ANNA: "Anna Jansen", BRAM: "Bram de Boer", CEES: "Cees Ünal"}
    opened = casework.open_case(
        service.settings, title="Sharing the house", mediator_email=MEDIATOR,
        parties=[f"{names[p]} <{p}>" for p in (ANNA, BRAM, CEES)], moderation="open",
        language=language, engine=service.engine, timezone=ZONE, cooling_off=cooling_off,
    )
    await service.settle()
    addresses = dict(opened.party_addresses)
    return opened, {ANNA: addresses["Anna Jansen"], BRAM: addresses["Bram de Boer"],
                    CEES: addresses["Cees Ünal"], MEDIATOR: opened.mediator_address}


def messages(service) -> list[Message]:
    with Session(service.engine) as session:
        return list(session.exec(select(Message).order_by(Message.seq)).all())


def aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


async def sweep_at(service, moment: datetime) -> None:
    await service.scheduler.sweep_now(moment)
    await service.settle()


async def test_a_heated_message_goes_out_by_itself_at_the_time_told_in_the_cases_zone(
        service, sink):
    opened, address = await open_cooling_case(service)
    sink.delivered.clear()
    await reply(service, ANNA, address[ANNA], HEATED)
    assert sink.to(BRAM) == [] and sink.to(CEES) == []
    [message] = messages(service)
    release_at = aware(message.release_at)
    assert release_at - aware(message.created_at) == timedelta(minutes=30)
    at = when(release_at, "en", ZONE)
    [told] = sink.to(ANNA)
    assert "- words that can hurt ('liar')" in told.text
    assert "- sweeping words ('Every single time')" in told.text
    assert f"goes to the others {at}, unless I decide otherwise" in told.text
    assert 'reply "stop"' in told.text and "send a new version" in told.text
    assert address[ANNA] not in told.message["From"]  # on Anna's private line to the mediator
    [review] = sink.to(MEDIATOR)
    assert review.text.startswith("Please note: insult ('liar')")
    assert f"it goes to the others by itself {at}." in review.text
    assert "#hold" in review.text

    early, due = (preview(service.engine, service.settings, release_at + timedelta(seconds=s))
                  for s in (-60, 1))
    assert [r for r in early if r["kind"] == "cooling-off"] == []
    assert [(r["kind"], r["about"]) for r in due] == [("cooling-off", "Anna Jansen")]
    sink.delivered.clear()
    await sweep_at(service, release_at - timedelta(minutes=1))
    assert sink.to(BRAM) == [] and sink.to(CEES) == []
    await sweep_at(service, release_at + timedelta(seconds=1))
    for party in (BRAM, CEES):
        [copy] = sink.to(party)
        assert copy.text.startswith(HEATED)
        assert "passed on to everyone after a short wait" in copy.text
    [note] = sink.to(MEDIATOR)
    assert note.message["Subject"] == f"[{opened.ref}] Passed on: message 1 from Anna Jansen"
    assert sink.to(ANNA) == []
    assert messages(service)[0].status == "released"
    sink.delivered.clear()
    await sweep_at(service, release_at + timedelta(hours=1))  # once, however often swept
    assert sink.delivered == []


async def test_stop_keeps_it_on_the_record_unsent_and_tells_both_in_their_language(
        service, sink):
    opened, address = await open_cooling_case(service, language="nl")
    sink.delivered.clear()
    await reply(service, ANNA, address[ANNA], "Bram is een leugenaar. Hij luistert NOOIT.")
    [told] = sink.to(ANNA)
    assert "naar de anderen, tenzij ik vóór die tijd iets anders besluit" in told.text
    assert "- woorden die kunnen kwetsen ('leugenaar')" in told.text
    sink.delivered.clear()
    await reply(service, ANNA, told.message["Reply-To"], "Stoppen!\n\n> Uw bericht gaat",
                in_reply_to=told.message["Message-ID"])
    [stopped] = sink.to(ANNA)
    assert "niet naar de anderen gestuurd" in stopped.text
    [note] = sink.to(MEDIATOR)  # the mediator writes English
    assert note.message["Subject"] == f"[{opened.ref}] Not sent: message 1 from Anna Jansen"
    assert 'answered "stop"' in note.text and "Bram is een leugenaar." in note.text
    [message] = messages(service)  # "stop" itself is no message
    assert (message.status, message.release_at) == ("withdrawn", None)

    sink.delivered.clear()
    await sweep_at(service, datetime.now(UTC) + timedelta(hours=2))
    assert sink.delivered == []
    await reply(service, MEDIATOR, address[MEDIATOR], "#approve 1")
    [answer] = sink.to(MEDIATOR)
    assert "message 1 was already withdrawn by its author" in answer.text
    assert sink.to(BRAM) == []


async def test_a_new_version_replaces_it_and_is_checked_afresh(service, sink):
    opened, address = await open_cooling_case(service)
    await reply(service, ANNA, address[ANNA], HEATED)
    sink.delivered.clear()
    await reply(service, ANNA, address[ANNA], "YOU NEVER LISTEN, Bram. Ever.")  # heated again
    first, second = messages(service)
    assert (first.status, first.release_at) == ("superseded", None)
    assert second.status == "held" and second.release_at is not None
    [told] = sink.to(ANNA)
    assert "- capital letters, which can read as shouting" in told.text
    [review] = sink.to(MEDIATOR)
    assert "new version of message 1 while it waited to go out" in review.text

    sink.delivered.clear()
    # on her private line, answering the mail about message 2; calm: open mode sends it at once
    await reply(service, ANNA, told.message["Reply-To"], CALM,
                in_reply_to=told.message["Message-ID"])
    assert [c.text.startswith(CALM) for c in sink.to(BRAM) + sink.to(CEES)] == [True, True]
    [copy] = sink.to(MEDIATOR)
    assert "This new version replaces message 2" in copy.text
    assert [m.status for m in messages(service)] == ["superseded", "superseded", "released"]
    sink.delivered.clear()
    await sweep_at(service, datetime.now(UTC) + timedelta(hours=2))
    assert sink.delivered == []


async def test_the_release_survives_a_restart(service, sink):
    opened, address = await open_cooling_case(service, cooling_off="delay 45")
    await reply(service, ANNA, address[ANNA], HEATED)
    [message] = messages(service)
    await service.stop()
    sink.delivered.clear()
    again = Service.build(service.settings, dkim_dns=DKIM_KEY.dns)
    await again.start()
    try:
        await sweep_at(again, aware(message.release_at) + timedelta(seconds=1))
        assert [c.text.startswith(HEATED) for c in sink.to(BRAM) + sink.to(CEES)] == [True, True]
    finally:
        await again.stop()
        again.engine.dispose()


async def test_a_paused_case_holds_a_due_release_until_resume(service, sink):
    opened, address = await open_cooling_case(service)
    await reply(service, ANNA, address[ANNA], HEATED)
    await reply(service, MEDIATOR, address[MEDIATOR], "#pause")
    [message] = messages(service)
    sink.delivered.clear()
    await sweep_at(service, aware(message.release_at) + timedelta(minutes=5))
    assert sink.to(BRAM) == [] and messages(service)[0].status == "held"
    with time_machine.travel(aware(message.release_at) + timedelta(minutes=6)):
        await reply(service, MEDIATOR, address[MEDIATOR], "#resume")  # due: it goes now
    relayed = [c.text for c in sink.to(BRAM)]
    assert any(t.startswith(HEATED) for t in relayed)
    assert messages(service)[0].status == "released"


async def test_heated_words_written_during_a_pause_wait_from_the_resume(service, sink):
    opened, address = await open_cooling_case(service)
    await reply(service, MEDIATOR, address[MEDIATOR], "#pause")
    await reply(service, ANNA, address[ANNA], HEATED)
    sink.delivered.clear()
    resumed = datetime.now(UTC)
    await reply(service, MEDIATOR, address[MEDIATOR], "#resume")
    [message] = messages(service)
    assert message.hold_reason == "heated"
    assert aware(message.release_at) - resumed >= timedelta(minutes=30)
    told = [d for d in sink.to(ANNA) if "words that can hurt" in d.text]
    assert len(told) == 1 and "unless I decide otherwise before then" in told[0].text
    assert sink.to(BRAM) and not any(HEATED in d.text for d in sink.to(BRAM))


async def test_resume_before_the_time_leaves_the_wait_as_it_was(service, sink):
    opened, address = await open_cooling_case(service)
    await reply(service, ANNA, address[ANNA], HEATED)
    await reply(service, MEDIATOR, address[MEDIATOR], "#pause")
    await reply(service, MEDIATOR, address[MEDIATOR], "#resume")
    [message] = messages(service)
    sink.delivered.clear()
    await sweep_at(service, aware(message.release_at) - timedelta(seconds=1))
    assert sink.to(BRAM) == []
    await sweep_at(service, aware(message.release_at))
    assert [c.text.startswith(HEATED) for c in sink.to(BRAM)] == [True]


async def test_the_mediator_can_hold_it_and_the_author_hears_it_waits(service, sink):
    opened, address = await open_cooling_case(service)
    await reply(service, ANNA, address[ANNA], HEATED)
    [message] = messages(service)
    at = when(aware(message.release_at), "en", ZONE)
    sink.delivered.clear()
    await reply(service, MEDIATOR, address[MEDIATOR], "#status")
    [status] = sink.to(MEDIATOR)
    assert f"(heated: goes out by itself {at} unless you decide first" in status.text
    sink.delivered.clear()
    await reply(service, MEDIATOR, address[MEDIATOR], "#hold 1")
    [answer] = sink.to(MEDIATOR)
    assert "Message 1 no longer goes out by itself" in answer.text
    [told] = sink.to(ANNA)
    assert f"will not go out by itself {at} after all" in told.text
    sink.delivered.clear()
    await sweep_at(service, datetime.now(UTC) + timedelta(hours=2))
    assert sink.delivered == []
    await reply(service, MEDIATOR, address[MEDIATOR], "#hold 1")
    [answer] = sink.to(MEDIATOR)
    assert "message 1 is not waiting to go out by itself" in answer.text
    sink.delivered.clear()
    await reply(service, MEDIATOR, address[MEDIATOR], "#approve 1")
    assert [c.text.startswith(HEATED) for c in sink.to(BRAM) + sink.to(CEES)] == [True, True]


async def test_a_threat_is_never_delayed(service, sink):
    opened, address = await open_cooling_case(service)
    await reply(service, ANNA, address[ANNA], THREAT)
    [message] = messages(service)
    assert (message.hold_reason, message.release_at) == ("threatening", None)
    sink.delivered.clear()
    await sweep_at(service, datetime.now(UTC) + timedelta(days=1))
    assert sink.to(BRAM) == [] and sink.to(CEES) == []


async def test_the_mediator_sets_it_by_mail_in_either_language(service, sink):
    opened, address = await open_cooling_case(service, cooling_off=None)
    await reply(service, ANNA, address[ANNA], HEATED)  # hold: waits for the mediator
    assert messages(service)[0].release_at is None
    sink.delivered.clear()
    await reply(service, MEDIATOR, address[MEDIATOR], "#afkoelen 20")
    [answer] = sink.to(MEDIATOR)  # the mediator's language is English
    assert "goes out by itself 20 minutes after it arrived" in answer.text
    with Session(service.engine) as session:
        assert session.exec(select(Case)).one().cooling_off_minutes == 20
    sink.delivered.clear()
    await reply(service, MEDIATOR, address[MEDIATOR], "#cooling-off hold")
    [answer] = sink.to(MEDIATOR)
    assert "a heated message in open mode waits for you" in answer.text
    sink.delivered.clear()
    await reply(service, MEDIATOR, address[MEDIATOR], "#cooling-off soon")
    [answer] = sink.to(MEDIATOR)
    assert "say '#cooling-off hold'" in answer.text
    with Session(service.engine) as session:
        assert session.exec(select(Case)).one().cooling_off_minutes is None


def test_the_setting_reads_hold_or_minutes_in_both_languages() -> None:
    assert cooling.parse_setting("hold") is None
    assert cooling.parse_setting("Vasthouden") is None
    assert cooling.parse_setting("delay 30") == 30
    assert cooling.parse_setting("uitstel 45 minuten") == 45
    assert cooling.parse_setting("15m") == 15
    for wrong in ("", "later", "delay", "0", "delay 5000"):
        with pytest.raises(ValueError):
            cooling.parse_setting(wrong)
    assert cooling.says_stop("Stop.\n\n> quoted") and cooling.says_stop("stoppen")
    assert not cooling.says_stop("Stop blaming me for everything")


async def test_a_case_opened_by_mail_keeps_its_cooling_off_line(service, sink):
    body = f"Anna Jansen <{ANNA}>\nBram de Boer <{BRAM}>\nmoderation: open\nafkoelen: 45\n"
    raw = compose(MEDIATOR, f"open@{DOMAIN}", body, subject="Sharing the house")
    await smtp_send(service.smtp_port, MEDIATOR, [f"open@{DOMAIN}"], raw)
    await service.settle()
    with Session(service.engine) as session:
        case = session.exec(select(Case)).one()
        assert (case.moderation, case.cooling_off_minutes) == ("open", 45)


def test_opening_by_mail_and_on_the_command_line_take_the_setting(settings) -> None:
    request = read_request("Sharing the house", "afkoelen: 30\nAnna <anna@home.test>")
    assert request.cooling_off == 30 and not request.problems
    request = read_request("Sharing the house", "cooling-off: sometime\nAnna <anna@home.test>")
    assert request.problems[0]["key"] == "open-bad-option"
    with pytest.raises(CaseError, match="--cooling-off"):
        casework.open_case(settings, title="T", mediator_email=MEDIATOR,
                           parties=["Anna <anna@home.test>", "Bram <bram@work.test>"],
                           cooling_off="delay never")


def test_case_open_on_the_command_line_keeps_the_setting(tmp_path) -> None:
    base = cli_case(tmp_path)
    parties = ["--party", "Anna <anna@home.test>", "--party", "Bram <bram@home.test>"]
    ok = subprocess.run(base + ["open", "--title", "House", "--mediator", "m@office.test",
                                "--moderation", "open", "--cooling-off", "delay", "30", *parties],
                        capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0, ok.stderr
    shown = subprocess.run(base + ["show", ok.stdout.split()[1]], capture_output=True,
                           text=True, timeout=60)
    assert "cooling-off: delay 30 min" in shown.stdout
    bad = subprocess.run(base + ["open", "--title", "House", "--mediator", "m@office.test",
                                 "--cooling-off", "soon", *parties],
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 1 and "--cooling-off: say 'hold' or 'delay N'" in bad.stderr


def test_a_time_that_is_not_today_says_its_day() -> None:
    now = datetime(2026, 12, 4, 20, 0, tzinfo=UTC)  # 5 December, 05:00 in Tokyo
    assert when(now + timedelta(minutes=30), "en", ZONE, now) == "at 05:30"
    assert when(now + timedelta(minutes=30), "nl", ZONE, now) == "om 05:30"
    assert when(now + timedelta(hours=20), "en", ZONE, now) == "on 6 December 2026 at 01:00"
    assert when(now + timedelta(hours=20), "nl", ZONE, now) == "op 6 december 2026 om 01:00"
