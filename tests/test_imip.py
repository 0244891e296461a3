"""#video mail read the way mail clients read it, over real SMTP: every check names the client
(or the RFC) that needs it. RFC 5545 (iCalendar), RFC 5546 (iTIP: METHOD, ORGANIZER, ATTENDEE,
SEQUENCE), RFC 6047 (iMIP: the text/calendar part and its method parameter), and what Outlook
(MS-OXCMAIL; MS-STANDARDS V0341-V0343), Gmail, Apple Calendar and Thunderbird look for."""

from __future__ import annotations

from email import message_from_bytes
from email.message import Message
from email.utils import parseaddr

import icalendar
from conftest import MEDIATOR
from test_mediator_mail import private_line
from test_video import service  # noqa: F401 (the fixture: [video] configured)
from test_walking_skeleton import ANNA, BRAM, CEES, open_case, reply

WHEN = "#video 2031-03-14 15:30 60"


def calendar_mail(sink, person: str) -> Message:
    [delivered] = [d for d in sink.to(person) if b"text/calendar" in d.raw]
    return message_from_bytes(delivered.raw)


def parts(mail: Message) -> tuple[Message, Message, Message]:
    """The alternative, its calendar part and the attached file, checking the shape."""
    # Outlook only looks for iMIP in the first child of a multipart/mixed (V0343), and reads
    # text/plain before it as the body (MS-OXCMAIL 2.1.3.1.5): mixed > alternative first.
    assert mail.get_content_type() == "multipart/mixed"
    alternative, attached = mail.get_payload()
    assert alternative.get_content_type() == "multipart/alternative"
    # Gmail and Apple Mail show the last alternative they understand; the calendar is last,
    # after the plain and the HTML letter (Gmail's own invitations have this order).
    assert [p.get_content_type() for p in alternative.get_payload()] == [
        "text/plain", "text/html", "text/calendar"]
    return alternative, alternative.get_payload()[2], attached


def read_calendar(part: Message) -> tuple[bytes, icalendar.Calendar]:
    raw = part.get_payload(decode=True)
    return raw, icalendar.Calendar.from_ical(raw)


async def test_an_invitation_has_the_shape_and_fields_every_client_needs(service, sink):  # noqa: F811
    opened, address = await open_case(service)
    sink.delivered.clear()
    await reply(service, MEDIATOR, address[MEDIATOR], WHEN)
    for person in (ANNA, BRAM, CEES, MEDIATOR):
        mail = calendar_mail(sink, person)
        alternative, part, attached = parts(mail)
        raw, cal = read_calendar(part)
        # RFC 6047 2.4, Outlook V0342: the method parameter equals the calendar's METHOD
        assert part.get_param("method") == "REQUEST" == cal["METHOD"]
        # Thunderbird: a charset, and no Content-Disposition (inline shows it as a file)
        assert part.get_content_charset() == "utf-8"
        assert part["Content-Disposition"] is None
        # RFC 5545 3.1: CRLF line ends, lines folded at 75 octets (base64 keeps them exact)
        assert part["Content-Transfer-Encoding"] == "base64"
        assert raw.endswith(b"\r\n") and b"\n" not in raw.replace(b"\r\n", b"")
        assert max(len(line) for line in raw.split(b"\r\n")) <= 75
        # Gmail, Yahoo and Thunderbird add the same object as a file; Apple Mail uses it
        assert attached.get_content_type() == "application/ics"
        assert attached.get_filename() == "invite.ics"
        assert attached.get_payload(decode=True) == raw
        # Gmail: an HTML alternative with the same letter and the room link clickable
        html = alternative.get_payload()[1].get_payload(decode=True).decode()
        [event] = cal.walk("VEVENT")
        url = str(event["URL"])
        assert f'<a href="{url}">' in html
        # RFC 5546 3.2.2 (REQUEST): the required properties
        for name in ("UID", "DTSTAMP", "DTSTART", "DTEND", "SUMMARY", "ORGANIZER", "ATTENDEE",
                     "SEQUENCE"):
            assert name in event, name
        assert cal["VERSION"] == "2.0" and "PRODID" in cal
        assert event.decoded("DTSTAMP").utcoffset().total_seconds() == 0  # UTC (RFC 5545)
        # Apple Calendar and Outlook: a VTIMEZONE for the TZID the times use
        tzid = event["DTSTART"].params["TZID"]
        assert [str(z["TZID"]) for z in cal.walk("VTIMEZONE")] == [tzid] == ["Europe/Amsterdam"]
        # Gmail and Thunderbird offer Yes/No/Maybe only to the address the mail reached:
        # the recipient's own address is the only ATTENDEE, waiting for an answer
        attendee = event["ATTENDEE"]
        assert not isinstance(attendee, list)
        assert str(attendee) == f"mailto:{person}"
        assert attendee.params["PARTSTAT"] == "NEEDS-ACTION"
        assert attendee.params["RSVP"] == "TRUE"
        # Gmail and Outlook: the organizer is who sent it (no "on behalf of", no warning);
        # for a party that is their private line to the mediator, so an RSVP reaches the
        # mediator alone; the mediator organises their own session.
        organizer = str(event["ORGANIZER"]).removeprefix("mailto:")
        sender = parseaddr(mail["From"])[1]
        if person == MEDIATOR:
            assert organizer == MEDIATOR
        else:
            assert organizer == sender == private_line(service, person)
        assert event["ORGANIZER"].params["CN"] == "Maria de Vries"
    # the name that is not ASCII arrives intact (charset=utf-8)
    [event] = read_calendar(parts(calendar_mail(sink, CEES))[1])[1].walk("VEVENT")
    assert event["ATTENDEE"].params["CN"] == "Cees Ünal"


