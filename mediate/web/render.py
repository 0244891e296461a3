"""Rendering pages: Jinja2 templates from ``templates/web/`` and their texts in Dutch and English.

Every text a page shows lives in ``templates/web/text.toml`` (one table per language, the same
keys in both), so an administrator can change wording without touching the layout. Pages are
served with headers that keep the signed link in the address bar private: no referrer, no
caching, no framing, nothing loaded from elsewhere.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from mediate.web import csrf
from threads.locales import DEFAULT_ZONE
from threads.locales import FILTERS as LOCALE_FILTERS

LANGUAGES = ("nl", "en")
HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "X-Robots-Tag": "noindex, nofollow",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
}


@dataclass
class Page:
    """What a handler decided to show: a template, its language and context, a status."""

    template: str
    lang: str
    context: dict[str, Any] = field(default_factory=dict)
    status: int = 200


@dataclass
class Redirect:
    url: str


@dataclass
class Renderer:
    templates_dir: Path
    service_name: str
    secret: str
    secure_cookies: bool = False
    default_language: str = "nl"
    timezone: str = DEFAULT_ZONE  # service.timezone; a page about a case may bring its own

    def __post_init__(self) -> None:
        self.env = Environment(
            loader=FileSystemLoader(str(self.templates_dir)),
            autoescape=select_autoescape(["html"]), undefined=StrictUndefined,
            trim_blocks=True, lstrip_blocks=True,
        )
        self.env.filters.update(LOCALE_FILTERS)  # dates and money as the reader writes them
        with (self.templates_dir / "web" / "text.toml").open("rb") as handle:
            self.texts: dict[str, dict[str, Any]] = tomllib.load(handle)

    def text(self, lang: str) -> dict[str, Any]:
        return self.texts.get(lang) or self.texts[self.default_language]

    def guess_language(self, request: Request) -> str:
        for part in request.headers.get("accept-language", "").split(","):
            tag = part.split(";")[0].strip().lower()[:2]
            if tag in LANGUAGES:
                return tag
        return self.default_language

    def respond(self, request: Request, result: Page | Redirect) -> Response:
        if isinstance(result, Redirect):
            response: Response = RedirectResponse(result.url, status_code=303)
        else:
            response = self.page(request, result)
        response.headers.update(HEADERS)
        return response

    def page(self, request: Request, page: Page) -> HTMLResponse:
        cookie, fresh = csrf.cookie_value(request)
        lang = page.lang if page.lang in LANGUAGES else self.default_language
        context = {
            "t": self.text(lang), "lang": lang, "service_name": self.service_name,
            "csrf_field": csrf.FIELD,
            "csrf_token": csrf.form_token(self.secret, cookie, request.url.path),
            **page.context,
        }
        context["zone"] = context.get("zone") or self.timezone
        html = self.env.get_template(f"web/{page.template}.html").render(**context)
        response = HTMLResponse(html, status_code=page.status)
        if fresh:
            csrf.set_cookie(response, cookie, self.secure_cookies)
        return response
