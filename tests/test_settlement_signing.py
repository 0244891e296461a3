"""Signing the settlement: each party on the signing page (in real headless Chromium, and over
HTTP), a redraft that voids a signature, the mediator's countersignature by mail, the final PDF
to every party read back (the text as signed, its SHA-256 printed in it) and the case export."""

from __future__ import annotations

import hashlib
import io
import os
import re
import zipfile
from urllib.parse import urlsplit

import pypdf
import pytest
from conftest import MEDIATOR
from sqlmodel import Session, select
from test_browser import CHROMIUM, browser  # noqa: F401  (the Chromium fixture)
from test_proposals import open_in
from test_settlement import agree, send_with_file
from test_walking_skeleton import ANNA, BRAM, CEES, reply
from web_world import client, csrf

from threads.models import Blob, Case, Settlement, SettlementSignature
from threads.record.purge import purge

NAMES = {ANNA: "Anna Jansen", BRAM: "Bram de Boer", CEES: "Cees Ünal"}


def link(mail) -> str:
    return urlsplit(re.search(r"https?://\S+/settlement/\S+", mail.text).group(0)).path


async def sign_over_http(service, path: str, email: str) -> None:
    async with client(service) as http:
        page = await http.get(path)
        digest = re.search(r'name="sha256" value="([0-9a-f]{64})"', page.text).group(1)
        answer = await http.post(path, data={"csrf_token": csrf(page.text), "sha256": digest,
                                             "typed_name": NAMES[email], "consent": "yes"})
        assert answer.status_code == 303, answer.text
    await service.settle()


def pdf_of(mail) -> bytes:
    [part] = [p for p in mail.message.iter_attachments()
              if p.get_content_type() == "application/pdf"]
    return part.get_payload(decode=True)


def read_back(data: bytes) -> tuple[str, bytes]:
    """(every page's text, the embedded settlement.txt)."""
    reader = pypdf.PdfReader(io.BytesIO(data))
    text = "\n".join(page.extract_text() for page in reader.pages)
    return text, reader.attachments["settlement.txt"][0]


def words(text: str) -> str:
    return " ".join(text.split())


async def ready_to_sign(service, sink, language: str) -> dict:
    address = await open_in(service, language)
    agreed = ("agreed", "not agreed") if language == "en" else ("akkoord", "niet akkoord")
    await agree(service, sink, address, refuse=(), word=agreed, texts=(
        "Anna keeps the house; Cees Ünal receives € 1.250,- for the piano.",
        "Bram takes the garden furniture before 1 March."))
    sink.delivered.clear()
    await reply(service, MEDIATOR, address[MEDIATOR], "#settlement" if language == "en"
                else "#vaststellingsovereenkomst")
    [draft] = sink.to(MEDIATOR)
    sink.delivered.clear()
    await reply(service, MEDIATOR, address[MEDIATOR], "#approve",
                in_reply_to=draft.message["Message-ID"])
    return address


