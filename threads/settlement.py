"""The settlement: drafted from the proposals every party agreed to, reviewed by the mediator,
signed by each party behind a signed link, countersigned by the mediator by mail.

``#vaststellingsovereenkomst`` / ``#settlement [kind]`` renders
``templates/settlements/<lang>/<kind>.txt`` (or the case's own template, a ``.txt`` attached to
that mail) with the parties, the case, the date and the agreed proposals in their order. The
draft goes to the mediator alone; ``#approve`` on it sends each party their signing link.
A signature records the SHA-256 of the exact text with the typed name, time, IP address and
browser (as the mediation agreement's does, threads.agreement). A new draft after anyone signed
voids those signatures: the signers are told why and sign the new text. When every party and
the mediator have signed, each party receives the final document as a PDF (built by the
application when the mail is composed) and the case is marked settled on paper.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, TemplateError
from sqlmodel import Session, col, select

from threads import audit
from threads.agreement import sha256
from threads.cases import mediator_of, parties_of
from threads.commands import Command, Context, Plan, phrase
from threads.locales import long_date
from threads.models import (
    Case,
    OutgoingMail,
    Participant,
    Proposal,
    Settlement,
    SettlementSignature,
    utcnow,
)
from threads.notices import Notice
from threads.proposals import agreed_by_all

# The kinds of document, by the word the mediator may add to the command, per language.
KINDS = {
    "nl": {"vaststellingsovereenkomst": "vaststellingsovereenkomst",
           "vso": "vaststellingsovereenkomst", "settlement": "vaststellingsovereenkomst",
           "ouderschapsplan": "ouderschapsplan",
           "parenting-plan": "ouderschapsplan"},
    "en": {"settlement": "settlement", "vaststellingsovereenkomst": "settlement",
           "vso": "settlement", "parenting-plan": "parenting-plan",
           "ouderschapsplan": "parenting-plan"},
}
FAMILY_KIND = {"nl": "ouderschapsplan", "en": "parenting-plan"}
APPROVE_WORDS = {"settlement", "vaststellingsovereenkomst", "vso", "ouderschapsplan",
                 "parenting-plan", "document"}


class SettlementChanged(Exception):
    """The text changed between showing and signing: the party must read it again."""


@dataclass
class Drafting:
    """The settlement templates of one installation (one Jinja environment, made once)."""

    templates_dir: Path

    def __post_init__(self) -> None:
        self.env = Environment(loader=FileSystemLoader(str(self.templates_dir)),
                               undefined=StrictUndefined, keep_trailing_newline=True,
                               trim_blocks=True, lstrip_blocks=True)

    def render(self, source: str, kind: str, lang: str, case: Case, mediator: Participant,
               parties: list[Participant], proposals: list[Proposal], today: datetime) -> str:
        template = self.env.from_string(source) if source else \
            self.env.get_template(f"settlements/{lang}/{kind}.txt")
        text = template.render(
            case=case, mediator=mediator.name, parties=[p.name for p in parties],
            proposals=[{"number": p.number, "text": p.text.strip()} for p in proposals],
            date=long_date(today, lang, case.timezone), lang=lang, kind=kind)
        return "\n".join(line.rstrip() for line in text.strip().splitlines()) + "\n"


_DRAFTING: dict[Path, Drafting] = {}


def drafting(templates_dir: Path) -> Drafting:
    if templates_dir not in _DRAFTING:
        _DRAFTING[templates_dir] = Drafting(templates_dir)
    return _DRAFTING[templates_dir]


def of(session: Session, case: Case) -> Settlement | None:
    return session.exec(select(Settlement).where(Settlement.case_id == case.id)).first()


def signatures(session: Session, settlement: Settlement) -> list[SettlementSignature]:
    """The signatures under the text as it reads now (older ones are void)."""
    return list(session.exec(select(SettlementSignature).where(
        SettlementSignature.settlement_id == settlement.id,
        SettlementSignature.sha256 == settlement.sha256,
    ).order_by(col(SettlementSignature.id))))


def signature_of(session: Session, settlement: Settlement,
                 participant: Participant) -> SettlementSignature | None:
    return session.exec(select(SettlementSignature).where(
        SettlementSignature.participant_id == participant.id,
        SettlementSignature.sha256 == settlement.sha256)).first()


def _own_template(ctx: Context) -> tuple[str, str] | None:
    """The first text file attached to the mediator's mail: (filename, its text)."""
    for item in ctx.files:
        if item.text is not None:
            return item.filename, item.text
    return None


