"""The agreement's life and the readiness mail: re-signing, changed texts, custom templates,
safety alerts, the case's own intake form, and one readiness mail when the last party finishes,
even when the last two finish at the same moment."""

from __future__ import annotations

import asyncio
import threading

import pytest
from conftest import MEDIATOR
from sqlmodel import Session, func, select
from web_world import (
    ANNA,
    BRAM,
    DEFAULT_PAGES,
    client,
    fill_intake,
    open_case,
    party,
    path,
    post,
    register,
    sign,
)

from threads.agreement import sha256
from threads.cases import CaseError
from threads.db import session_scope
from threads.models import Case, OutgoingMail, Participant, Signature


def count(service, model, *where) -> int:
    with Session(service.engine) as session:
        return session.exec(select(func.count()).select_from(model).where(*where)).one()


async def test_re_signing_an_unchanged_agreement_changes_nothing(service):
    await open_case(service)
    async with client(service) as http:
        await register(http, service, ANNA)
        url = path(service, ANNA, "agreement")
        page = await http.get(url)  # a second tab, still showing the form
        await sign(http, service, ANNA)
        mails = count(service, OutgoingMail)
        import re

        form = {name: re.search(rf'name="{name}" value="([0-9a-f]+)"', page.text).group(1)
                for name in ("csrf_token", "sha256")}
        again = await http.post(url, data={**form, "typed_name": "Anna Jansen",
                                           "consent": "yes"})
    assert again.status_code == 200 and "You signed this agreement" in again.text
    assert count(service, Signature) == 1
    assert count(service, OutgoingMail) == mails


async def test_a_changed_agreement_needs_a_new_signature(service):
    await open_case(service)
    async with client(service) as http:
        await register(http, service, ANNA)
        url = path(service, ANNA, "agreement")  # one link: the CSRF token is bound to it
        page = await http.get(url)
        await sign(http, service, ANNA)
        with session_scope(service.engine) as session:
            case = session.get(Case, party(service, ANNA).case_id)
            case.hourly_rate = 135.0
            session.add(case)
        changed = await http.get(url)
        assert "€135.00" in changed.text and 'name="typed_name"' in changed.text
        import re

        old = re.search(r'name="sha256" value="([0-9a-f]{64})"', page.text).group(1)
        token = re.search(r'name="csrf_token" value="([0-9a-f]+)"', changed.text).group(1)
        stale = await http.post(url, data={
            "csrf_token": token, "sha256": old, "typed_name": "Anna Jansen", "consent": "yes"})
        assert stale.status_code == 409 and "has changed in the meantime" in stale.text
        assert (await sign(http, service, ANNA)).status_code == 303
    with Session(service.engine) as session:
        digests = {s.sha256 for s in session.exec(select(Signature))}
    assert len(digests) == 2


async def test_a_case_can_bring_its_own_agreement_template(service, tmp_path):
    own = tmp_path / "our-agreement.txt"
    own.write_text("OUR AGREEMENT for {{ case.title }} with {{ parties|join(', ') }}; "
                   "rate {{ hourly_rate|money(lang) }}.\n")
    await open_case(service, agreement=str(own))
    async with client(service) as http:
        await register(http, service, ANNA)
        page = await http.get(path(service, ANNA, "agreement"))
    assert "OUR AGREEMENT for The driveway with Anna Jansen, Bram de Boer; rate €100.00." \
        in page.text


async def test_a_broken_agreement_template_or_unknown_intake_form_opens_no_case(service, tmp_path):
    broken = tmp_path / "broken.txt"
    broken.write_text("{% if %}")
    with pytest.raises(CaseError) as refused:
        await open_case(service, agreement=str(broken), intake="gardening")
    problems = " ".join(refused.value.problems)
    assert "no intake form 'gardening'" in problems and "broken.txt" in problems
    assert count(service, Case) == 0


async def test_the_case_uses_the_intake_form_it_was_opened_with(service):
    await open_case(service, intake="family")
    async with client(service) as http:
        await register(http, service, ANNA)
        page = await http.get(path(service, ANNA, "intake"))
    assert "Your relationship" in page.text and "Page 1 of 5" in page.text