async def test_a_cancellation_removes_the_same_event_in_every_client(service, sink):  # noqa: F811
    opened, address = await open_case(service)
    await reply(service, MEDIATOR, address[MEDIATOR], WHEN)
    invited = {}
    for person in (ANNA, BRAM, CEES, MEDIATOR):
        [event] = read_calendar(parts(calendar_mail(sink, person))[1])[1].walk("VEVENT")
        invited[person] = event
    sink.delivered.clear()
    await reply(service, MEDIATOR, address[MEDIATOR], "#video cancel")
    for person, before in invited.items():
        part = parts(calendar_mail(sink, person))[1]
        raw, cal = read_calendar(part)
        [event] = cal.walk("VEVENT")
        # RFC 6047 2.4 / Outlook V0342: CANCEL in both places
        assert part.get_param("method") == "CANCEL" == cal["METHOD"]
        # RFC 5546 3.2.5, every client: the same UID, a higher SEQUENCE, STATUS:CANCELLED
        assert str(event["UID"]) == str(before["UID"])
        assert event["SEQUENCE"] > before["SEQUENCE"]
        assert event["STATUS"] == "CANCELLED"
        assert event.decoded("DTSTART") == before.decoded("DTSTART")
        assert str(event["ORGANIZER"]) == str(before["ORGANIZER"])
        assert str(event["ATTENDEE"]) == f"mailto:{person}"
        assert event["ATTENDEE"].params["RSVP"] == "FALSE"  # nothing to answer
        assert not event.walk("VALARM")  # no reminders for what will not happen


async def test_an_rsvp_reaches_the_mediator_alone_even_in_open_mode(service, sink):  # noqa: F811
    opened, address = await open_case(service, moderation="open")
    await reply(service, MEDIATOR, address[MEDIATOR], WHEN)
    [event] = read_calendar(parts(calendar_mail(sink, ANNA))[1])[1].walk("VEVENT")
    organizer = str(event["ORGANIZER"]).removeprefix("mailto:")
    sink.delivered.clear()
    # what a client sends when Anna presses "Yes": a mail to the ORGANIZER
    await reply(service, ANNA, organizer, "Anna Jansen has accepted this invitation.")
    assert sink.to(BRAM) == [] and sink.to(CEES) == []
    [private] = sink.to(MEDIATOR)
    assert "Anna Jansen has accepted this invitation." in private.text
    assert "in confidence" in private.text