def draft(session: Session, case: Case, mediator: Participant, command: Command,
          ctx: Context) -> Plan | None:
    """'#vaststellingsovereenkomst [kind]' (a .txt attached: the case's own template)."""
    lang = case.language if case.language in KINDS else "en"
    word = command.args.split()[0].lower() if command.args.split() else ""
    kind = KINDS[lang].get(word) if word else (
        FAMILY_KIND[lang] if case.intake_form == "family" else KINDS[lang]["settlement"])
    if kind is None:
        ctx.errors.append(phrase("settlement-kind", line=command.line,
                                 kinds=sorted(set(KINDS[lang].values()))))
        return None
    agreed = agreed_by_all(session, case)
    if not agreed:
        ctx.errors.append(phrase("settlement-nothing-agreed", line=command.line))
        return None
    current = of(session, case)
    own = _own_template(ctx)
    source = own[1] if own else (current.template if current is not None else "")
    maker = drafting(ctx.templates_dir)
    try:
        text = maker.render(source, kind, lang, case, mediator, parties_of(session, case),
                            agreed, utcnow())
    except TemplateError as error:
        ctx.errors.append(phrase("settlement-template", line=command.line, problem=str(error)))
        return None

    def run():  # noqa: ANN202
        row = current or Settlement(case_id=case.id, kind=kind, sha256="")
        voided = signatures(session, row) if current is not None else []
        changed = row.sha256 != sha256(text)
        row.kind, row.language, row.template = kind, lang, source
        row.text, row.sha256, row.proposals = text, sha256(text), [p.number for p in agreed]
        row.drafted_at, row.completed_at, row.pdf_sha256 = utcnow(), None, None
        row.status = "draft" if changed or row.status == "draft" else row.status
        session.add(row)
        session.flush()
        audit.record(session, case, "settlement-drafted", actor=mediator.name, document=kind,
                     sha256=row.sha256, proposals=row.proposals, own_template=bool(source))
        notices = [Notice("settlement-draft", case, mediator, author=mediator,
                          answers=ctx.answers, context={"settlement": row})]
        if changed and voided:
            notices += void(session, case, row, voided, mediator, "redrafted")
        return notices, []

    return run


def void(session: Session, case: Case, settlement: Settlement,
         voided: list[SettlementSignature], mediator: Participant, why: str) -> list[Notice]:
    """Signatures under an older text no longer count: each signer hears why."""
    notices = []
    for signature in voided:
        signer = session.get(Participant, signature.participant_id)
        audit.record(session, case, "settlement-signature-void", participant=signer.name,
                     sha256=signature.sha256, why=why)
        if signer.role == "party" and signer.active:
            notices.append(Notice("settlement-changed", case, signer, author=mediator,
                                  automatic=False, context={"settlement": settlement,
                                                            "why": why}))
    return notices


def answers_draft(session: Session, case: Case, command: Command, ctx: Context) -> bool:
    """Whether an #approve means the settlement draft: named, or answering its review mail."""
    word = command.args.split()[0].lower() if command.args.split() else ""
    if word in APPROVE_WORDS:
        return True
    if word or not ctx.refs:
        return False
    return session.exec(select(OutgoingMail.id).where(
        col(OutgoingMail.message_id).in_(ctx.refs[:50]), OutgoingMail.case_id == case.id,
        OutgoingMail.kind == "settlement-draft")).first() is not None


def approve(session: Session, case: Case, mediator: Participant, command: Command,
            ctx: Context) -> Plan | None:
    """#approve on the draft: every party receives their link to read and sign it."""
    settlement = of(session, case)
    if settlement is None:
        ctx.errors.append(phrase("settlement-none", line=command.line))
        return None
    if settlement.status == "signed":  # signed by all: a new draft first
        ctx.errors.append(phrase("settlement-countersigned", line=command.line))
        return None

    def run():  # noqa: ANN202
        settlement.status, settlement.sent_at = "signing", utcnow()
        session.add(settlement)
        audit.record(session, case, "settlement-sent", actor=mediator.name,
                     sha256=settlement.sha256)
        people = parties_of(session, case)
        signed = {s.participant_id for s in signatures(session, settlement)}
        notices = [Notice("settlement-sign", case, p, author=mediator, automatic=False,
                          context={"settlement": settlement}) for p in people
                   if p.id not in signed]
        notices.append(progress(session, case, settlement, "sent"))
        return notices, []

    return run


