"""End to end over real loopback SMTP: open a case, invite, reply, review, release, relay."""

from __future__ import annotations

import aiosmtplib
import pytest
from conftest import DOMAIN, MEDIATOR
from sqlmodel import Session, func, select
from support import compose, smtp_send

from mailgate import replies
from mediate import casework
from threads.models import InboundMail, Message

ANNA, BRAM, CEES = "anna@home.test", "bram@work.test", "cees@mail.test"


async def open_case(service, moderation="review", parties=(ANNA, BRAM, CEES)):
    names = {ANNA: "Anna Jansen", BRAM: "Bram de Boer", CEES: "Cees Ünal"}
    opened = casework.open_case(
        service.settings, title="Sharing the house", mediator_email=MEDIATOR,
        parties=[f"{names[p]} <{p}>" for p in parties], moderation=moderation, language="en",
        engine=service.engine,
    )
    await service.settle()
    addresses = dict(opened.party_addresses)
    return opened, {
        ANNA: addresses["Anna Jansen"], BRAM: addresses["Bram de Boer"],
        CEES: addresses.get("Cees Ünal"), MEDIATOR: opened.mediator_address,
    }


async def reply(service, sender, to, text, **kwargs):
    raw = compose(sender, to, text, **kwargs)
    await smtp_send(service.smtp_port, sender, [to], raw)
    await service.settle()
    return raw


async def test_invitations_arrive_from_each_partys_own_reply_address(service, sink):
    opened, address = await open_case(service)
    for party in (ANNA, BRAM, CEES):
        [invitation] = sink.to(party)
        message = invitation.message
        assert address[party] in message["From"]
        assert message["Reply-To"] == address[party]
        assert message["Subject"] == f"[{opened.ref}] Sharing the house"
        assert "Maria de Vries" in invitation.text
        assert "reply to this e-mail" in invitation.text.lower()
    assert len(sink.to(MEDIATOR)) == 1  # the mediator's confirmation


async def test_review_mode_holds_a_reply_until_the_mediator_approves(service, sink):
    opened, address = await open_case(service)
    sink.delivered.clear()
    await reply(service, ANNA, address[ANNA], "I would like to keep the sofa.")
    assert sink.to(BRAM) == [] and sink.to(CEES) == []
    [review] = sink.to(MEDIATOR)
    assert "I would like to keep the sofa." in review.text
    assert "#approve" in review.text
    assert review.message["From"].endswith(f"<{address[MEDIATOR]}>")
    assert "Anna Jansen" in review.message["From"]

    sink.delivered.clear()
    await reply(
        service, MEDIATOR, address[MEDIATOR], "#approve\n\nOn Monday Anna wrote:\n> sofa",
        in_reply_to=review.message["Message-ID"],
    )
    for party in (BRAM, CEES):
        [copy] = sink.to(party)
        assert copy.text.startswith("I would like to keep the sofa.")
        assert copy.message["From"] == f"Anna Jansen <{address[party]}>"
        assert ANNA not in copy.raw.decode()
    assert any("passed on" in d.text for d in sink.to(ANNA))
    assert any("passed on" in d.text for d in sink.to(MEDIATOR))


async def test_reject_returns_the_message_to_its_author_with_the_reason(service, sink):
    opened, address = await open_case(service)
    await reply(service, ANNA, address[ANNA], "You are a liar.")
    sink.delivered.clear()
    await reply(service, MEDIATOR, address[MEDIATOR], "#reject please describe what happened")
    [returned] = sink.to(ANNA)
    assert "please describe what happened" in returned.text
    assert "You are a liar." in returned.text
    assert sink.to(BRAM) == [] and sink.to(CEES) == []


async def test_open_mode_relays_to_everyone_at_once(service, sink):
    opened, address = await open_case(service, moderation="open")
    sink.delivered.clear()
    await reply(service, BRAM, address[BRAM], "Agreed, the sofa goes to Anna.")
    for party in (ANNA, CEES):
        [copy] = sink.to(party)
        assert copy.text.startswith("Agreed, the sofa goes to Anna.")
        assert BRAM not in copy.raw.decode()
    [mediator_copy] = sink.to(MEDIATOR)
    assert "Agreed, the sofa goes to Anna." in mediator_copy.text
    assert sink.to(BRAM) == []


async def test_mediator_message_goes_to_every_party(service, sink):
    opened, address = await open_case(service)
    sink.delivered.clear()
    await reply(service, MEDIATOR, address[MEDIATOR], "Welcome all. Shall we start with the house?")
    for party in (ANNA, BRAM, CEES):
        [copy] = sink.to(party)
        assert copy.text.startswith("Welcome all. Shall we start with the house?")
        assert copy.message["From"] == f"Maria de Vries <{address[party]}>"


