"""#pause and #resume over real SMTP: while paused nothing is relayed, everyone is told, and what
parties wrote meanwhile is decided on #resume as it would have been on arrival."""

from __future__ import annotations

from conftest import MEDIATOR
from sqlmodel import Session, select
from test_walking_skeleton import ANNA, BRAM, CEES, open_case, reply

from threads.models import Case, Message

CALM = "Agreed, the sofa goes to Anna. I can collect it on Saturday."
HEATED = "You never listen, Anna. Every single time it is the same."


async def test_pause_holds_everything_and_resume_decides_it_as_on_arrival(service, sink):
    opened, address = await open_case(service, moderation="open")
    sink.delivered.clear()
    await reply(service, MEDIATOR, address[MEDIATOR], "#pause\nWe take two weeks to cool down.")
    for party in (ANNA, BRAM, CEES):
        [told] = sink.to(party)
        assert "paused" in told.text and "We take two weeks to cool down." in told.text
    [answer] = sink.to(MEDIATOR)
    assert "The mediation is paused" in answer.text

    sink.delivered.clear()
    await reply(service, BRAM, address[BRAM], CALM)
    await reply(service, CEES, address[CEES], HEATED)
    assert sink.to(ANNA) == []
    [waits] = sink.to(BRAM)
    assert "kept safely" in waits.text
    assert sink.to(MEDIATOR) == []

    sink.delivered.clear()
    await reply(service, MEDIATOR, address[MEDIATOR], "Shall we talk about the car?")
    assert sink.to(ANNA) == [] and sink.to(BRAM) == []
    [refused] = sink.to(MEDIATOR)
    assert "The mediation is paused, so your message was not sent" in refused.text

    sink.delivered.clear()
    await reply(service, MEDIATOR, address[MEDIATOR], "#status")
    [status] = sink.to(MEDIATOR)
    assert "Paused (#resume to go on)" in status.text
    assert "(written during the pause: dealt with on #resume)" in status.text

    sink.delivered.clear()
    await reply(service, MEDIATOR, address[MEDIATOR], "#resume")
    relayed = [d.text for d in sink.to(ANNA)]
    assert any("goes on" in t for t in relayed)
    assert any(t.startswith(CALM) for t in relayed)  # open mode: relayed now
    assert not any(HEATED in d.text for d in sink.to(ANNA) + sink.to(BRAM))  # heated: held
    reviews = [d.text for d in sink.to(MEDIATOR) if HEATED in d.text]
    assert reviews and reviews[0].startswith("Please note: sweeping words")
    with Session(service.engine) as session:
        assert session.exec(select(Case)).one().status == "open"
        held = session.exec(select(Message).where(Message.status == "held")).all()
        assert [(m.text, m.hold_reason) for m in held] == [(HEATED, "heated")]


async def test_resume_and_pause_say_what_is_wrong_when_they_do_not_fit(service, sink):
    opened, address = await open_case(service)
    sink.delivered.clear()
    await reply(service, MEDIATOR, address[MEDIATOR], "#resume")
    [answer] = sink.to(MEDIATOR)
    assert "the mediation is not paused" in answer.text
    await reply(service, MEDIATOR, address[MEDIATOR], "#pause")
    sink.delivered.clear()
    await reply(service, MEDIATOR, address[MEDIATOR], "#pause")
    [answer] = sink.to(MEDIATOR)
    assert "only an open mediation can be paused (this one is paused)" in answer.text


async def test_approve_while_paused_passes_nothing_on(service, sink):
    opened, address = await open_case(service)  # review: Bram's message is held
    await reply(service, BRAM, address[BRAM], CALM)
    await reply(service, MEDIATOR, address[MEDIATOR], "#pause")
    sink.delivered.clear()
    await reply(service, MEDIATOR, address[MEDIATOR], "#approve 1")
    assert sink.to(ANNA) == [] and sink.to(CEES) == []
    [answer] = sink.to(MEDIATOR)
    assert "nothing is passed on yet" in answer.text
    with Session(service.engine) as session:
        assert session.exec(select(Message.status)).all() == ["held"]
