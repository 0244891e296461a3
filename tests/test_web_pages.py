"""Registration, intake and signing over real HTTP against the running service."""

from __future__ import annotations

from conftest import MEDIATOR
from sqlmodel import Session, select
from web_world import (
    ANNA,
    BRAM,
    NAMES,
    client,
    csrf,
    fill_intake,
    links_in,
    open_case,
    party,
    path,
    post,
    register,
    sign,
    target,
)

from threads.models import AuditEvent, IntakeAnswer, Signature


async def test_healthz_reports_the_service_and_the_database(service):
    async with client(service) as http:
        answer = await http.get("/healthz")
    assert answer.status_code == 200
    report = answer.json()
    assert report["status"] == "ok"
    assert report["database"]["ok"] is True
    assert report["database"]["dialect"] in ("sqlite", "postgresql")


async def test_the_invitation_carries_the_partys_registration_and_agreement_links(service, sink):
    await open_case(service)
    [invitation] = sink.to(ANNA)
    links = links_in(invitation.text)
    anna = party(service, ANNA)
    for purpose in ("register", "agreement"):
        token = links[purpose].removeprefix(f"/{purpose}/")
        assert service.web.context.links.read(token) == {"p": anna.id, "u": purpose, "v": 0}
    async with client(service) as http:
        page = await http.get(links["register"])
    assert page.status_code == 200
    assert 'lang="en"' in page.text and "Anna Jansen" in page.text
    assert BRAM not in page.text and NAMES[BRAM] not in page.text
    assert page.headers["referrer-policy"] == "no-referrer"
    assert page.headers["cache-control"] == "no-store"


async def test_registration_confirms_name_language_and_consent_then_goes_to_the_intake(service):
    await open_case(service)
    async with client(service) as http:
        answer = await register(http, service, ANNA, language="nl")
        assert answer.status_code == 303
        assert target(service, answer.headers["location"]) == (
            "intake", party(service, ANNA).id, "intake")
        intake = await http.get(answer.headers["location"])
    assert 'lang="nl"' in intake.text and "Pagina 1 van 4" in intake.text
    anna = party(service, ANNA)
    assert anna.registered_at is not None and anna.language == "nl"
    with Session(service.engine) as session:
        kinds = session.exec(select(AuditEvent.kind).where(AuditEvent.case_id == anna.case_id))
        assert "registered" in list(kinds)


async def test_registration_without_consent_shows_the_errors_next_to_the_fields(service):
    await open_case(service)
    async with client(service) as http:
        answer = await post(http, path(service, ANNA, "register"),
                            {"name": " ", "language": "en"})
    assert answer.status_code == 422
    assert 'id="e-name"' in answer.text and 'aria-invalid="true"' in answer.text
    assert "Please agree to confidentiality" in answer.text
    assert 'href="#f-privacy"' in answer.text
    assert party(service, ANNA).registered_at is None


async def test_a_form_without_the_csrf_token_is_refused(service):
    await open_case(service)
    url = path(service, ANNA, "register")
    async with client(service) as http:
        await http.get(url)  # the cookie is set, but the form field is missing
        answer = await http.post(url, data={"name": "Anna Jansen", "language": "en",
                                            "privacy": "yes", "confidentiality": "yes"})
        assert answer.status_code == 403
        assert "This form has expired" in answer.text
        page = await http.get(url)
    async with client(service) as other:  # a token from another browser's cookie is refused
        answer = await other.post(url, data={"csrf_token": csrf(page.text), "name": "X",
                                             "language": "en", "privacy": "yes",
                                             "confidentiality": "yes"})
        assert answer.status_code == 403
    assert party(service, ANNA).registered_at is None


async def test_the_intake_needs_registration_first(service):
    await open_case(service)
    async with client(service) as http:
        answer = await http.get(path(service, ANNA, "intake"))
    assert answer.status_code == 303
    assert target(service, answer.headers["location"]) == (
        "register", party(service, ANNA).id, "register")


async def test_invalid_answers_are_shown_next_to_their_questions_and_valid_ones_kept(service):
    await open_case(service)
    async with client(service) as http:
        await register(http, service, ANNA)
        url = path(service, ANNA, "intake")
        answer = await post(http, f"{url}?page=1", {
            "page": "1", "action": "next", "summary": "x" * 6000, "since": "forever",
            "deadline": "31-02-2026", "court_pending": "no",
        })
        assert answer.status_code == 422
        text = answer.text
        assert "This is too long: at most 5000 characters." in text
        assert "Please choose one of the options." in text
        assert "Please enter a date" in text
        assert 'id="e-summary"' in text and 'aria-describedby="h-summary e-summary"' in text
    with Session(service.engine) as session:
        stored = {a.question_id: a.value for a in session.exec(select(IntakeAnswer))}
    assert stored == {"court_pending": "no"}


