"""Stage 3: delivery reports (bounces, delay notices, success notices) and complaint reports.

In order of authority:

1. RFC 3464 delivery status notifications: `multipart/report; report-type=delivery-status`
   with a `message/delivery-status` part (RFC 6533 `message/global-delivery-status` too). Each
   per-recipient block gives Final-Recipient, Action and an RFC 3463 Status; 5.x.x is permanent,
   4.x.x temporary, Action "delayed" a delay notice, "delivered"/"relayed"/"expanded" success.
2. RFC 5965 (ARF) feedback reports: `report-type=feedback-report` or a `message/feedback-report`
   part: an abuse complaint, never a reply.
3. Classic, non-standard bounces (qmail, old Exim, Exchange 2003, Yahoo, ...) through
   flufl.bounce's detectors (Mailman's).
4. Heuristics for what is left: a null reverse-path or a mailer-daemon sender (RFC 5321 section
   4.5.5 requires bounces to use the null reverse-path), Exim's X-Failed-Recipients, and the usual
   subjects ("Undelivered Mail Returned to Sender", "Onbestelbaar", ...). Addresses and
   permanence are then read from the human-readable part.
"""

from __future__ import annotations

import re
from email.message import Message
from email.parser import HeaderParser

from flufl.bounce import all_failures

from mailgate.classify.bounce_text import (
    failed_addresses,
    is_bounce_subject,
    is_permanent,
    looks_permanent,
    ndr_wording,
    says_soft,
)
from mailgate.classify.verdict import Bounced, ClassifyContext, Verdict
from mailgate.parse import ParsedMail, decode_bytes, decode_header, raw_header

_DSN_TYPES = ("message/delivery-status", "message/global-delivery-status", "text/delivery-status")
_DAEMON = re.compile(r"(?i)^(mailer-daemon|mail-daemon|mailerdaemon|postmaster|mdaemon|ndr|"
                     r"mail\.?delivery|maildelivery|bounces?|bounce-\S*|nobody|post_master|"
                     r"\S+-(admin|owner|bounces?|request)|owner-\S+|"
                     r"mailer|microsoftexchange\S*|mail\.daemon|mx|smtp)$")
# The SMTP transcript or DSN fields of a bounce, as found in a forwarded copy.
_TRANSCRIPT = re.compile(r"(?im)^\s*(final-recipient|diagnostic-code|status)\s*:|"
                         r"permanent fatal errors|<<< ?5\d\d|said: 5\d\d|user unknown")
_DAEMON_NAME = re.compile(r"(?i)mail delivery (system|subsystem|service)|mailer[- ]daemon|"
                          r"postmaster|delivery status notification|mail administrator")


def _rfc822_fields(text: str) -> list[Message]:
    parser = HeaderParser()
    blocks = re.split(r"\n[ \t]*\n", text.replace("\r\n", "\n").strip())
    return [parser.parsestr(block.strip() + "\n") for block in blocks if block.strip()]


def _dsn_blocks(part: Message) -> list[Message]:
    payload = part.get_payload()
    if isinstance(payload, list) and all(isinstance(p, Message) for p in payload):
        if len(payload) > 1 or payload and payload[0].get("Final-Recipient") is not None:
            return payload
        raw = "\n\n".join(p.as_string() for p in payload)
        return _rfc822_fields(raw)
    data = part.get_payload(decode=True)
    text = decode_bytes(data, "utf-8") if isinstance(data, bytes) else str(payload)
    return _rfc822_fields(text)


def _address_of(value: str | None) -> str | None:
    if not value:
        return None
    value = re.sub(r"\s+", " ", str(value)[:998]).strip()
    addr = value.split(";", 1)[1] if ";" in value else value
    addr = addr.strip().strip("<>").strip()
    match = re.search(r"[^\s<>\"';,()]+@[^\s<>\"';,()]+", addr)
    return match.group(0).strip(".").lower() if match else None


def _split_recipients(blocks: list[Message]) -> list[Message]:
    """Split blocks that hold several recipients: some MTAs (AOL) omit the blank line between
    per-recipient groups, so one block carries several Final-Recipient fields."""
    out: list[Message] = []
    for block in blocks:
        if len(block.get_all("Final-Recipient") or []) < 2:
            out.append(block)
            continue
        current = Message()
        for name, value in block.items():
            if name.lower() == "final-recipient" and current.get("Final-Recipient") is not None:
                out.append(current)
                current = Message()
            current[name] = value
        out.append(current)
    return out


