"""Proposals by mail: the mediator puts a numbered proposal to the parties (``#voorstel``), each
party answers "akkoord" / "agreed" or "niet akkoord" / "not agreed" by replying to it.

Each proposal travels in its own thread per party (channel ``proposal:<number>``), so a reply to
it, or to its reminder, says which proposal it answers without a number. An answer is recorded
for the mediator and never passed on to the other parties as a message; a later answer replaces
an earlier one (the record keeps both). A reply to a proposal that does not start with an
answer is held for the mediator as an ordinary message. Outside a proposal's thread an answer
needs its number ("akkoord 3").
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import func
from sqlmodel import Session, col, select

from threads import audit
from threads.cases import mediator_of, parties_of
from threads.commands import Command, Context, Plan, find_party, phrase
from threads.models import Case, OutgoingMail, Participant, Proposal, ProposalParty, utcnow
from threads.notices import Notice
from threads.relay import Contribution, hold

AGREED, NOT_AGREED = "agreed", "not-agreed"
CHANNEL = "proposal:"
_ANSWER = re.compile(
    r"^\s*(?P<word>niet[\s-]+akkoord|geen[\s-]+akkoord|not[\s-]+agreed|akkoord|agreed)\b"
    r"(?:\s*(?:met|with|to|op|on|voor|for)?\s*(?:voorstel|proposal)?\s*(?:nr\.?|no\.?)?\s*"
    r"#?(?P<number>\d+)\b)?\s*[.!,:;–-]?\s*(?P<comment>.*)$",
    re.IGNORECASE,
)


@dataclass
class Answer:
    answer: str  # AGREED | NOT_AGREED
    number: int | None
    comment: str


def read_answer(text: str) -> Answer | None:
    """The answer on the first line of a party's reply, with the rest as their comment."""
    first, _, rest = text.strip().partition("\n")
    match = _ANSWER.match(first)
    if match is None:
        return None
    word = match["word"].lower().split()[0].split("-")[0]
    comment = "\n".join(part for part in (match["comment"].strip(), rest.strip()) if part)
    return Answer(NOT_AGREED if word in ("niet", "geen", "not") else AGREED,
                  int(match["number"]) if match["number"] else None, comment)


def channel(proposal: Proposal) -> str:
    return f"{CHANNEL}{proposal.number}"


def by_number(session: Session, case: Case, number: int) -> Proposal | None:
    return session.exec(select(Proposal).where(
        Proposal.case_id == case.id, Proposal.number == number)).first()


def of_case(session: Session, case: Case) -> list[Proposal]:
    return list(session.exec(
        select(Proposal).where(Proposal.case_id == case.id).order_by(col(Proposal.number))))


def answered_thread(session: Session, case: Case, party: Participant,
                    refs: list[str]) -> Proposal | None:
    """The proposal whose thread this reply continues (a copy sent to this party in it)."""
    if not refs:
        return None
    # By Message-ID alone (at most 50 rows of its unique index), case and party checked here:
    # with them in the query SQLite chose the case's index and read every copy the case ever
    # sent (2 ms a reply at 300 copies, more with every message).
    copies = session.exec(select(
        OutgoingMail.id, OutgoingMail.channel, OutgoingMail.case_id, OutgoingMail.participant_id,
    ).where(col(OutgoingMail.message_id).in_(refs[:50]))).all()
    ours = [(copy_id, channel) for copy_id, channel, case_id, party_id in copies
            if case_id == case.id and party_id == party.id and channel.startswith(CHANNEL)]
    return by_number(session, case, int(max(ours)[1].removeprefix(CHANNEL))) if ours else None


def answer_by_mail(session: Session, case: Case, party: Participant,
                   contribution: Contribution) -> list[Notice] | None:
    """Record a party's answer to a proposal; hold a reply to a proposal that is no answer.
    None: this mail is not about a proposal (the other rules decide)."""
    thread = answered_thread(session, case, party, contribution.refs)
    answer = read_answer(contribution.text)
    if answer is None or (thread is None and answer.number is None):
        if thread is None:
            return None
        return hold(session, case, party, contribution, None, always=True)
    proposal = by_number(session, case, answer.number) if answer.number else thread
    row = session.exec(select(ProposalParty).where(
        ProposalParty.proposal_id == proposal.id, ProposalParty.participant_id == party.id,
    )).first() if proposal is not None else None
    if row is None:  # a number that is not theirs to answer: the mediator reads it
        return hold(session, case, party, contribution, None, always=True)
    mediator = mediator_of(session, case)
    context = {"proposal": proposal, "answer": answer.answer, "comment": answer.comment,
               "changed": row.answer is not None and row.answer != answer.answer,
               "withdrawn": proposal.withdrawn_at is not None}
    receipt = Notice("proposal-answer", case, party, author=mediator, context=context,
                     answers=contribution.message_id, channel=channel(proposal))
    if proposal.withdrawn_at is not None:
        return [receipt]
    row.answer, row.comment, row.answered_at = answer.answer, answer.comment, utcnow()
    session.add(row)
    audit.record(session, case, "proposal-answered", actor=party.name, proposal=proposal.number,
                 answer=answer.answer)
    return [receipt, Notice("proposal-answered", case, mediator, author=party,
                            context={**context, "party": party,
                                     "matrix": matrix(session, case)})]


