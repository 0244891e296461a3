"""A calendar reply: the answer a mail client sends when a party accepts or declines the
``#video`` invitation (iTIP, RFC 5546 ``METHOD:REPLY``, carried as in RFC 6047).

Outlook, Gmail, Apple Calendar and Thunderbird send it to the invitation's ORGANIZER, which is
the party's private line to the mediator, often with no text of its own ("Accepted: Video
session"). It is an answer to the mediator, never words for the other parties, and an empty
body must not earn the party a "your mail had no text" reply.
"""

from __future__ import annotations

import icalendar

from mailgate.classify.verdict import ClassifyContext, Verdict
from mailgate.parse import ParsedMail

_MAX_PARTS = 50  # a calendar reply is small; a mail of thousands of parts is not one
_MAX_SIZE = 64 * 1024
_ANSWERS = {"ACCEPTED": "accepted", "DECLINED": "declined", "TENTATIVE": "tentative"}


def check(mail: ParsedMail, raw: bytes, ctx: ClassifyContext) -> Verdict | None:
    for number, part in enumerate(mail.headers.walk()):
        if number >= _MAX_PARTS:
            return None
        if part.get_content_type() != "text/calendar":
            continue
        payload = part.get_payload(decode=True)
        if not payload or len(payload) > _MAX_SIZE:
            continue
        answer = _answer(payload)
        if answer is not None:
            return Verdict("calendar-reply",
                           f"a calendar reply to an invitation: {answer[0]}", rsvp=answer)
    return None


def _answer(payload: bytes) -> tuple[str, str] | None:
    """The first attendee's answer and the event's UID, when this is an iTIP REPLY."""
    try:
        calendar = icalendar.Calendar.from_ical(payload)
    except (ValueError, IndexError, KeyError):
        return None
    if str(calendar.get("METHOD", "")).upper() != "REPLY":
        return None
    for event in calendar.walk("VEVENT"):
        attendees = event.get("ATTENDEE")
        attendee = attendees[0] if isinstance(attendees, list) and attendees else attendees
        if attendee is None:
            continue
        status = str(getattr(attendee, "params", {}).get("PARTSTAT", "")).upper()
        if status in _ANSWERS:
            return _ANSWERS[status], str(event.get("UID", ""))
    return None