async def test_required_questions_block_next_but_not_save(service):
    await open_case(service)
    async with client(service) as http:
        await register(http, service, ANNA)
        url = path(service, ANNA, "intake")
        answer = await post(http, f"{url}?page=0", {"page": "0", "action": "next",
                                                     "phone": "0612345678"})
        assert answer.status_code == 422 and "Please answer this." in answer.text
        saved = await post(http, f"{url}?page=0", {"page": "0", "action": "save",
                                                    "phone": "0612345678"})
        assert saved.status_code == 200 and "Your answers have been saved" in saved.text
        resumed = await http.get(url)
    assert 'value="0612345678"' in resumed.text  # resumes on the page with the gap


async def test_a_conditional_question_counts_only_when_its_condition_holds(service):
    await open_case(service)
    async with client(service) as http:
        await register(http, service, ANNA)
        url = path(service, ANNA, "intake")
        page = await http.get(f"{url}?page=1")
        # same page: shown with CSS :has(), and a note for browsers without it
        assert 'form:has(input[name="court_pending"][value="yes"]:checked) #q-court_details' \
            in page.text
        needed = await post(http, f"{url}?page=1", {
            "page": "1", "action": "next", "summary": "s", "since": "weeks",
            "court_pending": "yes"})
        assert needed.status_code == 422 and 'id="e-court_details"' in needed.text
        ignored = await post(http, f"{url}?page=1", {
            "page": "1", "action": "next", "summary": "s", "since": "weeks",
            "court_pending": "no", "court_details": "a hearing in May"})
        assert ignored.status_code == 303
        first = await post(http, f"{url}?page=0", {"page": "0", "action": "next",
                                                    "mediated_before": "no", "adviser": "no"})
        assert first.status_code == 303
        later = await http.get(f"{url}?page=0")
    assert "mediated_before_how" in later.text  # rendered, hidden by CSS until "yes"
    with Session(service.engine) as session:
        stored = {a.question_id for a in session.exec(select(IntakeAnswer))}
    assert "court_details" not in stored


async def test_submitting_sends_the_party_a_copy_and_the_mediator_the_answers(service, sink):
    await open_case(service)
    sink.delivered.clear()
    async with client(service) as http:
        await register(http, service, ANNA)
        answer = await fill_intake(http, service, ANNA)
        assert answer.status_code == 303
        done = await http.get(answer.headers["location"])
    assert "Thank you" in done.text and "We disagree about the shared driveway." in done.text
    await service.settle()
    [copy] = [d for d in sink.to(ANNA) if "Your answers have reached me" in d.text]
    assert "We disagree about the shared driveway." in copy.text
    [to_mediator] = [d for d in sink.to(MEDIATOR) if "has submitted the intake" in d.text]
    assert "Anna Jansen" in to_mediator.text and "Months" not in to_mediator.text
    assert "A few months" in to_mediator.text
    assert party(service, ANNA).intake_submitted_at is not None


async def test_signing_records_the_hash_of_the_text_shown_and_mails_both_sides(service, sink):
    await open_case(service)
    sink.delivered.clear()
    async with client(service) as http:
        await register(http, service, ANNA)
        page = await http.get(path(service, ANNA, "agreement"))
        assert "MEDIATION AGREEMENT" in page.text and "€100.00" in page.text
        answer = await sign(http, service, ANNA)
        assert answer.status_code == 303
        again = await sign_again(http, service)
    with Session(service.engine) as session:
        [signature] = session.exec(select(Signature)).all()
    assert signature.typed_name == "Anna Jansen" and signature.ip == "127.0.0.1"
    assert "python-httpx" in signature.user_agent
    import hashlib

    assert hashlib.sha256(signature.text.encode()).hexdigest() == signature.sha256
    assert signature.sha256 in again.text and "You signed this agreement" in again.text
    await service.settle()
    [copy] = [d for d in sink.to(ANNA) if "exact text you signed" in d.text]
    assert "MEDIATION AGREEMENT" in copy.text
    assert "SHA-256" not in copy.text  # the fingerprint belongs in the record, not her mail
    assert any("signed the mediation agreement" in d.text and signature.sha256 in d.text
               for d in sink.to(MEDIATOR))


async def sign_again(http, service):
    return await http.get(path(service, ANNA, "agreement"))


async def test_a_wrong_name_or_missing_consent_does_not_sign(service):
    await open_case(service)
    async with client(service) as http:
        await register(http, service, ANNA)
        url = path(service, ANNA, "agreement")
        page = await http.get(url)
        import re

        digest = re.search(r'name="sha256" value="([0-9a-f]{64})"', page.text).group(1)
        answer = await http.post(url, data={"csrf_token": csrf(page.text), "sha256": digest,
                                            "typed_name": "Someone Else"})
    assert answer.status_code == 422
    assert "type your name as the mediation knows it: Anna Jansen" in answer.text
    assert "for example A. Jansen" in answer.text and "Please tick" in answer.text
    with Session(service.engine) as session:
        assert session.exec(select(Signature)).all() == []
