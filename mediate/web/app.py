"""What every page shares: the context, the link check every page starts with, and /healthz.
The routes are put together in mediate.web.routes.

Handlers are async; their database work runs in a worker thread inside one transaction
(``WebContext.run``). A link that cannot be used (tampered, expired, revoked, meant for another
page) ends in one kind page that explains how to get a new link, whatever page it was for.

Every response, pages, /healthz, downloads and errors alike, carries the security headers
(``SecurityHeaders``). /healthz tells anyone only whether the service is well; the full report
(host name, backlog) goes to loopback clients and to requests with ``web.health_token``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import ipaddress
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, text
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mailgate.compose import Composer
from mediate.web import csrf
from mediate.web.render import HEADERS, Page, Redirect, Renderer
from threads.db import is_sqlite, read_scope, session_scope
from threads.links import LinkError, Links
from threads.models import Participant
from threads.onboarding import Onboarding

VIEWS_AT_ONCE = 4  # page views in threads at the same time (see WebContext.run)
LINK_STATUS = {"expired": 410, "revoked": 403, "invalid": 404, "wrong-purpose": 404}


@dataclass
class WebContext:
    engine: Engine
    links: Links
    onboarding: Onboarding
    composer: Composer
    renderer: Renderer
    nudge: Callable[[], None] | None = None  # wakes the outbox after mail was enqueued
    health: Callable[[], dict] | None = None  # mediate.health.health(service), when serving
    # download(token) -> (filename, zip) | None: the case file behind #export's signed link
    download: Callable[[str], tuple[str, bytes] | None] | None = None
    health_token: str = ""  # web.health_token: the full /healthz report for monitoring
    # How many page views run in threads at once, and SQLite's saves one at a time (``run``).
    _views: asyncio.Semaphore = field(init=False, repr=False,
                                      default_factory=lambda: asyncio.Semaphore(VIEWS_AT_ONCE))
    _saves: asyncio.Lock = field(init=False, repr=False, default_factory=asyncio.Lock)

    async def run(self, work: Callable[..., Any], *args: Any, read_only: bool = False) -> Any:
        """Run ``work(session, *args)`` in a thread, in one transaction. It returns a
        ``(result, notices)`` pair; the notices are enqueued in the same transaction.

        ``read_only`` (showing a page): a read transaction instead, which on SQLite neither
        takes nor waits for the write lock, so page views do not queue behind each other and
        behind saves. Work that tries to write there is a bug and fails loudly.

        Page views are CPU work under one GIL: more of them in threads at once only share it
        more thinly (with the saves and the SMTP server), so a few run and the rest wait their
        turn on the event loop. SQLite has one writer at a time: saves wait their turn there
        too, instead of as worker threads parked on the write lock, which used up the thread
        pool and all woke at every commit. On PostgreSQL saves of different cases run side by
        side."""
        def job() -> tuple[Any, bool]:
            if read_only:
                with read_scope(self.engine) as session:
                    result, notices = work(session, *args)
                    if notices or session.new or session.dirty or session.deleted:
                        raise RuntimeError("a read-only page view tried to write")
                    session.expunge_all()  # the page renders them after the rollback
                    return result, False
            with session_scope(self.engine) as session:
                result, notices = work(session, *args)
                self.composer.enqueue(session, notices)
                return result, bool(notices)

        turn: contextlib.AbstractAsyncContextManager = (
            self._views if read_only
            else self._saves if is_sqlite(self.engine) else contextlib.nullcontext())
        async with turn:
            result, mailed = await run_in_threadpool(job)
        if mailed and self.nudge is not None:
            self.nudge()
        return result


def language_of_link(engine: Engine, links: Links, token: str) -> str | None:
    """The language of the participant a (possibly expired) genuine link belongs to."""
    try:
        data = links.serializer.loads(token)  # signature only, any age
    except Exception:  # noqa: BLE001  (a bad link simply has no language)
        return None
    with read_scope(engine) as session:
        participant = session.get(Participant, data.get("p")) if isinstance(data, dict) else None
        return participant.language if participant is not None else None


async def link_problem(request: Request, error: LinkError) -> Response:
    ctx: WebContext = request.app.state.ctx
    token = request.path_params.get("token", "")
    lang = await run_in_threadpool(language_of_link, ctx.engine, ctx.links, token)
    page = Page("link-problem", lang or ctx.renderer.guess_language(request),
                {"reason": error.reason}, status=LINK_STATUS.get(error.reason, 403))
    return ctx.renderer.respond(request, page)


async def form_of(request: Request) -> dict[str, list[str]] | None:
    """The submitted form as lists of values, or None when the CSRF check fails."""
    ctx: WebContext = request.app.state.ctx
    form = await request.form()
    raw = {key: [str(v) for v in form.getlist(key)] for key in form.keys()}
    submitted = raw.pop(csrf.FIELD, [""])[0]
    if not csrf.valid(ctx.renderer.secret, request, submitted):
        return None
    return raw


def csrf_failed(request: Request, lang: str | None = None) -> Response:
    ctx: WebContext = request.app.state.ctx
    page = Page("form-expired", lang or ctx.renderer.guess_language(request),
                {"again": request.url.path}, status=403)
    return ctx.renderer.respond(request, page)


def may_see_details(request: Request, token: str) -> bool:
    """The full health report is for the machine itself and for monitoring that holds the
    token; anyone else learns only whether the service is well."""
    given = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
    if token and given and hmac.compare_digest(given.encode(), token.encode()):
        return True
    try:
        return ipaddress.ip_address(request.client.host).is_loopback if request.client else False
    except ValueError:  # not an IP address (a Unix socket, a test client's name)
        return False


async def healthz(request: Request) -> Response:
    ctx: WebContext = request.app.state.ctx

    def probe() -> str:
        with ctx.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        return "ok"

    details = may_see_details(request, ctx.health_token)
    if ctx.health is not None:  # the full report: database, outbox backlog, scheduler
        report = await run_in_threadpool(ctx.health)
        status = "ok" if report.get("ok") else "error"
        code = 200 if report.get("ok") else 503
        if not details:
            return JSONResponse({"status": status}, status_code=code)
        report["status"] = status
        return JSONResponse(report, status_code=code)
    try:
        database = await run_in_threadpool(probe)
    except Exception:  # noqa: BLE001  (any failure means the database is not usable)
        return JSONResponse({"status": "error", "database": "error"} if details
                            else {"status": "error"}, status_code=503)
    return JSONResponse({"status": "ok", "database": database} if details
                        else {"status": "ok"})


async def export_download(request: Request) -> Response:
    """The mediator's case file when it was too large to mail (a signed, expiring link)."""
    ctx: WebContext = request.app.state.ctx
    found = await run_in_threadpool(ctx.download, request.path_params["token"]) \
        if ctx.download is not None else None
    if found is None:
        raise HTTPException(status_code=404)
    filename, data = found
    return Response(data, media_type="application/zip", headers={
        "Content-Disposition": f'attachment; filename="{filename}"',
        "Cache-Control": "no-store",
    })


async def not_found(request: Request, exc: HTTPException) -> Response:
    ctx: WebContext = request.app.state.ctx
    if exc.status_code == 404:
        page = Page("link-problem", ctx.renderer.guess_language(request),
                    {"reason": "invalid"}, status=404)
        return ctx.renderer.respond(request, page)
    return Response(exc.detail or "", status_code=exc.status_code)


def respond(request: Request, result: Page | Redirect) -> Response:
    return request.app.state.ctx.renderer.respond(request, result)


class SecurityHeaders:
    """Adds the pages' security headers (``render.HEADERS``) to every response that does not
    set its own value: JSON, downloads and error answers are framed, sniffed and cached no
    more than pages are. Plain ASGI, so a page view pays for a dict update, not a task."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.headers = [(k.lower().encode(), v.encode()) for k, v in HEADERS.items()]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                message["headers"] = [*message.get("headers", []),
                                      *((k, v) for k, v in self.headers if k not in present)]
            await send(message)

        await self.app(scope, receive, send_with_headers)
