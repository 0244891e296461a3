"""A party's way in: register, answer the intake page by page, submit, sign; then readiness.

Each step is one transaction under the case lock (``lock_case``), so two parties finishing at
the same moment are decided one after the other: the second sees the first, and exactly one of
them claims the readiness record and sends the mediator the readiness mail. A worrying
answer to a safety screening question alerts the mediator as soon as the page is saved, once
per question. Readiness itself is decided by ``threads.readiness``. Everything a party
submits is stored and recorded in the case's audit chain.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from threads import agreement, audit, names, readiness
from threads.agreement import Agreements
from threads.cases import lock_case, mediator_of, parties_of
from threads.i18n import N_, translate
from threads.intake import (
    LANGUAGES,
    Answer,
    Form,
    Problem,
    check_page,
    display,
    missing,
    visible,
    worrying,
)
from threads.models import Case, IntakeAnswer, Participant, SafetyAlert, Signature, utcnow
from threads.notices import Notice

READY_STEPS = ("register", "intake", "sign")
WORDS = {"yes": N_("Yes"), "no": N_("No"), "unanswered": N_("(not answered)")}


def words(lang: str) -> dict[str, str]:
    """How an answer reads in a summary: yes, no, or not answered, in ``lang``."""
    return {key: translate(lang, text) for key, text in WORDS.items()}


def claim_alert(session: Session, case: Case, participant: Participant, question_id: str) -> bool:
    """Claim the one alert for this answer; False when the mediator was alerted before."""
    if session.exec(
        select(SafetyAlert).where(SafetyAlert.participant_id == participant.id,
                                  SafetyAlert.question_id == question_id)
    ).first() is not None:
        return False
    try:
        with session.begin_nested():
            session.add(SafetyAlert(case_id=case.id, participant_id=participant.id,
                                    question_id=question_id))
            session.flush()
    except IntegrityError:
        return False
    return True


def answers_of(session: Session, participant: Participant) -> dict[str, Answer]:
    rows = session.exec(
        select(IntakeAnswer).where(IntakeAnswer.participant_id == participant.id)
    )
    return {row.question_id: row.value for row in rows}


def summarize(form: Form, answers: dict[str, Answer], lang: str) -> list[dict]:
    """The asked questions and their answers per section, as a person reads them."""
    said = words(lang)
    return [
        {
            "title": section.title[lang],
            "items": [
                {"label": q.label[lang], "answer": display(q, answers.get(q.id), lang, said),
                 "safety": q.safety}
                for q in section.questions if visible(form, q, answers)
            ],
        }
        for section in form.sections
    ]


@dataclass
class Onboarding:
    forms: dict[str, Form]
    agreements: Agreements

    def form_of(self, case: Case, participant: Participant | None = None) -> Form:
        """The case's form; for a participant, as their role sees it (Form.for_role)."""
        form = self.forms.get(case.intake_form) or self.forms["default"]
        return form.for_role(participant.relation) if participant is not None else form

    # -- registration ---------------------------------------------------------------------
    def register(
        self, session: Session, case: Case, participant: Participant, *, name: str,
        language: str, privacy: bool, confidentiality: bool,
    ) -> tuple[dict[str, str], list[Notice]]:
        name = " ".join(name.split())
        problems = {}
        if not name:
            problems["name"] = "name-required"
        elif len(name) > 200:
            problems["name"] = "name-too-long"
        if language not in LANGUAGES:
            problems["language"] = "language-required"
        if not privacy:
            problems["privacy"] = "privacy-required"
        if not confidentiality:
            problems["confidentiality"] = "confidentiality-required"
        elif names.taken(session, case, participant, name):
            problems["name"] = "name-taken"
        if problems:
            return problems, []
        case = lock_case(session, case.id)
        # A different name is only proposed: the mediator decides (threads.names).
        proposal = names.propose(session, case, participant, name)
        participant.language = language
        name = participant.name
        first = participant.registered_at is None
        if first:
            participant.registered_at = utcnow()
        session.add(participant)
        audit.record(session, case, "registered" if first else "registration-updated",
                     actor=name, participant=name, language=language,
                     privacy=True, confidentiality=True)
        return {}, proposal + self.check_ready(session, case)

    # -- intake ---------------------------------------------------------------------------
    def save_page(
        self, session: Session, case: Case, participant: Participant, index: int,
        raw: dict[str, list[str]], *, require: bool,
    ) -> tuple[dict[str, Problem], list[Notice]]:
        """Store one page's acceptable answers (even when others on it have problems)."""
        form = self.form_of(case, participant)
        case = lock_case(session, case.id)
        rows = {  # the party's answers, read once: checked against, updated, then screened
            row.question_id: row for row in session.exec(
                select(IntakeAnswer).where(IntakeAnswer.participant_id == participant.id)
            )
        }
        answers = {qid: row.value for qid, row in rows.items()}
        values, problems = check_page(form, form.section(index), raw, answers, require=require)
        for qid, value in values.items():
            if qid in problems and problems[qid].code != "required":
                continue
            row = rows.get(qid)
            if value is None:
                answers.pop(qid, None)
                if row is not None:
                    session.delete(row)
                continue
            answers[qid] = value
            if row is None:
                session.add(IntakeAnswer(participant_id=participant.id, form=form.name,
                                         question_id=qid, value=value))
            elif row.value != value:
                row.value, row.updated_at = value, utcnow()
                session.add(row)
        session.flush()
        return problems, self._safety_alerts(session, case, participant, form, answers)

    def _safety_alerts(
        self, session: Session, case: Case, participant: Participant, form: Form,
        answers: dict[str, Answer],
    ) -> list[Notice]:
        worries = list(worrying(form, answers))
        if not worries:  # the usual case: no lookup of the mediator on every save
            return []
        mediator = mediator_of(session, case)
        lang = mediator.language
        notices = []
        for question in worries:
            if not claim_alert(session, case, participant, question.id):
                continue
            audit.record(session, case, "safety-alert", participant=participant.name,
                         question=question.id, answer=answers.get(question.id))
            notices.append(Notice("safety-alert", case, mediator, context={
                "party": participant, "question": question.label[lang],
                "answer": display(question, answers.get(question.id), lang, words(lang)),
            }))
        return notices

    def submit(
        self, session: Session, case: Case, participant: Participant
    ) -> tuple[list, list[Notice]]:
        """Submit the intake; returns (unanswered required questions with page, notices)."""
        form = self.form_of(case, participant)
        case = lock_case(session, case.id)
        session.refresh(participant)
        if participant.intake_submitted_at is not None:
            return [], []
        answers = answers_of(session, participant)
        gaps = missing(form, answers)
        if gaps:
            return gaps, []
        participant.intake_submitted_at = utcnow()
        session.add(participant)
        asked = {qid: v for qid, v in answers.items()
                 if qid in form.questions and visible(form, form.questions[qid], answers)}
        audit.record(session, case, "intake-submitted", actor=participant.name,
                     participant=participant.name, form=form.name, answers=asked)
        mediator = mediator_of(session, case)
        notices = self._safety_alerts(session, case, participant, form, answers) + [
            Notice("intake-copy", case, participant, author=mediator, context={
                "form_title": form.title[participant.language],
                "summary": summarize(form, answers, participant.language)}),
            Notice("intake-to-mediator", case, mediator, context={
                "party": participant, "form_title": form.title[mediator.language],
                "summary": summarize(form, answers, mediator.language)}),
        ]
        return [], notices + self.check_ready(session, case)

    # -- agreement ------------------------------------------------------------------------
    def sign(
        self, session: Session, case: Case, participant: Participant, *, shown_sha256: str,
        typed_name: str, ip: str, user_agent: str,
    ) -> tuple[Signature, bool, list[Notice]]:
        case = lock_case(session, case.id)
        signature, new, notices = agreement.sign(
            session, self.agreements, case, participant, shown_sha256=shown_sha256,
            typed_name=typed_name, ip=ip, user_agent=user_agent,
        )
        if new:
            notices += self.check_ready(session, case)
        return signature, new, notices

    # -- readiness ------------------------------------------------------------------------
    def progress(self, session: Session, case: Case, participant: Participant) -> dict:
        return {
            "registered": participant.registered_at is not None,
            "intake": participant.intake_submitted_at is not None,
            "signed": self.agreements.current(session, case, participant) is not None,
        }

    def refresh_signatures(self, session: Session, case: Case) -> None:
        """Clear ``signed_at`` for parties whose signature is under an older text: a changed
        agreement needs new signatures (readiness and reminders read ``signed_at``)."""
        for party in parties_of(session, case):
            if party.signed_at is not None and self.agreements.current(
                session, case, party
            ) is None:
                party.signed_at = None
                session.add(party)
                audit.record(session, case, "signature-outdated", participant=party.name)
            elif party.signed_at is None and session.exec(select(Signature.id).where(
                    Signature.participant_id == party.id)).first() is not None:
                # a change that did not touch this party's text (agreement.text_changed
                # cannot render it): their signature still counts
                current = self.agreements.current(session, case, party)
                if current is not None:
                    party.signed_at = current.signed_at
                    session.add(party)

    def check_ready(self, session: Session, case: Case) -> list[Notice]:
        """The readiness mail, exactly once (``threads.readiness`` claims it), with the
        combined overview of every party's answers and signature. Caller holds the lock."""
        self.refresh_signatures(session, case)
        notices = readiness.check_ready(session, case, READY_STEPS)
        for notice in notices:
            if notice.kind != "ready" or notice.recipient is None:
                continue
            lang = notice.recipient.language
            notice.context["overview"] = [
                {"party": p, "signature": self.agreements.current(session, case, p),
                 "summary": summarize(self.form_of(case, p), answers_of(session, p), lang)}
                for p in parties_of(session, case)
            ]
        return notices
