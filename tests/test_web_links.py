"""Signed links: bound to one participant and one purpose, expiring, revocable, tamper-proof;
and every broken link ends on a kind page that says how to get a new one."""

from __future__ import annotations

import html
from datetime import UTC, datetime, timedelta

import time_machine
from sqlmodel import Session
from web_world import ANNA, BRAM, client, links_in, open_case, party, path, register

from threads.cases import lock_case
from threads.db import session_scope
from threads.links import resend_links, revoke_links
from threads.models import Case, Participant


async def test_an_expired_link_shows_how_to_get_a_new_one_in_the_partys_language(service):
    await open_case(service)
    with session_scope(service.engine) as session:
        anna = session.get(Participant, party(service, ANNA).id)
        anna.language = "nl"
        session.add(anna)
    with time_machine.travel(datetime.now(UTC) - timedelta(days=31)):
        old = path(service, ANNA, "intake")
    async with client(service) as http:
        answer = await http.get(old)
    assert answer.status_code == 410
    assert "Deze link is verlopen" in answer.text and 'lang="nl"' in answer.text
    assert 'het woord "link"' in html.unescape(answer.text)
    assert "vraag de mediator" in answer.text


async def test_a_link_within_its_lifetime_works(service):
    await open_case(service)
    with time_machine.travel(datetime.now(UTC) - timedelta(days=29)):
        recent = path(service, ANNA, "register")
    async with client(service) as http:
        assert (await http.get(recent)).status_code == 200


async def test_a_tampered_link_is_refused_kindly(service):
    await open_case(service)
    good = path(service, ANNA, "register")
    head, token = good.rsplit("/", 1)
    forged = f"{head}/{token[:-3]}{'AAA' if token[-3:] != 'AAA' else 'BBB'}"
    async with client(service) as http:
        answer = await http.get(forged, headers={"accept-language": "en-GB,en;q=0.9"})
        nothing = await http.get("/register/not-a-token")
        unknown = await http.get("/no/such/page")
    assert answer.status_code == 404 and "This link is not complete" in answer.text
    assert nothing.status_code == 404 and unknown.status_code == 404
    assert 'lang="nl"' in nothing.text  # no language asked for: the service's default
    assert "Anna" not in answer.text


async def test_a_link_only_opens_the_page_it_was_made_for(service):
    await open_case(service)
    register_token = path(service, ANNA, "register").rsplit("/", 1)[1]
    async with client(service) as http:
        answer = await http.get(f"/agreement/{register_token}",
                                headers={"accept-language": "en"})
    assert answer.status_code == 404
    assert "This link belongs to another page" in answer.text
    assert "Anna" not in answer.text


async def test_revoked_links_die_at_once_and_new_ones_work(service, sink):
    await open_case(service)
    old = path(service, ANNA, "register")
    with session_scope(service.engine) as session:
        anna = session.get(Participant, party(service, ANNA).id)
        case = lock_case(session, anna.case_id)
        revoke_links(session, case, anna, actor="test")
        service.composer.enqueue(session, resend_links(session, case, anna))
    await service.settle()
    [mail] = [d for d in sink.to(ANNA) if "your personal links" in d.text]
    fresh = links_in(mail.text)
    assert set(fresh) == {"register", "intake", "agreement"}
    async with client(service) as http:
        refused = await http.get(old)
        assert refused.status_code == 403 and "This link no longer works" in refused.text
        assert (await http.get(fresh["register"])).status_code == 200


async def test_a_removed_participants_links_die_at_once(service):
    await open_case(service)
    async with client(service) as http:
        await register(http, service, BRAM)
        intake = path(service, BRAM, "intake")
        assert (await http.get(intake)).status_code == 200
        with session_scope(service.engine) as session:
            bram = session.get(Participant, party(service, BRAM).id)
            bram.active = False
            session.add(bram)
        answer = await http.get(intake)
    assert answer.status_code == 403 and "This link no longer works" in answer.text


async def test_links_of_a_closed_case_no_longer_work(service):
    await open_case(service)
    url = path(service, ANNA, "register")
    with session_scope(service.engine) as session:
        case = session.get(Case, party(service, ANNA).case_id)
        case.status = "closed"
        session.add(case)
    async with client(service) as http:
        assert (await http.get(url)).status_code == 403


def test_resend_links_sends_nothing_to_a_removed_participant(settings):
    from mediate.service import prepare_database
    from threads.models import Case as CaseRow

    engine = prepare_database(settings)
    with Session(engine) as session:
        case = CaseRow(ref="x-1", title="t")
        session.add(case)
        session.flush()
        gone = Participant(case_id=case.id, role="party", name="Gone", email="g@x.test",
                           token="a" * 16, active=False)
        session.add(gone)
        session.flush()
        assert resend_links(session, case, gone) == []
    engine.dispose()
