"""``#video``: moving from writing to speaking, with a calendar invitation for each person.

``#video <date> <time> [minutes] [Name ...]`` invites the named parties (default: all) and the
mediator to a video session in one room, made from ``[video] url_template`` with an unguessable
name. The room is shared, the invitation is personal: each person gets their own iCalendar
(RFC 5545) request in the iTIP way (RFC 5546, ``METHOD:REQUEST``), in which they are the only
ATTENDEE and the mediator the ORGANIZER (at the case address the copy comes from, the party's
private line: an RSVP reaches the mediator alone), so no party sees another's address. Times
are in the case's time zone (the service's), with reminders 24 hours and 1 hour before.
``#video cancel`` sends the same people a ``METHOD:CANCEL`` for the same UID with a higher
SEQUENCE, which is how Outlook, Gmail, Apple Calendar and Thunderbird remove the event. How
the mail around it is built: mailgate.imip.

What was sent is kept in the audit log ("video", "video-cancelled"), which is where cancel
finds the session it cancels.
"""

from __future__ import annotations

import re
import secrets
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import icalendar
from sqlmodel import Session

from threads import audit
from threads.cases import parties_of
from threads.commands import Command, Context, Plan, find_party, phrase
from threads.i18n import translate
from threads.models import Case, Participant, utcnow
from threads.notices import Notice

_TIME = re.compile(r"^(\d{1,2})[:.hu](\d{2})$")
_CANCEL = {"cancel", "annuleer", "annuleren", "afzeggen", "af"}
_REMINDERS = (timedelta(hours=24), timedelta(hours=1))
DEFAULT_MINUTES = 60


def _day(text: str) -> datetime | None:
    for pattern in ("%Y-%m-%d", "%d-%m-%Y", "%d/%m/%Y"):
        try:
            return datetime.strptime(text, pattern)
        except ValueError:
            continue
    return None


def calendar(case: Case, method: str, uid: str, sequence: int, start: datetime,
             minutes: int, url: str, organizer: Participant, organizer_address: str,
             attendee: Participant) -> str:
    """One person's invitation (or cancellation): they are its only attendee. The organizer
    is the mediator at ``organizer_address``, the case address the copy comes from (Gmail and
    Outlook expect the organizer to be the sender; an RSVP goes there)."""
    cal = icalendar.Calendar()
    cal.add("prodid", "-//Mediate//video session//EN")
    cal.add("version", "2.0")
    cal.add("method", method)
    event = icalendar.Event()
    event.add("uid", uid)
    event.add("sequence", sequence)
    event.add("dtstamp", utcnow())
    event.add("dtstart", start)
    event.add("dtend", start + timedelta(minutes=minutes))
    title = translate(attendee.language, "Video session")
    event.add("summary", f"{title}: {case.title} [{case.ref}]")
    event.add("location", url)
    event.add("url", url)
    event.add("description", url)
    event.add("status", "CANCELLED" if method == "CANCEL" else "CONFIRMED")
    chair = icalendar.vCalAddress(f"mailto:{organizer_address}")
    chair.params["CN"] = organizer.name
    event.add("organizer", chair)
    guest = icalendar.vCalAddress(f"mailto:{attendee.email}")
    guest.params.update({"CN": attendee.name, "ROLE": "REQ-PARTICIPANT",
                         "PARTSTAT": "NEEDS-ACTION",
                         # an answer is asked for an invitation, not for its cancellation
                         "RSVP": "TRUE" if method == "REQUEST" else "FALSE"})
    event.add("attendee", guest)
    if method == "REQUEST":
        for before in _REMINDERS:
            alarm = icalendar.Alarm()
            alarm.add("action", "DISPLAY")
            alarm.add("description", f"{title}: {case.title}")
            alarm.add("trigger", -before)
            event.add_component(alarm)
    cal.add_component(event)
    cal.add_missing_timezones()  # the VTIMEZONE clients need to place a TZID time
    return cal.to_ical().decode()


