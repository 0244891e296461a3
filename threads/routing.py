"""Who wrote, on which channel: from the recipient address, the sender and the References.

The personal reply address identifies the author; the From header must agree (the registered
address or one the mediator accepted with ``#alias``). A reply that lost its ``+token`` is
matched through In-Reply-To/References to the copy it answers, then checked the same way.

Mail whose From is the mediator's address only *claims* to be the mediator's
(``claims_mediator``): threads.rules carries it out only when it arrived at the mediator's own
address and its sender is authenticated.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session, col, select

from threads.addresses import Recipient, RecipientKind
from threads.cases import mediator_of
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


def known_addresses(session: Session, participant: Participant) -> set[str]:
    aliases = session.exec(
        select(ParticipantAlias.email).where(ParticipantAlias.participant_id == participant.id)
    ).all()
    return {participant.email, *aliases}


def route(session: Session, recipient: Recipient, sender: str | None, refs: list[str]) -> Route:
    case = recipient.case
    assert case is not None
    sender = (sender or "").lower()
    mediator = mediator_of(session, case)
    claims = sender == mediator.email
    if recipient.kind == RecipientKind.PARTICIPANT:
        owner = recipient.participant
        if recipient.channel == "private":  # a party's line, or the mediator's line to them
            if claims or recipient.mediators_own:
                return Route(case, mediator, "private", owner, sender_matches=claims,
                             claims_mediator=claims)
            matches = sender in known_addresses(session, owner)
            return Route(case, owner, "private", owner, sender_matches=matches)
        if claims:
            return Route(case, mediator, claims_mediator=True)
        return Route(case, owner, sender_matches=sender in known_addresses(session, owner))
    copy = _answered_copy(session, case, refs)
    owner = session.get(Participant, copy.participant_id) if copy is not None else None
    if copy is not None and owner is not None and owner.active:  # a removed party speaks no more
        matches = sender in known_addresses(session, owner)
        if copy.channel.startswith("private:"):
            party = session.get(Participant, int(copy.channel.split(":", 1)[1]))
            return Route(case, owner, "private", party, sender_matches=matches,
                         claims_mediator=claims)
        return Route(case, owner, sender_matches=matches, claims_mediator=claims)
    if claims:
        return Route(case, mediator, claims_mediator=True)
    people = session.exec(select(Participant).where(
        Participant.case_id == case.id, Participant.active == True  # noqa: E712
    )).all()
    for person in people:
        if sender in known_addresses(session, person):
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
