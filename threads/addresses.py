"""Reply addresses: ``<case>+<token>@<domain>`` and what a recipient address means.

The token is unguessable (80 bits, lower-case base32 so that MTAs which fold the local part to
lower case do not break it). One resolver serves the SMTP server at RCPT time and the pipeline
alike, so both always agree on what an address means.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from email.utils import formataddr
from enum import StrEnum

from email_validator import EmailNotValidError, validate_email
from sqlmodel import Session, col, select

from threads.lookup import token_hashes
from threads.models import Case, OutgoingMail, Participant

_ALPHABET = "abcdefghijklmnopqrstuvwxyz234567"
TOKEN_LENGTH = 16
BOUNCE_LOCAL = "bounces"
NO_REPLY_LOCAL = "no-reply"
# Every mail domain must accept postmaster (RFC 5321 section 4.5.1); abuse is where abuse
# reports go (RFC 2142). Both are passed on to the administrator.
ROLE_LOCALS = ("postmaster", "abuse")
_LOCAL = re.compile(r"^(?P<case>[a-z0-9][a-z0-9-]{0,39})(?:\+(?P<token>[a-z2-7]{16}))?$")
_BOUNCE = re.compile(r"^bounces\+(?P<key>[0-9a-f]{32})$")


def normalize_address(address: str) -> str:
    """Validate an addr-spec and return it lower-cased; ValueError says what is wrong.

    Domains without a public suffix and ``.test`` are allowed (internal office domains, test
    set-ups); deliverability is the relay's business, not ours.
    """
    try:
        valid = validate_email(
            address.strip(), check_deliverability=False, globally_deliverable=False,
            test_environment=True,
        )
    except EmailNotValidError as error:
        raise ValueError(f"'{address}' is not a valid e-mail address ({error})") from None
    return valid.normalized.lower()


def new_token() -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(TOKEN_LENGTH))


def reply_address(case: Case, participant: Participant, domain: str) -> str:
    return f"{case.ref}+{participant.token}@{domain}"


def private_address(case: Case, party: Participant, domain: str) -> str:
    """The party's private line to the mediator: what the party writes to."""
    return f"{case.ref}+{party.private_token}@{domain}"


def mediator_line(case: Case, party: Participant, domain: str) -> str:
    """The mediator's own private line to one party: what the mediator writes to. A separate
    address, so that the party never learns an address at which mail is the mediator's."""
    return f"{case.ref}+{party.mediator_token}@{domain}"


def display_address(name: str, address: str) -> str:
    return formataddr((name, address))


class RecipientKind(StrEnum):
    PARTICIPANT = "participant"  # a participant's reply address or a private line
    CASE = "case"  # <case>@domain: the +token was lost on the way
    OPEN = "open"  # the address mediators open cases at
    BOUNCE = "bounce"  # VERP return path of one outgoing copy
    UNKNOWN = "unknown"
    REVOKED = "revoked"  # a removed participant's address
    NO_REPLY = "no-reply"
    POSTMASTER = "postmaster"  # postmaster@ and abuse@ (RFC 5321 section 4.5.1, RFC 2142)


@dataclass(frozen=True)
class Recipient:
    """What one RCPT TO address means to us."""

    kind: RecipientKind
    case: Case | None = None
    participant: Participant | None = None  # for a private line: the party whose line it is
    copy_id: int | None = None
    reason: str = ""
    channel: str = "shared"  # shared | private
    # The mediator's own address (their reply address, or their line to a party): the only
    # addresses at which mail can be the mediator's.
    mediators_own: bool = False

    @property
    def accepted(self) -> bool:
        return self.kind in (RecipientKind.PARTICIPANT, RecipientKind.CASE, RecipientKind.OPEN,
                             RecipientKind.BOUNCE, RecipientKind.POSTMASTER)


def bounce_address(message_id: str, domain: str) -> str:
    """VERP envelope sender naming the outgoing copy (RFC 5321 return path).

    The copy's Message-ID is a random 128-bit value, so the address cannot be guessed.
    """
    key = message_id.strip("<>").split("@", 1)[0]
    return f"{BOUNCE_LOCAL}+{key}@{domain}"


def case_shaped(address: str, domain: str) -> bool:
    """Whether an address on our domain has the shape of a case address without its token
    (``2026-014@domain``). The SMTP server answers all of these alike, so that a stranger
    cannot learn which case references exist by asking."""
    local, _, host = address.strip().strip("<>").lower().rpartition("@")
    match = _LOCAL.match(local)
    return host == domain and match is not None and match["token"] is None


def resolve(
    session: Session, address: str, domain: str, secret: str = "", open_local: str = "open"
) -> Recipient:
    local, _, host = address.strip().strip("<>").lower().rpartition("@")
    if host != domain:
        return Recipient(RecipientKind.UNKNOWN,
                         reason=f"we do not accept mail for the domain {host or '?'}")
    if local == open_local:
        return Recipient(RecipientKind.OPEN)
    if local in ROLE_LOCALS:
        return Recipient(RecipientKind.POSTMASTER)
    if local == NO_REPLY_LOCAL:
        return Recipient(RecipientKind.NO_REPLY, reason="this address does not accept replies")
    bounce = _BOUNCE.match(local)
    if bounce:
        copy_id = session.exec(
            select(OutgoingMail.id).where(OutgoingMail.message_id == f"<{bounce['key']}@{domain}>")
        ).first()
        if copy_id is not None:
            return Recipient(RecipientKind.BOUNCE, copy_id=copy_id)
        return Recipient(RecipientKind.UNKNOWN, reason="this bounce address is not valid")
    match = _LOCAL.match(local)
    if not match:
        return _NOT_A_CASE
    if match["token"] is None:
        # Some servers strip the +token; the pipeline routes such mail by its References.
        case = session.exec(select(Case).where(Case.ref == match["case"])).first()
        if case is None:
            return _NOT_A_CASE
        return Recipient(RecipientKind.CASE, case)
    hashes = token_hashes(session, match["token"])  # tokens are found by hash (threads.lookup)
    channel, mediators_own = "shared", False
    participant = session.exec(
        select(Participant).where(col(Participant.token_hash).in_(hashes))).first()
    if participant is not None:
        mediators_own = participant.role == "mediator"
    else:
        channel = "private"
        participant = session.exec(
            select(Participant).where(col(Participant.private_token_hash).in_(hashes))
        ).first()
    if participant is None:
        participant = session.exec(
            select(Participant).where(col(Participant.mediator_token_hash).in_(hashes))
        ).first()
        mediators_own = True
    if participant is None:
        return _NOT_A_CASE
    case = session.get(Case, participant.case_id)
    if case is None or case.ref.lower() != match["case"]:
        return _NOT_A_CASE
    if not participant.active:
        return Recipient(RecipientKind.REVOKED, case, participant,
                         reason="this address is no longer in use")
    return Recipient(RecipientKind.PARTICIPANT, case, participant, channel=channel,
                     mediators_own=mediators_own)


_NOT_A_CASE = Recipient(RecipientKind.UNKNOWN,
                        reason="this address does not belong to a mediation case")
