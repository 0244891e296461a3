"""A party's name changes only with the mediator's consent, never to another participant's;
when the agreement's text changes, everyone who had signed is told why and signs again.
Over real HTTP (the signed-link pages) and real SMTP (the mediator's commands, the mail)."""

from __future__ import annotations

from conftest import MEDIATOR
from support import compose, smtp_send
from web_world import (
    ANNA,
    BRAM,
    client,
    links_in,
    open_case,
    party,
    path,
    post,
    register,
    sign,
)


async def mediator_writes(service, opened, text):
    raw = compose(MEDIATOR, opened.mediator_address, text)
    await smtp_send(service.smtp_port, MEDIATOR, [opened.mediator_address], raw)
    await service.settle()


def registration(name: str) -> dict:
    return {"name": name, "language": "en", "privacy": "yes", "confidentiality": "yes"}


async def test_a_party_cannot_take_another_partys_name_in_any_spelling(service):
    await open_case(service)
    async with client(service) as http:
        for name in ("Bram de Boer", "  bram DE  Böer ", "Maria de Vries"):
            answer = await post(http, path(service, ANNA, "register"), registration(name))
            assert answer.status_code == 422, name
            assert "already has this name" in answer.text
    assert party(service, ANNA).name == "Anna Jansen"
    assert party(service, ANNA).registered_at is None


async def test_a_new_name_waits_for_the_mediator_who_can_accept_it(service, sink):
    opened = await open_case(service)
    sink.delivered.clear()
    async with client(service) as http:
        answer = await post(http, path(service, ANNA, "register"), registration("Anna Visser"))
        assert answer.status_code == 303
        page = await http.get(path(service, ANNA, "register"))
    assert 'You asked to be called "Anna Visser"' in page.text.replace("&#34;", '"')
    anna = party(service, ANNA)
    assert (anna.name, anna.proposed_name) == ("Anna Jansen", "Anna Visser")
    assert anna.registered_at is not None
    await service.settle()
    [asked] = [d for d in sink.to(MEDIATOR) if "asked to be called" in d.text]
    assert "#accept-name Anna Jansen" in asked.text
    sink.delivered.clear()
    await mediator_writes(service, opened, "#accept-name Anna")
    assert any("Anna Jansen is now called Anna Visser" in d.text for d in sink.to(MEDIATOR))
    [told] = sink.to(ANNA)
    assert 'you are now called "Anna Visser"' in told.text
    assert party(service, ANNA).name == "Anna Visser"
    sink.delivered.clear()
    await mediator_writes(service, opened, "#accept-name Anna")
    assert any("has not asked for another name" in d.text for d in sink.to(MEDIATOR))


async def test_signers_are_told_why_the_agreement_changed_and_sign_again(service, sink):
    opened = await open_case(service)
    async with client(service) as http:
        for email in (ANNA, BRAM):
            await register(http, service, email)
            assert (await sign(http, service, email)).status_code == 303
        await service.settle()
        sink.delivered.clear()
        await mediator_writes(service, opened, "#add Dirk Visser <dirk@home.test>")
        assert any("asked to sign it again" in d.text for d in sink.to(MEDIATOR))
        for email in (ANNA, BRAM):
            [changed] = [d for d in sink.to(email) if "has changed" in d.text]
            assert "because Dirk Visser now also takes part in the mediation" in changed.text
            assert changed.message["Reply-To"] != opened.mediator_address
            link = links_in(changed.text)["agreement"]
            page = await http.get(link)
            assert "Since you signed, the agreement has changed: Dirk Visser now also" \
                in page.text
            assert 'name="typed_name"' in page.text and "Dirk Visser" in page.text
            assert party(service, email).signed_at is None
        assert (await sign(http, service, ANNA)).status_code == 303
        assert party(service, ANNA).signed_at is not None