async def test_a_worrying_safety_answer_alerts_the_mediator_at_once_and_only_once(service, sink):
    await open_case(service)
    sink.delivered.clear()
    async with client(service) as http:
        await register(http, service, ANNA)
        url = path(service, ANNA, "intake")
        for _ in range(2):
            saved = await post(http, f"{url}?page=3", {
                "page": "3", "action": "save", "safety_concern": "yes"})
            assert saved.status_code == 200
            await service.settle()
    alerts = [d for d in sink.to(MEDIATOR) if "Safety" in d.message["Subject"] or
              "asks for your attention" in d.text]
    assert len(alerts) == 1
    assert "Are you afraid of the other party" in alerts[0].text
    assert "Answer: Yes" in alerts[0].text
    assert sink.to(BRAM) == []


async def test_the_readiness_mail_goes_out_once_when_the_last_party_finishes(service, sink):
    await open_case(service)
    async with client(service) as http:
        for email in (ANNA, BRAM):
            await register(http, service, email)
            await fill_intake(http, service, email)
        await sign(http, service, ANNA)
        await service.settle()
        assert [d for d in sink.to(MEDIATOR) if "Ready to start" in d.text or
                "has completed what the case requires" in d.text] == []
        await sign(http, service, BRAM)
        await http.get(path(service, BRAM, "agreement"))
    await service.settle()
    ready = [d for d in sink.to(MEDIATOR) if "has completed what the case requires" in d.text]
    assert len(ready) == 1
    text = ready[0].text
    assert "=== Anna Jansen ===" in text and "=== Bram de Boer ===" in text
    assert text.count("We disagree about the shared driveway.") == 2


async def test_two_parties_finishing_at_the_same_moment_get_one_readiness_mail(service):
    await open_case(service)
    async with client(service) as http:
        for email in (ANNA, BRAM):
            await register(http, service, email)
            await fill_intake(http, service, email, DEFAULT_PAGES)
        # both signatures race over HTTP (two worker threads) ...
        await asyncio.gather(sign(http, service, ANNA), sign(http, service, BRAM))
    assert count(service, OutgoingMail, OutgoingMail.kind == "ready") == 1


def test_two_threads_completing_the_last_steps_claim_readiness_once(settings):
    from mediate import casework
    from mediate.service import make_composer, prepare_database
    from mediate.web.server import make_onboarding
    from threads.onboarding import answers_of

    engine = prepare_database(settings)
    casework.open_case(settings, title="Race", mediator_email=MEDIATOR,
                       parties=[f"A <{ANNA}>", f"B <{BRAM}>"], engine=engine)
    onboarding = make_onboarding(settings)
    composer = make_composer(settings)
    with session_scope(engine) as session:
        people = session.exec(select(Participant).where(Participant.role == "party")).all()
        case = session.get(Case, people[0].case_id)
        for person in people:
            onboarding.register(session, case, person, name=person.name, language="en",
                                privacy=True, confidentiality=True)
            for index, page in enumerate(DEFAULT_PAGES):
                onboarding.save_page(session, case, person, index,
                                     {k: [v] for k, v in page.items()}, require=True)
            assert onboarding.submit(session, case, person)[0] == []
            assert answers_of(session, person)
        ids = [p.id for p in people]
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def finish(participant_id: int) -> None:
        try:
            barrier.wait(timeout=10)
            with session_scope(engine) as session:
                person = session.get(Participant, participant_id)
                case = session.get(Case, person.case_id)
                text = onboarding.agreements.render(session, case, person)
                _, _, notices = onboarding.sign(
                    session, case, person, shown_sha256=sha256(text), typed_name=person.name,
                    ip="127.0.0.1", user_agent="test")
                composer.enqueue(session, notices)
        except BaseException as error:  # noqa: BLE001
            errors.append(error)

    threads = [threading.Thread(target=finish, args=(pid,)) for pid in ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    with Session(engine) as session:
        ready = session.exec(select(OutgoingMail).where(OutgoingMail.kind == "ready")).all()
    assert len(ready) == 1
    engine.dispose()


async def test_opening_by_mail_chooses_the_intake_form_and_refuses_an_unknown_one(service, sink):
    from conftest import DOMAIN
    from support import compose, smtp_send

    async def open_by_mail(form: str) -> None:
        body = f"Anna Jansen <{ANNA}>\nBram de Boer <{BRAM}>\nlanguage: en\nintake: {form}\n"
        raw = compose(MEDIATOR, f"open@{DOMAIN}", body, subject="Our street")
        await smtp_send(service.smtp_port, MEDIATOR, [f"open@{DOMAIN}"], raw)
        await service.settle()

    await open_by_mail("gardening")
    assert count(service, Case) == 0
    assert "gardening" in sink.to(MEDIATOR)[-1].text
    await open_by_mail("neighbours")
    with Session(service.engine) as session:
        assert session.exec(select(Case.intake_form)).one() == "neighbours"
