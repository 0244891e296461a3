"""End to end over real loopback SMTP: mail at the edges of what the gateway handles.

A reply of quoted history only is held for the mediator as "no new text"; a mail whose
analysis runs past its time budget is quarantined, its party's mediator is told, and the next
mail is decided as usual; an internationalised (SMTPUTF8) mail is processed like any other.
"""

from __future__ import annotations

import aiosmtplib
from sqlmodel import Session, select
from support import compose, smtp_send
from test_walking_skeleton import ANNA, BRAM, CEES, MEDIATOR, open_case, reply

from threads.models import InboundMail, Message


async def test_a_reply_of_quoted_history_only_is_held_as_no_new_text(service, sink):
    opened, address = await open_case(service, moderation="open")
    sink.delivered.clear()
    quoted = (f"Op 3 maart 2026 om 10:12 schreef Maria de Vries <{address[BRAM]}>:\n"
              "> Welkom allemaal. Zullen we met het huis beginnen?\n"
              f"> Antwoord gerust op dit adres: {address[BRAM]}\n")
    await reply(service, BRAM, address[BRAM], quoted)

    assert sink.to(ANNA) == [] and sink.to(CEES) == []
    [review] = sink.to(MEDIATOR)
    assert "no new text" in review.text
    with Session(service.engine) as session:
        [held] = session.exec(select(Message).where(Message.status == "held")).all()
        assert held.hold_reason == "no-new-text"


async def test_a_mail_past_the_time_budget_is_quarantined_and_the_next_one_relayed(
        service, sink):
    opened, address = await open_case(service, moderation="open")
    sink.delivered.clear()
    service.pipeline.analysis_seconds = 0.001  # no mail of 100,000 lines is read in 1 ms
    slow = compose(BRAM, address[BRAM], "a\n" * 100_000)
    await smtp_send(service.smtp_port, BRAM, [address[BRAM]], slow)
    await service.settle()

    assert sink.to(ANNA) == [] and sink.to(CEES) == []
    [told] = sink.to(MEDIATOR)
    assert "we could not read it" in told.text and "Bram" in told.text
    with Session(service.engine) as session:
        row = session.exec(select(InboundMail).where(InboundMail.status == "quarantined")).one()
        assert "time budget" in row.reason

    service.pipeline.analysis_seconds = 10.0
    sink.delivered.clear()
    await reply(service, BRAM, address[BRAM], "Goed, dan beginnen we met het huis.")
    [copy] = sink.to(ANNA)
    assert copy.text.startswith("Goed, dan beginnen we met het huis.")


async def test_an_internationalised_mail_is_processed_not_quarantined(service, sink):
    opened, address = await open_case(service, moderation="open")
    sink.delivered.clear()
    raw = (f"From: Bram Ünal-Møller <{BRAM}>\r\nTo: {address[BRAM]}\r\n"
           "Subject: Re: het huis\r\nMessage-ID: <bericht-ü-1@exämple.nl>\r\n"
           "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
           "Content-Transfer-Encoding: 8bit\r\n\r\nDat is goed, ik teken dinsdag.\r\n").encode()
    await aiosmtplib.send(raw, sender=BRAM, recipients=[address[BRAM]], hostname="127.0.0.1",
                          port=service.smtp_port, mail_options=["SMTPUTF8"], timeout=10)
    await service.settle()
    [copy] = sink.to(ANNA)
    assert copy.text.startswith("Dat is goed, ik teken dinsdag.")
    with Session(service.engine) as session:
        row = session.exec(select(InboundMail)).all()[-1]
        assert row.status == "processed" and row.message_id == "<bericht-ü-1@exämple.nl>"
