"""Confidential and in the mediator's hands (issue 12, part B), over real SMTP: several
messages from one mediator mail, confidential replies to review copies, closing with held
messages, edits with the author's consent, moderation per party, bounces and names."""

from __future__ import annotations

from conftest import MEDIATOR
from sqlmodel import Session, select
from test_mediator_mail import command, private_line, texts
from test_walking_skeleton import ANNA, BRAM, CEES, open_case, reply

from threads.models import Case, InboundMail, Message

# --- one mail, several messages -----------------------------------------------------------

async def test_three_private_messages_in_a_row_to_two_parties_all_arrive(service, sink):
    opened, address = await open_case(service)
    said = await command(service, sink, address, "#private Anna\nA word for Anna.")
    assert any("went to Anna Jansen only" in t for t in said)
    said = await command(service, sink, address, "#private Bram\nA word for Bram.")
    assert any("went to Bram de Boer only" in t for t in said), said
    said = await command(service, sink, address, "#private Anna\nA second word for Anna.")
    assert any("went to Anna Jansen only" in t for t in said), said
    assert texts(sink, ANNA)[0].startswith("A second word for Anna.")
    with Session(service.engine) as session:
        kept = session.exec(select(Message.text).order_by(Message.seq)).all()
        assert kept == ["A word for Anna.", "A word for Bram.", "A second word for Anna."]
        assert {m.status for m in session.exec(select(InboundMail))} <= {"processed"}


async def test_a_private_message_then_a_reply_by_request_both_go_out(service, sink):
    opened, address = await open_case(service)
    await command(service, sink, address, "#private Cees\nHow are you doing?")
    said = await command(service, sink, address, "#reply-by 3d\nYour priorities, please.")
    assert any("with a request to answer by" in t for t in said), said
    for party in (ANNA, BRAM, CEES):
        assert texts(sink, party)[0].startswith("Your priorities, please.")


# --- confidential by default ----------------------------------------------------------------

async def test_a_plain_reply_to_a_review_mail_reaches_its_author_alone(service, sink):
    opened, address = await open_case(service)
    await reply(service, BRAM, address[BRAM], "I will never agree to that.")
    review = sink.to(MEDIATOR)[-1]
    said = await command(service, sink, address, "Bram, what would make it acceptable?",
                         in_reply_to=review.message["Message-ID"])
    [private] = texts(sink, BRAM)
    assert private.startswith("Bram, what would make it acceptable?")
    assert sink.to(ANNA) == [] and sink.to(CEES) == []
    [answer] = said
    assert "went to Bram de Boer alone" in answer and "#approve" in answer
    with Session(service.engine) as session:
        first, second = session.exec(select(Message).order_by(Message.seq)).all()
        assert first.status == "held"
        assert (second.channel, second.counterpart_id) == ("private", first.author_id)


async def test_a_plain_mediator_message_not_answering_a_review_mail_goes_to_everyone(
    service, sink
):
    opened, address = await open_case(service)
    await reply(service, BRAM, address[BRAM], "I will never agree to that.")
    sink.delivered.clear()
    await reply(service, MEDIATOR, address[MEDIATOR], "Welcome, all of you.")
    for party in (ANNA, BRAM, CEES):
        assert texts(sink, party)[0].startswith("Welcome, all of you.")


async def test_a_reply_to_a_receipt_reaches_the_mediator_alone(service, sink):
    opened, address = await open_case(service)
    line = private_line(service, BRAM)
    sink.delivered.clear()
    await reply(service, BRAM, address[BRAM], "Here is my proposal.")
    [receipt] = sink.to(BRAM)
    assert receipt.message["Reply-To"] == line
    assert "decides whether and how it is passed on" in receipt.text
    assert "will be passed on" not in receipt.text and "then passes it on" not in receipt.text
    sink.delivered.clear()
    await reply(service, BRAM, receipt.message["Reply-To"], "Please keep the second part quiet.",
                in_reply_to=receipt.message["Message-ID"])
    [to_mediator] = sink.to(MEDIATOR)
    assert "Please keep the second part quiet." in to_mediator.text
    assert "private" in to_mediator.message["Subject"].lower()
    assert sink.to(ANNA) == [] and sink.to(CEES) == []


async def test_a_reminder_from_the_mediator_comes_from_the_private_line(service, sink):
    opened, address = await open_case(service)
    await command(service, sink, address, "#remind Cees")
    [reminder] = sink.to(CEES)
    assert reminder.message["Reply-To"] == private_line(service, CEES)
    assert "reaches me alone" in reminder.text


# --- closing with messages still held ---------------------------------------------------------

async def test_closing_is_refused_while_messages_are_held_and_lists_them(service, sink):
    opened, address = await open_case(service)
    await reply(service, ANNA, address[ANNA], "I would like to keep the sofa and the lamp.")
    await reply(service, BRAM, address[BRAM], "Fine by me, as long as I get the car.")
    said = await command(service, sink, address, "#close settled Thank you all.")
    [answer] = said
    assert "Nothing in your mail was carried out" in answer
    assert 'message 1 from Anna Jansen: "I would like to keep the sofa and …"' in answer
    assert "message 2 from Bram de Boer" in answer and "#dismiss" in answer
    assert sink.to(ANNA) == [] and sink.to(BRAM) == []
    with Session(service.engine) as session:
        assert session.exec(select(Case)).one().status == "open"
    said = await command(service, sink, address, "#dismiss 1 We settled this by phone.\n"
                                                 "#approve 2")
    assert any("Message 1 from Anna Jansen was not passed on" in t for t in said), said
    [told] = [t for t in texts(sink, ANNA) if "Dear Anna" in t]
    assert "not to pass on your message" in told and "We settled this by phone." in told
    assert all("sofa" not in t for t in texts(sink, BRAM) + texts(sink, CEES))
    said = await command(service, sink, address, "#close settled Thank you all.")
    assert any("The case is closed" in t for t in said), said


async def test_closing_by_force_and_dutch_arguments(service, sink):
    opened, address = await open_case(service)
    await reply(service, ANNA, address[ANNA], "One more thing.")
    said = await command(service, sink, address, "#moderatie beoordeling")
    assert any("Moderation is now 'review'" in t for t in said), said
    said = await command(service, sink, address, "#sluiten geregeld forceer Dank u wel.")
    assert any("The case is closed (settled)" in t and "message 1" in t for t in said), said
    for party in (ANNA, BRAM, CEES):
        [told] = texts(sink, party)
        assert "Dank u wel." in told and "One more thing" not in told
    with Session(service.engine) as session:
        assert session.exec(select(Case)).one().outcome == "settled"
        assert session.exec(select(Message)).one().status == "dismissed"
    said = await command(service, sink, address, "#heropenen")
    said = await command(service, sink, address, "#sluiten niet-geregeld")
    assert any("The case is closed (not settled)" in t for t in said), said
