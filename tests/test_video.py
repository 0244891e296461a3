"""#video over real SMTP: each invited person gets their own calendar invitation for one shared
room, parsed back with icalendar; #video cancel withdraws it for the same people."""

from __future__ import annotations

from datetime import timedelta
from email import message_from_bytes

import icalendar
import pytest
from conftest import MEDIATOR, make_settings
from support import DKIM_KEY
from test_walking_skeleton import ANNA, BRAM, CEES, open_case, reply

from mediate.service import Service

TEMPLATE = "https://meet.example.org/{room}"


@pytest.fixture
async def service(tmp_path, database_url, sink):
    settings = make_settings(
        tmp_path, database_url, video={"url_template": TEMPLATE},
        outbound={"transport": "smtp", "host": "127.0.0.1", "port": sink.port},
    )
    running = Service.build(settings, dkim_dns=DKIM_KEY.dns)  # the mediator's mail is signed
    await running.start()
    yield running
    await running.stop()
    running.engine.dispose()


def invitation(delivered) -> tuple[str, icalendar.Calendar]:
    """The calendar part of a delivered mail, and the method its Content-Type names."""
    mail = message_from_bytes(delivered.raw)
    assert mail.get_content_type() == "multipart/alternative"
    [part] = [p for p in mail.walk() if p.get_content_type() == "text/calendar"]
    return part.get_param("method"), icalendar.Calendar.from_ical(part.get_payload(decode=True))


async def test_each_person_gets_a_personal_invitation_to_the_same_room(service, sink):
    opened, address = await open_case(service)
    sink.delivered.clear()
    await reply(service, MEDIATOR, address[MEDIATOR], "#video 2031-03-14 15:30 90 Anna Bram")
    [answer] = [d for d in sink.to(MEDIATOR) if "text/calendar" not in d.raw.decode()]
    assert "Video session on 2031-03-14 15:30" in answer.text
    assert sink.to(CEES) == []  # only the named parties, and the mediator
    rooms = set()
    for person in (ANNA, BRAM, MEDIATOR):
        [mail] = [d for d in sink.to(person) if "text/calendar" in d.raw.decode()]
        method, cal = invitation(mail)
        assert method == "REQUEST" and cal["METHOD"] == "REQUEST"
        [event] = cal.walk("VEVENT")
        attendees = event.get("ATTENDEE")
        attendees = attendees if isinstance(attendees, list) else [attendees]
        assert [str(a) for a in attendees] == [f"mailto:{person}"]
        assert str(event["ORGANIZER"]) == f"mailto:{MEDIATOR}"
        others = {ANNA, BRAM, CEES} - {person}
        assert not any(other in mail.raw.decode() for other in others)
        start, end = event.decoded("DTSTART"), event.decoded("DTEND")
        assert (start.strftime("%Y-%m-%d %H:%M"), str(start.tzinfo)) == (
            "2031-03-14 15:30", "Europe/Amsterdam")
        assert end - start == timedelta(minutes=90)
        assert cal.walk("VTIMEZONE"), "clients need the time zone to place the time"
        triggers = sorted(a.decoded("TRIGGER") for a in event.walk("VALARM"))
        assert triggers == [timedelta(hours=-24), timedelta(hours=-1)]
        url = str(event["LOCATION"])
        assert url.startswith("https://meet.example.org/mediate-") and url in mail.text
        rooms.add((url, str(event["UID"])))
    [(url, uid)] = rooms  # one room and one event for everyone
    assert len(url.rsplit("-", 1)[1]) >= 16  # unguessable

    sink.delivered.clear()
    await reply(service, MEDIATOR, address[MEDIATOR], "#video cancel")
    for person in (ANNA, BRAM, MEDIATOR):
        [mail] = [d for d in sink.to(person) if "text/calendar" in d.raw.decode()]
        method, cal = invitation(mail)
        [event] = cal.walk("VEVENT")
        assert method == "CANCEL" and str(event["UID"]) == uid
        assert event["SEQUENCE"] == 1 and event["STATUS"] == "CANCELLED"
    assert sink.to(CEES) == []


async def test_video_needs_a_date_and_time_to_come(service, sink):
    opened, address = await open_case(service)
    sink.delivered.clear()
    await reply(service, MEDIATOR, address[MEDIATOR], "#video 2020-01-01 10:00")
    [answer] = sink.to(MEDIATOR)
    assert "with a date and time still to come" in answer.text
    assert sink.to(ANNA) == []
    sink.delivered.clear()
    await reply(service, MEDIATOR, address[MEDIATOR], "#video cancel")
    [answer] = sink.to(MEDIATOR)
    assert "no video session is planned" in answer.text
