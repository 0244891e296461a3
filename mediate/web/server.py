"""Assembling the web pages from the settings and serving them with uvicorn in the service's loop.

The listening socket is bound here, before uvicorn starts, so a busy port fails ``serve`` at
once with a clear error and port 0 (tests) yields the real port. Signal handling stays with
``mediate serve``: uvicorn's own handlers are switched off.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Callable, Iterator
from pathlib import Path

import uvicorn
from sqlalchemy import Engine

from mailgate.compose import Composer
from mediate.config import ConfigError, Settings
from mediate.web.app import WebContext
from mediate.web.render import Renderer
from mediate.web.routes import create_app
from threads.agreement import Agreements
from threads.intake import Form, FormError
from threads.intake_loader import load_forms
from threads.links import Links
from threads.onboarding import Onboarding

log = logging.getLogger("mediate.web")


def make_links(settings: Settings) -> Links:
    return Links(secret=settings.service.secret_key, base_url=settings.service.base_url,
                 max_age_days=settings.links.max_age_days)


def intake_forms(settings: Settings) -> dict[str, Form]:
    """Every intake form, checked; a broken one is a configuration error naming the problem."""
    try:
        return load_forms(settings.intake_forms_dir)
    except FormError as error:
        raise ConfigError([f"intake form {problem}" for problem in error.problems]) from None


def make_onboarding(settings: Settings, forms: dict[str, Form] | None = None) -> Onboarding:
    return Onboarding(
        forms=forms if forms is not None else intake_forms(settings),
        agreements=Agreements(settings.templates_dir, settings.service.name),
    )


class _QuietServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:  # `mediate serve` owns SIGINT and SIGTERM
        yield


class WebServer:
    def __init__(self, settings: Settings, engine: Engine, composer: Composer,
                 onboarding: Onboarding, nudge: Callable[[], None] | None = None) -> None:
        self.settings = settings
        self.context = WebContext(
            engine=engine, links=make_links(settings), onboarding=onboarding,
            composer=composer, nudge=nudge, health_token=settings.web.health_token,
            renderer=Renderer(
                settings.templates_dir, settings.service.name, settings.service.secret_key,
                secure_cookies=settings.service.base_url.startswith("https://"),
                default_language=settings.service.default_language,
            ),
        )
        self.app = create_app(self.context)
        self.port = 0
        self._server: _QuietServer | None = None
        self._task: asyncio.Task | None = None

    async def start(self) -> int:
        web = self.settings.web
        family = socket.AF_INET6 if ":" in web.host else socket.AF_INET
        # IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on sockets whose proto says TCP,
        # and without it every answer after the first on a kept-alive connection waits about
        # 40 ms (Nagle's algorithm meeting the browser's delayed ACK).
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((web.host, web.port))
        except OSError as error:
            sock.close()
            raise OSError(f"web.port: cannot listen on {web.host}:{web.port} "
                          f"({error.strerror or error})") from None
        sock.listen(128)
        sock.setblocking(False)
        self.port = sock.getsockname()[1]
        # X-Forwarded-For only from the proxies the administrator named: uvicorn's default
        # believes 127.0.0.1, so any local client (or a proxy passing the header through) could
        # choose the address recorded with a signature.
        trusted = web.trusted_proxies
        config = uvicorn.Config(
            self.app, log_level="warning", access_log=False, lifespan="off",
            proxy_headers=bool(trusted), forwarded_allow_ips=trusted or [],
            server_header=False, timeout_graceful_shutdown=5,
        )
        self._server = _QuietServer(config)
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]), name="web")
        for _ in range(500):  # bounded: uvicorn's startup is quick once the socket is bound
            if self._server.started or self._task.done():
                break
            await asyncio.sleep(0.01)
        if self._task.done():
            self._task.result()  # raises what stopped it
        log.info("web pages on %s:%s", web.host, self.port)
        return self.port

    async def stop(self) -> None:
        if self._server is None or self._task is None:
            return
        self._server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError, TimeoutError, SystemExit):
            await asyncio.wait_for(self._task, 10)
        self._server = self._task = None


def case_paperwork(
    settings: Settings, intake: str | None, agreement: str | None
) -> tuple[str, tuple[str, str] | None, list[str]]:
    """For ``case open``: the intake form's name, the custom agreement (file name, template
    source) if one was given, and the problems with either."""
    problems: list[str] = []
    forms = intake_forms(settings)
    name = (intake or "default").strip().lower()
    if name not in forms:
        problems.append(f"there is no intake form '{name}' (known: {', '.join(sorted(forms))})")
    custom = None
    if agreement:
        path = Path(agreement)
        try:
            source = path.read_text(encoding="utf-8")
            Agreements(settings.templates_dir, settings.service.name).check_template(source)
            custom = (path.name, source)
        except OSError as error:
            problems.append(f"the agreement file {path} cannot be read ({error.strerror})")
        except ValueError as error:
            problems.append(f"{path}: {error}")
    return name, custom, problems
