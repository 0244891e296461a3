"""What the web side shows a stranger: forwarded headers believed only from configured proxies,
/healthz details only for the machine itself or a token, the security headers on every
response, and a case export that carries no refused file and opens no attachment as a page.
Over real HTTP against the running service's uvicorn."""

from __future__ import annotations

import io
import zipfile
from email.message import EmailMessage

import httpx
import pytest
from conftest import make_settings
from sqlmodel import Session, select
from support import smtp_send
from web_world import ANNA, client, open_case, register, sign

from mediate.export import build_case_archive
from mediate.service import Service
from mediate.web.render import HEADERS
from threads.db import session_scope
from threads.models import Case, Signature

FORGED = {"X-Forwarded-For": "203.0.113.9"}


async def started(tmp_path, database_url, sink, **web) -> Service:
    settings = make_settings(
        tmp_path, database_url, web={"host": "127.0.0.1", "port": 0, **web},
        outbound={"transport": "smtp", "host": "127.0.0.1", "port": sink.port})
    service = Service.build(settings)
    await service.start()
    return service


def signed_from(service: Service) -> str:
    with Session(service.engine) as session:
        return session.exec(select(Signature)).one().ip


async def test_a_forwarded_address_is_not_believed_without_a_trusted_proxy(service):
    await open_case(service)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{service.web_port}",
                                 headers=FORGED, timeout=10) as http:
        await register(http, service, ANNA)
        assert (await sign(http, service, ANNA)).status_code == 303
    assert signed_from(service) == "127.0.0.1"  # who connected, not what they claimed


async def test_a_trusted_proxy_passes_the_visitors_address_on(tmp_path, database_url, sink):
    service = await started(tmp_path, database_url, sink, trusted_proxies=["127.0.0.0/8"])
    try:
        await open_case(service)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{service.web_port}",
                                     headers=FORGED, timeout=10) as http:
            await register(http, service, ANNA)
            await sign(http, service, ANNA)
            # and for /healthz the visitor is then a stranger, not the machine itself
            answer = await http.get("/healthz")
        assert signed_from(service) == "203.0.113.9"
        assert answer.json() == {"status": "ok"}
    finally:
        await service.stop()
        service.engine.dispose()


async def test_healthz_details_only_for_loopback_or_the_token(tmp_path, database_url, sink):
    service = await started(tmp_path, database_url, sink, trusted_proxies=["127.0.0.1"],
                            health_token="monitor-token-0123456789")
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{service.web_port}",
                                     timeout=10) as http:
            local = (await http.get("/healthz")).json()
            stranger = await http.get("/healthz", headers=FORGED)
            wrong = await http.get("/healthz", headers={**FORGED,
                                                        "Authorization": "Bearer guess"})
            monitor = await http.get("/healthz", headers={
                **FORGED, "Authorization": "Bearer monitor-token-0123456789"})
        assert local["status"] == "ok" and "outbox" in local and "claimant" in local
        assert stranger.status_code == 200 and stranger.json() == {"status": "ok"}
        assert wrong.json() == {"status": "ok"}
        assert monitor.json()["claimant"] == local["claimant"]
        assert monitor.json()["outbox"]["failed"] == 0
    finally:
        await service.stop()
        service.engine.dispose()


@pytest.mark.parametrize("method, url", [
    ("GET", "/healthz"), ("GET", "/register/not-a-token"), ("GET", "/no/such/page"),
    ("GET", "/export/not-a-token"), ("POST", "/healthz"),
])
async def test_every_response_carries_the_security_headers(service, method, url):
    async with client(service) as http:
        answer = await http.request(method, url)
    for name, value in HEADERS.items():
        assert answer.headers.get(name) == value, (url, name)


def attach(mail: EmailMessage, name: str, data: bytes, maintype: str, subtype: str) -> None:
    mail.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)


async def test_the_export_leaves_refused_files_out_and_opens_no_attachment_as_a_page(
    service, sink
):
    opened = await open_case(service, moderation="open")
    to = dict(opened.party_addresses)["Anna Jansen"]
    mail = EmailMessage()
    mail["From"], mail["To"], mail["Subject"] = ANNA, to, "Re: [case] files"
    mail.set_content("Three files for you.")
    attach(mail, "tool.exe", b"MZ\x90\x00 not really a program", "application", "octet-stream")
    attach(mail, "page.html", b"<script>alert(document.cookie)</script>", "text", "html")
    attach(mail, "notes.txt", b"plain notes", "text", "plain")
    await smtp_send(service.smtp_port, ANNA, [to], mail.as_bytes())
    await service.settle()
    with session_scope(service.engine) as session:
        case = session.exec(select(Case)).one()
        data = build_case_archive(session, case, None, service.settings.templates_dir).data
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        names = archive.namelist()
        transcript = archive.read("transcript.html").decode()
    files = sorted(n for n in names if n.startswith("attachments/"))
    assert not any(n.endswith(".exe") for n in names)
    # .html is refused by default too (it opens as a page, scripts and all)
    assert sorted(n.split("-", 2)[-1] for n in files) == ["notes.txt"]
    assert "Left out:" in transcript and "tool.exe (" in transcript  # named, with its reason
    assert "page.html (" in transcript
    assert all(f'href="{n}" download' in transcript for n in files)
    assert "Content-Security-Policy" in transcript
