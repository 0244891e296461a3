"""The Starlette application: which handler answers which path.

Apart from mediate.web.app, which every page imports, so that the pages and the application
that lists them do not import each other.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.routing import Route

from mediate.web import intake_pages, pages
from mediate.web.aftercare_page import evaluation
from mediate.web.app import (
    SecurityHeaders,
    WebContext,
    export_download,
    healthz,
    link_problem,
    not_found,
)
from mediate.web.settlement_page import settlement_page
from threads.links import LinkError


def create_app(ctx: WebContext) -> Starlette:
    routes = [
        Route("/healthz", healthz),
        Route("/export/{token}", export_download),
        Route("/register/{token}", pages.register, methods=["GET", "POST"]),
        Route("/intake/{token}", intake_pages.intake, methods=["GET", "POST"]),
        Route("/agreement/{token}", pages.agreement, methods=["GET", "POST"]),
        Route("/settlement/{token}", settlement_page, methods=["GET", "POST"]),
        Route("/evaluation/{token}", evaluation, methods=["GET", "POST"]),
    ]
    app = Starlette(
        routes=routes,
        exception_handlers={LinkError: link_problem, HTTPException: not_found},
        middleware=[Middleware(SecurityHeaders)],
    )
    app.state.ctx = ctx
    return app