def matrix(session: Session, case: Case) -> list[dict]:
    """Every proposal with each party it was put to: their answer and its date."""
    proposals = of_case(session, case)
    if not proposals:
        return []
    names = {p.id: p.name for p in session.exec(
        select(Participant).where(Participant.case_id == case.id))}
    rows: dict[int, list[dict]] = {p.id: [] for p in proposals}
    for row in session.exec(select(ProposalParty).where(
            col(ProposalParty.proposal_id).in_(list(rows))).order_by(col(ProposalParty.id))):
        rows[row.proposal_id].append({"name": names.get(row.participant_id, "?"),
                                      "answer": row.answer, "at": row.answered_at,
                                      "comment": row.comment})
    return [{"number": p.number, "text": p.text, "at": p.created_at,
             "withdrawn": p.withdrawn_at, "parties": rows[p.id],
             "everyone": bool(rows[p.id]) and all(r["answer"] == AGREED for r in rows[p.id])}
            for p in proposals]


def agreed_by_all(session: Session, case: Case) -> list[Proposal]:
    """The proposals every party of the case agreed to, in their order (what a settlement
    is drafted from). A proposal put to some parties only counts when all of the case's
    present parties were asked and agreed."""
    present = {p.id for p in parties_of(session, case)}
    chosen = []
    for proposal in of_case(session, case):
        if proposal.withdrawn_at is not None:
            continue
        answers = {r.participant_id: r.answer for r in session.exec(
            select(ProposalParty).where(ProposalParty.proposal_id == proposal.id))}
        if present and all(answers.get(pid) == AGREED for pid in present):
            chosen.append(proposal)
    return chosen


def _addressees(session: Session, case: Case, command: Command,
                ctx: Context) -> list[Participant] | None:
    names = [n for n in re.split(r"\s*(?:,|;|&|\ben\b|\band\b)\s*", command.args) if n.strip()]
    people = [find_party(session, case, n, ctx, command.line) for n in names]
    return None if None in people else people  # type: ignore[return-value]


def _tell(case: Case, mediator: Participant, proposal: Proposal, people: list[Participant],
          ctx: Context, *, withdrawn: bool) -> list[Notice]:
    """The proposal (or its withdrawal) to each party in its thread; the mediator hears to whom."""
    kind = "proposal-withdrawn" if withdrawn else "proposal"
    notices = [Notice(kind, case, p, author=mediator, automatic=False,
                      context={"proposal": proposal}, channel=channel(proposal)) for p in people]
    notices.append(Notice("proposal-sent", case, mediator, author=mediator, answers=ctx.answers,
                          context={"proposal": proposal, "names": [p.name for p in people],
                                   "withdrawn": withdrawn}))
    return notices


def propose(session: Session, case: Case, mediator: Participant, command: Command,
            ctx: Context) -> Plan | None:
    """'#voorstel [names]' above the proposal's text: to every party, or to those named. A
    one-line '#voorstel text' without a text below is the proposal itself, to everyone."""
    text = ctx.rest.strip()
    people = parties_of(session, case)
    if not text and command.args.strip():
        text = command.args.strip()
    elif command.args.strip():
        people = _addressees(session, case, command, ctx)
    if not text:
        ctx.errors.append(phrase("proposal-text-missing", line=command.line))
    if not text or not people:
        return None

    def run():  # noqa: ANN202
        number = (session.exec(select(func.max(Proposal.number)).where(
            Proposal.case_id == case.id)).one() or 0) + 1
        proposal = Proposal(case_id=case.id, number=number, text=text)
        session.add(proposal)
        session.flush()
        for person in people:
            session.add(ProposalParty(proposal_id=proposal.id, participant_id=person.id))
        audit.record(session, case, "proposal", actor=mediator.name, proposal=number,
                     parties=[p.name for p in people])
        return _tell(case, mediator, proposal, people, ctx, withdrawn=False), []

    return run


def proposals(session: Session, case: Case, mediator: Participant, command: Command,
              ctx: Context) -> Plan | None:
    """'#voorstellen': every proposal, its text and who answered what."""
    def run():  # noqa: ANN202
        return [Notice("proposals", case, mediator, author=mediator, answers=ctx.answers,
                       context={"matrix": matrix(session, case)})], []

    return run


def withdraw(session: Session, case: Case, mediator: Participant, command: Command,
             ctx: Context) -> Plan | None:
    """'#intrekken n': the proposal no longer stands; the parties it was put to are told in its
    thread, and later answers to it are not recorded."""
    word = command.args.split()[0].lstrip("#") if command.args.split() else ""
    proposal = by_number(session, case, int(word)) if word.isdigit() else None
    if proposal is None:
        ctx.errors.append(phrase("no-such-proposal", line=command.line))
        return None
    if proposal.withdrawn_at is not None:
        ctx.errors.append(phrase("proposal-withdrawn-before", line=command.line,
                                 number=proposal.number))
        return None

    def run():  # noqa: ANN202
        proposal.withdrawn_at = utcnow()
        session.add(proposal)
        audit.record(session, case, "proposal-withdrawn", actor=mediator.name,
                     proposal=proposal.number)
        asked = session.exec(select(Participant).join(
            ProposalParty, col(ProposalParty.participant_id) == Participant.id).where(
            ProposalParty.proposal_id == proposal.id, Participant.active == True,  # noqa: E712
        ).order_by(col(Participant.id))).all()
        return _tell(case, mediator, proposal, asked, ctx, withdrawn=True), []

    return run
