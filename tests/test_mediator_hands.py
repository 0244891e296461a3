"""Confidential and in the mediator's hands (issue 12, part B), over real SMTP: several
messages from one mediator mail, confidential replies to review copies, closing with held
messages, edits with the author's consent, moderation per party, bounces and names."""

from __future__ import annotations

import email.utils

import web_world
from conftest import MEDIATOR
from sqlmodel import Session, select
from support import smtp_send
from test_mediator_mail import command, private_line, texts
from test_walking_skeleton import ANNA, BRAM, CEES, open_case, reply

from threads.lookup import is_address
from threads.models import Case, InboundMail, Message, OutgoingMail, Participant

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
    assert "decide whether and how it is passed on" in receipt.text
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


# --- edits with consent ---------------------------------------------------------------------

async def test_every_copy_of_an_edited_message_says_the_mediator_edited_it(service, sink):
    opened, address = await open_case(service)
    await reply(service, ANNA, address[ANNA], "Bram is lying, as usual.")
    await command(service, sink, address, "#approve 1\nAnna sees this differently from Bram.")
    for party in (BRAM, CEES):
        [copy] = texts(sink, party)
        assert copy.startswith("Anna sees this differently from Bram.")
        assert "edited by your mediator, Maria de Vries" in copy
    [told] = texts(sink, ANNA)
    assert "Anna sees this differently from Bram." in told and "edited by me" in told


async def test_a_suggestion_goes_out_in_the_mediators_words_when_the_author_says_yes(
    service, sink
):
    opened, address = await open_case(service)
    await reply(service, ANNA, address[ANNA], "Bram never pays on time. Ever.")
    said = await command(service, sink, address,
                         "#voorstel-tekst 1\nI would like the payments to arrive on time.")
    assert any("went to Anna Jansen first" in t for t in said), said
    assert sink.to(BRAM) == [] and sink.to(CEES) == []
    [offer] = sink.to(ANNA)
    assert "I would like the payments to arrive on time." in offer.text
    assert offer.message["Reply-To"] == private_line(service, ANNA)
    sink.delivered.clear()
    await reply(service, ANNA, offer.message["Reply-To"], "Yes.\n\nThank you.",
                in_reply_to=offer.message["Message-ID"])
    for party in (BRAM, CEES):
        [copy] = texts(sink, party)
        assert copy.startswith("I would like the payments to arrive on time.")
        assert "in words Anna Jansen agreed to" in copy and "Ever" not in copy
    [agreed] = texts(sink, MEDIATOR)
    assert "Anna Jansen agreed to your wording of message 1" in agreed
    with Session(service.engine) as session:
        message = session.exec(select(Message)).one()
        assert message.status == "released" and message.text.startswith("Bram never pays")


async def test_an_author_who_rewrites_a_suggestion_is_held_for_review_again(service, sink):
    opened, address = await open_case(service)
    await reply(service, BRAM, address[BRAM], "You are all against me.")
    said = await command(service, sink, address, "#suggestie\nI feel alone in this.")
    assert any("went to Bram de Boer first" in t for t in said), said
    [offer] = sink.to(BRAM)
    sink.delivered.clear()
    await reply(service, BRAM, offer.message["Reply-To"], "I feel nobody listens to me.",
                in_reply_to=offer.message["Message-ID"])
    assert sink.to(ANNA) == [] and sink.to(CEES) == []
    [review] = sink.to(MEDIATOR)
    assert "new version of message 1" in review.text
    assert "I feel nobody listens to me." in review.text
    [receipt] = texts(sink, BRAM)
    assert "decide whether and how it is passed on" in receipt
    with Session(service.engine) as session:
        statuses = [m.status for m in session.exec(select(Message).order_by(Message.seq))]
        assert statuses == ["superseded", "held"]


# --- moderation, for the case and per party ----------------------------------------------------

def set_language(service, address_, language):
    with Session(service.engine) as session:
        party = session.exec(select(Participant).where(
            is_address(session, Participant.email_hash, address_))).one()
        party.language = language
        session.add(party)
        session.commit()


