"""IMAP inbound (issue 9, part 8) against a real Dovecot that the tests start themselves.

Mail appended to the catch-all mailbox is stored durably, decided by the pipeline as if it had
come over SMTP, and only then moved to the processed folder; the poller survives the server
going away; a message that could not be stored stays where it was.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from conftest import DOMAIN, MEDIATOR, make_settings
from dovecot import PASSWORD, USER, Dovecot, available
from imapclient import IMAPClient
from sqlalchemy import text
from sqlmodel import Session, select
from support import DKIM_KEY, compose

from mailgate.imap import envelope_recipients
from mediate import casework
from mediate.service import Service
from threads import db
from threads.models import InboundMail

pytestmark = pytest.mark.skipif(
    not available(), reason="/usr/sbin/dovecot is missing (apt-get install dovecot-imapd)"
)
ANNA, BRAM = "anna@home.test", "bram@work.test"
PROCESSED = "Mediate/Processed"


@pytest.fixture
def dovecot(tmp_path: Path):
    server = Dovecot(tmp_path / "dovecot").start()
    yield server
    server.stop()


def mailbox(server: Dovecot) -> IMAPClient:
    client = IMAPClient("127.0.0.1", port=server.port, ssl=False, timeout=10)
    client.login(USER, PASSWORD)
    return client


def count(server: Dovecot, folder: str) -> int:
    client = mailbox(server)
    try:
        if not client.folder_exists(folder):
            return 0
        return client.folder_status(folder, [b"MESSAGES"])[b"MESSAGES"]
    finally:
        client.logout()


def append(server: Dovecot, raw: bytes) -> None:
    client = mailbox(server)
    try:
        client.append("INBOX", raw)
    finally:
        client.logout()


async def until(condition, timeout: float = 20.0, what: str = "condition") -> None:
    """Wait (bounded) until ``condition()`` (run in a thread) is true."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        if await asyncio.to_thread(condition):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def rows(service: Service) -> list[InboundMail]:
    with Session(service.engine) as session:
        return list(session.exec(select(InboundMail)).all())


@pytest.fixture
async def imap_service(tmp_path: Path, database_url: str, sink, dovecot):
    """Builds a running Mediate fetching from ``dovecot`` (IMAP settings as keywords)."""
    started: list[Service] = []

    async def build(**imap) -> Service:
        settings = make_settings(
            tmp_path, database_url,
            outbound={"transport": "smtp", "host": "127.0.0.1", "port": sink.port},
            inbound={"imap": {
                "enabled": True, "host": "127.0.0.1", "port": dovecot.port, "security": "none",
                "username": USER, "password": PASSWORD, "poll_seconds": 1, **imap,
            }},
        )
        service = Service.build(settings, dkim_dns=DKIM_KEY.dns)
        await service.start()
        started.append(service)
        return service

    yield build
    for service in started:
        await service.stop()
        service.engine.dispose()


async def open_case(service: Service) -> dict[str, str]:
    opened = casework.open_case(
        service.settings, title="Sharing the house", mediator_email=MEDIATOR,
        parties=[f"Anna Jansen <{ANNA}>", f"Bram de Boer <{BRAM}>"], moderation="open",
        language="en", engine=service.engine,
    )
    await service.settle()
    return dict(opened.party_addresses)


def reply_from_anna(address: str, text_: str) -> bytes:
    # As a provider's catch-all delivers it: the envelope recipient in Delivered-To.
    return b"Delivered-To: " + address.encode() + b"\r\n" + compose(ANNA, address, text_)


@pytest.mark.parametrize("idle", [True, False], ids=["idle", "polling"])
async def test_appended_mail_is_stored_relayed_and_moved_to_the_processed_folder(
    imap_service, dovecot, sink, idle
):
    service = await imap_service(idle=idle)
    address = await open_case(service)
    sink.delivered.clear()
    await asyncio.to_thread(append, dovecot,
                            reply_from_anna(address["Anna Jansen"], "I keep the sofa."))

    await until(lambda: len(sink.to(BRAM)) == 1, what="Bram's copy")
    assert sink.to(BRAM)[0].text.startswith("I keep the sofa.")
    [row] = rows(service)
    assert (row.source, row.status) == ("imap", "processed")
    assert row.rcpt_tos == [address["Anna Jansen"]]
    await until(lambda: count(dovecot, PROCESSED) == 1, what="the move")
    assert await asyncio.to_thread(count, dovecot, "INBOX") == 0


