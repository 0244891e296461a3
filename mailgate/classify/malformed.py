"""Stage 1: mail we cannot attribute or read is quarantined, never relayed.

RFC 5322 section 3.6 requires a From field; without a usable author address nothing downstream
(sender check, threading, the explanation we send back) can work.
"""

from __future__ import annotations

from mailgate.classify.verdict import ClassifyContext, Verdict
from mailgate.parse import MalformedMail, ParsedMail, parse_mail


def unparsed(raw: bytes) -> Verdict:
    """The verdict for bytes that `parse_mail` refused."""
    try:
        parse_mail(raw)
    except MalformedMail as exc:
        return Verdict("malformed", f"unreadable message: {exc.reason}")
    return Verdict("malformed", "unreadable message")


def check(mail: ParsedMail, raw: bytes, ctx: ClassifyContext) -> Verdict | None:
    if mail.headers.get("From") is None and not _is_report(mail):
        return Verdict("malformed", "no From header (RFC 5322 section 3.6)")
    return None


def _is_report(mail: ParsedMail) -> bool:
    # Delivery reports from broken MTAs sometimes lack From; the bounce stage still wants them.
    return mail.headers.get_content_type() == "multipart/report"
