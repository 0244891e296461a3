"""Helpers for the signed-link page tests: open a case, find a party's links, fill in forms
over real HTTP against the running service's uvicorn."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import httpx
from conftest import MEDIATOR
from sqlmodel import Session, select

from mediate import casework
from threads.lookup import is_address
from threads.models import Participant

ANNA, BRAM = "anna@home.test", "bram@work.test"
NAMES = {ANNA: "Anna Jansen", BRAM: "Bram de Boer"}
_CSRF = re.compile(r'name="csrf_token" value="([0-9a-f]+)"')
_LINK = re.compile(r"(https?://\S+/(register|intake|agreement)/\S+)")

# Answers that complete every required question of intake_forms/default.toml, page by page.
DEFAULT_PAGES = [
    {"mediated_before": "no", "adviser": "no"},
    {"summary": "We disagree about the shared driveway.", "since": "months",
     "court_pending": "no"},
    {"important": "Being able to park.", "good_outcome": "Clear arrangements.",
     "readiness": "4", "strain": "3"},
    {"safety_concern": "no", "writing_ok": "yes"},
]


async def open_case(service, parties=(ANNA, BRAM), **options) -> casework.Opened:
    opened = casework.open_case(
        service.settings, title="The driveway", mediator_email=MEDIATOR,
        parties=[f"{NAMES[p]} <{p}>" for p in parties], language="en",
        engine=service.engine, **options,
    )
    await service.settle()
    return opened


def party(service, email: str) -> Participant:
    with Session(service.engine) as session:
        return session.exec(select(Participant).where(
            is_address(session, Participant.email_hash, email))).one()


def path(service, email: str, purpose: str) -> str:
    return service.web.context.links.path(party(service, email), purpose)


def links_in(text: str) -> dict[str, str]:
    """The page links in a mail, by purpose, as paths."""
    return {m.group(2): urlsplit(m.group(1)).path for m in _LINK.finditer(text)}


def client(service) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=f"http://127.0.0.1:{service.web_port}", timeout=10)


def csrf(html: str) -> str:
    match = _CSRF.search(html)
    assert match, "the page has no CSRF field"
    return match.group(1)


async def post(http: httpx.AsyncClient, url: str, data: dict) -> httpx.Response:
    """GET the page for its CSRF token, then POST the form as a browser would."""
    page = await http.get(url)
    assert page.status_code == 200, page.text
    return await http.post(url, data={**data, "csrf_token": csrf(page.text)})


async def register(http, service, email: str, language: str = "en") -> httpx.Response:
    return await post(http, path(service, email, "register"), {
        "name": NAMES[email], "language": language, "privacy": "yes",
        "confidentiality": "yes",
    })


async def fill_intake(http, service, email: str, pages=DEFAULT_PAGES) -> httpx.Response:
    url = path(service, email, "intake")
    for index, answers in enumerate(pages):
        answer = await post(http, f"{url}?page={index}", {**answers, "page": str(index),
                                                          "action": "next"})
        assert answer.status_code == 303, answer.text
    return await post(http, f"{url}?page=review", {"action": "submit"})


async def sign(http, service, email: str) -> httpx.Response:
    url = path(service, email, "agreement")
    page = await http.get(url)
    digest = re.search(r'name="sha256" value="([0-9a-f]{64})"', page.text).group(1)
    return await http.post(url, data={"csrf_token": csrf(page.text), "sha256": digest,
                                      "typed_name": NAMES[email], "consent": "yes"})


def target(service, url: str) -> tuple[str, int, str]:
    """(page, participant id, purpose) a link opens; links made a second apart differ in
    their timestamp, so tests compare what a link means, not its characters."""
    page, token = urlsplit(url).path.strip("/").split("/", 1)
    data = service.web.context.links.read(token)
    return page, data["p"], data["u"]
