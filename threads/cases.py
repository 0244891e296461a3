"""Opening a case: validating who takes part, handing out references and reply addresses.

Both the command line and (later) opening a case by e-mail go through ``open_case``, so the
rules (2 to 30 parties, a configured mediator, no address twice) live in one place.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from threads import audit
from threads.addresses import new_token, normalize_address
from threads.commands import phrase
from threads.models import Case, Participant, utcnow
from threads.notices import Notice
from threads.settings import CaseSettings, MediatorSettings


class CaseError(ValueError):
    """The request to open or change a case is wrong. ``phrases`` lists every reason as a
    phrase the mail templates word in the mediator's language (``_phrases.txt``);
    ``problems`` the same in English, for the command line."""

    def __init__(self, problems: list[str | dict]) -> None:
        self.phrases = [p if isinstance(p, dict) else {"key": "text", "text": p}
                        for p in problems]
        self.problems = [p["text"] for p in self.phrases]
        super().__init__("; ".join(self.problems))


def _problem(key: str, text: str, **values: object) -> dict:
    """A phrase (threads.commands.phrase) that also carries its English ``text``."""
    return phrase(key, text=text, **values)


@dataclass(frozen=True)
class PartySpec:
    name: str
    email: str
    relation: str | None = None  # a role the intake form knows (e.g. grandparent)


# 'Name <email>', optionally followed by 'role: grandparent' (or Dutch 'rol: grootouder').
_PARTY = re.compile(r"^(?P<name>[^<>]*?)\s*<(?P<address>[^<>]*)>"
                    r"(?:\s*,?\s*(?:role|rol)\s*:\s*(?P<role>[^<>,]+?))?$", re.IGNORECASE)


def parse_party(text: str) -> PartySpec:
    """Parse ``Name <email>``; raise CaseError naming the problem."""
    text = " ".join(text.split())
    match = _PARTY.match(text)
    if match is None:
        raise CaseError([_problem("case-not-name-email",
                                  f"'{text}' is not of the form 'Name <email>'", value=text)])
    name = match["name"].strip().strip('"').strip()
    if not name:
        raise CaseError([_problem("case-no-name", f"'{text}' has no name before the address",
                                  value=text)])
    try:
        address = normalize_address(match["address"])
    except ValueError as error:
        raise CaseError([_problem("case-bad-address", str(error),
                                  value=match["address"].strip())]) from None
    role = " ".join(match["role"].split()).lower() if match["role"] else None
    return PartySpec(name=name, email=address, relation=role)


def resolve_roles(parties: list[PartySpec], roles: dict[str, dict[str, str]]) -> list[PartySpec]:
    """Each party's role as the form names it (its id, or its Dutch or English label);
    CaseError naming every role the form does not know."""
    words = {name: name for name in roles}
    for name, labels in roles.items():
        words.update({label.lower(): name for label in labels.values()})
    problems, resolved = [], []
    for party in parties:
        if party.relation is None or party.relation == "party":
            resolved.append(PartySpec(party.name, party.email))
        elif party.relation in words:
            resolved.append(PartySpec(party.name, party.email, words[party.relation]))
        else:
            problems.append(_problem(
                "case-unknown-role", f"the intake form has no role '{party.relation}' "
                f"(known: {', '.join(sorted(roles)) or 'none'})",
                role=party.relation, known=sorted(roles)))
    if problems:
        raise CaseError(problems)
    return resolved


def find_mediator(mediators: list[MediatorSettings], email: str) -> MediatorSettings | None:
    email = email.strip().lower()
    return next((m for m in mediators if m.email == email), None)


def validate_parties(parties: list[PartySpec], mediator_email: str, settings: CaseSettings) -> None:
    problems: list[str | dict] = []
    if len(parties) < settings.min_parties:
        problems.append(_problem(
            "case-too-few", f"a case needs at least {settings.min_parties} parties, "
            f"{len(parties)} given", least=settings.min_parties, given=len(parties)))
    if len(parties) > settings.max_participants:
        problems.append(_problem(
            "case-too-many", f"a case can have at most {settings.max_participants} parties, "
            f"{len(parties)} given", most=settings.max_participants, given=len(parties)))
    seen: set[str] = set()
    for party in parties:
        if party.email in seen:
            problems.append(_problem("case-twice", f"the address {party.email} is given twice",
                                     email=party.email))
        if party.email == mediator_email.lower():
            problems.append(_problem(
                "case-mediator-party",
                f"the mediator's own address {party.email} cannot be a party", email=party.email))
        seen.add(party.email)
    if problems:
        raise CaseError(problems)


def next_reference(session: Session, style: str) -> str:
    if style == "random":
        return secrets.token_hex(3)
    year = utcnow().year
    prefix = f"{year}-"
    refs = session.exec(select(Case.ref).where(col(Case.ref).startswith(prefix))).all()
    numbers = [int(ref[len(prefix):]) for ref in refs if ref[len(prefix):].isdigit()]
    return f"{prefix}{max(numbers, default=0) + 1:03d}"


def open_case(
    session: Session,
    *,
    title: str,
    mediator: MediatorSettings,
    parties: list[PartySpec],
    settings: CaseSettings,
    moderation: str | None = None,
    language: str | None = None,
    intake_form: str = "default",
    platform_fee: float = 0.0,
    vat_percent: float = 0.0,
    cooling_off_minutes: int | None = None,
) -> tuple[Case, list[Notice]]:
    """Create the case with its participants and return the invitations to send.
    ``cooling_off_minutes``: heated words in open mode go out after that wait (threads.cooling);
    None holds them for the mediator."""
    title = " ".join(title.split())
    if not title:
        raise CaseError([_problem("case-no-title", "the case needs a title")])
    validate_parties(parties, mediator.email, settings)
    moderation = moderation or settings.default_moderation
    language = language or mediator.language
    for attempt in range(20):
        ref = next_reference(session, settings.reference_style)
        case = Case(
            ref=ref, title=title, moderation=moderation, language=language,
            intake_form=intake_form, hourly_rate=mediator.hourly_rate, platform_fee=platform_fee,
            vat_percent=vat_percent, address=settings.address,
            cooling_off_minutes=cooling_off_minutes,
        )
        try:
            with session.begin_nested():
                session.add(case)
                session.flush()
            break
        except IntegrityError:
            if attempt == 19:
                raise
    lead = Participant(
        case_id=case.id, role="mediator", name=mediator.name, email=mediator.email,
        language=mediator.language, token=new_token(),
    )
    session.add(lead)
    members = [
        Participant(
            case_id=case.id, role="party", relation=p.relation, name=p.name, email=p.email,
            language=language, token=new_token(), private_token=new_token(),
            mediator_token=new_token(),
        )
        for p in parties
    ]
    session.add_all(members)
    session.flush()
    audit.record(
        session, case, "case-opened", actor=mediator.name,  # the record names, never addresses
        title=title, moderation=moderation, language=language,
        parties=[p.name for p in members],
    )
    notices = [
        Notice("invitation", case, party, author=lead, automatic=False, context={"mediator": lead})
        for party in members
    ]
    notices.append(
        Notice("case-opened", case, lead, author=lead, context={"parties": members})
    )
    for party in members:
        audit.record(session, case, "invitation-sent", participant=party.name)
    return case, notices


def mediator_of(session: Session, case: Case) -> Participant:
    return session.exec(
        select(Participant).where(Participant.case_id == case.id, Participant.role == "mediator")
    ).one()


def parties_of(session: Session, case: Case, *, active_only: bool = True) -> list[Participant]:
    query = select(Participant).where(Participant.case_id == case.id, Participant.role == "party")
    if active_only:
        query = query.where(Participant.active == True)  # noqa: E712
    return list(session.exec(query.order_by(col(Participant.id))))


def lock_case(session: Session, case_id: int) -> Case:
    """Take the case's row lock (PostgreSQL) so decisions on one case happen one at a time.

    The row is read afresh once locked (populate_existing): a copy loaded earlier in the same
    session may predate another machine's decision, e.g. its ``message_seq``."""
    return session.exec(
        select(Case).where(Case.id == case_id).with_for_update()
        .execution_options(populate_existing=True)
    ).one()


def lock_cases(session: Session, case_ids: list[int]) -> dict[int, Case]:
    """``lock_case`` for many cases in one statement (a sweep's batch), read afresh likewise.

    The rows are locked in id order, the order every sweep takes them in, so two sweeps never
    wait for each other crosswise. A case that no longer exists is missing from the answer."""
    return {case.id: case for case in session.exec(
        select(Case).where(col(Case.id).in_(sorted(case_ids))).order_by(col(Case.id))
        .with_for_update().execution_options(populate_existing=True))}
