"""Proposals by mail, over real SMTP: #propose puts a numbered proposal to the parties in a
thread of its own, their "agreed" / "not agreed" is recorded and never relayed, #status and
#proposals show who answered what, #withdraw ends one, and unanswered ones are reminded."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from conftest import MEDIATOR
from sqlmodel import Session, select
from test_walking_skeleton import ANNA, BRAM, CEES, reply

from mediate import casework
from threads.models import Message, ProposalParty
from threads.sweep import sweep

SOFA = "The sofa goes to Anna; Bram keeps the car and pays Anna € 1.200,-."


async def open_in(service, language: str, moderation: str = "review", intake: str | None = None):
    names = {ANNA: "Anna Jansen", BRAM: "Bram de Boer", CEES: "Cees Ünal"}
    opened = casework.open_case(
        service.settings, title="Sharing the house", mediator_email=MEDIATOR,
        parties=[f"{names[p]} <{p}>" for p in (ANNA, BRAM, CEES)], moderation=moderation,
        language=language, engine=service.engine, intake=intake,
    )
    await service.settle()
    addresses = dict(opened.party_addresses)
    return {ANNA: addresses["Anna Jansen"], BRAM: addresses["Bram de Boer"],
            CEES: addresses["Cees Ünal"], MEDIATOR: opened.mediator_address}


def answers(service) -> dict[str, str | None]:
    with Session(service.engine) as session:
        return {row.participant_id: row.answer for row in session.exec(select(ProposalParty))}


async def test_answers_are_recorded_per_party_never_relayed_and_shown_in_a_matrix(service, sink):
    address = await open_in(service, "en", moderation="open")  # open: nothing may slip through
    sink.delivered.clear()
    await reply(service, MEDIATOR, address[MEDIATOR], f"#propose\n{SOFA}")
    proposal = {}
    for party in (ANNA, BRAM, CEES):
        [mail] = sink.to(party)
        assert mail.message["Subject"].endswith("Proposal 1: Sharing the house")
        assert SOFA in mail.text and '"agreed" or "not agreed"' in mail.text
        proposal[party] = mail.message["Message-ID"]
    [sent] = sink.to(MEDIATOR)
    assert "Proposal 1 went to Anna Jansen, Bram de Boer, Cees Ünal" in sent.text

    sink.delivered.clear()
    await reply(service, ANNA, address[ANNA], "Agreed\nGlad we found this.",
                in_reply_to=proposal[ANNA])
    [receipt] = sink.to(ANNA)
    assert "I have recorded your answer to proposal 1: agreed." in receipt.text
    assert receipt.message["In-Reply-To"]  # in the proposal's thread
    [told] = sink.to(MEDIATOR)
    assert "Anna Jansen answered proposal 1: agreed." in told.text
    assert "Glad we found this." in told.text
    assert sink.to(BRAM) == [] and sink.to(CEES) == []  # recorded, not relayed

    await reply(service, BRAM, address[BRAM], "Not agreed: the car is worth more.",
                in_reply_to=proposal[BRAM])
    sink.delivered.clear()
    await reply(service, BRAM, address[BRAM], "agreed 1, after all", in_reply_to=proposal[BRAM])
    [receipt] = sink.to(BRAM)
    assert "agreed (this replaces your earlier answer)" in receipt.text
    assert sink.to(ANNA) == [] and sink.to(CEES) == []

    sink.delivered.clear()
    await reply(service, CEES, address[CEES], "What happens to the dog?",
                in_reply_to=proposal[CEES])
    assert sink.to(ANNA) == [] and sink.to(BRAM) == []  # unclear: held, even in open mode
    [review] = sink.to(MEDIATOR)
    assert "What happens to the dog?" in review.text
    with Session(service.engine) as session:
        [held] = session.exec(select(Message).where(Message.status == "held")).all()
        assert held.text == "What happens to the dog?"

    sink.delivered.clear()
    await reply(service, MEDIATOR, address[MEDIATOR], "#status")
    [status] = sink.to(MEDIATOR)
    assert "Proposal 1 (" in status.text
    assert "Anna Jansen: agreed" in status.text and "Bram de Boer: agreed" in status.text
    assert "Cees Ünal: no answer yet" in status.text

    # outside the proposal's thread the number says which one
    sink.delivered.clear()
    await reply(service, CEES, address[CEES], "Akkoord 1")
    assert sink.to(ANNA) == [] and sink.to(BRAM) == []
    assert "agreed" in sink.to(CEES)[0].text
    assert set(answers(service).values()) == {"agreed"}

    sink.delivered.clear()
    await reply(service, MEDIATOR, address[MEDIATOR], "#proposals")
    [listing] = sink.to(MEDIATOR)
    assert "Proposal 1 (" in listing.text and "everyone agreed" in listing.text
    assert SOFA in listing.text and '"Glad we found this."' in listing.text


async def test_a_proposal_to_some_parties_in_dutch_withdrawn_and_reminded(service, sink):
    address = await open_in(service, "nl")
    sink.delivered.clear()
    await reply(service, MEDIATOR, address[MEDIATOR],
                "#voorstel Anna, Bram\nDe bank gaat naar Anna.")
    assert sink.to(CEES) == []
    [to_anna] = sink.to(ANNA)
    assert to_anna.message["Subject"].endswith("Voorstel 1: Sharing the house")
    assert '"akkoord" of "niet akkoord"' in to_anna.text
    [to_bram] = sink.to(BRAM)

    sink.delivered.clear()
    await reply(service, ANNA, address[ANNA], "Niet akkoord\nIk heb geen plek voor een bank.",
                in_reply_to=to_anna.message["Message-ID"])
    assert "vastgelegd: niet akkoord." in sink.to(ANNA)[0].text
    [told] = sink.to(MEDIATOR)
    assert "Anna Jansen answered proposal 1: not agreed." in told.text  # the mediator: English
    assert "Ik heb geen plek voor een bank." in told.text

    # Cees was not asked: his "akkoord 1" is an ordinary message for the mediator
    sink.delivered.clear()
    await reply(service, CEES, address[CEES], "akkoord 1")
    assert sink.to(ANNA) == [] and sink.to(BRAM) == []
    assert any("akkoord 1" in d.text for d in sink.to(MEDIATOR))
    assert len(answers(service)) == 2

    # Bram has not answered: four days on (at noon, outside quiet hours) he is reminded in the
    # proposal's thread, and answering the reminder answers the proposal
    sink.delivered.clear()
    noon = datetime.now(ZoneInfo("Europe/Amsterdam")).replace(hour=12) + timedelta(days=4)
    report = sweep(service.engine, service.composer, service.settings, now=noon)
    assert report.sent["proposal"] == 1
    await service.settle()
    [reminder] = [d for d in sink.to(BRAM) if "Voorstel 1" in d.message["Subject"]]
    assert "De bank gaat naar Anna." in reminder.text
    assert reminder.message["Subject"] == to_bram.message["Subject"]
    assert to_bram.message["Message-ID"] in reminder.message["References"]

    # after the last reminder the mediator hears, once, that Bram does not answer
    for days in (8, 12, 16):
        sweep(service.engine, service.composer, service.settings, now=noon + timedelta(days))
    await service.settle()
    silent = [d.text for d in sink.to(MEDIATOR) if "Not responding" in d.message["Subject"]]
    assert any("Bram de Boer has not answered your proposal of" in t for t in silent)

    sink.delivered.clear()
    await reply(service, MEDIATOR, address[MEDIATOR], "#intrekken 1")
    assert "ingetrokken" in sink.to(ANNA)[0].text and "ingetrokken" in sink.to(BRAM)[0].text
    assert "Proposal 1 is withdrawn" in sink.to(MEDIATOR)[0].text
    sink.delivered.clear()
    await reply(service, BRAM, address[BRAM], "akkoord",
                in_reply_to=reminder.message["Message-ID"])
    assert "ingetrokken" in sink.to(BRAM)[0].text
    assert sorted(answers(service).values(), key=str) == [None, "not-agreed"]

    sink.delivered.clear()
    await reply(service, MEDIATOR, address[MEDIATOR], "#intrekken 7")
    assert "there is no such proposal" in sink.to(MEDIATOR)[0].text
