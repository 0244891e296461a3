"""A party can have a role, and the intake asks each role what fits it: a grandmother in a
family case is asked about her bond with the grandchildren, not about a separation."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from conftest import MEDIATOR
from sqlmodel import Session, select
from web_world import NAMES, client, path, register

from mediate import casework
from threads.cases import CaseError, parse_party
from threads.intake import parse_answer
from threads.intake_loader import load_forms, parse_form
from threads.lookup import is_address
from threads.models import Participant

FORMS = Path(__file__).resolve().parent.parent / "intake_forms"
INEKE = "ineke@family.test"
SANNE = "sanne@home.test"
NAMES.update({INEKE: "Ineke Visser", SANNE: "Sanne de Wit"})  # as they register


def _family():
    return load_forms(FORMS)["family"]


def test_the_family_form_asks_a_grandparent_about_the_grandchildren_not_a_separation():
    form = _family()
    grandparent = [s.id for s in form.for_role("grandparent").sections]
    parent = [s.id for s in form.for_role(None).sections]
    assert "grandchildren" in grandparent and "safety" in grandparent
    assert "relationship" not in grandparent and "children" not in grandparent
    assert "relationship" in parent and "grandchildren" not in parent


def test_a_question_that_depends_on_one_a_role_is_not_asked_is_not_asked_either():
    form, problems = parse_form("x", {
        "title": {"nl": "T", "en": "T"},
        "roles": {"friend": {"nl": "vriend", "en": "friend"}},
        "section": [{"id": "s", "title": {"nl": "S", "en": "S"}, "question": [
            {"id": "kids", "type": "yesno", "roles": ["party"],
             "label": {"nl": "K", "en": "K"}},
            {"id": "ages", "type": "text", "show_if": {"question": "kids", "any": ["yes"]},
             "label": {"nl": "A", "en": "A"}},
            {"id": "worry", "type": "yesno", "safety": True, "alert_on": ["yes"],
             "label": {"nl": "W", "en": "W"}},
        ]}],
    }, "x.toml")
    assert problems == []
    assert [q.id for q in form.for_role("friend").sections[0].questions] == ["worry"]
    assert [q.id for q in form.for_role("party").sections[0].questions] == [
        "kids", "ages", "worry"]


def test_a_form_naming_an_undeclared_role_is_refused_with_its_place():
    _, problems = parse_form("x", {
        "title": {"nl": "T", "en": "T"},
        "section": [{"id": "s", "title": {"nl": "S", "en": "S"}, "roles": ["grandma"],
                     "question": [{"id": "q", "type": "yesno", "safety": True,
                                   "alert_on": ["yes"], "label": {"nl": "Q", "en": "Q"}}]}],
    }, "x.toml")
    assert problems == ["x.toml: section 's': role 'grandma' is not in the form's [roles] table"]


@pytest.mark.parametrize(("typed", "problem"), [
    ("06 12345678", None), ("+31 (0)6-1234 5678", None), ("020 123 45 67", None),
    ("call me", "not-a-phone"), ("12", "not-a-phone"),
])
def test_a_phone_number_is_checked_as_one(typed, problem):
    question = next(q for q in load_forms(FORMS)["default"].questions.values() if q.id == "phone")
    assert question.type == "tel"
    _, found = parse_answer(question, [typed])
    assert (found.code if found else None) == problem


def test_a_role_may_follow_the_address_in_english_or_dutch():
    assert parse_party("Ineke Visser <ineke@family.test> role: grandparent").relation == \
        "grandparent"
    assert parse_party("Ineke Visser <ineke@family.test>, rol: Grootouder").relation == \
        "grootouder"
    assert parse_party("Ineke Visser <ineke@family.test>").relation is None


def _open(service, *parties: str):
    return casework.open_case(
        service.settings, title="Omgang met Lotte en Daan", mediator_email=MEDIATOR,
        parties=list(parties), language="en", intake="family", engine=service.engine)


def test_opening_a_case_with_an_unknown_role_names_the_roles_the_form_knows(service):
    with pytest.raises(CaseError) as raised:
        _open(service, f"Sanne de Wit <{SANNE}>", f"Ineke Visser <{INEKE}> role: aunt")
    assert "no role 'aunt' (known: grandparent, relative)" in str(raised.value)


async def test_a_grandparent_registers_and_is_asked_about_the_grandchildren(service):
    _open(service, f"Sanne de Wit <{SANNE}>", f"Ineke Visser <{INEKE}> rol: grootouder")
    await service.settle()
    with Session(service.engine) as session:
        ineke = session.exec(select(Participant).where(
            is_address(session, Participant.email_hash, INEKE))).one()
        assert ineke.relation == "grandparent"
    async with client(service) as http:
        await register(http, service, INEKE)
        page = await http.get(path(service, INEKE, "intake"))
        assert "Your bond with the children" in page.text
        assert "Where are you now?" not in page.text  # the separation question
        await register(http, service, SANNE)
        page = await http.get(path(service, SANNE, "intake"))
        assert "Your relationship" in page.text


CHROMIUM = "/usr/bin/chromium"


@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="chromium is not installed")
async def test_a_grandparent_fills_in_her_own_intake_in_a_browser(service):
    from playwright.async_api import async_playwright
    from test_browser import FLAGS
    _open(service, f"Sanne de Wit <{SANNE}>", f"Ineke Visser <{INEKE}> role: grandparent")
    await service.settle()
    async with client(service) as http:
        await register(http, service, INEKE)
    url = f"http://127.0.0.1:{service.web_port}" + path(service, INEKE, "intake")
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = await chromium.new_page(viewport={"width": 390, "height": 844})
        page.set_default_timeout(15_000)
        await page.goto(url)
        await page.wait_for_selector("h1:has-text('Your bond with the children')")
        assert await page.locator("#f-relation_to_children").is_visible()
        await page.fill("#f-relation_to_children", "Grandmother of Lotte (7) and Daan (4)")
        await page.locator("#q-contact_now").get_by_label("Less than before").check()
        await page.get_by_role("button", name="Next").click()
        await page.wait_for_selector("text=What matters most to you")
        assert await page.get_by_text("Where are you now?").count() == 0
        await chromium.close()


async def test_opening_by_mail_gives_a_party_her_role_by_its_dutch_name(service, sink):
    from conftest import DOMAIN
    from support import compose, smtp_send

    body = (f"Sanne de Wit <{SANNE}>\nIneke Visser <{INEKE}> rol: grootouder\n"
            "intake: family\nlanguage: nl\n")
    raw = compose(MEDIATOR, f"open@{DOMAIN}", body, subject="Omgang met Lotte en Daan")
    await smtp_send(service.smtp_port, MEDIATOR, [f"open@{DOMAIN}"], raw)
    await service.settle()
    with Session(service.engine) as session:
        roles = dict(session.exec(select(Participant.email, Participant.relation)).all())
    assert roles[INEKE] == "grandparent" and roles[SANNE] is None