def _recipient_verdict(block: Message) -> Bounced | str | None:
    """A failed recipient, the address of a delivered one, or None for a per-message block."""
    # The address as our copy gave it (Original-Recipient, RFC 3464 section 2.3.1); a relay
    # may have rewritten Final-Recipient to an internal mailbox nobody of the case knows.
    addr = _address_of(block.get("Original-Recipient")) or _address_of(block.get("Final-Recipient"))
    if addr is None:
        return None
    action = str(block.get("Action") or "").strip().lower().split(" ")[0]
    status = str(block.get("Status") or "").strip().split(" ")[0] or None
    diagnostic = re.sub(r"\s+", " ", str(block.get("Diagnostic-Code") or ""))
    if action in ("delivered", "relayed", "expanded", "deliverable") or (
            status and status.startswith("2") and action not in ("failed", "undeliverable")):
        return addr
    said = diagnostic.split(";", 1)[-1].strip()  # "smtp; 550 5.1.1 ...": the server's words
    return Bounced(addr, is_permanent(status, action, diagnostic), status, said or None)


def _dsn_verdict(blocks: list[Message], where: str) -> Verdict | None:
    failed: list[Bounced] = []
    delivered: list[str] = []
    for block in _split_recipients(blocks):
        outcome = _recipient_verdict(block)
        if isinstance(outcome, Bounced):
            failed.append(outcome)
        elif isinstance(outcome, str):
            delivered.append(outcome)
    if failed:
        kinds = ", ".join(sorted({f"{b.status or '?'}" for b in failed}))
        return Verdict("bounce", f"{where} (status {kinds})", failed)
    if delivered:
        return Verdict("delivery-report", f"{where}: delivered")
    return None


def _from_dsn(mail: ParsedMail) -> Verdict | None:
    parts = [p for p in mail.headers.walk() if p.get_content_type() in _DSN_TYPES]
    blocks = [b for part in parts for b in _dsn_blocks(part)]
    verdict = _dsn_verdict(blocks, "RFC 3464 delivery status notification")
    if verdict is None and re.search(r"(?im)^\s*final-recipient\s*:", mail.text):
        # Some MTAs (Amazon WorkMail, broken Postfix setups) put the DSN fields in the text.
        text = re.sub(r"(?m)^[ \t]+(?=[\w-]+\s*:)", "", mail.text)
        verdict = _dsn_verdict(_rfc822_fields(text), "delivery status fields in the text")
    return verdict


def _is_feedback(mail: ParsedMail) -> bool:
    msg = mail.headers
    if msg.get_content_type() == "multipart/report" and \
            str(msg.get_param("report-type") or "").lower() == "feedback-report":
        return True
    for part in msg.walk():
        if part.get_content_type() == "message/feedback-report":
            return True
        # Microsoft's JMRP complaints are plain multipart/mixed with the reported message
        # attached; the attached copy carries X-HmXmrOriginalRecipient.
        if part.get("X-HmXmrOriginalRecipient") is not None and part is not msg:
            return True
    return bool(re.match(r"(?i)\s*complaint about message from", mail.subject or ""))


def _from_ses(mail: ParsedMail) -> Verdict | None:
    """Amazon SES notifications forwarded by SNS: a JSON document as the body.

    Read with patterns rather than json.loads: SNS appends an unsubscribe footer and some copies
    arrive re-wrapped or truncated.
    """
    text = mail.text.lstrip()
    if '\\"notificationType\\"' in text:  # SNS envelope: the notification is an escaped string
        text = text.replace('\\"', '"')
    kind = re.search(r'"(?:notificationType|eventType)"\s*:\s*"(\w+)"', text[:5000])
    if not (text.startswith("{") and kind):
        return None
    if kind.group(1) == "Complaint":
        return Verdict("feedback-report", "Amazon SES complaint notification")
    if kind.group(1) == "Delivery":
        return Verdict("delivery-report", "Amazon SES delivery notification")
    if kind.group(1) != "Bounce":
        return None
    bounce_type = re.search(r'"bounceType"\s*:\s*"(\w+)"', text)
    permanent = bool(bounce_type) and bounce_type.group(1).lower() == "permanent"
    listed = re.search(r'"bouncedRecipients"\s*:\s*\[(.*?)\]', text, re.DOTALL)
    addresses = re.findall(r'"emailAddress"\s*:\s*"([^"]+)"', listed.group(1) if listed else "")
    bounced = [Bounced(a.lower(), permanent) for a in dict.fromkeys(addresses)]
    return Verdict("bounce", "Amazon SES bounce notification", bounced)


