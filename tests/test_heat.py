"""Heat at the decision point, end to end over SMTP: a heated message is held and flagged, a
threat is alerted and never relayed (in both modes) until the mediator decides, and the alert is
repeated in #status until #ack."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from conftest import MEDIATOR
from sqlmodel import Session, select
from test_walking_skeleton import ANNA, BRAM, CEES, open_case, reply

from threads import heat
from threads.models import Message

HEATED = "Bram is a liar and you know it. Every single time he changes the plan."
THREAT = "I know where Bram parks his van. It would be a shame if something happened to it."
CALM = "Agreed, the sofa goes to Anna. I can collect it on Saturday."


def _noticed(text: str) -> str:
    """The first line of a mediator's copy without the hour, which it names only when the suite
    happens to run at night (the hour itself: test_writing_at_night_is_noticed_in_local_time)."""
    first = text.splitlines()[0]
    return re.sub(r"; written at \d\d:\d\d\.$", ".", first)


async def test_open_mode_holds_a_heated_message_and_tells_its_author_kindly(service, sink):
    opened, address = await open_case(service, moderation="open")
    sink.delivered.clear()
    await reply(service, ANNA, address[ANNA], HEATED)
    assert sink.to(BRAM) == [] and sink.to(CEES) == []
    [review] = sink.to(MEDIATOR)
    assert review.text.startswith("Please note: insult ('liar'); sweeping words"), review.text
    assert HEATED in review.text and "#approve" in review.text
    [word] = sink.to(ANNA)
    assert "read it first" in word.text and "new version" in word.text
    assert "passed on" not in word.text  # the receipt promises nothing not yet decided
    with Session(service.engine) as session:
        message = session.exec(select(Message)).one()
        assert (message.status, message.hold_reason) == ("held", "heated")

    sink.delivered.clear()
    await reply(service, MEDIATOR, address[MEDIATOR], "#approve 1")
    assert [d.text.startswith(HEATED) for d in sink.to(BRAM) + sink.to(CEES)] == [True, True]


async def test_open_mode_still_relays_a_calm_message_at_once(service, sink):
    opened, address = await open_case(service, moderation="open")
    sink.delivered.clear()
    await reply(service, BRAM, address[BRAM], CALM)
    assert len(sink.to(ANNA)) == 1 and len(sink.to(CEES)) == 1


async def test_review_copy_opens_with_what_was_noticed_in_the_mediators_language(service, sink):
    opened, address = await open_case(service)
    sink.delivered.clear()
    await reply(service, ANNA, address[ANNA], "IK BEN HET ZAT MET JULLIE. Bram is een leugenaar.")
    [review] = sink.to(MEDIATOR)
    # the case is in English, so the mediator's copy is too; the excerpt keeps Anna's words
    assert _noticed(review.text) == "Please note: capitals; insult ('leugenaar').", review.text
    assert sink.to(BRAM) == []


async def test_a_threat_is_alerted_at_once_and_never_relayed_in_either_mode(service, sink):
    for moderation in ("open", "review"):
        opened, address = await open_case(service, moderation=moderation)
        sink.delivered.clear()
        await reply(service, ANNA, address[ANNA], THREAT)
        assert sink.to(BRAM) == [] and sink.to(CEES) == []
        [alert] = sink.to(MEDIATOR)
        assert alert.message["Subject"].startswith(  # in the mediator's safety lane
            f"[{opened.ref}] URGENT – SAFETY ALERT: message 1")
        assert _noticed(alert.text) == ("Please note: threat ('I know where Bram parks', "
                                        "'would be a shame if something happened').")
        assert "#ack 1" in alert.text
        [receipt] = sink.to(ANNA)
        assert "I read it first" in receipt.text  # the ordinary receipt, nothing about threats
        assert "threat" not in receipt.text.lower()


async def test_the_alert_is_repeated_in_status_until_acknowledged(service, sink):
    opened, address = await open_case(service, moderation="open")
    await reply(service, ANNA, address[ANNA], THREAT)
    sink.delivered.clear()
    await reply(service, MEDIATOR, address[MEDIATOR], "#status")
    [status] = sink.to(MEDIATOR)
    assert "Safety alerts not yet acknowledged" in status.text
    assert "message 1 from Anna Jansen: held, never passed on automatically" in status.text

    sink.delivered.clear()
    await reply(service, MEDIATOR, address[MEDIATOR], "#ack 1")
    [answer] = sink.to(MEDIATOR)
    assert "acknowledged the safety alert for message 1" in answer.text
    sink.delivered.clear()
    await reply(service, MEDIATOR, address[MEDIATOR], "#status")
    [status] = sink.to(MEDIATOR)
    assert "Safety alerts" not in status.text
    assert "message 1 from Anna Jansen (held: safety alert)" in status.text
    assert sink.to(BRAM) == [] and sink.to(CEES) == []


async def test_ack_of_a_message_without_alert_is_refused(service, sink):
    opened, address = await open_case(service)
    await reply(service, ANNA, address[ANNA], CALM)
    sink.delivered.clear()
    await reply(service, MEDIATOR, address[MEDIATOR], "#ack 1")
    [answer] = sink.to(MEDIATOR)
    assert "message 1 has no safety alert to acknowledge" in answer.text


def test_writing_at_night_is_noticed_in_local_time() -> None:
    night = heat.read("Fine.", timezone="Europe/Amsterdam",
                      when=datetime(2026, 3, 2, 2, 7, tzinfo=UTC))
    assert night.written_at == "03:07"
    day = heat.read("Fine.", timezone="Europe/Amsterdam",
                    when=datetime(2026, 3, 2, 10, 0, tzinfo=UTC))
    assert day.written_at is None


async def test_a_threat_only_the_word_table_sees_is_alerted_and_says_it_is_a_guess(service, sink):
    opened, address = await open_case(service, moderation="open")
    sink.delivered.clear()
    veiled = "You had better keep an eye on that old dog of yours when it gets dark."
    await reply(service, ANNA, address[ANNA], veiled)
    assert sink.to(BRAM) == [] and sink.to(CEES) == []
    [alert] = sink.to(MEDIATOR)
    assert alert.message["Subject"].startswith(f"[{opened.ref}] URGENT – SAFETY ALERT")
    first = _noticed(alert.text)
    assert first.startswith(f"Please note: threat ('{veiled}' – a guess from the words that "
                            "weighed most: "), first


async def test_heated_words_only_the_word_table_sees_are_held_in_open_mode_as_a_guess(
        service, sink):
    opened, address = await open_case(service, moderation="open")
    sink.delivered.clear()
    sharp = "Typisch weer, ik regel alles en meneer komt gewoon niet opdagen."
    await reply(service, ANNA, address[ANNA], sharp)
    assert sink.to(BRAM) == [] and sink.to(CEES) == []
    [review] = sink.to(MEDIATOR)
    assert _noticed(review.text).startswith(
        f"Please note: heated words ('{sharp}' – a guess from the words that weighed most: ")
