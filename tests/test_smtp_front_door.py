"""The SMTP front door behaves like a mail server on the internet: STARTTLS with a real
certificate, postmaster@ and abuse@ passed on, limits on recipients, senders, connections and
session time, alike answers for case addresses that do and do not exist, and a proper EHLO name
on the way out. Every test talks to the real server over loopback sockets."""

from __future__ import annotations

import asyncio
import ssl
import subprocess
import sys
from pathlib import Path

import aiosmtplib
import pytest
from conftest import DOMAIN, MEDIATOR, make_settings
from sqlmodel import Session, select
from support import compose, self_signed, smtp_send

from mailgate import replies
from mediate import casework
from mediate.service import Service
from threads.lookup import is_address
from threads.models import InboundMail, OutgoingMail

ANNA, BRAM = "anna@home.test", "bram@work.test"


def open_case(service: Service) -> casework.Opened:
    return casework.open_case(
        service.settings, title="Sharing the house", mediator_email=MEDIATOR,
        parties=[f"Anna <{ANNA}>", f"Bram <{BRAM}>"], language="en", engine=service.engine)


def stored(service: Service) -> list[InboundMail]:
    with Session(service.engine) as session:
        return list(session.exec(select(InboundMail)))


# --- STARTTLS ---------------------------------------------------------------------------------

async def test_starttls_is_offered_and_mail_arrives_over_a_verified_handshake(
    tmp_path, database_url, sink
):
    cert, key = self_signed(tmp_path / "tls", f"mx.{DOMAIN}")
    service = await started(tmp_path, database_url, tls_certificate=str(cert), tls_key=str(key))
    try:
        opened = open_case(service)
        to = dict(opened.party_addresses)["Anna"]
        # Python's ssl as the client, trusting only the certificate made above
        context = ssl.create_default_context(cafile=str(cert))
        client = aiosmtplib.SMTP(hostname="127.0.0.1", port=service.smtp_port,
                                 tls_context=context, start_tls=False, timeout=10)
        await client.connect()
        await client.ehlo()
        assert client.supports_extension("starttls")
        await client.starttls(server_hostname=f"mx.{DOMAIN}")
        peer = client.transport.get_extra_info("ssl_object")
        assert peer is not None and peer.version() in ("TLSv1.2", "TLSv1.3")
        assert dict(x[0] for x in peer.getpeercert()["subject"])["commonName"] == f"mx.{DOMAIN}"
        await client.sendmail(ANNA, [to], compose(ANNA, to, "Over TLS."))
        await client.quit()
        [row] = stored(service)
        assert row.rcpt_tos == [to.lower()]
    finally:
        await service.stop()
        service.engine.dispose()


async def test_require_tls_refuses_mail_before_starttls(tmp_path, database_url):
    cert, key = self_signed(tmp_path / "tls", f"mx.{DOMAIN}")
    service = await started(tmp_path, database_url, tls_certificate=str(cert),
                            tls_key=str(key), require_tls=True)
    try:
        client = aiosmtplib.SMTP(hostname="127.0.0.1", port=service.smtp_port,
                                 start_tls=False, timeout=10)
        await client.connect()
        await client.ehlo()
        with pytest.raises(aiosmtplib.SMTPSenderRefused) as refused:
            await client.mail(ANNA)
        assert refused.value.code == 530
        await client.quit()
        assert stored(service) == []
    finally:
        await service.stop()
        service.engine.dispose()


async def started(tmp_path: Path, database_url: str, **smtp) -> Service:
    settings = make_settings(tmp_path, database_url,
                             inbound={"smtp": {"host": "127.0.0.1", "port": 0, **smtp}})
    service = Service.build(settings)
    await service.start()
    return service


