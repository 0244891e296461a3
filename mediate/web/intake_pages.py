"""The intake questionnaire, one section per page: save per page, resume, review, submit.

``GET /intake/<token>`` resumes at the first page with an unanswered required question (or the
review page); ``?page=N`` and ``?page=review`` go to a page. Every POST saves the page's
acceptable answers first, so nothing typed is lost: ``next`` also checks required questions,
``back`` and ``save`` do not. A question that depends on another question on the same page is
shown or hidden with CSS ``:has()`` (no JavaScript); where the browser lacks it, the question
stays visible with a note saying when it applies, and the server ignores the answer if not.
"""

from __future__ import annotations

from sqlmodel import Session
from starlette.requests import Request
from starlette.responses import Response

from mediate.web.app import WebContext, respond
from mediate.web.pages import base, first, form_or_refusal
from mediate.web.render import Page, Redirect
from threads.intake import Answer, Form, Problem, Section, missing, visible
from threads.links import Opened
from threads.onboarding import answers_of, summarize


def as_raw(value: Answer) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list):
        return [str(v) for v in value]
    return [str(value)]


def shown_questions(form: Form, section: Section, answers: dict[str, Answer]) -> list[dict]:
    """The page's questions, each with how its visibility is decided."""
    on_page = {q.id for q in section.questions}
    shown = []
    for question in section.questions:
        condition = None
        if question.show_if is not None:
            source_id, wanted = question.show_if
            if source_id in on_page:
                source = form.questions[source_id]
                condition = {"source": source, "values": wanted}
            elif not visible(form, question, answers):
                continue
        shown.append({"q": question, "condition": condition})
    return shown


def page_of(ctx: WebContext, session: Session, opened: Opened, form: Form, index: int,
            values: dict[str, list[str]], errors: dict[str, Problem], status: int = 200,
            stored: dict[str, Answer] | None = None) -> Page:
    party = opened.participant
    if stored is None:  # after a save: read the answers as they are now
        stored = answers_of(session, party)
    section = form.section(index)
    return Page("intake", party.language, {
        **base(ctx, session, opened), "form": form, "section": section, "index": index,
        "count": len(form.sections), "values": values, "errors": errors,
        "questions": shown_questions(form, section, stored),
        "all_questions": form.questions,
    }, status=status)


def resume_at(form: Form, answers: dict[str, Answer]) -> int | None:
    gaps = missing(form, answers)
    if gaps:
        return gaps[0][0]
    return None if answers else 0


def requested_page(request: Request, form: Form) -> int | str | None:
    wanted = request.query_params.get("page", "")
    if wanted == "review":
        return "review"
    if wanted.isdigit() and int(wanted) < len(form.sections):
        return int(wanted)
    return None


async def intake(request: Request) -> Response:
    ctx: WebContext = request.app.state.ctx
    token = request.path_params["token"]
    raw, refused = await form_or_refusal(request)
    if refused is not None:
        return refused
    here = request.url.path

    def work(session: Session):  # noqa: ANN202
        opened = ctx.links.open(session, token, "intake")
        party, case = opened.participant, opened.case
        if party.registered_at is None:
            return Redirect(ctx.links.path(party, "register")), []
        form = ctx.onboarding.form_of(case, party)
        if raw is not None and first(raw, "action") != "submit" \
                and party.intake_submitted_at is None:
            return save(session, opened, form, raw)  # needs none of the reads below
        answers = answers_of(session, party)
        if party.intake_submitted_at is not None:
            return Page("intake-done", party.language, {
                **base(ctx, session, opened), "form": form,
                "summary": summarize(form, answers, party.language),
                "agreement_path": ctx.links.path(party, "agreement")}), []
        if raw is None:
            wanted = requested_page(request, form)
            if wanted is None:
                wanted = resume_at(form, answers)
            if wanted is None or wanted == "review":
                return Page("intake-review", party.language, {
                    **base(ctx, session, opened), "form": form, "here": here,
                    "summary": summarize(form, answers, party.language)}), []
            values = {qid: as_raw(v) for qid, v in answers.items()}
            return page_of(ctx, session, opened, form, wanted, values, {}, stored=answers), []
        gaps, notices = ctx.onboarding.submit(session, case, party)
        if gaps:
            index = gaps[0][0]
            errors = {q.id: Problem("required") for i, q in gaps if i == index}
            values = {qid: as_raw(v) for qid, v in answers.items()}
            return page_of(ctx, session, opened, form, index, values, errors, 422), []
        return Redirect(here), notices

    def save(session: Session, opened: Opened, form: Form, raw: dict):  # noqa: ANN202
        """Store the page's answers; then the next page, or the page again with problems."""
        party, case = opened.participant, opened.case
        action = first(raw, "action")
        page = first(raw, "page")
        index = int(page) if page.isdigit() and int(page) < len(form.sections) else 0
        problems, notices = ctx.onboarding.save_page(
            session, case, party, index, raw, require=action == "next")
        if problems:
            return page_of(ctx, session, opened, form, index, raw, problems, 422), notices
        if action == "save":
            return Page("intake-saved", party.language, {**base(ctx, session, opened),
                                                         "here": here}), notices
        if action == "back":
            return Redirect(f"{here}?page={max(index - 1, 0)}"), notices
        if index + 1 < len(form.sections):
            return Redirect(f"{here}?page={index + 1}"), notices
        return Redirect(f"{here}?page=review"), notices

    return respond(request, await ctx.run(work, read_only=raw is None))

