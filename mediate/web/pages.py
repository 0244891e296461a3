"""Registration and the mediation agreement pages (the intake has its own module).

Registration: the party confirms their name, chooses a language and accepts the privacy
statement and the confidentiality of the mediation, then continues to the intake. Agreement:
the page shows the full text; the party types their full name and ticks consent; the signature
is recorded under the SHA-256 of exactly the text that page showed (sent along in the form and
compared with the text as it reads at the moment of signing).
"""

from __future__ import annotations

from sqlmodel import Session, select
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from mediate.web.app import WebContext, csrf_failed, form_of, language_of_link, respond
from mediate.web.render import Page, Redirect
from threads.agreement import AgreementChanged, last_change, sha256, signing_problems
from threads.cases import mediator_of
from threads.links import Opened
from threads.models import Participant, Signature


def first(raw: dict[str, list[str]], key: str) -> str:
    return (raw.get(key) or [""])[0].strip()


def signed(ctx: WebContext, session: Session, opened: Opened) -> bool:
    """Whether the party's signature is under the agreement as it reads now: the answer of
    ``Onboarding.progress``, without rendering the agreement for a party who has never signed
    (nearly every page view before the agreement step)."""
    party = opened.participant
    ever = session.exec(select(Signature.id).where(Signature.participant_id == party.id)).first()
    return ever is not None and \
        ctx.onboarding.agreements.current(session, opened.case, party) is not None


def steps(ctx: WebContext, session: Session, opened: Opened) -> list[dict]:
    """The three steps with their state and this participant's own links, for orientation."""
    party = opened.participant
    progress = {"registered": party.registered_at is not None,
                "intake": party.intake_submitted_at is not None,
                "signed": signed(ctx, session, opened)}
    return [
        {"key": key, "done": progress[done], "path": ctx.links.path(opened.participant, key),
         "current": opened.purpose == key}
        for key, done in (("register", "registered"), ("intake", "intake"),
                          ("agreement", "signed"))
    ]


def base(ctx: WebContext, session: Session, opened: Opened) -> dict:
    return {"case": opened.case, "party": opened.participant,
            "mediator": mediator_of(session, opened.case),
            "steps": steps(ctx, session, opened),
            "zone": opened.case.timezone}  # None: the service's (Renderer.timezone)


async def form_or_refusal(request: Request) -> tuple[dict | None, Response | None]:
    if request.method != "POST":
        return None, None
    raw = await form_of(request)
    if raw is None:
        ctx: WebContext = request.app.state.ctx
        lang = await run_in_threadpool(language_of_link, ctx.engine, ctx.links,
                                       request.path_params["token"])
        return None, csrf_failed(request, lang)
    return raw, None


async def signing_form(request: Request) -> tuple[dict | None, Response | None, str, str]:
    """A signing page's form (None on GET), or the refusal of a stale one; and the signer's IP
    address and browser, recorded with a signature."""
    raw, refused = await form_or_refusal(request)
    client = request.client.host if request.client else ""
    return raw, refused, client, request.headers.get("user-agent", "")


def next_after_registration(ctx: WebContext, participant: Participant, wanted: str) -> str:
    if wanted == "agreement" or participant.intake_submitted_at is not None:
        return ctx.links.path(participant, "agreement")
    return ctx.links.path(participant, "intake")


async def register(request: Request) -> Response:
    ctx: WebContext = request.app.state.ctx
    token = request.path_params["token"]
    raw, refused = await form_or_refusal(request)
    if refused is not None:
        return refused
    wanted = request.query_params.get("next", "")

    def work(session: Session):  # noqa: ANN202
        opened = ctx.links.open(session, token, "register")
        party = opened.participant
        context = base(ctx, session, opened)
        if raw is None:
            values = {"name": party.name, "language": party.language,
                      "privacy": party.registered_at is not None,
                      "confidentiality": party.registered_at is not None}
            return Page("register", party.language, {**context, "values": values,
                                                      "errors": {}}), []
        values = {"name": first(raw, "name"), "language": first(raw, "language"),
                  "privacy": first(raw, "privacy") == "yes",
                  "confidentiality": first(raw, "confidentiality") == "yes"}
        problems, notices = ctx.onboarding.register(session, opened.case, party, **values)
        if problems:
            lang = values["language"] if values["language"] in ("nl", "en") else party.language
            return Page("register", lang, {**context, "values": values, "errors": problems},
                        status=422), []
        return Redirect(next_after_registration(ctx, party, wanted)), notices

    return respond(request, await ctx.run(work, read_only=raw is None))


async def agreement(request: Request) -> Response:
    ctx: WebContext = request.app.state.ctx
    token = request.path_params["token"]
    raw, refused, client, agent = await signing_form(request)
    if refused is not None:
        return refused

    def work(session: Session):  # noqa: ANN202
        opened = ctx.links.open(session, token, "agreement")
        party, case = opened.participant, opened.case
        if party.registered_at is None:
            return Redirect(ctx.links.path(party, "register") + "?next=agreement"), []
        text = ctx.onboarding.agreements.render(session, case, party)
        context = {**base(ctx, session, opened), "text": text, "sha256": sha256(text),
                   "errors": {}, "values": {"typed_name": "", "consent": False},
                   "changed": False, "intake_path": ctx.links.path(party, "intake"),
                   "what_changed": None}
        signature = ctx.onboarding.agreements.current(session, case, party)
        if signature is None and session.exec(select(Signature.id).where(
                Signature.participant_id == party.id)).first() is not None:
            context["what_changed"] = last_change(session, case)  # they signed an older text
        if raw is None or signature is not None:
            return Page("agreement", party.language,
                        {**context, "signature": signature}), []
        values = {"typed_name": first(raw, "typed_name"),
                  "consent": first(raw, "consent") == "yes"}
        problems = signing_problems(party, values["typed_name"], values["consent"])
        if problems:
            return Page("agreement", party.language, {**context, "signature": None,
                        "values": values, "errors": problems}, status=422), []
        try:
            _, _, notices = ctx.onboarding.sign(
                session, case, party, shown_sha256=first(raw, "sha256"),
                typed_name=values["typed_name"], ip=client, user_agent=agent,
            )
        except AgreementChanged:
            return Page("agreement", party.language, {**context, "signature": None,
                        "values": values, "changed": True}, status=409), []
        return Redirect(ctx.links.path(party, "agreement")), notices

    return respond(request, await ctx.run(work, read_only=raw is None))
