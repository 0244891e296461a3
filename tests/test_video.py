"""#video over real SMTP: each invited person gets their own calendar invitation for one shared
room, parsed back with icalendar; #video cancel withdraws it for the same people."""

from __future__ import annotations

import email.policy
from datetime import timedelta
from email import message_from_bytes
from email.message import EmailMessage

import icalendar
import pytest
from conftest import MEDIATOR, make_settings
from support import DKIM_KEY, smtp_send
from test_mediator_mail import private_line
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
    assert mail.get_content_type() == "multipart/mixed"  # the shape: tests/test_imip.py
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
        organizer = MEDIATOR if person == MEDIATOR else private_line(service, person)
        assert str(event["ORGANIZER"]) == f"mailto:{organizer}"
        others = {ANNA, BRAM, CEES} - {person}
        assert not any(other in cal.to_ical().decode() + mail.text for other in others)
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


def calendar_answer(invited: icalendar.Calendar, partstat: str, attendee: str) -> bytes:
    """The RSVP a mail client sends when its user presses Accept or Decline: an iTIP REPLY to
    the ORGANIZER, often with no words of its own (RFC 5546 section 3.2.3, RFC 6047)."""
    [event] = invited.walk("VEVENT")
    reply_cal = icalendar.Calendar()
    reply_cal.add("prodid", "-//A calendar client//EN")
    reply_cal.add("version", "2.0")
    reply_cal.add("method", "REPLY")
    answer = icalendar.Event()
    for key in ("UID", "SEQUENCE", "DTSTART", "DTEND", "SUMMARY", "ORGANIZER"):
        answer[key] = event[key]
    who = icalendar.vCalAddress(f"mailto:{attendee}")
    who.params["PARTSTAT"] = partstat
    answer.add("attendee", who)
    reply_cal.add_component(answer)
    mail = EmailMessage()
    mail["From"] = attendee
    mail["To"] = str(event["ORGANIZER"]).removeprefix("mailto:")
    mail["Subject"] = f"{partstat.title()}: {event['SUMMARY']}"
    mail.set_content("")
    mail.add_alternative(reply_cal.to_ical().decode(), subtype="calendar",
                         params={"method": "REPLY"})
    return mail.as_bytes(policy=email.policy.SMTP)


@pytest.mark.parametrize(("partstat", "said"), [
    ("ACCEPTED", "Anna Jansen accepted your invitation to the video session"),
    ("DECLINED", "Anna Jansen declined your invitation to the video session"),
])
async def test_a_partys_calendar_answer_reaches_the_mediator_alone_as_one_line(
        service, sink, partstat, said):
    opened, address = await open_case(service)
    await reply(service, MEDIATOR, address[MEDIATOR], "#video 2031-03-14 15:30 Anna")
    [mail] = [d for d in sink.to(ANNA) if "text/calendar" in d.raw.decode()]
    _, invited = invitation(mail)
    sink.delivered.clear()
    raw = calendar_answer(invited, partstat, ANNA)
    await smtp_send(service.smtp_port, ANNA, [private_line(service, ANNA)], raw)
    await service.settle()
    [told] = sink.to(MEDIATOR)
    assert said in told.text
    assert ("#video <date> <time> Anna Jansen" in told.text) == (partstat == "DECLINED")
    assert sink.to(ANNA) == []  # no "your mail was empty" for pressing a button
    assert sink.to(BRAM) == [] and sink.to(CEES) == []
