"""Rendering pages: Jinja2 templates from ``templates/web/``, in Dutch and English.

Every text a page shows is an English message id in the template (``_("Sign")``) or, for the
texts chosen by a code (form problems, what changed in an agreement), here; the Dutch comes
from the gettext catalog (``threads.i18n``). Pages are served with headers that keep the
signed link in the address bar private: no referrer, no caching, no framing, nothing loaded
from elsewhere.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, pass_context, select_autoescape
from jinja2.runtime import Context
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from mediate.web import csrf
from threads.i18n import N_, install, translate
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

# What a form problem says, by its code (threads.intake.Problem, threads.onboarding).
PROBLEMS = {
    "required": N_("Please answer this."),
    "too-long": N_("This is too long: at most %(limit)s characters."),
    "unknown-option": N_("Please choose one of the options."),
    "not-a-date": N_("Please enter a date, for example 15-03-2026."),
    "not-a-number": N_("Please enter a number."),
    "not-a-phone": N_("Please enter a phone number, for example 07700 900123 or +44 7700 900123."),
    "out-of-range": N_("Please enter a number between %(min)s and %(max)s."),
    "at-least": N_("Please enter a number of at least %(min)s."),
    "at-most": N_("Please enter a number of at most %(max)s."),
    "name-required": N_("Please enter your name."),
    "name-taken": N_("Someone else in this mediation already has this name. Please choose a "
                     "name the others will know you by."),
    "name-too-long": N_("This name is too long."),
    "name-mismatch": N_("Please type your name as the mediation knows it: %(name)s. Initials are "
                        "fine too, for example %(example)s."),
    "language-required": N_("Please choose a language."),
    "privacy-required": N_("Please agree to the use of your data to continue."),
    "confidentiality-required": N_("Please agree to confidentiality to continue."),
    "consent-required": N_("Please tick that you agree, to sign."),
}
# What changed in the agreement since a party signed (threads.agreement.last_change).
CHANGES = {
    "party-added": N_("%(name)s now also takes part in the mediation."),
    "party-removed": N_("%(name)s no longer takes part in the mediation."),
    "name": N_("%(old)s is now called %(new)s."),
    "rate": N_("the hourly rate has changed."),
    "split": N_("the way the costs are shared has changed."),
}


@pass_context
def problem_text(context: Context, problem: Any) -> str:
    """A form problem (a code, or a Problem or mapping with a code and values) in the page's
    language."""
    if isinstance(problem, str):
        code, values = problem, {}
    elif isinstance(problem, dict):
        code, values = problem["code"], problem.get("params") or {}
    else:
        code, values = problem.code, problem.params or {}
    return translate(context.get("lang"), PROBLEMS[code], **values)


@pass_context
def change_text(context: Context, change: dict[str, Any]) -> str:
    values = {k: v for k, v in change.items() if k != "change"}
    return translate(context.get("lang"), CHANGES[change["change"]], **values)


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
        self.env = install(Environment(  # texts in the context's ``lang`` (threads.i18n)
            loader=FileSystemLoader(str(self.templates_dir)),
            autoescape=select_autoescape(["html"]), undefined=StrictUndefined,
            trim_blocks=True, lstrip_blocks=True,
        ))
        self.env.filters.update(LOCALE_FILTERS)  # dates and money as the reader writes them
        self.env.globals.update(problem_text=problem_text, change_text=change_text)

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
            "lang": lang, "service_name": self.service_name,
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