def _from_flufl(msg: Message) -> list[Bounced]:
    try:
        temporary, permanent = all_failures(msg)
    except (ValueError, TypeError, AttributeError, LookupError, IndexError, UnicodeError):
        return []  # a detector choked on odd structure; the heuristics below still run
    out = [Bounced(a.decode("utf-8", "replace").lower(), True) for a in sorted(permanent)]
    out += [Bounced(a.decode("utf-8", "replace").lower(), False) for a in sorted(temporary)
            if a not in permanent]
    return [b for b in out if "@" in b.address]


def _is_daemon(mail: ParsedMail) -> bool:
    sender = mail.from_address or decode_header(raw_header(mail.headers, "from")).strip()
    # "<Postmaster\\@example.com>": some servers escape the "@" of their own address
    local = sender.replace("\\", "").partition("@")[0].strip().strip("<>\"' ").strip()
    return bool(_DAEMON.match(local)) or bool(_DAEMON_NAME.search(mail.from_name or ""))


def _null_sender(msg: Message) -> bool:
    return any(str(v).strip() in ("<>", "") for v in msg.get_all("Return-Path") or [])


def _auto_submitted(msg: Message) -> bool:
    value = str(msg.get("Auto-Submitted") or "").strip().lower()
    return bool(value) and not value.startswith("no")


def check(mail: ParsedMail, raw: bytes, ctx: ClassifyContext) -> Verdict | None:
    """A delivery report is recognised by what it is, never by its subject alone: a report
    structure, a mail system's sender, or a notice that reads like one."""
    msg = mail.headers
    if _is_feedback(mail):
        return Verdict("feedback-report", "RFC 5965 (ARF) feedback report: an abuse complaint")
    verdict = _from_dsn(mail) or _from_ses(mail)
    if verdict is not None:
        return verdict
    daemon = _is_daemon(mail)
    is_report = msg.get_content_type() == "multipart/report"
    x_failed = [a.strip().lower() for v in msg.get_all("X-Failed-Recipients") or []
                for a in str(v).split(",") if "@" in a]
    machine = daemon or is_report or bool(x_failed) or _null_sender(msg) or _auto_submitted(msg)
    subject_says = is_bounce_subject(mail.subject)
    reply_subject = is_bounce_subject(mail.subject, forwarded=True)  # "RE: Undeliverable: ..."
    phrase, status = ndr_wording(mail.text)
    forwarded = reply_subject and bool(_TRANSCRIPT.search(mail.text))
    # A notice that reads like a delivery report: its wording with a status code, or its
    # wording or subject on mail that is machine-made by its headers.
    reads_as_report = (phrase and status) or (machine and (phrase or reply_subject)) \
        or (subject_says and phrase)
    if not (machine or reply_subject or phrase):
        return None
    # flufl.bounce's detectors run on every mail that may be machine-made: they know formats
    # (qmail, old Exim, Exchange 2003, Yahoo, ...) whose subjects say nothing.
    bounced = _from_flufl(msg)
    if not (bounced or daemon or is_report or x_failed or forwarded or reads_as_report):
        return None
    permanent = looks_permanent(mail.text)
    if says_soft(mail.subject, mail.text) and not (bounced and permanent):
        permanent = False  # a delay warning or a full mailbox: the address may work later
    how = "classic bounce (flufl.bounce)"
    if bounced and permanent is not None:
        bounced = [Bounced(b.address, permanent, b.status, b.diagnostic) for b in bounced]
    if not bounced:
        addresses = x_failed or failed_addresses(mail.text, exclude={mail.from_address or ""})
        bounced = [Bounced(a, permanent is True) for a in addresses]
        how = "classic bounce (text heuristics)"
    why = "mailer-daemon sender" if daemon else "X-Failed-Recipients" if x_failed else \
        "a report's structure" if is_report else "a delivery report's wording"
    return Verdict("bounce", f"{how}: {why}", bounced)
