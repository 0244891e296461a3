"""LMTP inbound (issue 9, part 9): ``inbound.smtp.lmtp = true``, spoken to by a real LMTP client.

RFC 2033 section 4.2: after DATA the server answers once per accepted RCPT, in order, so an MTA
(Postfix, Exim) knows the fate of each recipient; a refused RCPT gets its own 5xx at RCPT time.
"""

from __future__ import annotations

import asyncio
import smtplib
from pathlib import Path

import pytest
from conftest import DOMAIN, MEDIATOR, make_settings
from sqlmodel import Session, select
from support import DKIM_KEY, compose

from mailgate import replies
from mediate import casework
from mediate.service import Service
from threads.models import InboundMail

ANNA, BRAM = "anna@home.test", "bram@work.test"
UNKNOWN = f"nobody+nothing@{DOMAIN}"


@pytest.fixture
async def lmtp_service(tmp_path: Path, database_url: str, sink):
    settings = make_settings(
        tmp_path, database_url,
        outbound={"transport": "smtp", "host": "127.0.0.1", "port": sink.port},
        inbound={"smtp": {"host": "127.0.0.1", "port": 0, "lmtp": True}},
    )
    service = Service.build(settings, dkim_dns=DKIM_KEY.dns)
    await service.start()
    yield service
    await service.stop()
    service.engine.dispose()


async def anna_address(service: Service) -> str:
    opened = casework.open_case(
        service.settings, title="Sharing the house", mediator_email=MEDIATOR,
        parties=[f"Anna Jansen <{ANNA}>", f"Bram de Boer <{BRAM}>"], moderation="open",
        language="en", engine=service.engine,
    )
    await service.settle()
    return dict(opened.party_addresses)["Anna Jansen"]


def lmtp(service: Service) -> smtplib.LMTP:
    return smtplib.LMTP("127.0.0.1", service.smtp_port, timeout=10)


async def test_one_known_and_one_unknown_recipient_get_their_own_replies(lmtp_service, sink):
    address = await anna_address(lmtp_service)
    sink.delivered.clear()
    raw = compose(ANNA, address, "I would like to keep the sofa.")

    def deliver() -> dict:
        with lmtp(lmtp_service) as client:
            return client.sendmail(ANNA, [address, UNKNOWN], raw)

    refused = await asyncio.to_thread(deliver)
    assert list(refused) == [UNKNOWN]
    code, text = refused[UNKNOWN]
    assert f"{code} {text.decode()}" == replies.UNKNOWN_RECIPIENT
    await lmtp_service.settle()
    [copy] = sink.to(BRAM)
    assert copy.text.startswith("I would like to keep the sofa.")
    with Session(lmtp_service.engine) as session:
        [row] = session.exec(select(InboundMail)).all()
    assert (row.source, row.status, row.rcpt_tos) == ("lmtp", "processed", [address])


async def test_data_is_answered_once_per_accepted_recipient_in_order(lmtp_service, sink):
    address = await anna_address(lmtp_service)
    sink.delivered.clear()
    raw = compose(ANNA, address, "Twice on the envelope, once in the case.")

    def deliver() -> list[tuple[int, bytes]]:
        with lmtp(lmtp_service) as client:
            client.ehlo_or_helo_if_needed()
            client.mail(ANNA)
            assert client.rcpt(address)[0] == 250
            assert client.rcpt(UNKNOWN)[0] == 550
            assert client.rcpt(address)[0] == 250  # the same address again: its own reply
            answers = [client.data(raw), client.getreply()]
            assert client.noop()[0] == 250  # nothing left unread: the dialogue stays in step
            return answers

    answers = await asyncio.to_thread(deliver)
    assert [f"{code} {text.decode()}" for code, text in answers] == [replies.ACCEPTED] * 2
    await lmtp_service.settle()
    assert len(sink.to(BRAM)) == 1  # one mail, one relay


async def test_a_stopping_server_answers_every_recipient_with_421(lmtp_service, sink):
    address = await anna_address(lmtp_service)
    client = await asyncio.to_thread(lmtp, lmtp_service)  # never block the server's loop
    try:
        def envelope() -> None:
            client.ehlo_or_helo_if_needed()
            client.mail(ANNA)
            client.rcpt(address)
            client.rcpt(MEDIATOR.replace("office.test", DOMAIN))  # refused: not a case

        await asyncio.to_thread(envelope)
        await asyncio.to_thread(client.rcpt, address)
        lmtp_service.handler.accepting = False
        raw = compose(ANNA, address, "Too late.")
        answers = await asyncio.to_thread(lambda: [client.data(raw), client.getreply()])
    finally:
        client.close()
    assert [f"{code} {text.decode()}" for code, text in answers] == [replies.SHUTTING_DOWN] * 2
