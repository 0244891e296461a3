"""The evaluation questionnaire after a settled mediation (threads.aftercare): every question of
``intake_forms/evaluation.toml`` on one page, none required, answered once."""

from __future__ import annotations

from sqlmodel import Session
from starlette.requests import Request
from starlette.responses import Response

from mediate.web.app import WebContext, respond
from mediate.web.intake_pages import shown_questions
from mediate.web.pages import form_or_refusal
from mediate.web.render import Page, Redirect
from threads import aftercare
from threads.cases import mediator_of
from threads.intake import check_page
from threads.links import LinkError
from threads.models import utcnow


async def evaluation(request: Request) -> Response:
    ctx: WebContext = request.app.state.ctx
    token = request.path_params["token"]
    raw, refused = await form_or_refusal(request)
    if refused is not None:
        return refused

    def work(session: Session):  # noqa: ANN202
        opened = ctx.links.open(session, token, "evaluation")
        party, case = opened.participant, opened.case
        form = ctx.onboarding.forms.get(aftercare.EVALUATION_FORM)
        if form is None:  # the administrator removed the form since the link was sent
            raise LinkError("invalid")
        context = {"case": case, "party": party, "mediator": mediator_of(session, case),
                   "zone": case.timezone, "form": form, "values": raw or {}, "errors": {},
                   "done": aftercare.answered(session, party),
                   "sections": [(s, shown_questions(form, s, {})) for s in form.sections]}
        if raw is None or context["done"]:
            return Page("evaluation", party.language, context), []
        answers, problems = {}, {}
        for section in form.sections:
            values, wrong = check_page(form, section, raw, answers, require=False)
            answers |= values
            problems |= wrong
        if problems:
            return Page("evaluation", party.language, {**context, "errors": problems},
                        status=422), []
        notices = aftercare.evaluated(session, case, party, form, answers, utcnow())
        # an evaluation's safety question alerts the mediator as the intake's does
        notices += ctx.onboarding._safety_alerts(session, case, party, form, answers)  # noqa: SLF001
        return Redirect(request.url.path), notices

    return respond(request, await ctx.run(work, read_only=raw is None))
