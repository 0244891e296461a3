"""Scenario ``web``: the intake page (GET, and a POST of one page) under 50 concurrent clients.

Detected at run time: the intake link is taken from an invitation that serve really sent (so
the benchmark follows whatever URL scheme the web app signs), and the scenario runs only when
that link answers 200 on serve's web port. Each client has its own cookie jar (CSRF tokens are
often bound to a cookie), loads the page, fills in the first form the way a hurried party would
(keep hidden fields, "bench" in text fields, the first choice of each radio group and select)
and posts it without following the redirect. Baseline: a bare Starlette app answering a fixed
page of similar size, served by uvicorn in its own process.
"""

from __future__ import annotations

import asyncio
import importlib.util
import multiprocessing as mp
import re
import time
from html.parser import HTMLParser

from bench.env import Env, Profile
from bench.harness import free_port
from bench.report import Row
from bench.smtpload import median, percentile

CLIENTS = 50
TARGET_P99_MS = 50.0
_LINK = re.compile(r"https?://127\.0\.0\.1:\d+/[^\s<>\"')\]]+")


class _Form(HTMLParser):
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


def intake_links(env: Env) -> list[str]:
    links = []
    for _rcpts, raw in env.sink.captured():
        text = raw.decode("utf-8", "replace").replace("=\r\n", "").replace("=3D", "=")
        links += [m for m in _LINK.findall(text) if "intake" in m.lower()]
    return list(dict.fromkeys(links))


def _bare_app(port: int, size: int) -> None:
    import uvicorn
    from starlette.applications import Starlette
    from starlette.responses import HTMLResponse
    from starlette.routing import Route

    page = "<!doctype html><html><body>" + "x" * size + "</body></html>"

    async def home(request) -> HTMLResponse:  # noqa: ANN001
        if request.method == "POST":
            await request.form()
        return HTMLResponse(page)

    app = Starlette(routes=[Route("/", home, methods=["GET", "POST"])])
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


async def _load(urls: list[str], requests: int) -> tuple[list[float], list[float], list[str]]:
    import httpx

    gets: list[float] = []
    posts: list[float] = []
    errors: list[str] = []
    budget = iter(range(requests))
    stop_at = time.monotonic() + 60

    async def client(number: int) -> None:
        url = urls[number % len(urls)]
        async with httpx.AsyncClient(timeout=10, follow_redirects=False) as http:
            for _ in budget:
                if time.monotonic() > stop_at:
                    break
                started = time.perf_counter()
                page = await http.get(url)
                gets.append(time.perf_counter() - started)
                form = _Form()
                form.feed(page.text)
                if page.status_code != 200 or form.action is None:
                    errors.append(f"GET {page.status_code}, form found: {form.action is not None}")
                    continue
                target = str(page.url.join(form.action or ""))
                started = time.perf_counter()
                answer = await http.post(target, data=form.fields)
                posts.append(time.perf_counter() - started)
                if answer.status_code >= 400:
                    errors.append(f"POST {answer.status_code}")

    await asyncio.gather(*(client(n) for n in range(CLIENTS)))
    return gets, posts, errors


async def run(env: Env, profile: Profile) -> list[Row]:
    if importlib.util.find_spec("mediate.web") is None:
        return [Row.skip("web", "no mediate.web package yet (issue 4, the intake page)")]
    links = intake_links(env)
    if not links:
        return [Row.skip("web", "no intake link in the invitations serve sent")]
    import httpx

    try:
        async with httpx.AsyncClient(timeout=5) as http:
            probe = await http.get(links[0])
    except httpx.HTTPError as error:
        return [Row.skip("web", f"the intake link does not answer ({type(error).__name__})")]
    if probe.status_code != 200:
        return [Row.skip("web", f"the intake link answers {probe.status_code}, not 200")]
    port = free_port()
    bare = mp.get_context("spawn").Process(target=_bare_app, args=(port, len(probe.text)),
                                           daemon=True)
    bare.start()
    try:
        deadline = time.monotonic() + 15
        async with httpx.AsyncClient(timeout=1) as http:
            while time.monotonic() < deadline:
                try:
                    await http.get(f"http://127.0.0.1:{port}/")
                    break
                except httpx.HTTPError:
                    await asyncio.sleep(0.1)
        rounds = []
        for _ in range(profile.rounds):
            base = await _load([f"http://127.0.0.1:{port}/"], profile.web_requests // 2)
            ours = await _load(links, profile.web_requests // 2)
            rounds.append((base, ours))
    finally:
        bare.terminate()
        bare.join(5)
    rows = []
    errors = [e for _, ours in rounds for e in ours[2]]
    if errors:
        env.note(f"web: {len(errors)} errors, e.g. {errors[0]}")
    for index, method in ((0, "GET"), (1, "POST")):
        for p in (50, 99):
            mine = median([percentile(o[index], p) * 1000 for _, o in rounds])
            theirs = median([percentile(b[index], p) * 1000 for b, _ in rounds])
            target, met = ("", None)
            if p == 99:
                target, met = f"< {TARGET_P99_MS:.0f} ms", mine < TARGET_P99_MS
            rows.append(Row("web", f"intake {method}, {CLIENTS} clients", f"p{p} ms", mine,
                            theirs, mine / theirs, target, met))
    return rows
