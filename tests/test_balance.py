"""Participation balance in #status, over real SMTP: each party's share of messages and words
over the last 14 days, and a note when one writes much more than another, or nothing at all."""

from __future__ import annotations

import quopri
from datetime import timedelta

import time_machine
from conftest import MEDIATOR
from reminder_world import World, local
from sqlmodel import Session, select
from test_walking_skeleton import ANNA, BRAM, open_case, reply

from threads import balance, heat
from threads.db import session_scope
from threads.models import Case, Message

LONG = ("I have thought about the house a great deal this week and I want to explain, at some "
        "length, why I believe the garden and the garage should be valued separately. ") * 3


async def test_status_shows_each_partys_share_and_who_drowns_out_whom(service, sink):
    opened, address = await open_case(service, moderation="open")
    for _ in range(3):
        await reply(service, ANNA, address[ANNA], LONG)
    await reply(service, BRAM, address[BRAM], "Fine by me.")
    sink.delivered.clear()
    await reply(service, MEDIATOR, address[MEDIATOR], "#status")
    [status] = sink.to(MEDIATOR)
    words = len(LONG.split())
    assert "Who wrote, last 14 days (messages, words):" in status.text
    assert f"- Anna Jansen: 3 (75%), {3 * words} words (99%)" in status.text
    assert "- Bram de Boer: 1 (25%), 3 words (1%)" in status.text
    assert "- Cees Ünal: 0 (0%), 0 words (0%)" in status.text
    ratio = round(3 * words / 3, 1)
    assert (f"Note: Anna Jansen writes about {ratio} times as many words as Bram de Boer"
            in status.text)
    assert "Note: Cees Ünal wrote nothing in this time." in status.text


async def test_only_the_last_fourteen_days_count(service, sink):
    opened, address = await open_case(service, moderation="open")
    await reply(service, ANNA, address[ANNA], LONG)
    await reply(service, BRAM, address[BRAM], "Agreed.")
    with Session(service.engine) as session:
        case = session.exec(select(Case)).one()
        old = session.exec(select(Message).where(Message.seq == 1)).one()
        old.created_at = old.created_at - timedelta(days=15)
        session.add(old)
        session.commit()
        found = balance.of(session, case)
    assert [(s.name, s.messages) for s in found.shares] == [
        ("Anna Jansen", 0), ("Bram de Boer", 1), ("Cees Ünal", 0)]
    assert found.silent == ["Anna Jansen", "Cees Ünal"] and found.loud is None


def test_the_digest_repeats_safety_alerts_and_points_out_silence(tmp_path, database_url):
    world = World.make(tmp_path, database_url, digest="daily", digest_hour=8)
    with time_machine.travel(local(2026, 3, 2, 7, 0), tick=False) as clock:
        case = world.open_case("Anna", "Bram")
        world.update(case, "Anna", registered_at=local(2026, 3, 2, 7, 0))
        world.update(case, "Bram", registered_at=local(2026, 3, 2, 7, 0))
        held = world.hold_message(case, "Anna", "I know where Bram parks. Think about it.")
        with session_scope(world.engine) as session:
            message = session.get(Message, held)
            message.hold_reason = heat.THREATENING
            session.add(message)
        clock.move_to(local(2026, 3, 2, 8, 0))
        assert world.sweep().digests == 1
    [digest] = world.mails("digest")
    text = quopri.decodestring(digest.raw).decode()
    assert "SAFETY ALERT not yet acknowledged: message 1 (#ack n" in text
    assert "wrote nothing in the last 14 days: Bram" in text