def progress(session: Session, case: Case, settlement: Settlement, step: str,
             signer: Participant | None = None) -> Notice:
    """Where the signing stands, for the mediator."""
    signed = {s.participant_id: s for s in signatures(session, settlement)}
    mediator = mediator_of(session, case)
    rows = [{"name": p.name, "signed": signed[p.id].signed_at if p.id in signed else None}
            for p in parties_of(session, case)]
    return Notice("settlement-progress", case, mediator, author=signer or mediator,
                  context={"settlement": settlement, "step": step, "rows": rows,
                           "countersigned": signed.get(mediator.id),
                           "signer": signer})


def sign(session: Session, case: Case, party: Participant, *, shown_sha256: str,
         typed_name: str, ip: str, user_agent: str) -> list[Notice]:
    """A party signs the text they were shown. The caller holds the case lock and checked
    ``signing_problems``."""
    settlement = of(session, case)
    if settlement is None or settlement.status == "draft" or settlement.sha256 != shown_sha256:
        raise SettlementChanged()
    if signature_of(session, settlement, party) is not None:
        return []
    signature = SettlementSignature(
        settlement_id=settlement.id, participant_id=party.id, sha256=settlement.sha256,
        typed_name=" ".join(typed_name.split()), signed_at=utcnow(), ip=ip[:64],
        user_agent=user_agent[:500])
    session.add(signature)
    session.flush()
    audit.record(session, case, "settlement-signed", actor=party.name, sha256=settlement.sha256,
                 ip=signature.ip, user_agent=signature.user_agent,
                 typed_name=signature.typed_name)
    mediator = mediator_of(session, case)
    return [Notice("settlement-signed-copy", case, party, author=mediator,
                   context={"settlement": settlement, "signature": signature}),
            progress(session, case, settlement, "signed", party), *complete(session, case)]


def countersign(session: Session, case: Case, mediator: Participant, command: Command,
                ctx: Context) -> Plan | None:
    """'#ondertekenen': the mediator signs by mail, once every party has signed (their mail is
    proven theirs: threads.rules)."""
    settlement = of(session, case)
    if settlement is None or settlement.status == "draft":
        ctx.errors.append(phrase("settlement-none", line=command.line))
        return None
    signed = {s.participant_id for s in signatures(session, settlement)}
    missing = [p.name for p in parties_of(session, case) if p.id not in signed]
    if missing:
        ctx.errors.append(phrase("settlement-unsigned", line=command.line, names=missing))
        return None
    if mediator.id in signed:
        ctx.errors.append(phrase("settlement-countersigned", line=command.line))
        return None

    def run():  # noqa: ANN202
        signature = SettlementSignature(
            settlement_id=settlement.id, participant_id=mediator.id, sha256=settlement.sha256,
            typed_name=mediator.name, signed_at=utcnow(), ip="",
            user_agent="e-mail: #countersign from the mediator's authenticated address")
        session.add(signature)
        session.flush()
        audit.record(session, case, "settlement-countersigned", actor=mediator.name,
                     sha256=settlement.sha256)
        return [progress(session, case, settlement, "countersigned"),
                *complete(session, case)], []

    return run


def complete(session: Session, case: Case) -> list[Notice]:
    """When every party and the mediator signed: the final document to every party (the PDF
    is attached by the application when the mail is composed), and once to the mediator."""
    settlement = of(session, case)
    mediator = mediator_of(session, case)
    signed = {s.participant_id for s in signatures(session, settlement)}
    people = parties_of(session, case)
    if settlement.completed_at is not None or mediator.id not in signed \
            or any(p.id not in signed for p in people):
        return []
    settlement.status, settlement.completed_at = "signed", utcnow()
    session.add(settlement)
    audit.record(session, case, "settlement-complete", sha256=settlement.sha256)
    return [Notice("settlement-final", case, p, author=mediator, automatic=False,
                   context={"settlement": settlement}) for p in [*people, mediator]]

