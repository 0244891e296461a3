"""Calendar invitations that mail clients show as invitations (iMIP, RFC 6047).

The shape is the one Google Calendar and Thunderbird send, which Outlook, Gmail, Apple Mail and
Thunderbird all recognise:

    multipart/mixed
      multipart/alternative
        text/plain                          the letter
        text/html                           the same letter, for clients that prefer HTML
        text/calendar; method=REQUEST       the iTIP object (RFC 5546), last: the richest
      application/ics; name=invite.ics      the same object as a file, for clients that only
                                            look at attachments (RFC 6047 section 2.4 allows it)

- The ``method`` parameter of the Content-Type must equal the calendar's METHOD (RFC 6047
  section 2.4; Outlook reads iMIP only from a text/calendar part, and only in the first child
  of a multipart/mixed, MS-OXCMAIL / MS-STANDARDS V0341-V0343).
- The calendar travels in base64: RFC 5545 lines end in CRLF and are folded at 75 octets, and
  base64 keeps those bytes exactly, whatever a relay does to line ends; ``charset=utf-8``
  because names may not be ASCII.
- No Content-Disposition on the text/calendar part: Thunderbird shows an inline-disposed
  calendar part as a plain attachment instead of an invitation.
"""

from __future__ import annotations

import html
from email.charset import BASE64, Charset
from email.mime.application import MIMEApplication
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText

_UTF8_B64 = Charset("utf-8")
_UTF8_B64.body_encoding = BASE64


def _html(text: str) -> str:
    """The plain letter as simple HTML: paragraphs kept, links clickable, nothing added."""
    paragraphs = []
    for block in text.strip().split("\n\n"):
        lines = []
        for line in block.splitlines():
            escaped = html.escape(line)
            if line.strip().startswith("https://") and " " not in line.strip():
                escaped = f'<a href="{escaped.strip()}">{escaped.strip()}</a>'
            lines.append(escaped)
        paragraphs.append("<p>" + "<br>\n".join(lines) + "</p>")
    return ("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"></head><body>\n"
            + "\n".join(paragraphs) + "\n</body></html>\n")


def invitation(text: MIMEText, body: str, ics: str, method: str) -> MIMEMultipart:
    """The letter ``text`` (whose words are ``body``) with its calendar ``ics`` (METHOD
    ``method``) as an iMIP message."""
    alternative = MIMEMultipart("alternative")
    for part in (text, MIMEText(_html(body), "html", "utf-8")):
        del part["MIME-Version"]
        alternative.attach(part)
    calendar = MIMEText(ics, "calendar", _UTF8_B64)
    calendar.set_param("method", method)
    del calendar["MIME-Version"]
    alternative.attach(calendar)
    mail = MIMEMultipart("mixed")
    mail.attach(alternative)
    attached = MIMEApplication(ics.encode(), "ics", name="invite.ics")
    attached.add_header("Content-Disposition", "attachment", filename="invite.ics")
    del attached["MIME-Version"]
    mail.attach(attached)
    return mail
