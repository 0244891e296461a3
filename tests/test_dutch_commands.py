"""Command words and their arguments work in Dutch and English alike, and the answer comes in
the mediator's own language, whichever words they used (over real SMTP, as a mediator writes)."""

from __future__ import annotations

from conftest import MEDIATOR
from sqlmodel import Session, select
from test_walking_skeleton import ANNA, BRAM, CEES, reply

from mediate import casework
from threads.models import Case, Participant, TimeEntry


async def _open(service, language: str):  # noqa: ANN001, ANN202
    names = {ANNA: "Anna Jansen", BRAM: "Bram de Boer", CEES: "Cees Ünal"}
    opened = casework.open_case(
        service.settings, title="De woning", mediator_email=MEDIATOR,
        parties=[f"{names[p]} <{p}>" for p in (ANNA, BRAM, CEES)], moderation="review",
        language=language, engine=service.engine,
    )
    await service.settle()
    with Session(service.engine) as session:  # the mediator's own language ([[mediators]])
        for person in session.exec(select(Participant).where(Participant.role == "mediator")):
            person.language = language
            session.add(person)
        session.commit()
    return opened.mediator_address


async def _say(service, sink, mediator_address: str, text: str) -> str:  # noqa: ANN001
    sink.delivered.clear()
    await reply(service, MEDIATOR, mediator_address, text)
    return "\n".join(d.text for d in sink.to(MEDIATOR))


async def test_a_dutch_mediator_gives_dutch_commands_and_reads_dutch_answers(service, sink):  # noqa: ANN001
    mediator = await _open(service, "nl")
    said = await _say(service, sink, mediator, "#tijd 1u30 intakegesprekken")
    assert "1u30 genoteerd; in totaal 1u30 aan deze zaak." in said, said
    said = await _say(service, sink, mediator, "#verdeling gelijk")
    assert "De kosten worden nu gelijk verdeeld: " in said and "33,3%" in said, said
    said = await _say(service, sink, mediator, "#moderatie open")
    assert "De moderatie is nu 'open'." in said, said
    said = await _say(service, sink, mediator, "#sluiten")
    assert "schrijf '#sluiten geregeld' of '#sluiten niet-geregeld'" in said, said
    said = await _say(service, sink, mediator, "#afwijzen")
    assert "er wacht geen bericht op uw beoordeling" in said, said
    said = await _say(service, sink, mediator, "#sluiten geregeld Dank u wel.")
    assert "De zaak is gesloten (met akkoord); iedereen is ingelicht." in said, said
    with Session(service.engine) as session:
        assert session.exec(select(Case)).one().outcome == "settled"
        assert sum(t.minutes for t in session.exec(select(TimeEntry))) == 90
    assert "Moderation" not in said and "closed" not in said


async def test_dutch_words_from_an_english_mediator_are_answered_in_english(service, sink):  # noqa: ANN001
    mediator = await _open(service, "en")
    said = await _say(service, sink, mediator, "#tijd 45m")
    assert "Logged 0h45; 0h45 in total on this case." in said, said
    said = await _say(service, sink, mediator, "#sluiten niet-geregeld")
    assert "The case is closed (not settled); everyone has been told." in said, said
