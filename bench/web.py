"""Scenario ``web``: the intake page (GET, and a POST of its first page) under 50 clients.

The parties arrive as real ones do: each follows the registration link of an invitation that
serve really sent (so the benchmark follows whatever URL scheme the web app signs), GETs the
page, POSTs the form with its CSRF field, confirmed name, language and both consents, and lands
on the intake page it is redirected to. Then 50 clients (``bench.httpload``: one kept-alive
connection and cookie jar each, since the CSRF token is bound to a cookie), each acting for one
party, GET the intake's first page and POST it back, back to back, with the hidden fields kept
and realistic answers that are valid for that page (``action=next``, answered 303), one of them
varied per request so every POST really changes a stored answer. Latencies count only answers
with the expected status; others are errors and are noted. Baseline: a bare Starlette app
answering the same page's bytes to a GET, and parsing the form and answering 303 to a POST,
served by uvicorn in its own process.
"""

from __future__ import annotations

import asyncio
import importlib.util
import multiprocessing as mp
import re
import time
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urljoin

from bench.env import Env, Profile
from bench.harness import free_port
from bench.httpload import Client
from bench.report import Row
from bench.smtpload import median, percentile

CLIENTS = 50
TARGET_P99_MS = 50.0
_LINK = re.compile(r"https?://127\.0\.0\.1:\d+/register/[^\s<>\"')\]]+")
_HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)"')

# What a party might answer on the first page of the default intake form ("About you"); fields
# the page has and this does not know get a plain value of their type (see ``_Form``).
FIRST_PAGE: dict[str, str | list[str]] = {
    "phone": "06 1234 5678",
    "availability": ["evening", "weekend"],
    "mediated_before": "no",
    "adviser": "yes",
    "adviser_who": "Mr. K. de Wit, my lawyer; she advises me on the division of the costs.",
}


class _Form(HTMLParser):
    """The first POST form of a page: its action and fields, filled the way a hurried party
    would (hidden fields kept, a plain value in text fields, the first choice of each group)."""

    def __init__(self) -> None:
        super().__init__()
        self.action: str | None = None
        self.fields: dict[str, str] = {}
        self._in_form = False
        self._done = False
        self._select: str | None = None

    def handle_starttag(self, tag: str, attrs: list) -> None:  # noqa: C901
        a = {k: v or "" for k, v in attrs}
        if self._done:
            return
        if tag == "form" and a.get("method", "get").lower() == "post":
            self._in_form, self.action = True, a.get("action", "")
        elif not self._in_form:
            return
        elif tag == "input" and a.get("name"):
            kind = a.get("type", "text").lower()
            if kind in ("hidden", "submit"):
                self.fields.setdefault(a["name"], a.get("value", ""))
            elif kind in ("radio", "checkbox"):
                self.fields.setdefault(a["name"], a.get("value", "on"))
            elif kind == "email":
                self.fields.setdefault(a["name"], a.get("value") or "bench@bench.test")
            elif kind == "number":
                self.fields.setdefault(a["name"], a.get("value") or "1")
            elif kind == "date":
                self.fields.setdefault(a["name"], a.get("value") or "2026-03-02")
            else:
                self.fields.setdefault(a["name"], a.get("value") or "bench")
        elif tag == "textarea" and a.get("name"):
            self.fields.setdefault(a["name"], "bench answer")
        elif tag == "select" and a.get("name"):
            self._select = a["name"]
        elif tag == "option" and self._select:
            self.fields.setdefault(self._select, a.get("value", ""))

    def handle_endtag(self, tag: str) -> None:
        if tag == "select":
            self._select = None
        elif tag == "form" and self._in_form:
            self._in_form, self._done = False, True


def form_in(html: str) -> _Form:
    form = _Form()
    form.feed(html)
    return form


async def register_links(env: Env, wanted: int, seconds: float = 5.0) -> list[str]:
    """Up to ``wanted`` registration links from the invitations the sink captured, one per
    party. The sink's queue is fed by a thread of its own process and can lag behind its
    count, so this keeps reading until it has enough or nothing new came for ``seconds``."""
    links: dict[str, None] = {}
    quiet_until = time.monotonic() + seconds
    while len(links) < wanted and time.monotonic() < quiet_until:
        captured = env.sink.captured(limit=1000)
        if not captured:
            await asyncio.sleep(0.05)
            continue
        quiet_until = time.monotonic() + seconds
        for _rcpts, raw in captured:
            text = raw.decode("utf-8", "replace").replace("=\r\n", "").replace("=3D", "=")
            links.update(dict.fromkeys(_LINK.findall(text)))
    return list(links)[:wanted]


async def arrive(link: str) -> str:
    """Register through ``link`` as the party would and return the intake page's URL (or raise
    RuntimeError saying which step did not answer as a browser would expect)."""
    http = Client.of(link)
    try:
        page = await http.get(link)
        form = form_in(page.text)
        if page.status != 200 or form.action is None:
            raise RuntimeError(f"registration page answers {page.status}")
        data = {**form.fields, "language": "en", "privacy": "yes", "confidentiality": "yes"}
        done = await http.post(urljoin(link, form.action), data)
        target = done.headers.get("location", "")
        if done.status != 303 or "/intake/" not in target:
            raise RuntimeError(f"registration POST answers {done.status} to {target!r}")
        intake = urljoin(link, target)
        page = await http.get(intake)
        if page.status != 200 or form_in(page.text).action is None:
            raise RuntimeError(f"the intake page answers {page.status}")
        return intake
    finally:
        await http.close()