def test_an_unreadable_certificate_is_one_line_naming_its_key(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text(
        '[service]\nsecret_key = "k-0123456789-0123456789-0123456789"\n'
        '[inbound.smtp]\ntls_certificate = "missing.crt"\n'
        '[[mediators]]\nemail = "m@office.test"\nname = "M"\n')
    result = subprocess.run([sys.executable, "-m", "mediate.cli", "--config", str(config),
                             "check-config"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert (f"  inbound.smtp.tls_certificate: cannot read {tmp_path / 'missing.crt'} "
            "(No such file or directory)") in result.stderr.splitlines()


# --- postmaster, abuse -------------------------------------------------------------------------

async def test_postmaster_and_abuse_are_accepted_and_passed_on_to_the_administrator(service, sink):
    raw = compose("reporter@isp.test", f"Postmaster@{DOMAIN}", "Your server sent me spam?")
    await smtp_send(service.smtp_port, "reporter@isp.test",
                    [f"Postmaster@{DOMAIN}", f"abuse@{DOMAIN}"], raw)
    await service.settle()
    [forward] = sink.to(MEDIATOR)  # no admin_address set: the first mediator; once, not twice
    message = forward.message
    assert message["Subject"].startswith("E-mail voor")  # the service's default language
    [original] = [part for part in message.iter_attachments()
                  if part.get_content_type() == "message/rfc822"]
    assert b"Your server sent me spam?" in original.as_bytes()


# --- limits ------------------------------------------------------------------------------------

@pytest.mark.smtp(max_recipients=50)
async def test_at_most_50_recipients_and_a_repeated_one_is_stored_once(service):
    opened = open_case(service)
    to = dict(opened.party_addresses)["Anna"]
    client = aiosmtplib.SMTP(hostname="127.0.0.1", port=service.smtp_port, timeout=10)
    await client.connect()
    await client.mail(ANNA)
    for _ in range(50):
        answer = await client.rcpt(to)
        assert answer.code == 250
    with pytest.raises(aiosmtplib.SMTPRecipientRefused) as refused:
        await client.rcpt(to)
    assert f"{refused.value.code} {refused.value.message}" == replies.TOO_MANY_RECIPIENTS
    await client.data(compose(ANNA, to, "Fifty times the same address."))
    await client.quit()
    [row] = stored(service)
    assert row.rcpt_tos == [to.lower()]


@pytest.mark.smtp(sender_rate_per_hour=3)
async def test_a_sender_over_its_hourly_rate_is_told_to_try_later(service):
    opened = open_case(service)
    to = dict(opened.party_addresses)["Anna"]
    for n in range(3):
        await smtp_send(service.smtp_port, ANNA, [to], compose(ANNA, to, f"Mail {n}"))
    with pytest.raises(aiosmtplib.SMTPSenderRefused) as refused:
        await smtp_send(service.smtp_port, ANNA, [to], compose(ANNA, to, "One too many"))
    assert f"{refused.value.code} {refused.value.message}" == replies.SENDER_RATE
    await smtp_send(service.smtp_port, BRAM, [to], compose(BRAM, to, "Another sender"))
    assert len(stored(service)) == 4


async def greeting(port: int) -> tuple[bytes, asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    return await asyncio.wait_for(reader.readline(), 5), reader, writer


@pytest.mark.smtp(max_connections=2)
async def test_connections_over_the_cap_are_greeted_with_421(service):
    first, _, w1 = await greeting(service.smtp_port)
    second, _, w2 = await greeting(service.smtp_port)
    third, r3, w3 = await greeting(service.smtp_port)
    assert first.startswith(b"220") and second.startswith(b"220")
    assert third.decode().strip() == replies.TOO_MANY_CONNECTIONS
    assert await asyncio.wait_for(r3.read(), 5) == b""  # and closed
    w1.close()
    await asyncio.sleep(0.2)  # the server sees the close
    fourth, _, w4 = await greeting(service.smtp_port)
    assert fourth.startswith(b"220")  # a freed place is given again
    for writer in (w2, w3, w4):
        writer.close()


@pytest.mark.smtp(session_seconds=1.0)
async def test_a_client_dripping_bytes_is_cut_off_at_the_session_deadline(service):
    loop = asyncio.get_running_loop()
    start = loop.time()
    _, reader, writer = await greeting(service.smtp_port)
    answers = b""
    while loop.time() - start < 5:
        writer.write(b"N")  # one byte every 0.2 s: aiosmtpd's idle timeout never fires
        await asyncio.sleep(0.2)
        try:
            answers += await asyncio.wait_for(reader.read(1000), 0.01)
        except TimeoutError:
            continue
        if reader.at_eof():
            break
    assert answers.decode().strip() == replies.SESSION_TOO_LONG
    assert loop.time() - start < 2.5
    writer.close()


# --- alike answers ----------------------------------------------------------------------------

async def test_case_addresses_are_answered_alike_whether_or_not_the_case_exists(service, sink):
    opened = open_case(service)
    await service.settle()
    sink.delivered.clear()
    client = aiosmtplib.SMTP(hostname="127.0.0.1", port=service.smtp_port, timeout=10)
    await client.connect()
    await client.mail("prober@bad.test")
    real = await client.rcpt(f"{opened.ref}@{DOMAIN}")
    made_up = await client.rcpt(f"2026-999@{DOMAIN}")
    assert (real.code, real.message) == (made_up.code, made_up.message)
    await client.data(compose("prober@bad.test", f"2026-999@{DOMAIN}", "Anyone there?"))
    await client.quit()
    await service.settle()
    assert sink.delivered == []  # nobody is told anything, the prober least of all
    with Session(service.engine) as session:
        assert session.exec(select(OutgoingMail).where(
            is_address(session, OutgoingMail.rcpt_hash, "prober@bad.test"))).all() == []


# --- out -------------------------------------------------------------------------------------

async def test_outgoing_mail_greets_the_relay_with_the_service_domain(service, sink):
    open_case(service)
    await service.settle()
    assert sink.greetings and set(sink.greetings) == {DOMAIN}
