"""Files travel with the message they belong to: allowed ones to every recipient, refused
ones named to the author and the mediator; each file is stored once."""

from __future__ import annotations

import asyncio
import smtplib
from email.message import EmailMessage

from conftest import MEDIATOR
from sqlmodel import Session, select
from support import DKIM_KEY, smtp_send
from test_walking_skeleton import ANNA, BRAM, CEES, open_case

from threads.lookup import is_address
from threads.models import Blob, MessageAttachment

PDF = b"%PDF-1.4\n" + b"0123456789" * 2000 + b"\n%%EOF\n"


def with_files(sender, to, text, files):
    mail = EmailMessage()
    mail["From"], mail["To"], mail["Subject"] = sender, to, "Re: the house"
    mail["Message-ID"] = f"<{abs(hash((sender, text)))}@home.test>"
    mail.set_content(text)
    for name, maintype, subtype, data in files:
        mail.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return bytes(mail)


def send_null_sender(port, rcpt, raw):
    """DSNs come with the null return path, MAIL FROM:<> (RFC 5321 section 4.5.5)."""
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
        client.sendmail("", [rcpt], raw)


def attached(delivery):
    return {part.get_filename(): part.get_content()
            for part in delivery.message.iter_attachments()}


async def test_allowed_files_are_relayed_and_refused_ones_named(service, sink):
    opened, address = await open_case(service, moderation="open")
    sink.delivered.clear()
    raw = with_files(ANNA, address[ANNA], "The valuation is attached.", [
        ("valuation.pdf", "application", "pdf", PDF),
        ("tool.exe", "application", "octet-stream", b"MZ\x90\x00 not really"),
    ])
    await smtp_send(service.smtp_port, ANNA, [address[ANNA]], raw)
    await service.settle()
    for party in (BRAM, CEES):
        [copy] = sink.to(party)
        assert copy.text.startswith("The valuation is attached.")
        assert attached(copy) == {"valuation.pdf": PDF}
    [mediator_copy] = sink.to(MEDIATOR)
    assert attached(mediator_copy) == {"valuation.pdf": PDF}
    assert "tool.exe" in mediator_copy.text and "not passed on" in mediator_copy.text
    [told] = sink.to(ANNA)
    assert "tool.exe" in told.text and "valuation.pdf" not in told.text


async def test_a_held_message_keeps_its_files_until_released(service, sink):
    opened, address = await open_case(service)
    raw = with_files(BRAM, address[BRAM], "My proposal, see the file.", [
        ("proposal.pdf", "application", "pdf", PDF),
    ])
    await smtp_send(service.smtp_port, BRAM, [address[BRAM]], raw)
    await service.settle()
    review = sink.to(MEDIATOR)[-1]
    assert attached(review) == {"proposal.pdf": PDF}
    assert sink.to(ANNA)[1:] == []
    sink.delivered.clear()
    approve = EmailMessage()
    approve["From"], approve["To"], approve["Subject"] = MEDIATOR, address[MEDIATOR], "Re"
    approve["In-Reply-To"] = review.message["Message-ID"]
    approve.set_content("#approve")
    await smtp_send(service.smtp_port, MEDIATOR, [address[MEDIATOR]],
                    DKIM_KEY.sign(bytes(approve), "office.test"))  # as their provider signs
    await service.settle()
    for party in (ANNA, CEES):
        [copy] = sink.to(party)
        assert attached(copy) == {"proposal.pdf": PDF}


async def test_the_same_file_sent_twice_is_stored_once(service, sink):
    opened, address = await open_case(service, moderation="open")
    for text in ("First with the file.", "Again with the same file."):
        raw = with_files(ANNA, address[ANNA], text, [("same.pdf", "application", "pdf", PDF)])
        await smtp_send(service.smtp_port, ANNA, [address[ANNA]], raw)
    await service.settle()
    with Session(service.engine) as session:
        assert len(session.exec(select(Blob)).all()) == 1
        assert len(session.exec(select(MessageAttachment)).all()) == 2


async def test_a_bounce_to_a_copys_return_path_marks_the_party_and_tells_the_mediator_once(
    service, sink
):
    from threads.models import Participant

    opened, address = await open_case(service)
    [invitation] = sink.to(BRAM)
    return_path = invitation.mail_from
    sink.delivered.clear()
    for attempt in (1, 2):
        dsn = (
            "From: MAILER-DAEMON@work.test\r\nTo: " + return_path + "\r\n"
            "Subject: Undelivered Mail Returned to Sender\r\n"
            f"Message-ID: <dsn{attempt}@work.test>\r\n"
            "MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status;"
            ' boundary="b"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nYour message could not'
            " be delivered.\r\n--b\r\nContent-Type: message/delivery-status\r\n\r\n"
            "Reporting-MTA: dns; mx.work.test\r\n\r\nFinal-Recipient: rfc822; bram@work.test\r\n"
            "Action: failed\r\nStatus: 5.1.1\r\nDiagnostic-Code: smtp; 550 5.1.1 user unknown\r\n"
            "--b--\r\n"
        ).encode()
        await asyncio.to_thread(send_null_sender, service.smtp_port, return_path, dsn)
        await service.settle()
    with Session(service.engine) as session:
        bram = session.exec(select(Participant).where(
            is_address(session, Participant.email_hash, BRAM))).one()
        assert bram.bouncing
    [told] = sink.to(MEDIATOR)
    assert "Bram de Boer" in told.text
    assert sink.to(ANNA) == [] and sink.to(CEES) == []


async def test_the_administrators_limits_and_forbidden_types_decide_what_travels(
    tmp_path, database_url, sink
):
    from conftest import make_settings

    from mediate.service import Service

    settings = make_settings(
        tmp_path, database_url,
        outbound={"transport": "smtp", "host": "127.0.0.1", "port": sink.port},
        inbound={"smtp": {"host": "127.0.0.1", "port": 0},
                 "attachments": {"max_file_mb": 0.01, "forbidden_extensions": ["pdf"]}},
    )
    service = Service.build(settings, dkim_dns=DKIM_KEY.dns)
    await service.start()
    try:
        opened, address = await open_case(service, moderation="open")
        sink.delivered.clear()
        raw = with_files(ANNA, address[ANNA], "Two files.", [
            ("valuation.pdf", "application", "pdf", b"%PDF-1.4 small"),
            ("photos.zip", "application", "zip", b"PK" + b"x" * 20_000),
            ("notes.txt", "text", "plain", b"small enough"),
        ])
        await smtp_send(service.smtp_port, ANNA, [address[ANNA]], raw)
        await service.settle()
        [copy] = sink.to(BRAM)
        assert set(attached(copy)) == {"notes.txt"}
        [told] = sink.to(ANNA)
        assert "valuation.pdf" in told.text and "photos.zip" in told.text
    finally:
        await service.stop()
        service.engine.dispose()


async def test_a_copy_with_files_keeps_lines_that_start_with_a_dot(service, sink):
    """Copies with files go to the relay by our own DATA writer; a line starting with '.'
    must still arrive whole (SMTP doubles it on the wire, RFC 5321 section 4.5.2)."""
    opened, address = await open_case(service, moderation="open")
    sink.delivered.clear()
    text = "My list:\n.one\n..two\nthree"
    raw = with_files(ANNA, address[ANNA], text, [("plan.pdf", "application", "pdf", PDF)])
    await smtp_send(service.smtp_port, ANNA, [address[ANNA]], raw)
    await service.settle()
    [copy] = sink.to(BRAM)
    assert copy.text.replace("\r\n", "\n").startswith(text)
    assert attached(copy) == {"plan.pdf": PDF}
