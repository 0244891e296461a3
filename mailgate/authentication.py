"""Sender trust: is the From address really the sender's? (RFC 8601, RFC 6376, RFC 7489)

Two uses. For everyone, ``sender_trust``: a failure our own MTA reported holds the message.
For mail in a mediator's name, ``verify_sender`` (below): only an authenticated From counts.

When Mediate sits behind an MTA that checks DKIM (RFC 6376) and DMARC (RFC 7489) and records
the outcome in an ``Authentication-Results`` header, ``inbound.trusted_authserv_id`` names that
server. A DMARC ``fail``, or a DKIM ``fail`` with no DKIM signature passing, means the From
address may be forged: the message is held for the mediator instead of going on to the parties,
even when it arrived on the right reply address from the registered address.

Only headers carrying the trusted authserv-id count (RFC 8601 section 5: anyone can write such a
header, and only our own server's is meaningful). For holds, a forged header can only ever
cause one, never prevent one: any failure reported under the trusted id holds the message. A
*pass* under the trusted id vouches for a mediator, so the MTA must remove such headers from
incoming mail, as RFC 8601 section 5 requires (OpenDKIM, OpenDMARC and rspamd do; the README
says so). Headers that do not parse are skipped; their authserv-id cannot be known.
"""

from __future__ import annotations

import email.header
import email.parser
import email.policy
import email.utils
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from email.message import Message

import authres
import dkim
import dkim.dnsplug

AUTHENTICATION_FAILED = "authentication-failed"
HEADER = "Authentication-Results"


def sender_trust(headers: bytes | Message | Iterable[str], authserv_id: str) -> str | None:
    """A hold reason (``"authentication-failed"``) or None. ``headers`` is the raw mail, its
    parsed headers, or the values of its Authentication-Results headers."""
    if not authserv_id:
        return None
    dkim: set[str] = set()
    dmarc: set[str] = set()
    for result in _trusted_results(headers, authserv_id):
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
    return any((r.method or "").lower() == "dmarc" and (r.result or "").lower() == "pass"
               for r in _trusted_results(headers, authserv_id))


def _trusted_results(headers: bytes | Message | Iterable[str], authserv_id: str) -> Iterator:
    """The results (RFC 8601) in the Authentication-Results headers that our trusted server
    wrote; a header that cannot be read, or another server's, is passed over."""
    trusted = authserv_id.strip().lower()
    for value in _values(headers):
        try:
            parsed = authres.AuthenticationResultsHeader.parse_value(_unfold(value))
        except Exception:  # noqa: BLE001 (authres raises its own and stdlib errors alike)
            continue
        if (parsed.authserv_id or "").lower() == trusted:
            yield from parsed.results


def _values(headers: bytes | Message | Iterable[str]) -> list[str]:
    if isinstance(headers, bytes | bytearray):
        headers = email.parser.BytesHeaderParser(policy=email.policy.compat32).parsebytes(
            bytes(headers))
    if isinstance(headers, Message):
        return [str(v) for v in headers.get_all(HEADER, [])]
    return [str(v) for v in headers]


def _unfold(value: str) -> str:
    return " ".join(value.split())


# --- Is this mail really the mediator's? -------------------------------------------------
#
# A From header proves nothing (RFC 5322 lets anyone write any address there). A mail counts
# as the mediator's only when its From domain is vouched for, in one of two ways:
# - Mediate verifies a DKIM signature itself (RFC 6376, dkimpy) whose signing domain (d=) is
#   aligned with the From domain: the same domain, or one the other's parent (the relaxed
#   alignment of RFC 7489 section 3.1.1, without a public-suffix list: a key can only be
#   published at d= by the owner of d, so a parent domain can only vouch for its own names);
# - or the trusted MTA's Authentication-Results say ``dmarc=pass`` for that very From domain,
#   or ``dkim=pass`` for an aligned ``header.d``.
# The From header itself is read strictly: exactly one, holding exactly one address, and no
# display name that is itself another address (``"mediator@x" <attacker@y>``).