async def test_reply_from_another_address_is_held_and_a_vouched_sender_told(service, sink):
    service.pipeline.trusted_authserv_id = "mx.mediation.test"
    opened, address = await open_case(service, moderation="open")
    sink.delivered.clear()
    await reply(service, "stranger@elsewhere.test", address[ANNA], "Hi from my other address",
                headers={"Authentication-Results": "mx.mediation.test; dmarc=pass "
                         "header.from=elsewhere.test"})
    assert sink.to(BRAM) == [] and sink.to(CEES) == []
    [held] = sink.to(MEDIATOR)
    assert "Hi from my other address" in held.text
    [told] = sink.to("stranger@elsewhere.test")
    assert "not registered" in told.text
    assert "Anna" not in told.text and BRAM not in told.raw.decode()


async def test_a_forged_sender_is_held_but_never_answered(service, sink):
    """A From header alone may name an innocent third party: no backscatter to it."""
    service.pipeline.trusted_authserv_id = "mx.mediation.test"
    opened, address = await open_case(service, moderation="open")
    sink.delivered.clear()
    await reply(service, "victim@elsewhere.test", address[ANNA], "Buy cheap watches",
                headers={"Authentication-Results": "mx.mediation.test; dmarc=fail "
                         "header.from=elsewhere.test"})
    await reply(service, "other@elsewhere.test", address[ANNA], "No header at all")
    await reply(service, "third@elsewhere.test", f"{opened.ref}@{DOMAIN}", "To the bare case")
    assert len(sink.to(MEDIATOR)) == 2  # both held for the mediator, as before
    assert {d.rcpt_to for d in sink.delivered} == {MEDIATOR}


async def test_unknown_token_is_refused_with_550(service):
    raw = compose(ANNA, f"2026-001+aaaaaaaaaaaaaaaa@{DOMAIN}", "hello")
    with pytest.raises(aiosmtplib.SMTPRecipientsRefused) as refused:
        await smtp_send(service.smtp_port, ANNA, [f"2026-001+aaaaaaaaaaaaaaaa@{DOMAIN}"], raw)
    [response] = refused.value.recipients
    assert f"{response.code} {response.message}" == replies.UNKNOWN_RECIPIENT


async def test_message_over_the_size_limit_is_refused_with_552(service, tmp_path):
    opened, address = await open_case(service)
    service.settings.inbound.max_message_size  # noqa: B018  (35 MiB by default)
    raw = compose(ANNA, address[ANNA], "x" * 100)
    big = raw + b"y" * (service.settings.inbound.max_message_size + 10)
    with pytest.raises(aiosmtplib.SMTPResponseException) as refused:
        await smtp_send(service.smtp_port, ANNA, [address[ANNA]], big)
    assert refused.value.code == 552


async def test_the_same_mail_delivered_twice_yields_one_message(service, sink):
    opened, address = await open_case(service, moderation="open")
    sink.delivered.clear()
    raw = compose(ANNA, address[ANNA], "Only once, please.", message_id="<twice@home.test>")
    await smtp_send(service.smtp_port, ANNA, [address[ANNA]], raw)
    await smtp_send(service.smtp_port, ANNA, [address[ANNA]], b"Received: by relay2\r\n" + raw)
    await service.settle()
    with Session(service.engine) as session:
        assert session.exec(select(func.count()).select_from(Message)).one() == 1
        statuses = sorted(session.exec(select(InboundMail.status)).all())
        assert statuses == ["duplicate", "processed"]
    assert len(sink.to(BRAM)) == 1 and len(sink.to(CEES)) == 1


async def test_threading_headers_chain_for_each_recipient(service, sink):
    opened, address = await open_case(service, moderation="open")
    await reply(service, MEDIATOR, address[MEDIATOR], "First message.")
    await reply(service, ANNA, address[ANNA], "Second message.")
    await reply(service, MEDIATOR, address[MEDIATOR], "Third message.")
    for party in (BRAM, CEES):
        copies = [d.message for d in sink.to(party)]
        assert len(copies) == 4  # invitation + three messages
        root = copies[0]["Message-ID"]
        assert len({c["Message-ID"] for c in copies}) == 4
        for previous, current in zip(copies, copies[1:], strict=False):
            assert current["In-Reply-To"] == previous["Message-ID"]
            assert root in current["References"].split()
            assert previous["Message-ID"] in current["References"].split()
            assert current["Subject"] == f"[{opened.ref}] Sharing the house"
    # Anna's copies answer her own mail where they respond to it, and still hang off her root.
    anna = [d.message for d in sink.to(ANNA)]
    assert all(anna[0]["Message-ID"] in m["References"].split() for m in anna[1:])