async def test_without_a_processed_folder_stored_mail_is_flagged_seen_and_left(
    imap_service, dovecot, sink
):
    service = await imap_service(processed_folder="")
    address = await open_case(service)
    await asyncio.to_thread(append, dovecot, reply_from_anna(address["Anna Jansen"], "Hello."))
    await until(lambda: service.imap.stored == 1, what="storing")

    def seen() -> bool:
        client = mailbox(dovecot)
        try:
            client.select_folder("INBOX", readonly=True)
            return len(client.search(["SEEN"])) == 1
        finally:
            client.logout()

    await until(seen, what="the \\Seen flag")
    await until(lambda: len(sink.to(BRAM)) >= 1, what="Bram's copy")
    assert len(rows(service)) == 1  # not fetched a second time


async def test_the_poller_reconnects_after_dovecot_restarts(imap_service, dovecot, sink):
    service = await imap_service()
    address = await open_case(service)
    await until(service.imap.connected.is_set, what="the first login")

    await asyncio.to_thread(dovecot.stop)  # the connection drops under the poller
    await until(lambda: not service.imap.connected.is_set(), what="noticing the drop")
    await asyncio.to_thread(dovecot.start)
    await asyncio.to_thread(append, dovecot,
                            reply_from_anna(address["Anna Jansen"], "Still here."))

    await until(lambda: len(sink.to(BRAM)) == 1, timeout=30, what="Bram's copy")
    await until(lambda: count(dovecot, PROCESSED) == 1, what="the move")


async def test_a_message_is_not_moved_when_storing_it_fails(imap_service, dovecot, sink):
    service = await imap_service()
    address = await open_case(service)
    refuse_inserts(service, True)
    try:
        await asyncio.to_thread(append, dovecot,
                                reply_from_anna(address["Anna Jansen"], "Are you there?"))
        await until(lambda: service.imap.store_failures >= 1, what="a failed store")
        assert await asyncio.to_thread(count, dovecot, "INBOX") == 1
        assert await asyncio.to_thread(count, dovecot, PROCESSED) == 0
        assert rows(service) == []
    finally:
        refuse_inserts(service, False)
    # Once the database takes it again, the same message is stored, relayed and moved.
    await until(lambda: len(sink.to(BRAM)) == 1, what="Bram's copy")
    await until(lambda: count(dovecot, PROCESSED) == 1, what="the move")
    assert len(rows(service)) == 1


def refuse_inserts(service: Service, refuse: bool) -> None:
    """A real database failure: a trigger that aborts every insert into inboundmail."""
    sqlite = db.is_sqlite(service.engine)
    with service.engine.begin() as connection:
        if sqlite and refuse:
            connection.execute(text(
                "CREATE TRIGGER refuse_inbound BEFORE INSERT ON inboundmail "
                "BEGIN SELECT RAISE(ABORT, 'disk full (test)'); END"))
        elif sqlite:
            connection.execute(text("DROP TRIGGER refuse_inbound"))
        elif refuse:
            connection.execute(text(
                "CREATE FUNCTION refuse_inbound() RETURNS trigger AS $$ BEGIN "
                "RAISE EXCEPTION 'disk full (test)'; END $$ LANGUAGE plpgsql"))
            connection.execute(text(
                "CREATE TRIGGER refuse_inbound BEFORE INSERT ON inboundmail "
                "FOR EACH ROW EXECUTE FUNCTION refuse_inbound()"))
        else:
            connection.execute(text("DROP TRIGGER refuse_inbound ON inboundmail"))
            connection.execute(text("DROP FUNCTION refuse_inbound()"))


def test_recipients_come_from_the_envelope_headers_then_to_and_cc():
    case_address = f"2026-001+abc@{DOMAIN}"
    other = f"2026-002+def@{DOMAIN}"
    delivered = (f"Delivered-To: {case_address}\r\nTo: {other}, someone@else.test\r\n"
                 f"Subject: x\r\n\r\nhi\r\n").encode()
    assert envelope_recipients(delivered, DOMAIN) == [case_address]
    visible = f"To: A <{case_address}>, someone@else.test\r\nCc: {other.upper()}\r\n\r\n".encode()
    assert envelope_recipients(visible, DOMAIN) == [case_address, other]
    configured = f"X-Envelope-To: {other}\r\nDelivered-To: {case_address}\r\n\r\n".encode()
    assert envelope_recipients(configured, DOMAIN, "X-Envelope-To") == [other]
    assert envelope_recipients(b"To: someone@else.test\r\n\r\n", DOMAIN) == []
