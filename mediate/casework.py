"""Case operations for the command line: open (with invitations), list, show."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func
from sqlmodel import Session, col, select

from mediate.config import Settings
from mediate.service import make_composer, prepare_database
from mediate.web.server import case_paperwork, intake_forms
from threads import cases
from threads.addresses import reply_address
from threads.cooling import parse_setting as parse_cooling_off
from threads.db import session_scope
from threads.models import (
    Case,
    CaseAgreement,
    InboundMail,
    InboundStatus,
    Message,
    OutgoingMail,
    Participant,
)
from threads.settings import check_zone


@dataclass
class Opened:
    ref: str
    title: str
    mediator_address: str
    party_addresses: list[tuple[str, str]]


def open_case(
    settings: Settings, *, title: str, mediator_email: str, parties: list[str],
    moderation: str | None = None, language: str | None = None, engine=None,  # noqa: ANN001
    intake: str | None = None, agreement: str | None = None,
    timezone: str | None = None, address: str | None = None,
    cooling_off: str | None = None,
) -> Opened:
    """``cooling_off``: 'hold' or 'delay N' (minutes), what becomes of heated words in open
    mode (threads.cooling); default hold."""
    mediator = cases.find_mediator(settings.mediators, mediator_email)
    form_name, custom, problems = case_paperwork(settings, intake, agreement)
    if mediator is None:
        problems.append(f"{mediator_email} is not a configured mediator (see [[mediators]])")
    if timezone:
        try:
            timezone = check_zone(timezone)
        except ValueError as error:
            problems.append(f"--timezone: {error}")
    if address not in (None, "je", "u"):
        problems.append(f"--address: must be je or u, not {address}")
    minutes = None
    if cooling_off:
        try:
            minutes = parse_cooling_off(cooling_off)
        except ValueError as error:
            problems.append(f"--cooling-off: {error}, not '{cooling_off}'")
    specs = []
    for text in parties:
        try:
            specs.append(cases.parse_party(text))
        except cases.CaseError as error:
            problems += error.problems
    form = intake_forms(settings).get(form_name)
    if form is not None and not problems:
        try:
            specs = cases.resolve_roles(specs, form.roles)
        except cases.CaseError as error:
            problems += error.problems
    if problems:
        raise cases.CaseError(problems)
    engine = engine or prepare_database(settings)
    composer = make_composer(settings)
    domain = settings.service.domain
    with session_scope(engine) as session:
        case, notices = cases.open_case(
            session, title=title, mediator=mediator, parties=specs, settings=settings.cases,
            moderation=moderation, language=language, intake_form=form_name,
            platform_fee=settings.fees.platform_fee, vat_percent=settings.fees.vat_percent,
            cooling_off_minutes=minutes,
        )
        # the case keeps its own clock and voice even when the service's defaults change
        case.timezone = timezone or None
        case.address = address or case.address
        session.add(case)
        if custom is not None:
            session.add(CaseAgreement(case_id=case.id, filename=custom[0], source=custom[1]))
        composer.enqueue(session, notices)
        lead = cases.mediator_of(session, case)
        members = cases.parties_of(session, case)
        return Opened(
            ref=case.ref, title=case.title,
            mediator_address=reply_address(case, lead, domain),
            party_addresses=[(p.name, reply_address(case, p, domain)) for p in members],
        )


def list_cases(settings: Settings) -> list[dict]:
    engine = prepare_database(settings)
    with Session(engine) as session:
        rows = []
        for case in session.exec(select(Case).order_by(col(Case.id))):
            count = session.exec(
                select(func.count()).select_from(Participant).where(
                    Participant.case_id == case.id, Participant.role == "party"
                )
            ).one()
            rows.append({
                "ref": case.ref, "title": case.title, "status": case.status,
                "moderation": case.moderation, "parties": count,
            })
        return rows


def find_case(session: Session, ref: str) -> Case:
    case = session.exec(select(Case).where(Case.ref == ref.strip().lower())).first()
    if case is None:
        raise LookupError(f"there is no case {ref}")
    return case


def show_case(settings: Settings, ref: str) -> str:
    engine = prepare_database(settings)
    domain = settings.service.domain
    with Session(engine) as session:
        case = find_case(session, ref)
        lines = [
            f"Case {case.ref}: {case.title}",
            f"  status: {case.status}   moderation: {case.moderation}   language: {case.language}",
            "  cooling-off: " + (f"delay {case.cooling_off_minutes} min"
                                 if case.cooling_off_minutes else "hold"),
            f"  opened: {case.created_at:%Y-%m-%d %H:%M} UTC",
            "",
            "Participants:",
        ]
        people = session.exec(
            select(Participant).where(Participant.case_id == case.id).order_by(col(Participant.id))
        ).all()
        for person in people:
            written = session.exec(
                select(func.count()).select_from(Message).where(Message.author_id == person.id)
            ).one()
            state = []
            if not person.active:
                state.append("removed")
            if person.bouncing:
                state.append("bouncing")
            if person.away_note:
                state.append("away (auto-reply)")
            last = f"{person.last_message_at:%Y-%m-%d %H:%M}" if person.last_message_at else "-"
            lines.append(
                f"  {person.role:<8} {person.name:<24} {person.email:<32} messages: {written:>3}"
                f"  last: {last}  {', '.join(state)}"
            )
            lines.append(f"           reply address: {reply_address(case, person, domain)}")
        counts = dict(session.exec(
            select(Message.status, func.count()).where(Message.case_id == case.id)
            .group_by(Message.status)
        ).all())
        lines += ["", "Messages: " + (", ".join(f"{n} {s}" for s, n in counts.items()) or "none")]
        held = session.exec(
            select(Message).where(Message.case_id == case.id, Message.status == "held")
        ).all()
        for message in held:
            author = session.get(Participant, message.author_id)
            lines.append(f"  held: #{message.seq} from {author.name}"
                         + (f" ({message.hold_reason})" if message.hold_reason else ""))
        outbox = dict(session.exec(
            select(OutgoingMail.status, func.count()).where(OutgoingMail.case_id == case.id)
            .group_by(OutgoingMail.status)
        ).all())
        lines.append("Outgoing mail: " + (", ".join(f"{n} {s}" for s, n in outbox.items())
                                          or "none"))
        quarantined = session.exec(
            select(InboundMail).where(
                InboundMail.case_id == case.id,
                InboundMail.status == InboundStatus.QUARANTINED
            )
        ).all()
        for row in quarantined:
            lines.append(f"  quarantined mail {row.id}: {row.reason}")
        return "\n".join(lines)
