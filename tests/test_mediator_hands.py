"""Confidential and in the mediator's hands (issue 12, part B), over real SMTP: several
messages from one mediator mail, confidential replies to review copies, closing with held
messages, edits with the author's consent, moderation per party, bounces and names."""

from __future__ import annotations

from sqlmodel import Session, select
from test_mediator_mail import command, texts
from test_walking_skeleton import ANNA, BRAM, CEES, open_case

from threads.models import InboundMail, Message

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
