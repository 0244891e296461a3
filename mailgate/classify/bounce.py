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
    looks_permanent,
)
from mailgate.classify.verdict import Bounced, ClassifyContext, Verdict
from mailgate.parse import ParsedMail, decode_bytes

_DSN_TYPES = ("message/delivery-status", "message/global-delivery-status", "text/delivery-status")
_DAEMON = re.compile(r"(?i)^(mailer-daemon|mail-daemon|mailerdaemon|postmaster|mdaemon|"
                     r"mail\.?delivery|maildelivery|bounces?|bounce-\S*|nobody|"
                     r"mailer|microsoftexchange\S*|mail\.daemon|mx|smtp)$")
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
    value = re.sub(r"\s+", " ", str(value)).strip()
    addr = value.split(";", 1)[1] if ";" in value else value
    addr = addr.strip().strip("<>").strip()
    match = re.search(r"[^\s<>\"';,()]+@[^\s<>\"';,()]+", addr)
    return match.group(0).strip(".").lower() if match else None


def _from_dsn(mail: ParsedMail) -> Verdict | None:
    parts = [p for p in mail.headers.walk() if p.get_content_type() in _DSN_TYPES]
    if not parts:
        return None
    failed: list[Bounced] = []
    delivered: list[str] = []
    for part in parts:
        for block in _dsn_blocks(part):
            addr = _address_of(block.get("Final-Recipient")) or _address_of(
                block.get("Original-Recipient"))
            if addr is None:
                continue
            action = str(block.get("Action") or "").strip().lower()
            status = str(block.get("Status") or "").strip().split(" ")[0] or None
            diagnostic = str(block.get("Diagnostic-Code") or "")
            if action in ("delivered", "relayed", "expanded"):
                delivered.append(addr)
                continue
            if status and status[0] in "45":
                permanent = status[0] == "5" and action != "delayed"
            elif action == "delayed":
                permanent = False
            else:
                permanent = looks_permanent(diagnostic) is not False
            failed.append(Bounced(addr, permanent, status))
    if failed:
        kinds = ", ".join(sorted({f"{b.status or '?'}" for b in failed}))
        return Verdict("bounce", f"RFC 3464 delivery status notification (status {kinds})", failed)
    if delivered:
        return Verdict("delivery-report", "RFC 3464 delivery status notification: delivered")
    return None


def _is_feedback(mail: ParsedMail) -> bool:
    msg = mail.headers
    if msg.get_content_type() == "multipart/report" and \
            str(msg.get_param("report-type") or "").lower() == "feedback-report":
        return True
    return any(p.get_content_type() == "message/feedback-report" for p in msg.walk())


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
    local = (mail.from_address or "").partition("@")[0]
    return bool(_DAEMON.match(local)) or bool(_DAEMON_NAME.search(mail.from_name or ""))


def _null_sender(msg: Message) -> bool:
    return any(str(v).strip() in ("<>", "") for v in msg.get_all("Return-Path") or [])


def check(mail: ParsedMail, raw: bytes, ctx: ClassifyContext) -> Verdict | None:
    msg = mail.headers
    if _is_feedback(mail):
        return Verdict("feedback-report", "RFC 5965 (ARF) feedback report: an abuse complaint")
    verdict = _from_dsn(mail)
    if verdict is not None:
        return verdict
    daemon = _is_daemon(mail)
    is_report = msg.get_content_type() == "multipart/report"
    x_failed = [a.strip().lower() for v in msg.get_all("X-Failed-Recipients") or []
                for a in str(v).split(",") if "@" in a]
    subject_says = is_bounce_subject(mail.subject)
    if not (daemon or is_report or x_failed or subject_says):
        return None
    bounced = _from_flufl(msg)
    how = "classic bounce (flufl.bounce)"
    if not bounced:
        permanent = looks_permanent(mail.text)
        addresses = x_failed or failed_addresses(mail.text, exclude={mail.from_address or ""})
        bounced = [Bounced(a, permanent is True) for a in addresses]
        how = "classic bounce (text heuristics)"
    if bounced or daemon or is_report or (subject_says and _null_sender(msg)):
        why = "mailer-daemon sender" if daemon else (
            "X-Failed-Recipients" if x_failed else "delivery-failure subject")
        return Verdict("bounce", f"{how}: {why}", bounced)
    return None
