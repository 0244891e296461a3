"""The settlement's signing page: the whole document, signed as the mediation agreement is.

The party types their full name and ticks consent; the signature is recorded under the SHA-256
of exactly the text the page showed (sent along in the form and compared with the settlement as
it reads at the moment of signing: a redraft in between asks them to read it again).
"""

from __future__ import annotations

from sqlmodel import Session
from starlette.requests import Request
from starlette.responses import Response

from mediate.web.app import WebContext, respond
from mediate.web.pages import first, signing_form
from mediate.web.render import Page, Redirect
from threads import settlement
from threads.agreement import signing_problems
from threads.cases import lock_case, mediator_of


async def settlement_page(request: Request) -> Response:
    ctx: WebContext = request.app.state.ctx
    token = request.path_params["token"]
    raw, refused, client, agent = await signing_form(request)
    if refused is not None:
        return refused

    def work(session: Session):  # noqa: ANN202
        opened = ctx.links.open(session, token, "settlement")
        party, case = opened.participant, opened.case
        if raw is not None:
            case = lock_case(session, case.id)
        document = settlement.of(session, case)
        ready = document is not None and document.status != "draft"
        signature = settlement.signature_of(session, document, party) if ready else None
        context = {"case": case, "party": party, "mediator": mediator_of(session, case),
                   "zone": case.timezone, "document": document if ready else None,
                   "signature": signature, "errors": {}, "changed": False,
                   "values": {"typed_name": "", "consent": False}}
        if raw is None or signature is not None or not ready:
            return Page("settlement", party.language, context), []
        values = {"typed_name": first(raw, "typed_name"),
                  "consent": first(raw, "consent") == "yes"}
        problems = signing_problems(party, values["typed_name"], values["consent"])
        if problems:
            return Page("settlement", party.language, {**context, "values": values,
                                                        "errors": problems}, status=422), []
        try:
            notices = settlement.sign(session, case, party, shown_sha256=first(raw, "sha256"),
                                      typed_name=values["typed_name"], ip=client,
                                      user_agent=agent)
        except settlement.SettlementChanged:
            return Page("settlement", party.language, {**context, "values": values,
                                                        "changed": True}, status=409), []
        return Redirect(ctx.links.path(party, "settlement")), notices

    return respond(request, await ctx.run(work, read_only=raw is None))