def _event(method: str, uid: str, sequence: int, start: datetime, minutes: int,
           url: str) -> dict:
    """What every copy's calendar shares; the composer adds who it is from and for
    (``calendar``), since only it knows the address each copy comes from."""
    return {"method": method, "uid": uid, "sequence": sequence, "start": start,
            "minutes": minutes, "url": url}


def _last_session(session: Session, case: Case) -> dict | None:
    current = None
    for event in audit.events_of(session, case):
        if event.kind == "video":
            current = dict(event.detail)
        elif event.kind == "video-cancelled":
            current = None
    return current


def video(session: Session, case: Case, mediator: Participant, command: Command,
          ctx: Context) -> Plan | None:
    words = command.args.split()
    if words and words[0].lower() in _CANCEL:
        return _cancel(session, case, mediator, command, ctx)
    if not ctx.video_url_template:
        ctx.errors.append(phrase("video-not-configured", line=command.line))
        return None
    zone = ZoneInfo(case.timezone or ctx.timezone)
    day = _day(words[0]) if words else None
    clock = _TIME.match(words[1]) if len(words) > 1 else None
    if day is None or clock is None or int(clock[1]) > 23 or int(clock[2]) > 59:
        ctx.errors.append(phrase("video-malformed", line=command.line))
        return None
    start = day.replace(hour=int(clock[1]), minute=int(clock[2]), tzinfo=zone)
    rest = words[2:]
    minutes = DEFAULT_MINUTES
    if rest and rest[0].isdigit():
        minutes = int(rest.pop(0))
    if not 10 <= minutes <= 480 or start <= utcnow():
        ctx.errors.append(phrase("video-malformed", line=command.line))
        return None
    people = ([find_party(session, case, name, ctx, command.line) for name in rest]
              if rest else parties_of(session, case))
    if any(p is None for p in people):
        return None

    def run():  # noqa: ANN202
        room = secrets.token_urlsafe(12).replace("_", "x").replace("-", "y").lower()
        url = ctx.video_url_template.format(room=f"mediate-{room}")
        uid = f"video-{room}@mediate"
        invited = [*people, mediator]
        notices = [
            Notice("video-invite", case, person, author=mediator, automatic=False, context={
                "calendar": _event("REQUEST", uid, 0, start, minutes, url),
                "video_url": url, "video_start": start,
                "video_minutes": minutes, "video_names": [p.name for p in people]})
            for person in invited
        ]
        audit.record(session, case, "video", actor=mediator.name, uid=uid, url=url,
                     start=start.isoformat(), minutes=minutes,
                     invited=[p.id for p in invited])
        when = start.strftime("%Y-%m-%d %H:%M")
        return notices, [phrase("video-sent", when=when, names=[p.name for p in people])]

    return run


def _cancel(session: Session, case: Case, mediator: Participant, command: Command,
            ctx: Context) -> Plan | None:
    planned = _last_session(session, case)
    if planned is None:
        ctx.errors.append(phrase("video-nothing-planned", line=command.line))
        return None

    def run():  # noqa: ANN202
        # the zone by name again (the record keeps only the offset): a TZID and its VTIMEZONE,
        # not a floating time that Outlook would read as the reader's own local time
        start = datetime.fromisoformat(planned["start"]).astimezone(
            ZoneInfo(case.timezone or ctx.timezone))
        invited = [p for p in (session.get(Participant, i) for i in planned["invited"]) if p]
        notices = [
            Notice("video-cancel", case, person, author=mediator, automatic=False, context={
                "calendar": _event("CANCEL", planned["uid"], 1, start, planned["minutes"],
                                   planned["url"]),
                "video_start": start})
            for person in invited
        ]
        audit.record(session, case, "video-cancelled", actor=mediator.name, uid=planned["uid"])
        return notices, [phrase("video-cancelled", when=start.strftime("%Y-%m-%d %H:%M"))]

    return run
