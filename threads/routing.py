"""Who wrote, on which channel: from the recipient address, the sender and the References.

The personal reply address identifies the author; the From header must agree (the registered
address or one the mediator accepted with ``#alias``). A reply that lost its ``+token`` is
matched through In-Reply-To/References to the copy it answers, then checked the same way.

Mail whose From is the mediator's address only *claims* to be the mediator's
(``claims_mediator``): threads.rules carries it out only when it arrived at the mediator's own
address and its sender is authenticated.

Addresses are compared by their keyed hashes (threads.lookup), never by the stored values.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session, col, or_, select

from threads.addresses import Recipient, RecipientKind
from threads.cases import mediator_of
from threads.lookup import address_hashes
from threads.models import Case, OutgoingMail, Participant, ParticipantAlias
from threads.relay import NO_TOKEN


@dataclass
class Route:
    case: Case
    author: Participant | None  # None: nobody of this case
    channel: str = "shared"
    counterpart: Participant | None = None
    sender_matches: bool = True
    hold_reason: str | None = None
    claims_mediator: bool = False  # From is the mediator's address (proves nothing yet)


def _aliased(hashes: list[str]):  # noqa: ANN202 (a subquery)
    return select(ParticipantAlias.participant_id).where(
        col(ParticipantAlias.email_hash).in_(hashes))


def is_known(session: Session, participant: Participant, hashes: list[str]) -> bool:
    """Whether the sender (by its ``address_hashes``) is this participant's registered address
    or one the mediator accepted for them (``#alias``)."""
    if not hashes:
        return False
    return participant.email_hash in hashes or session.exec(
        _aliased(hashes).where(ParticipantAlias.participant_id == participant.id)
    ).first() is not None


def route(session: Session, recipient: Recipient, sender: str | None, refs: list[str]) -> Route:
    case = recipient.case
    assert case is not None
    hashes = address_hashes(session, sender) if sender else []
    mediator = mediator_of(session, case)
    claims = mediator.email_hash in hashes
    if recipient.kind == RecipientKind.PARTICIPANT:
        owner = recipient.participant
        if recipient.channel == "private":  # a party's line, or the mediator's line to them
            if claims or recipient.mediators_own:
                return Route(case, mediator, "private", owner, sender_matches=claims,
                             claims_mediator=claims)
            matches = is_known(session, owner, hashes)
            return Route(case, owner, "private", owner, sender_matches=matches)
        if claims:
            return Route(case, mediator, claims_mediator=True)
        return Route(case, owner, sender_matches=is_known(session, owner, hashes))
    copy = _answered_copy(session, case, refs)
    owner = session.get(Participant, copy.participant_id) if copy is not None else None
    if copy is not None and owner is not None and owner.active:  # a removed party speaks no more
        matches = is_known(session, owner, hashes)
        if copy.channel.startswith("private:"):
            party = session.get(Participant, int(copy.channel.split(":", 1)[1]))
            return Route(case, owner, "private", party, sender_matches=matches,
                         claims_mediator=claims)
        return Route(case, owner, sender_matches=matches, claims_mediator=claims)
    if claims:
        return Route(case, mediator, claims_mediator=True)
    person = session.exec(select(Participant).where(
        Participant.case_id == case.id, Participant.active == True,  # noqa: E712
        or_(col(Participant.email_hash).in_(hashes), col(Participant.id).in_(_aliased(hashes))),
    ).order_by(col(Participant.id))).first() if hashes else None
    if person is not None:
        return Route(case, person, hold_reason=NO_TOKEN)
    return Route(case, None, sender_matches=False)


def _answered_copy(session: Session, case: Case, refs: list[str]) -> OutgoingMail | None:
    if not refs:
        return None
    return session.exec(
        select(OutgoingMail).where(
            col(OutgoingMail.message_id).in_(refs[:50]),
            OutgoingMail.case_id == case.id,
            col(OutgoingMail.participant_id).is_not(None),
        ).order_by(col(OutgoingMail.id).desc())
    ).first()
