"""Night hold end to end over real loopback SMTP, on time-machine's clock: in open mode a party's
words written in the others' quiet hours wait in the outbox until the morning (through a
restart), the author is told so truthfully, the mediator hears at once and may still withdraw
or reword it, and #pause takes the waiting copies back until #resume."""

from __future__ import annotations

from datetime import UTC, timedelta
from email.utils import parsedate_to_datetime

import pytest
import time_machine
from conftest import MEDIATOR, make_settings
from reminder_world import local
from sqlmodel import Session, select
from support import DKIM_KEY
from test_walking_skeleton import ANNA, BRAM, CEES, open_case, reply

from mediate import casework
from mediate.health import backlog
from mediate.service import Service
from threads.models import Message, OutgoingMail

CALM = "Agreed, the sofa goes to Anna. I can collect it on Saturday."
LATE = local(2026, 3, 2, 23, 30)  # a Monday night in Amsterdam (quiet hours 21:00-08:00)
MORNING = local(2026, 3, 3, 8, 0)


def settings_for(tmp_path, database_url, sink, **relay):
    return make_settings(
        tmp_path, database_url, relay={"night_hold": True, **relay},
        outbound={"transport": "smtp", "host": "127.0.0.1", "port": sink.port},
    )


async def start(settings) -> Service:
    running = Service.build(settings, dkim_dns=DKIM_KEY.dns)  # the mediator's mail is signed
    await running.start()
    return running


async def stop(running: Service) -> None:
    await running.stop()
    running.engine.dispose()


@pytest.fixture
def clock():
    with time_machine.travel(LATE, tick=False) as traveller:
        yield traveller


@pytest.fixture
async def service(tmp_path, database_url, sink, clock):
    running = await start(settings_for(tmp_path, database_url, sink))
    yield running
    await stop(running)


async def test_a_message_written_at_night_reaches_the_others_in_the_morning_after_a_restart(
        tmp_path, database_url, sink, clock):
    settings = settings_for(tmp_path, database_url, sink)
    service = await start(settings)
    opened, address = await open_case(service, moderation="open")
    sink.delivered.clear()
    await reply(service, BRAM, address[BRAM], CALM)
    assert sink.to(ANNA) == [] and sink.to(CEES) == []  # asleep: nothing reaches them
    [copy] = sink.to(MEDIATOR)  # the mediator's copy is never held
    assert "It is night for the others: it goes to all parties at 08:00." in copy.text
    assert "#reject 1 <reason>" in copy.text
    [receipt] = sink.to(BRAM)
    assert "reaches them in the morning, at 08:00" in receipt.text
    assert "passed on" not in receipt.text and "delivered" not in receipt.text
    with Session(service.engine) as session:  # waiting in the database, not in memory
        waiting = session.exec(select(OutgoingMail).where(OutgoingMail.kind == "relay")).all()
        assert len(waiting) == 2
        assert {w.next_attempt_at.replace(tzinfo=UTC) for w in waiting} == {MORNING}
        # the retry window (outbound.max_retry_hours) starts in the morning, not at night
        assert {w.created_at.replace(tzinfo=UTC) for w in waiting} == {MORNING}
        clock.move_to(LATE + timedelta(hours=2))
        outbox = backlog(session)["outbox"]  # /healthz: waiting is not being late
        assert outbox["waiting_for_morning"] == 2 and outbox["oldest_pending_seconds"] is None
    await stop(service)

    service = await start(settings)  # a restart in the night loses nothing
    clock.move_to(MORNING - timedelta(minutes=1))
    await service.settle()
    assert sink.to(ANNA) == [] and sink.to(CEES) == []
    clock.move_to(MORNING)
    await service.settle()
    for party in (ANNA, CEES):
        [relayed] = sink.to(party)
        assert relayed.text.startswith(CALM)
        assert parsedate_to_datetime(relayed.message["Date"]) == MORNING  # dated when sent
    await stop(service)


async def test_by_day_and_when_turned_off_open_mode_relays_at_once(
        tmp_path, database_url, sink, clock):
    clock.move_to(local(2026, 3, 3, 10, 0))
    service = await start(settings_for(tmp_path, database_url, sink))
    opened, address = await open_case(service, moderation="open")
    sink.delivered.clear()
    await reply(service, BRAM, address[BRAM], CALM)
    assert len(sink.to(ANNA)) == 1 and len(sink.to(CEES)) == 1 and sink.to(BRAM) == []
    await stop(service)

    clock.move_to(LATE)
    service = await start(settings_for(tmp_path / "off", database_url.replace(
        "mediate.sqlite3", "off.sqlite3"), sink, night_hold=False))
    opened, address = await open_case(service, moderation="open")
    sink.delivered.clear()
    await reply(service, BRAM, address[BRAM], CALM)
    assert len(sink.to(ANNA)) == 1 and len(sink.to(CEES)) == 1
    await stop(service)


async def test_the_mediator_can_withdraw_a_waiting_message_before_the_morning(
        service, sink, clock):
    opened, address = await open_case(service, moderation="open")
    await reply(service, BRAM, address[BRAM], CALM)
    sink.delivered.clear()
    await reply(service, MEDIATOR, address[MEDIATOR],
                "#reject 1 let us talk about the collection date first")
    [answer] = sink.to(MEDIATOR)
    assert "Message 1 was withdrawn before the morning: nobody else receives it." in answer.text
    [returned] = sink.to(BRAM)
    assert "let us talk about the collection date first" in returned.text
    clock.move_to(MORNING + timedelta(hours=1))
    await service.settle()
    assert sink.to(ANNA) == [] and sink.to(CEES) == []
    with Session(service.engine) as session:
        assert session.exec(select(Message)).one().status == "rejected"


