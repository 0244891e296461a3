"""A party's display name changes only with the mediator's consent.

The other parties know each other by name, so a name is part of what everyone agreed to (it
is in the mediation agreement) and no party may take another's. A different name typed on
the registration page is recorded as a proposal and the mediator is asked; ``#accept-name
Name`` (``#naam-akkoord``) makes it the party's name, and everyone who had signed the
agreement is asked to sign its new text. Names are compared without regard to capitals,
accents or spacing ("Zoë" is "zoe").
"""

from __future__ import annotations

import unicodedata

from sqlmodel import Session, select

from threads import agreement, audit
from threads.cases import mediator_of
from threads.commands import Command, Context, Plan, find_party, phrase
from threads.models import Case, Participant
from threads.notices import Notice


def fold(name: str) -> str:
    """'  Zoë  van DIJK' -> 'zoe van dijk': the form in which two names are the same."""
    bare = "".join(c for c in unicodedata.normalize("NFKD", name)
                   if not unicodedata.combining(c))
    return " ".join(bare.casefold().split())


def taken(session: Session, case: Case, participant: Participant, name: str) -> bool:
    """Whether another participant of the case (the mediator too) already has this name."""
    wanted = fold(name)
    people = session.exec(select(Participant).where(Participant.case_id == case.id)).all()
    return any(fold(p.name) == wanted for p in people if p.id != participant.id)


def propose(session: Session, case: Case, participant: Participant, name: str) -> list[Notice]:
    """Record the name the party asked for and ask the mediator (once per new proposal)."""
    if fold(name) == fold(participant.name) or name == participant.proposed_name:
        return []
    participant.proposed_name = name
    session.add(participant)
    audit.record(session, case, "name-proposed", actor=participant.name, name=name)
    mediator = mediator_of(session, case)
    return [Notice("name-proposed", case, mediator, author=participant,
                   context={"party": participant, "new": name})]


def accept_name(session: Session, case: Case, mediator: Participant, command: Command,
                ctx: Context) -> Plan | None:
    """'#accept-name Name': the party's proposed name becomes their name."""
    party = find_party(session, case, command.args, ctx, command.line)
    if party is None:
        return None
    new = party.proposed_name
    if not new:
        ctx.errors.append(phrase("no-name-proposed", line=command.line, name=party.name))
        return None
    if taken(session, case, party, new):
        ctx.errors.append(phrase("name-taken", line=command.line, name=new))
        return None

    def run():  # noqa: ANN202
        old, had_signed = party.name, party.signed_at is not None
        party.name, party.proposed_name = new, None
        session.add(party)
        audit.record(session, case, "renamed", actor=mediator.name, old=old, new=new)
        change = {"change": "name", "old": old, "new": new}
        notices = agreement.text_changed(session, case, change, mediator.name, exclude=party)
        notices.insert(0, Notice("name-changed", case, party, author=mediator, automatic=False,
                                 context={"old": old, "had_signed": had_signed}))
        return notices, [phrase("name-accepted", old=old, new=new,
                                told=[n.recipient.name for n in notices[1:]])]

    return run
