"""The mediation agreement: its text for one party, the SHA-256 of that text, and signatures.

The text is rendered from the model agreement the case was opened with
(``templates/agreements/<lang>.txt``, or an older version kept in ``templates/agreements/v<N>/``:
see ``model_path``), or from the case's own template (``mediate case open --agreement FILE``),
with the case data: mediator, parties, hourly rate, platform fee, each party's share. A
signature records the SHA-256 of the exact UTF-8 text the party was shown, with the time,
IP address and user agent, as evidence of what was agreed (cf. eIDAS art. 3(10), a simple
electronic signature). Signing the same text again changes nothing; when the text
changes (another party joins, the rate changes), the old signatures no longer count and
everyone signs again.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, TemplateError
from sqlmodel import Session, col, select

from threads import audit
from threads.cases import mediator_of, parties_of
from threads.costs import plain, shares
from threads.i18n import install
from threads.models import (
    AGREEMENT_VERSION,
    AuditEvent,
    Case,
    CaseAgreement,
    Participant,
    Signature,
    utcnow,
)
from threads.notices import Notice


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def money(amount: float, lang: str = "nl") -> str:
    """'€ 1.234,50' in Dutch, '€1,234.50' in English."""
    text = f"{amount:,.2f}"
    if lang == "nl":
        return "€ " + text.replace(",", " ").replace(".", ",").replace(" ", ".")
    return "€" + text


# Dutch and Flemish name particles, written before the surname ("de Wit", "van der Berg").
_PARTICLES = {"de", "den", "der", "van", "von", "het", "'t", "t", "te", "ter", "ten", "in",
              "op", "la", "le", "du", "da", "di", "d'", "l'", "s", "'s", "vd", "v/d"}


def _name_words(name: str) -> list[str]:
    """Lower case, accents and punctuation gone, initials split: 'S.J. de Wit' ->
    ['s', 'j', 'de', 'wit']."""
    plain = "".join(c for c in unicodedata.normalize("NFKD", name)
                    if not unicodedata.combining(c)).casefold()
    plain = re.sub(r"[.,]", " ", plain.replace("-", " - "))
    return [w for w in plain.split() if w != "-"]


def _split(words: list[str]) -> tuple[list[str], list[str]]:
    """(first names, surname with its particles): the surname is the last word and the
    particles just before it."""
    at = len(words) - 1
    while at > 1 and words[at - 1].casefold() in _PARTICLES:
        at -= 1
    return words[:at], words[at:]


def same_name(typed: str, name: str) -> bool:
    """The name typed under a signature is the participant's own name, allowing for case,
    accents, spacing, hyphens and initials for the first names ('S. de Wit' signs for
    'Sanne de Wit', 'S.J. de Wit' for 'Sanne Johanna de Wit'). The surname must be whole."""
    typed_words, name_words = _name_words(typed), _name_words(name)
    if not typed_words or not name_words:
        return False
    if typed_words == name_words:
        return True
    typed_first, typed_last = _split(typed_words)
    name_first, name_last = _split(name_words)
    if typed_last != name_last or len(typed_first) != len(name_first):
        return False
    return all(t == n or (len(t) == 1 and n.startswith(t))
               for t, n in zip(typed_first, name_first, strict=True))


def model_path(case: Case, lang: str) -> str:
    """The model agreement the case was opened with: the current one, or an older version
    kept word for word, so that what a party was sent is what they sign (and its SHA-256
    stays the one recorded under a signature)."""
    version = case.agreement_version or 1
    if version == AGREEMENT_VERSION:
        return f"agreements/{lang}.txt"
    return f"agreements/v{version}/{lang}.txt"


def shows_split(session: Session, case: Case) -> bool:
    """Whether the case's agreement names each party's share of the costs (the current model
    does; the first one and a mediator's own template may not)."""
    custom = session.exec(select(CaseAgreement.source).where(
        CaseAgreement.case_id == case.id)).first()
    if custom is not None:
        return "shares" in custom
    return (case.agreement_version or 1) >= 2


class AgreementChanged(Exception):
    """The text changed between showing and signing: the party must read it again."""


@dataclass
class Agreements:
    templates_dir: Path
    service_name: str = "Mediate"
    env: Environment = field(init=False)

    def __post_init__(self) -> None:
        self.env = install(Environment(  # whole texts per language; _() in the case's ``lang``
            loader=FileSystemLoader(str(self.templates_dir)), undefined=StrictUndefined,
            keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True,
        ))
        self.env.filters["money"] = money

    def check_template(self, source: str) -> None:
        """Raise ValueError when a custom agreement template cannot be used."""
        try:
            self.env.from_string(source)
        except TemplateError as error:
            raise ValueError(f"the agreement template has an error: {error}") from None

    def render(self, session: Session, case: Case, participant: Participant) -> str:
        custom = session.exec(
            select(CaseAgreement).where(CaseAgreement.case_id == case.id)
        ).first()
        if custom is not None:
            template = self.env.from_string(custom.source)
        else:
            template = self.env.get_template(model_path(case, participant.language))
        mediator = mediator_of(session, case)
        parties = parties_of(session, case)
        split = shares(parties, Decimal(0))
        text = template.render(
            case=case, mediator=mediator, parties=[p.name for p in parties],
            hourly_rate=case.hourly_rate, platform_fee=case.platform_fee,
            lang=participant.language, opened=case.created_at.strftime("%d-%m-%Y"),
            service_name=self.service_name,
            # who bears which part of the costs, as agreed for the case (#split)
            shares=[{"name": s.party.name, "percent": plain(s.percent)} for s in split],
            split_set=any(p.cost_share is not None for p in parties),
            # family mediation: the child-safety reporting code applies
            family=case.intake_form == "family" or any(p.relation for p in parties),
        )
        return text.strip() + "\n"

    def current(self, session: Session, case: Case, participant: Participant) -> Signature | None:
        """The participant's signature under the text as it reads now, if any."""
        digest = sha256(self.render(session, case, participant))
        return session.exec(
            select(Signature).where(
                Signature.participant_id == participant.id, Signature.sha256 == digest
            )
        ).first()


def signing_problems(participant: Participant, typed_name: str, consent: bool) -> dict[str, str]:
    problems = {}
    if not typed_name.strip():
        problems["typed_name"] = "name-required"
    elif not same_name(typed_name, participant.name):
        # Say what is expected, not only that it is wrong: the name, and that initials do.
        first, last = _split(participant.name.split())
        example = " ".join([*(f"{w[0].upper()}." for w in first), *last])
        problems["typed_name"] = {"code": "name-mismatch",
                                  "params": {"name": participant.name, "example": example}}
    if not consent:
        problems["consent"] = "consent-required"
    return problems


def sign(
    session: Session, agreements: Agreements, case: Case, participant: Participant, *,
    shown_sha256: str, typed_name: str, ip: str, user_agent: str,
) -> tuple[Signature, bool, list[Notice]]:
    """Record the signature; returns (signature, whether it is new, notices).

    The caller holds the case lock and has checked ``signing_problems``."""
    text = agreements.render(session, case, participant)
    digest = sha256(text)
    if digest != shown_sha256:
        raise AgreementChanged()
    existing = session.exec(
        select(Signature).where(
            Signature.participant_id == participant.id, Signature.sha256 == digest
        )
    ).first()
    if existing is not None:
        return existing, False, []
    signature = Signature(
        case_id=case.id, participant_id=participant.id, sha256=digest, text=text,
        typed_name=" ".join(typed_name.split()), language=participant.language,
        signed_at=utcnow(), ip=ip[:64], user_agent=user_agent[:500],
    )
    session.add(signature)
    participant.signed_at = signature.signed_at
    session.add(participant)
    session.flush()
    audit.record(session, case, "agreement-signed", actor=participant.name,
                 participant=participant.name, sha256=digest, ip=signature.ip,
                 user_agent=signature.user_agent, typed_name=signature.typed_name)
    mediator = mediator_of(session, case)
    context = {"signature": signature, "text": text}
    return signature, True, [
        Notice("signed-copy", case, participant, author=mediator, context=context),
        Notice("signed-to-mediator", case, mediator, context={**context, "party": participant}),
    ]


def text_changed(
    session: Session, case: Case, change: dict, actor: str, exclude: Participant | None = None,
) -> list[Notice]:
    """The agreement reads differently now (``change``: a party added or removed, a new name,
    a new rate): every party who had signed is told why and signs again with a fresh link.
    The change is recorded so that the agreement page can say what changed."""
    audit.record(session, case, "agreement-changed", actor=actor, **change)
    mediator = mediator_of(session, case)
    notices = []
    for party in parties_of(session, case):
        if party.signed_at is None:
            continue
        party.signed_at = None  # their signature is under the older text
        session.add(party)
        audit.record(session, case, "signature-outdated", participant=party.name)
        if exclude is None or party.id != exclude.id:
            notices.append(Notice("agreement-changed", case, party, author=mediator,
                                  automatic=False, context={"change": change}))
    return notices


def last_change(session: Session, case: Case) -> dict | None:
    """What changed in the agreement most recently (for the page a party signs again on)."""
    event = session.exec(
        select(AuditEvent).where(AuditEvent.case_id == case.id,
                                 AuditEvent.kind == "agreement-changed")
        .order_by(col(AuditEvent.id).desc())
    ).first()
    return dict(event.detail) if event is not None else None


def signatures_of(session: Session, case: Case) -> list[Signature]:
    return list(session.exec(
        select(Signature).where(Signature.case_id == case.id).order_by(col(Signature.id))
    ))