async def test_every_party_is_told_in_their_language_when_moderation_changes(service, sink):
    opened, address = await open_case(service)
    set_language(service, CEES, "nl")
    said = await command(service, sink, address, "#moderation open")
    assert any("Told, each in their own language" in t for t in said), said
    for party in (ANNA, BRAM):
        [told] = texts(sink, party)
        assert "go to the other participants straight away" in told
    [dutch] = texts(sink, CEES)
    assert "gaan uw berichten in deze mediation meteen naar de andere deelnemers" in dutch
    sink.delivered.clear()
    await reply(service, ANNA, address[ANNA], "Open now, so this goes out.")
    assert texts(sink, BRAM)[0].startswith("Open now, so this goes out.")


async def test_one_party_can_be_read_first_while_the_others_write_openly(service, sink):
    opened, address = await open_case(service, moderation="open")
    said = await command(service, sink, address, "#review Bram")
    assert any("Messages from Bram de Boer now come to you first" in t for t in said), said
    [told] = texts(sink, BRAM)
    assert "I read your messages first" in told and "not a judgement of you" in told
    assert sink.to(ANNA) == [] and sink.to(CEES) == []
    sink.delivered.clear()
    await reply(service, BRAM, address[BRAM], "Everyone is against me.")
    assert sink.to(ANNA) == [] and sink.to(CEES) == []
    assert "Everyone is against me." in sink.to(MEDIATOR)[-1].text
    sink.delivered.clear()
    await reply(service, ANNA, address[ANNA], "Nobody is against you, Bram.")
    assert texts(sink, BRAM)[0].startswith("Nobody is against you, Bram.")
    assert "your reply goes to the mediator first" in texts(sink, BRAM)[0]
    assert "your reply goes to everyone" in texts(sink, CEES)[0]
    [status] = await command(service, sink, address, "#status")
    assert "own moderation: review" in status


async def test_one_party_can_write_openly_while_the_others_are_read_first(service, sink):
    opened, address = await open_case(service)
    set_language(service, ANNA, "nl")
    said = await command(service, sink, address, "#open Anna")
    assert any("Messages from Anna Jansen now go to the others at once" in t for t in said)
    [told] = texts(sink, ANNA)
    assert "meteen naar de andere deelnemers" in told
    sink.delivered.clear()
    await reply(service, ANNA, address[ANNA], "A thought for all of you.")
    assert texts(sink, BRAM)[0].startswith("A thought for all of you.")
    sink.delivered.clear()
    await reply(service, CEES, address[CEES], "Mine is read first.")
    assert sink.to(ANNA) == [] and sink.to(BRAM) == []
    said = await command(service, sink, address, "#moderatie open")
    assert any("Told, each in their own language: Bram de Boer, Cees Ünal" in t
               for t in said), said


# --- bounces, wrong senders and the mediator's closing -----------------------------------------

def dsn(to: str, failed: str, diagnostic: str) -> bytes:
    """A delivery status notification (RFC 3464) as a receiving MTA sends it back."""
    return (
        f"From: MAILER-DAEMON@mx.remote.test\r\nTo: {to}\r\n"
        f"Subject: Undelivered Mail Returned to Sender\r\n"
        f"Message-ID: {email.utils.make_msgid(domain='mx.remote.test')}\r\n"
        "Auto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n\r\n'
        "--B\r\nContent-Type: text/plain\r\n\r\n"
        f"<{failed}>: the remote server said: {diagnostic}\r\n\r\n"
        "--B\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.remote.test\r\n\r\n"
        f"Final-Recipient: rfc822; {failed}\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        f"Diagnostic-Code: smtp; {diagnostic}\r\n\r\n--B--\r\n"
    ).encode()


async def bounce_back(service, rcpt):
    """The newest copy to ``rcpt`` comes back as a bounce to its VERP address."""
    with Session(service.engine) as session:
        copy = session.exec(select(OutgoingMail).where(
            is_address(session, OutgoingMail.rcpt_hash, rcpt))
                            .order_by(OutgoingMail.id.desc())).first()
    raw = dsn(copy.envelope_from, rcpt, f"550 5.1.1 <{rcpt}>: Recipient address rejected")
    await smtp_send(service.smtp_port, "MAILER-DAEMON@mx.remote.test", [copy.envelope_from], raw)
    await service.settle()


def failure_notices(sink, name):
    return [d.text for d in sink.to(MEDIATOR)
            if f"could not be delivered to {name}" in d.text]


