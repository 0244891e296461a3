"""After-care over real SMTP and HTTP: #close settled brings each party the evaluation
questionnaire (answers to the mediator, once), and months later a follow-up mail whose
answers reach the mediator although the case is closed."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from conftest import MEDIATOR
from test_proposals import open_in
from test_walking_skeleton import ANNA, BRAM, CEES, reply
from web_world import client, csrf

from threads.aftercare import months_later
from threads.settings import AftercareSettings
from threads.sweep import sweep

ZONE = ZoneInfo("Europe/Amsterdam")


def noon(days: int = 1) -> datetime:
    """Noon in the case's zone some days on: outside quiet hours whenever the test runs."""
    return (datetime.now(ZONE) + timedelta(days=days)).replace(hour=12, minute=0)


async def test_a_settled_case_brings_each_party_the_evaluation_once(service, sink):
    address = await open_in(service, "en")
    await reply(service, MEDIATOR, address[MEDIATOR], "#close settled")
    sink.delivered.clear()
    report = sweep(service.engine, service.composer, service.settings, now=noon())
    assert report.sent["aftercare"] == 3
    await service.settle()
    [invite] = sink.to(ANNA)
    assert "how it went for you" in invite.text
    path = "/evaluation/" + invite.text.split("/evaluation/")[1].split()[0]

    async with client(service) as http:
        page = await http.get(path)
        assert "How satisfied are you with the mediation as a whole?" in page.text
        answer = await http.post(path, data={
            "csrf_token": csrf(page.text), "eval_overall": "4", "eval_clear": "yes",
            "eval_better": "More time between the messages would have helped.",
            "eval_safety": "no"})
        assert answer.status_code == 303, answer.text
        again = await http.get(path)
        assert "Your answers have reached the mediator" in again.text
    await service.settle()
    [answers] = [d for d in sink.to(MEDIATOR) if "Evaluation: Anna Jansen" in d.text
                 or "Evaluation: Anna Jansen" in d.message["Subject"]]
    assert "More time between the messages would have helped." in answers.text
    assert "How satisfied are you with the mediation as a whole?" in answers.text

    sink.delivered.clear()
    assert sweep(service.engine, service.composer, service.settings,
                 now=noon(2)).sent["aftercare"] == 0
    await service.settle()
    assert sink.delivered == []


async def test_months_later_parties_are_asked_how_the_agreements_work(service, sink):
    address = await open_in(service, "nl")
    await reply(service, MEDIATOR, address[MEDIATOR], "#close geregeld")
    settings = service.settings.model_copy(update={
        "aftercare": AftercareSettings(evaluation=False, follow_up_months=3)})
    assert sweep(service.engine, service.composer, settings, now=noon()).sent["aftercare"] == 0

    sink.delivered.clear()
    later = months_later(noon(0), 3) + timedelta(days=1)
    assert sweep(service.engine, service.composer, settings, now=later).sent["aftercare"] == 3
    await service.settle()
    [ask] = sink.to(BRAM)
    assert "Werken de afspraken nog voor u?" in ask.text

    sink.delivered.clear()
    await reply(service, BRAM, address[BRAM], "Alles gaat goed, de tuinset is opgehaald.",
                in_reply_to=ask.message["Message-ID"])
    [heard] = sink.to(MEDIATOR)
    assert "Alles gaat goed, de tuinset is opgehaald." in heard.text
    assert "Bram de Boer" in heard.message["Subject"]
    [thanks] = sink.to(BRAM)
    assert "Het is bij mij aangekomen, en alleen bij mij." in thanks.text
    assert sink.to(ANNA) == [] and sink.to(CEES) == []

    # mail to the closed case that answers nothing of the after-care: told it is closed
    sink.delivered.clear()
    await reply(service, CEES, address[CEES], "Nog een vraag over de auto.")
    assert sink.to(MEDIATOR) == []
    assert len(sink.to(CEES)) == 1
    assert sweep(service.engine, service.composer, settings,
                 now=later + timedelta(days=1)).sent["aftercare"] == 0
