"""The private line is read for tone too, end to end over SMTP: a party's private mail to the
mediator is never relayed, but a threat or a sign of self-harm in it raises the safety alert (it
says it came privately, and is repeated in #status until #ack), and heated words are marked on
the mediator's copy. Nobody else hears of any of it."""

from __future__ import annotations

import pytest
from conftest import MEDIATOR, make_settings
from sqlmodel import Session, select
from support import DKIM_KEY
from test_mediator_mail import command, private_line
from test_walking_skeleton import ANNA, BRAM, CEES, open_case, reply

from mediate import casework
from mediate.service import Service
from threads import heat
from threads.models import Case, Message

SELF_HARM = "I can't do this anymore. Soon I won't be a burden to anyone, I have said my goodbyes."
THREAT = "I know where Bram parks his van. It would be a shame if something happened to it."
HEATED = "Bram is a liar and you know it. Every single time he changes the plan."


@pytest.mark.parametrize("moderation", ["open", "review"])
async def test_a_private_threat_raises_the_safety_alert_and_reaches_nobody_else(
        service, sink, moderation):
    opened, address = await open_case(service, moderation=moderation)
    sink.delivered.clear()
    await reply(service, ANNA, private_line(service, ANNA), THREAT)
    assert sink.to(BRAM) == [] and sink.to(CEES) == [] and sink.to(ANNA) == []
    [alert] = [m for m in sink.to(MEDIATOR) if "SAFETY ALERT" in m.message["Subject"]]
    assert alert.message["Subject"].startswith(  # the safety lane, marked as private
        f"[{opened.ref}] URGENT – SAFETY ALERT: private message 1 from Anna Jansen")
    assert "wrote to you privately" in alert.text and "#ack 1" in alert.text
    assert "#approve" not in alert.text  # nothing to pass on: it was private
    [copy] = [m for m in sink.to(MEDIATOR) if m is not alert]
    assert copy.text.startswith("Please note: threat ('I know where Bram parks'")


async def test_self_harm_on_the_private_line_is_alerted_and_repeated_until_ack(service, sink):
    opened, address = await open_case(service)
    sink.delivered.clear()
    await reply(service, BRAM, private_line(service, BRAM), SELF_HARM)
    [alert] = [m for m in sink.to(MEDIATOR) if "SAFETY ALERT" in m.message["Subject"]]
    assert "signs of self-harm" in alert.text and "call the emergency services" in alert.text
    assert sink.to(ANNA) == [] and sink.to(CEES) == [] and sink.to(BRAM) == []
    sink.delivered.clear()
    await reply(service, MEDIATOR, address[MEDIATOR], "#status")
    [status] = sink.to(MEDIATOR)
    assert "message 1 from Bram de Boer: written to you privately, never passed on" in status.text
    sink.delivered.clear()
    await reply(service, MEDIATOR, address[MEDIATOR], "#ack 1")
    assert "acknowledged the safety alert for message 1" in sink.to(MEDIATOR)[0].text
    with Session(service.engine) as session:
        message = session.exec(select(Message)).one()
        assert (message.channel, message.status) == ("private", "delivered")
        assert heat.open_alerts(session, session.get(Case, message.case_id)) == []


async def test_heated_private_words_are_marked_on_the_mediators_copy_only(service, sink):
    opened, address = await open_case(service, moderation="open")
    sink.delivered.clear()
    await reply(service, ANNA, private_line(service, ANNA), HEATED)
    [copy] = sink.to(MEDIATOR)  # no alert for heat: only the marked copy
    assert copy.text.startswith("Please note: insult ('liar')"), copy.text
    assert "SAFETY" not in copy.message["Subject"]
    assert sink.to(BRAM) == [] and sink.to(CEES) == [] and sink.to(ANNA) == []



async def test_the_private_alert_in_dutch(tmp_path, database_url, sink):
    settings = make_settings(
        tmp_path, database_url,
        outbound={"transport": "smtp", "host": "127.0.0.1", "port": sink.port})
    settings.mediators[0].language = "nl"
    running = Service.build(settings, dkim_dns=DKIM_KEY.dns)
    await running.start()
    try:
        casework.open_case(
            settings, title="Het huis delen", mediator_email=MEDIATOR,
            parties=["Anna Jansen <anna@home.test>", "Bram de Boer <bram@work.test>"],
            language="nl", engine=running.engine)
        await running.settle()
        sink.delivered.clear()
        await reply(running, ANNA, private_line(running, ANNA),
                    "Ik weet waar je woont. Pas maar op, anders gebeurt er wat met je auto.")
        [alert] = [m for m in sink.to(MEDIATOR) if "VEILIGHEIDSMELDING" in m.message["Subject"]]
        assert "VEILIGHEIDSMELDING: vertrouwelijk bericht 1 van Anna Jansen" in \
            alert.message["Subject"]
        assert "u vertrouwelijk schreef" in alert.text and "#ack 1" in alert.text
        assert sink.to(BRAM) == []
    finally:
        await running.stop()
        running.engine.dispose()


async def test_a_threat_in_answer_to_a_suggested_wording_is_alerted_not_reviewed(service, sink):
    opened, address = await open_case(service)
    await reply(service, BRAM, address[BRAM], "You are all against me.")
    await command(service, sink, address, "#suggest 1\nI feel alone in this.")
    [offer] = sink.to(BRAM)
    sink.delivered.clear()
    await reply(service, BRAM, offer.message["Reply-To"], THREAT,
                in_reply_to=offer.message["Message-ID"])
    assert sink.to(ANNA) == [] and sink.to(CEES) == []
    [alert] = sink.to(MEDIATOR)
    assert "SAFETY ALERT: message 2 from Bram de Boer was stopped" in alert.message["Subject"]
    assert alert.text.startswith("Please note: threat (")
    with Session(service.engine) as session:
        new = session.exec(select(Message).where(Message.seq == 2)).one()
        assert (new.status, new.hold_reason) == ("held", heat.THREATENING)