@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"{CHROMIUM} is not installed")
async def test_everyone_signs_the_mediator_countersigns_and_the_pdf_is_the_signed_text(
        service, sink, browser):  # noqa: F811
    address = await ready_to_sign(service, sink, "en")
    links = {party: link(sink.to(party)[0]) for party in (ANNA, BRAM, CEES)}
    base = f"http://127.0.0.1:{service.web_port}"

    # Anna signs on her phone, in Chromium: the whole text, a wrong name first
    context = await browser.new_context(viewport={"width": 390, "height": 844},
                                        is_mobile=True, locale="en-GB",
                                        user_agent="Mozilla/5.0 (iPhone) SettleTest")
    page = await context.new_page()
    page.set_default_timeout(15_000)
    await page.goto(base + links[ANNA])
    await page.wait_for_selector("text=SETTLEMENT AGREEMENT")
    shown = await page.inner_text("#settlement-text")
    with Session(service.engine) as session:
        first_text = session.exec(select(Settlement)).one().text
    assert words(shown) == words(first_text)
    await page.fill("#f-typed_name", "Bram de Boer")
    await page.get_by_label("I have read the agreement and I agree to it.").check()
    await page.get_by_role("button", name="Sign").click()
    await page.wait_for_selector("#e-typed_name")
    await page.fill("#f-typed_name", "A. Jansen")
    await page.get_by_label("I have read the agreement and I agree to it.").check()
    await page.get_by_role("button", name="Sign").click()
    await page.wait_for_selector("text=You signed this agreement")
    assert await page.evaluate("document.documentElement.scrollWidth") <= 390
    await context.close()
    await service.settle()
    [copy] = [d for d in sink.to(ANNA) if "This is your copy" in d.text]
    assert "Signed as: A. Jansen" in copy.text and hashlib.sha256(
        first_text.encode()).hexdigest() in copy.text
    assert any("Anna Jansen signed the agreement." in d.text for d in sink.to(MEDIATOR))

    # a redraft after her signature voids it: she is told why and signs the new text
    sink.delivered.clear()
    await send_with_file(service, address[MEDIATOR], "#settlement", "own.txt",
                         "OUR SETTLEMENT\n{% for p in proposals %}{{ loop.index }}. {{ p.text }}\n"
                         "{% endfor %}Parties: {{ parties|join(', ') }}\n")
    [changed] = sink.to(ANNA)
    assert "I have drafted it again" in changed.text and "no longer counts" in changed.text
    assert sink.to(BRAM) == []  # he had not signed
    [draft] = [d for d in sink.to(MEDIATOR) if "OUR SETTLEMENT" in d.text]
    await reply(service, MEDIATOR, address[MEDIATOR], "#approve",
                in_reply_to=draft.message["Message-ID"])

    await sign_over_http(service, links[ANNA], ANNA)
    await sign_over_http(service, links[BRAM], BRAM)
    sink.delivered.clear()
    await reply(service, MEDIATOR, address[MEDIATOR], "#countersign")
    [early] = sink.to(MEDIATOR)
    assert "not every party has signed yet (still to sign: Cees Ünal)" in early.text
    await sign_over_http(service, links[CEES], CEES)
    assert not any(pdf for d in sink.to(CEES) for pdf in d.message.iter_attachments())

    sink.delivered.clear()
    await reply(service, MEDIATOR, address[MEDIATOR], "#countersign")
    with Session(service.engine) as session:
        settlement = session.exec(select(Settlement)).one()
        assert settlement.status == "signed"
        text, digest = settlement.text, settlement.sha256
        assert len(session.exec(select(SettlementSignature).where(
            SettlementSignature.sha256 == digest)).all()) == 4
    assert text.startswith("OUR SETTLEMENT") and digest == hashlib.sha256(text.encode()).hexdigest()
    for party in (ANNA, BRAM, CEES):
        [final] = [d for d in sink.to(party) if "Everyone has now signed" in d.text]
        printed, embedded = read_back(pdf_of(final))
        assert embedded == text.encode("utf-8")
        assert words(text) in words(printed)
        assert digest in printed.replace("\n", "")
        assert "A. Jansen" not in printed and "Cees Ünal (party)" in printed
        assert "SettleTest" not in printed  # Anna's first, voided signature is not in it

    # the case export holds the settlement, its signatures and the same PDF
    sink.delivered.clear()
    await reply(service, MEDIATOR, address[MEDIATOR], "#export")
    [export] = sink.to(MEDIATOR)
    [archive] = [p for p in export.message.iter_attachments()
                 if p.get_content_type() == "application/zip"]
    with zipfile.ZipFile(io.BytesIO(archive.get_payload(decode=True))) as files:
        assert files.read("settlement/settlement.txt") == text.encode("utf-8")
        signatures = files.read("settlement/signatures.json").decode()
        assert signatures.count('"counts": true') == 4 and '"counts": false' in signatures
        _, embedded = read_back(files.read("settlement/settlement-2026-001.pdf"))
        assert embedded == text.encode("utf-8")

    # purging the case takes the settlement, its signatures and its PDF with it
    with Session(service.engine) as session:
        pdf = session.exec(select(Settlement)).one().pdf_sha256
        assert session.get(Blob, pdf) is not None
        purge(session, session.exec(select(Case)).one())
        session.commit()
        assert session.get(Blob, pdf) is None
        assert session.exec(select(SettlementSignature)).all() == []


async def test_in_dutch_the_page_the_countersignature_and_the_pdf_speak_dutch(service, sink):
    address = await ready_to_sign(service, sink, "nl")
    for party in (ANNA, BRAM, CEES):
        [invite] = sink.to(party)
        assert "onderteken het hier" in invite.text
        async with client(service) as http:
            page = await http.get(link(invite))
            assert "Uw afspraken ondertekenen" in page.text
            assert "VASTSTELLINGSOVEREENKOMST" in page.text
        await sign_over_http(service, link(invite), party)
    sink.delivered.clear()
    await reply(service, MEDIATOR, address[MEDIATOR], "#ondertekenen")
    [final] = [d for d in sink.to(CEES) if "Iedereen heeft de overeenkomst" in d.text]
    printed, embedded = read_back(pdf_of(final))
    with Session(service.engine) as session:
        text = session.exec(select(Settlement)).one().text
    assert embedded == text.encode("utf-8") and "€ 1.250,-" in text
    assert words(text) in words(printed) and "Handtekeningen" in printed
    assert hashlib.sha256(text.encode()).hexdigest() in printed.replace("\n", "")