def _bare_app(port: int, page: bytes) -> None:
    """The baseline: the same page's bytes for a GET; a POST parses the form and answers 303,
    as serve does after saving a page."""
    import uvicorn
    from starlette.applications import Starlette
    from starlette.responses import RedirectResponse, Response
    from starlette.routing import Route

    async def home(request) -> Response:  # noqa: ANN001
        if request.method == "POST":
            await request.form()
            return RedirectResponse("/?page=1", status_code=303)
        return Response(page, media_type="text/html; charset=utf-8")

    app = Starlette(routes=[Route("/", home, methods=["GET", "POST"])])
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


@dataclass
class Load:
    gets: list[float] = field(default_factory=list)  # seconds, answers as expected only
    posts: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def rate(self) -> float:
        """Saved pages (GET and POST) per second."""
        return len(self.posts) / self.seconds if self.seconds else float("nan")


async def _load(urls: list[str], requests: int, deadline: float) -> Load:
    """``requests`` GET+POST pairs over CLIENTS kept-alive connections (opened before the
    clock starts); client n acts for ``urls[n % len(urls)]``."""
    load = Load()
    gets, posts, errors = load.gets, load.posts, load.errors
    clients = [Client.of(urls[0]) for _ in range(CLIENTS)]
    await asyncio.gather(*(c.connect() for c in clients))
    budget = iter(range(requests))
    began = time.monotonic()
    stop_at = began + deadline

    async def work(number: int, http: Client) -> None:
        url = urls[number % len(urls)]
        for request in budget:
            if time.monotonic() > stop_at:
                break
            started = time.perf_counter()
            page = await http.get(url)
            elapsed = time.perf_counter() - started
            if page.status != 200 or b'<form method="post"' not in page.body:
                errors.append(f"GET {page.status}: {page.text[:200]!r}")
                continue
            gets.append(elapsed)
            answers = {**dict(_HIDDEN.findall(page.text)), **FIRST_PAGE, "action": "next",
                       "phone": f"06 {12_000_000 + request:08d}"}
            started = time.perf_counter()
            answer = await http.post(url, answers)  # the form has no action: the same URL
            elapsed = time.perf_counter() - started
            if answer.status != 303:
                errors.append(f"POST {answer.status}: {answer.text[:200]!r}")
                continue
            posts.append(elapsed)

    try:
        await asyncio.gather(*(work(n, c) for n, c in enumerate(clients)))
        load.seconds = time.monotonic() - began
    finally:
        await asyncio.gather(*(c.close() for c in clients))
    return load


async def _wait_listening(url: str, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        http = Client.of(url)
        try:
            await http.get(url)
            return True
        except OSError:
            await asyncio.sleep(0.1)
        finally:
            await http.close()
    return False


async def run(env: Env, profile: Profile) -> list[Row]:
    if importlib.util.find_spec("mediate.web") is None:
        return [Row.skip("web", "no mediate.web package yet (issue 4, the intake page)")]
    links = await register_links(env, CLIENTS)
    if not links:
        return [Row.skip("web", "no registration link in the invitations serve sent")]
    gate = asyncio.Semaphore(4)  # a few parties at a time: registration is not what we measure

    async def one(link: str) -> str | RuntimeError:
        async with gate:
            try:
                return await arrive(link)
            except RuntimeError as error:
                return error
            except (OSError, asyncio.IncompleteReadError, ValueError) as error:
                return RuntimeError(f"{type(error).__name__}: {error}")

    arrived = await asyncio.gather(*(one(link) for link in links))
    intakes = [f"{url}?page=0" for url in arrived if isinstance(url, str)]
    failed = [error for error in arrived if isinstance(error, RuntimeError)]
    if failed:
        env.note(f"web: {len(failed)} of {len(links)} parties did not reach the intake, "
                 f"e.g. {failed[0]}")
    if not intakes:
        return [Row.skip("web", f"no party reached the intake page ({failed[0]})")]
    http = Client.of(intakes[0])
    try:
        page = (await http.get(intakes[0])).body
    finally:
        await http.close()
    port = free_port()
    bare = mp.get_context("spawn").Process(target=_bare_app, args=(port, page), daemon=True)
    bare.start()
    base_url = f"http://127.0.0.1:{port}/"
    try:
        if not await _wait_listening(base_url, 15):
            return [Row.skip("web", "the bare Starlette baseline did not start")]
        rounds = []
        for _ in range(profile.rounds):
            base = await _load([base_url], profile.web_requests, profile.deadline)
            ours = await _load(intakes, profile.web_requests, profile.deadline)
            rounds.append((base, ours))
    finally:
        bare.terminate()
        bare.join(5)
    errors = [e for pair in rounds for side in pair for e in side.errors]
    if errors:
        env.note(f"web: {len(errors)} errors, e.g. {errors[0]}")
    variant = f"intake, {len(intakes)} parties, {CLIENTS} clients"
    mine = [o.rate for _, o in rounds]
    theirs = [b.rate for b, _ in rounds]
    rows = [Row("web", f"GET+POST {variant}", "pages saved/s", median(mine), median(theirs),
                median(mine) / median(theirs),
                rounds=[m / t for m, t in zip(mine, theirs, strict=True)])]
    for method in ("GET", "POST"):
        for p in (50, 99):
            mine = [percentile(getattr(o, method.lower() + "s"), p) * 1000 for _, o in rounds]
            theirs = [percentile(getattr(b, method.lower() + "s"), p) * 1000 for b, _ in rounds]
            target, met = ("", None)
            if p == 99:
                target, met = f"< {TARGET_P99_MS:.0f} ms", median(mine) < TARGET_P99_MS
            rows.append(Row("web", f"{method} {variant}", f"p{p} ms", median(mine),
                            median(theirs), median(mine) / median(theirs), target, met,
                            rounds=[m / t for m, t in zip(mine, theirs, strict=True)]))
    return rows