async def test_status_lists_what_waits_for_the_morning_until_it_has_gone(service, sink, clock):
    opened, address = await open_case(service, moderation="open")
    await reply(service, BRAM, address[BRAM], CALM)
    sink.delivered.clear()
    await reply(service, MEDIATOR, address[MEDIATOR], "#status")
    [status] = sink.to(MEDIATOR)
    assert "reaching the others in the morning" in status.text
    assert "- message 1 from Bram de Boer: goes out at 08:00" in status.text
    clock.move_to(MORNING + timedelta(minutes=5))
    await service.settle()
    sink.delivered.clear()
    await reply(service, MEDIATOR, address[MEDIATOR], "#status")
    [status] = sink.to(MEDIATOR)
    assert "in the morning" not in status.text


async def test_the_mediators_wording_goes_out_in_the_morning_instead(service, sink, clock):
    opened, address = await open_case(service, moderation="open")
    await reply(service, BRAM, address[BRAM], CALM)
    sink.delivered.clear()
    await reply(service, MEDIATOR, address[MEDIATOR], "#approve 1")
    [answer] = sink.to(MEDIATOR)  # nothing to approve: it already goes out
    assert "message 1 already goes to the others in the morning" in answer.text
    sink.delivered.clear()
    await reply(service, MEDIATOR, address[MEDIATOR],
                "#approve 1\nThe sofa goes to Anna; Bram collects it on Saturday.")
    [answer] = sink.to(MEDIATOR)
    assert "goes to the others at 08:00 instead of the original" in answer.text
    [told] = sink.to(BRAM)
    assert "goes to the other participants at 08:00, in a version I adjusted" in told.text
    assert sink.to(ANNA) == [] and sink.to(CEES) == []
    clock.move_to(MORNING)
    await service.settle()
    for party in (ANNA, CEES):
        [relayed] = sink.to(party)  # one copy: the original was taken back
        assert relayed.text.startswith("The sofa goes to Anna; Bram collects it on Saturday.")


async def test_pause_takes_waiting_copies_back_until_resume(service, sink, clock):
    opened, address = await open_case(service, moderation="open")
    await reply(service, BRAM, address[BRAM], CALM)
    sink.delivered.clear()
    await reply(service, MEDIATOR, address[MEDIATOR], "#pause")
    [answer] = [m for m in sink.to(MEDIATOR) if "paused" in m.text]
    assert "1 message waiting for the morning now waits for #resume instead." in answer.text
    clock.move_to(MORNING + timedelta(hours=2))
    await service.settle()
    assert [m for m in sink.to(ANNA) if CALM in m.text] == []  # paused: nothing passed on
    sink.delivered.clear()
    await reply(service, MEDIATOR, address[MEDIATOR], "#resume")
    for party in (ANNA, CEES):  # resumed by day: relayed at once
        assert [m for m in sink.to(party) if m.text.startswith(CALM)], party


async def test_resume_at_night_waits_for_the_morning_again(service, sink, clock):
    opened, address = await open_case(service, moderation="open")
    await reply(service, MEDIATOR, address[MEDIATOR], "#pause")
    await reply(service, BRAM, address[BRAM], CALM)
    sink.delivered.clear()
    await reply(service, MEDIATOR, address[MEDIATOR], "#resume")
    assert [m for m in sink.to(ANNA) if m.text.startswith(CALM)] == []
    [receipt] = [m for m in sink.to(BRAM) if "08:00" in m.text]
    assert "reaches them in the morning" in receipt.text
    clock.move_to(MORNING)
    await service.settle()
    assert [m for m in sink.to(ANNA) if m.text.startswith(CALM)]


async def test_threats_still_alert_the_mediator_at_once_at_night(service, sink):
    opened, address = await open_case(service, moderation="open")
    sink.delivered.clear()
    await reply(service, ANNA, address[ANNA],
                "I know where Bram parks his van. It would be a shame if something happened.")
    [alert] = sink.to(MEDIATOR)
    assert "SAFETY ALERT" in alert.message["Subject"]


async def test_in_dutch_the_author_and_the_mediator_hear_it_in_their_own_words(
        tmp_path, database_url, sink, clock):
    settings = settings_for(tmp_path, database_url, sink)
    settings.mediators[0].language = "nl"
    service = await start(settings)
    opened = casework.open_case(
        settings, title="Het huis delen", mediator_email=MEDIATOR, moderation="open",
        parties=["Anna Jansen <anna@home.test>", "Bram de Boer <bram@work.test>"],
        language="nl", engine=service.engine)
    await service.settle()
    bram = dict(opened.party_addresses)["Bram de Boer"]
    sink.delivered.clear()
    await reply(service, BRAM, bram, "Akkoord, de bank gaat naar Anna.")
    [receipt] = sink.to(BRAM)
    assert "komt 's ochtends bij hen aan, om 08:00, en niet eerder" in receipt.text
    [copy] = sink.to(MEDIATOR)
    assert "Voor de anderen is het nacht: het gaat om 08:00 naar alle partijen." in copy.text
    assert sink.to(ANNA) == []
    await stop(service)