async def test_the_mediator_hears_once_of_a_bounce_with_the_remote_servers_words(service, sink):
    opened, address = await open_case(service, moderation="open")
    await reply(service, MEDIATOR, address[MEDIATOR], "Welcome, all.")
    await bounce_back(service, BRAM)
    [notice] = failure_notices(sink, "Bram de Boer")
    assert f"550 5.1.1 <{BRAM}>: Recipient address rejected" in notice
    assert "sent it back later" in notice
    # Their server accepts the next copies and bounces them again: nothing new for the mediator.
    await reply(service, MEDIATOR, address[MEDIATOR], "Shall we begin?")
    await bounce_back(service, BRAM)
    assert len(failure_notices(sink, "Bram de Boer")) == 1
    # A relay refusal (5xx at once) for the same party is the same episode too.
    sink.answers[BRAM] = "550 5.2.1 Mailbox disabled"
    await reply(service, MEDIATOR, address[MEDIATOR], "Bram, are you there?")
    assert len(failure_notices(sink, "Bram de Boer")) == 1
    del sink.answers[BRAM]
    # Bram writes: his mailbox works. A later failure is news again, with the relay's words.
    await reply(service, BRAM, address[BRAM], "Sorry, my mailbox was full.")
    sink.answers[BRAM] = "550 5.2.1 Mailbox disabled"
    await reply(service, MEDIATOR, address[MEDIATOR], "Thanks, Bram.")
    assert len(failure_notices(sink, "Bram de Boer")) == 2
    assert "550 5.2.1 Mailbox disabled" in failure_notices(sink, "Bram de Boer")[-1]


async def test_a_held_wrong_sender_message_shows_the_address_it_came_from(service, sink):
    opened, address = await open_case(service)
    sink.delivered.clear()
    await reply(service, "anna.work@office.test", address[ANNA], "From my work address.")
    [held] = sink.to(MEDIATOR)
    assert "anna.work@office.test" in held.text
    assert "#alias Anna Jansen <anna.work@office.test>" in held.text


async def test_the_mediators_closing_is_relayed_as_written(service, sink):
    opened, address = await open_case(service, moderation="open")
    invitation = sink.to(MEDIATOR)[-1]
    sink.delivered.clear()
    await reply(service, MEDIATOR, address[MEDIATOR],
                "Welkom allemaal.\n\nHartelijke groet,\nMaria de Vries\n\n"
                "On Monday, Anna wrote:\n> Something old",
                in_reply_to=invitation.message["Message-ID"])
    for party in (ANNA, BRAM, CEES):
        copy = texts(sink, party)[0]
        assert copy.startswith("Welkom allemaal.\n\nHartelijke groet,\nMaria de Vries".replace(
            "\n", "\r\n")) or "Hartelijke groet,\r\nMaria de Vries" in copy
        assert "Something old" not in copy
    sink.delivered.clear()
    await command(service, sink, address, "#private Bram\nHoe gaat het?\n\nGroet,\nMaria")
    assert "Groet,\r\nMaria" in texts(sink, BRAM)[0]


async def test_a_partys_signature_is_still_left_out(service, sink):
    opened, address = await open_case(service, moderation="open")
    sink.delivered.clear()
    await reply(service, ANNA, address[ANNA],
                "Fine by me.\n\nMet vriendelijke groet,\nAnna Jansen\n06-12345678")
    assert "06-12345678" not in texts(sink, BRAM)[0]


async def test_replies_to_intake_and_signature_copies_reach_the_mediator_alone(service, sink):
    await web_world.open_case(service)
    async with web_world.client(service) as http:
        await web_world.register(http, service, ANNA)
        await web_world.fill_intake(http, service, ANNA)
        await web_world.sign(http, service, ANNA)
    await service.settle()
    line = private_line(service, ANNA)
    intake = next(d for d in sink.to(ANNA) if "Thank you for filling in the intake" in d.text)
    signed = next(d for d in sink.to(ANNA) if "exact text you signed" in d.text)
    for copy in (intake, signed):
        assert copy.message["Reply-To"] == line and "reaches me alone" in copy.text
    sink.delivered.clear()
    await reply(service, ANNA, line, "One correction to my answers.",
                in_reply_to=intake.message["Message-ID"])
    [to_mediator] = sink.to(MEDIATOR)
    assert "One correction to my answers." in to_mediator.text
    assert "private" in to_mediator.message["Subject"].lower()
    assert sink.to(web_world.BRAM) == []
