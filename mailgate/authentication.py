"""Sender trust: what our own receiving server found out about the sender (RFC 8601).

When Mediate sits behind an MTA that checks DKIM (RFC 6376) and DMARC (RFC 7489) and records
the outcome in an ``Authentication-Results`` header, ``inbound.trusted_authserv_id`` names that
server. A DMARC ``fail``, or a DKIM ``fail`` with no DKIM signature passing, means the From
address may be forged: the message is held for the mediator instead of going on to the parties,
even when it arrived on the right reply address from the registered address.

Only headers carrying the trusted authserv-id count (RFC 8601 section 5: anyone can write such a
header, and only our own server's is meaningful). A forged header can only ever cause a hold,
never prevent one: any failure reported under the trusted id holds the message. Headers that do
not parse are skipped; their authserv-id cannot be known.
"""

from __future__ import annotations

import email.parser
import email.policy
from collections.abc import Iterable
from email.message import Message

import authres

AUTHENTICATION_FAILED = "authentication-failed"
HEADER = "Authentication-Results"


def sender_trust(headers: bytes | Message | Iterable[str], authserv_id: str) -> str | None:
    """A hold reason (``"authentication-failed"``) or None. ``headers`` is the raw mail, its
    parsed headers, or the values of its Authentication-Results headers."""
    if not authserv_id:
        return None
    trusted = authserv_id.strip().lower()
    dkim: set[str] = set()
    dmarc: set[str] = set()
    for value in _values(headers):
        try:
            parsed = authres.AuthenticationResultsHeader.parse_value(_unfold(value))
        except Exception:  # noqa: BLE001 (authres raises its own and stdlib errors alike)
            continue
        if (parsed.authserv_id or "").lower() != trusted:
            continue
        for result in parsed.results:
            method, outcome = (result.method or "").lower(), (result.result or "").lower()
            if method == "dkim":
                dkim.add(outcome)
            elif method == "dmarc":
                dmarc.add(outcome)
    if "fail" in dmarc or ("fail" in dkim and "pass" not in dkim):
        return AUTHENTICATION_FAILED
    return None


def sender_authenticated(headers: bytes | Message | Iterable[str], authserv_id: str) -> bool:
    """Whether our own receiving server vouches for the From address: DMARC ``pass`` (RFC 7489
    section 3.1, aligned with From) under the trusted authserv-id. Only then may an automatic
    answer go to a From address that belongs to nobody in the case: any other From may be
    forged, and answering it sends our mail to an innocent third party (backscatter)."""
    if not authserv_id:
        return False
    trusted = authserv_id.strip().lower()
    for value in _values(headers):
        try:
            parsed = authres.AuthenticationResultsHeader.parse_value(_unfold(value))
        except Exception:  # noqa: BLE001 (as in sender_trust)
            continue
        if (parsed.authserv_id or "").lower() != trusted:
            continue
        if any((r.method or "").lower() == "dmarc" and (r.result or "").lower() == "pass"
               for r in parsed.results):
            return True
    return False


def _values(headers: bytes | Message | Iterable[str]) -> list[str]:
    if isinstance(headers, bytes | bytearray):
        headers = email.parser.BytesHeaderParser(policy=email.policy.compat32).parsebytes(
            bytes(headers))
    if isinstance(headers, Message):
        return [str(v) for v in headers.get_all(HEADER, [])]
    return [str(v) for v in headers]


def _unfold(value: str) -> str:
    return " ".join(value.split())
