"""The party's way through the pages in a real headless Chromium on a phone-sized screen:
register, a multi-page intake with a conditional question, save, resume, submit, sign; and the
mediator's readiness mail, exactly once, when this last party finishes.

Driven by Playwright for Python against Debian's system Chromium (never a downloaded browser).
"""

from __future__ import annotations

import os

import pytest
from conftest import MEDIATOR
from web_world import ANNA, BRAM, fill_intake, links_in, open_case, register, sign
from web_world import client as http_client

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]

pytestmark = pytest.mark.skipif(
    not os.path.exists(CHROMIUM),
    reason=f"{CHROMIUM} is not installed (apt-get install chromium; .ci/run does this)",
)


@pytest.fixture
async def browser():
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=FLAGS, timeout=60_000)
        yield chromium
        await chromium.close()


async def test_a_party_registers_fills_in_the_intake_and_signs_on_a_phone(service, sink, browser):
    await open_case(service)
    async with http_client(service) as http:  # Bram is done already
        await register(http, service, BRAM)
        await fill_intake(http, service, BRAM)
        await sign(http, service, BRAM)
    [invitation] = sink.to(ANNA)
    base = f"http://127.0.0.1:{service.web_port}"
    start = base + links_in(invitation.text)["register"]

    context = await browser.new_context(
        viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True,
        locale="en-GB", user_agent="Mozilla/5.0 (iPhone) MediateTest")
    page = await context.new_page()
    page.set_default_timeout(15_000)

    await page.goto(start)
    assert await page.input_value("#f-name") == "Anna Jansen"
    await page.get_by_label("English").check()
    await page.get_by_label("I agree to the use of my data").check()
    await page.get_by_role("button", name="Confirm and continue").click()
    await page.get_by_label("I will keep everything shared").check()  # forgot one: an error
    await page.get_by_role("button", name="Confirm and continue").click()

    # page 1: the follow-up question appears only after "Yes" (CSS :has, no JavaScript)
    await page.wait_for_selector("text=Page 1 of 4")
    follow_up = page.locator("#q-mediated_before_how")
    assert not await follow_up.is_visible()
    await page.locator("#q-mediated_before").get_by_label("Yes").check()
    assert await follow_up.is_visible()
    await page.fill("#f-mediated_before_how", "It helped to slow down.")
    await page.locator("#q-adviser").get_by_label("No").check()
    await page.get_by_role("button", name="Next").click()

    # page 2: a required answer is missing; the error sits next to the field
    await page.wait_for_selector("text=Page 2 of 4")
    await page.fill("#f-summary", "We disagree about the shared driveway.")
    await page.get_by_role("button", name="Next").click()
    assert await page.locator("#e-since").is_visible()
    await page.get_by_label("A few months").check()
    await page.locator("#q-court_pending").get_by_label("No").check()
    await page.get_by_role("button", name="Save and continue later").click()
    await page.wait_for_selector("text=Your answers have been saved")
    await context.close()

    # later, on another device: the same link resumes where she stopped
    context = await browser.new_context(viewport={"width": 390, "height": 844},
                                        is_mobile=True, locale="en-GB")
    page = await context.new_page()
    page.set_default_timeout(15_000)
    await page.goto(start)
    await page.get_by_role("button", name="Confirm and continue").click()  # already ticked
    await page.wait_for_selector("text=Page 3 of 4")  # pages 1 and 2 are complete
    await page.fill("#f-important", "Being able to park.")
    await page.fill("#f-good_outcome", "Clear arrangements.")
    await page.locator("#q-readiness").get_by_label("4").check()
    await page.locator("#q-strain").get_by_label("3").check()
    await page.get_by_role("button", name="Next").click()
    await page.wait_for_selector("text=Page 4 of 4")
    await page.locator("#q-safety_concern").get_by_label("No", exact=True).check()
    await page.locator("#q-writing_ok").get_by_label("Yes").check()
    await page.get_by_role("button", name="Review my answers").click()

    await page.wait_for_selector("h1:has-text('Review your answers')")
    assert await page.get_by_text("It helped to slow down.").is_visible()
    await page.get_by_role("button", name="Send to the mediator").click()
    await page.wait_for_selector("h1:has-text('Thank you')")
    await page.get_by_role("link", name="Go to the agreement").click()

    # the agreement: full text, typed name, consent by keyboard
    await page.wait_for_selector("text=MEDIATION AGREEMENT")
    assert await page.get_by_text("Bram de Boer").first.is_visible()
    await page.fill("#f-typed_name", "anna  jansen")
    await page.focus("#f-consent")
    await page.keyboard.press("Space")
    await page.focus("#f-typed_name")
    await page.keyboard.press("Enter")
    await page.wait_for_selector("text=You signed this agreement")
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390  # nothing wider than the phone
    await context.close()

    await service.settle()
    ready = [d for d in sink.to(MEDIATOR) if "has completed what the case requires" in d.text]
    assert len(ready) == 1
    assert "It helped to slow down." in ready[0].text
    signed = [d for d in sink.to(ANNA) if "exact text you signed" in d.text]
    assert len(signed) == 1 and "MediateTest" not in signed[0].text