DKIM = "dkim"
ADDRESS_ONLY = "address-only"
_ADDRESS_IN_NAME = re.compile(r"[^\s<>@\"']+@[^\s<>@\"']+")
DnsFunction = Callable[..., bytes | None]


@dataclass(frozen=True)
class Verification:
    """Whether the sender is who the From header names, and how we know (or why not)."""

    verified: bool
    how: str  # dkim | authentication-results | address-only | "" when not verified
    reason: str = ""


def strict_from(headers: Message) -> str | None:
    """The one From address, lower-cased; None when the header is missing, doubled, lists
    several addresses, or shows another address as its display name."""
    values = headers.get_all("From") or []
    if len(values) != 1:
        return None
    value = " ".join(str(values[0]).split())
    pairs = email.utils.getaddresses([value])
    if len(pairs) != 1:
        return None
    name, address = pairs[0]
    address = address.strip().lower()
    if "@" not in address or address.count("@") != 1:
        return None
    for shown in _ADDRESS_IN_NAME.findall(str(email.header.make_header(
            email.header.decode_header(name))) if name else ""):
        if shown.strip(".,;:()[]").lower() != address:
            return None
    return address


def aligned(signer: str, from_domain: str) -> bool:
    """The signing domain vouches for the From domain (see above); a one-label d= never."""
    signer, from_domain = signer.strip(".").lower(), from_domain.strip(".").lower()
    if "." not in signer or not from_domain:
        return False
    return (signer == from_domain or from_domain.endswith("." + signer)
            or signer.endswith("." + from_domain))


def verify_dkim(raw: bytes, from_domain: str, dnsfunc: DnsFunction | None = None) -> bool:
    """A DKIM signature on the mail verifies and its d= is aligned with the From domain.
    Signatures with a body length limit (l=) do not count: text could be added below them."""
    signer = dkim.DKIM(raw, timeout=5)
    count = sum(1 for name, _ in signer.headers if name.lower() == b"dkim-signature")
    for index in range(count):
        try:
            passed = signer.verify(index, dnsfunc=dnsfunc or dkim.dnsplug.get_txt)
        except dkim.DKIMException:
            continue
        fields = signer.signature_fields or {}
        domain = (signer.domain or b"").decode("ascii", "replace")
        if passed and b"l" not in fields and aligned(domain, from_domain):
            return True
    return False


def trusted_pass(headers: Message, from_domain: str, authserv_id: str) -> bool:
    """The trusted MTA reports DMARC passing for this From domain, or an aligned DKIM pass,
    and no failure. (The MTA must strip headers carrying its own id from incoming mail, as
    RFC 8601 section 5 asks; any failure under that id still wins.)"""
    if not authserv_id or sender_trust(headers, authserv_id) is not None:
        return False
    for result in _trusted_results(headers, authserv_id):
        if (result.result or "").lower() != "pass":
            continue
        properties = {(p.type or "").lower() + "." + (p.name or "").lower():
                      (p.value or "").lower() for p in result.properties}
        method = (result.method or "").lower()
        if method == "dmarc" and properties.get("header.from", "").strip(".") == from_domain:
            return True
        signer = properties.get("header.d") or properties.get("header.i", "").rpartition("@")[2]
        if method == "dkim" and signer and aligned(signer, from_domain):
            return True
    return False


def verify_sender(
    raw: bytes, headers: Message, *, mode: str = DKIM, authserv_id: str = "",
    dnsfunc: DnsFunction | None = None,
) -> Verification:
    """Whether the strict From address of this mail is authenticated (see above)."""
    address = strict_from(headers)
    if address is None:
        return Verification(False, "", "from-ambiguous")
    if sender_trust(headers, authserv_id) is not None:
        return Verification(False, "", AUTHENTICATION_FAILED)
    if mode == ADDRESS_ONLY:
        return Verification(True, ADDRESS_ONLY)
    domain = address.rpartition("@")[2]
    if trusted_pass(headers, domain, authserv_id):
        return Verification(True, "authentication-results")
    if verify_dkim(raw, domain, dnsfunc):
        return Verification(True, DKIM)
    return Verification(False, "", "not-authenticated")
