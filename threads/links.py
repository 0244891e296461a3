"""Signed links: one participant, one purpose, an expiry, and revocation that works at once.

A link carries ``{"p": participant id, "u": purpose, "v": link version}`` signed with
itsdangerous (HMAC-SHA1 over URL-safe base64, with a timestamp). It is checked in this order:
the signature (tampered or foreign links are ``invalid``), the age (``expired`` after
``links.max_age_days``), the purpose (a registration link cannot open the agreement), and finally
the database: a removed participant, a closed case, or a raised ``Participant.link_version``
makes the link ``revoked``. Nothing about the participant is readable in the link beyond its id.
"""

from __future__ import annotations

from dataclasses import dataclass

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlmodel import Session

from threads import audit
from threads.models import Case, Participant
from threads.notices import Notice

PURPOSES = ("register", "intake", "agreement", "settlement", "evaluation")
_SALT = "mediate.links.v1"


class LinkError(Exception):
    """A link that cannot be used; ``reason`` is invalid, expired, wrong-purpose or revoked."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Opened:
    participant: Participant
    case: Case
    purpose: str


@dataclass
class Links:
    secret: str
    base_url: str
    max_age_days: float = 30.0

    def __post_init__(self) -> None:
        self.serializer = URLSafeTimedSerializer(self.secret, salt=_SALT)
        self.base_url = self.base_url.rstrip("/")

    def token(self, participant: Participant, purpose: str) -> str:
        if purpose not in PURPOSES:
            raise ValueError(f"unknown link purpose {purpose!r}")
        return self.serializer.dumps(
            {"p": participant.id, "u": purpose, "v": participant.link_version}
        )

    def path(self, participant: Participant, purpose: str) -> str:
        return f"/{purpose}/{self.token(participant, purpose)}"

    def url(self, participant: Participant, purpose: str) -> str:
        return f"{self.base_url}{self.path(participant, purpose)}"

    def read(self, token: str) -> dict:
        """The signed payload, or LinkError('invalid' | 'expired'); no database involved."""
        try:
            data = self.serializer.loads(token, max_age=int(self.max_age_days * 86400))
        except SignatureExpired:
            raise LinkError("expired") from None
        except BadSignature:
            raise LinkError("invalid") from None
        if not isinstance(data, dict) or not {"p", "u", "v"} <= set(data):
            raise LinkError("invalid")
        return data

    def open(self, session: Session, token: str, purpose: str) -> Opened:
        data = self.read(token)
        if data["u"] != purpose:
            raise LinkError("wrong-purpose")
        participant = session.get(Participant, data["p"])
        if participant is None or participant.role != "party":
            raise LinkError("invalid")
        case = session.get(Case, participant.case_id)
        if (
            not participant.active
            or participant.link_version != data["v"]
            or case is None
            # a closed case's links stop working, except the evaluation it brings
            or case.status != ("closed" if purpose == "evaluation" else "open")
        ):
            raise LinkError("revoked")
        return Opened(participant=participant, case=case, purpose=purpose)


def revoke_links(session: Session, case: Case, participant: Participant, actor: str) -> None:
    """Make every link this participant was given unusable, now (new ones can be sent)."""
    participant.link_version += 1
    session.add(participant)
    audit.record(session, case, "links-revoked", actor=actor, participant=participant.name)


def resend_links(session: Session, case: Case, participant: Participant) -> list[Notice]:
    """Fresh links for a party (``link`` reply, or the mediator's ``#link Name``).

    Earlier links keep working until they expire; call ``revoke_links`` first to end them."""
    if participant.role != "party" or not participant.active:
        return []
    audit.record(session, case, "links-sent", participant=participant.name)
    return [Notice("links", case, participant, automatic=True)]
