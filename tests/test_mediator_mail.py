"""The mediator's mail client is the control panel: every command over real SMTP, opening a
case by mail, review with edits, caucus both ways, routing without a token, aliases, closing."""

from __future__ import annotations

import asyncio

import aiosmtplib
import pytest
from conftest import DOMAIN, MEDIATOR
from sqlmodel import Session, select
from support import compose, smtp_send
from test_walking_skeleton import ANNA, BRAM, CEES, open_case, reply

from mailgate import replies
from threads.lookup import is_address
from threads.models import Case, InboundMail, Message, Participant, TimeEntry

OPEN = f"open@{DOMAIN}"


def texts(sink, address):
    return [d.text for d in sink.to(address)]


async def command(service, sink, address, text, **kwargs):
    sink.delivered.clear()
    await reply(service, MEDIATOR, address[MEDIATOR], text, **kwargs)
    return texts(sink, MEDIATOR)


# --- opening a case by mail -------------------------------------------------------------

async def test_a_mediator_opens_a_case_by_mail(service, sink):
    body = ("Hello,\n\nAnna Jansen <anna@home.test>\nBram de Boer <bram@work.test>\n"
            "moderation: open\nlanguage: en\n\nRegards,\nMaria")
    await reply(service, MEDIATOR, OPEN, body, subject="Sharing the house")
    with Session(service.engine) as session:
        case = session.exec(select(Case)).one()
        assert (case.title, case.moderation, case.language) == ("Sharing the house", "open", "en")
    [confirmation] = sink.to(MEDIATOR)
    assert case.ref in confirmation.message["Subject"]
    assert "Anna Jansen" in confirmation.text and "Bram de Boer" in confirmation.text
    assert len(sink.to(ANNA)) == 1 and len(sink.to(BRAM)) == 1


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("Anna <anna@home.test>", "at least 2 parties, 1 given"),
        ("\n".join(f"P{i} <p{i}@home.test>" for i in range(31)), "at most 30 parties"),
        ("Anna <anna@home.test>\nBram <bram@@work.test>", "'Bram <bram@@work.test>'"),
        ("Anna <anna@home.test>\nBram <ANNA@home.test>", "anna@home.test is given twice"),
        ("Anna <anna@home.test>\nBram <bram@work.test>\nmoderation: loud", "'moderation: loud'"),
    ],
)
async def test_opening_by_mail_lists_every_problem_and_opens_nothing(service, sink, body, expected):
    await reply(service, MEDIATOR, OPEN, body, subject="A case")
    [answer] = sink.to(MEDIATOR)
    assert "was not opened" in answer.text and expected in answer.text, answer.text
    with Session(service.engine) as session:
        assert session.exec(select(Case)).all() == []


async def test_opening_by_mail_from_a_non_mediator_is_refused_politely(service, sink):
    service.pipeline.trusted_authserv_id = "mx.mediation.test"  # vouches for the sender
    await reply(service, "someone@else.test", OPEN, "A <a@x.test>\nB <b@x.test>", subject="Hi",
                headers={"Authentication-Results": "mx.mediation.test; dmarc=pass"})
    [answer] = sink.to("someone@else.test")
    assert "Alleen mediators die bij deze dienst" in answer.text  # the service default: nl
    with Session(service.engine) as session:
        assert session.exec(select(Case)).all() == []
    assert sink.to("a@x.test") == []


async def test_opening_by_mail_from_an_unvouched_stranger_is_not_answered(service, sink):
    await reply(service, "someone@else.test", OPEN, "A <a@x.test>\nB <b@x.test>", subject="Hi")
    assert sink.delivered == []  # its From may be forged: no backscatter


# --- review with edits ---------------------------------------------------------------------

async def test_approve_with_edited_text_releases_the_mediators_version(service, sink):
    opened, address = await open_case(service)
    await reply(service, ANNA, address[ANNA], "Bram is lying, as usual. I want the sofa.")
    review = sink.to(MEDIATOR)[-1]
    said = await command(service, sink, address,
                         "#approve\nAnna would like to keep the sofa.",
                         in_reply_to=review.message["Message-ID"])
    assert any("edited version of message 1" in t for t in said)
    for party in (BRAM, CEES):
        [copy] = texts(sink, party)
        assert copy.startswith("Anna would like to keep the sofa.") and "lying" not in copy
    [told] = texts(sink, ANNA)
    assert "adjusted" in told and "Anna would like to keep the sofa." in told
    with Session(service.engine) as session:
        message = session.exec(select(Message)).one()
        assert message.text.startswith("Bram is lying")
        assert message.released_text == "Anna would like to keep the sofa."


async def test_approving_a_message_twice_says_so_and_sends_nothing(service, sink):
    opened, address = await open_case(service)
    await reply(service, ANNA, address[ANNA], "Hello all.")
    await command(service, sink, address, "#approve 1")
    said = await command(service, sink, address, "#approve 1")
    assert any("was already passed on" in t for t in said)
    assert sink.to(BRAM) == [] and sink.to(CEES) == []


# --- caucus -----------------------------------------------------------------------------

def private_line(service, party_email):
    with Session(service.engine) as session:
        party = session.exec(select(Participant).where(
            is_address(session, Participant.email_hash, party_email))).one()
        case = session.get(Case, party.case_id)
        return f"{case.ref}+{party.private_token}@{DOMAIN}"


async def test_a_party_writes_to_the_mediator_alone_and_the_answer_stays_private(service, sink):
    opened, address = await open_case(service, moderation="open")
    line = private_line(service, ANNA)
    assert line in sink.to(ANNA)[0].text  # the invitation names the private line
    sink.delivered.clear()
    await reply(service, ANNA, line, "I am afraid of how Bram reacts.")
    [to_mediator] = sink.to(MEDIATOR)
    assert "private" in to_mediator.message["Subject"].lower()
    # The mediator answers on a line of their own: Anna's line never takes mail as theirs.
    own_line = to_mediator.message["Reply-To"]
    assert own_line != line and own_line.endswith(f"@{DOMAIN}")
    assert sink.to(BRAM) == [] and sink.to(CEES) == []
    sink.delivered.clear()
    await reply(service, MEDIATOR, own_line, "Thank you for telling me. We can take it slowly.",
                in_reply_to=to_mediator.message["Message-ID"])
    [answer] = sink.to(ANNA)
    assert answer.text.startswith("Thank you for telling me.")
    assert "(private)" in answer.message["Subject"] and answer.message["Reply-To"] == line
    assert sink.to(BRAM) == [] and sink.to(CEES) == [] and sink.to(MEDIATOR) == []
    with Session(service.engine) as session:
        assert {m.channel for m in session.exec(select(Message))} == {"private"}


async def test_private_command_answers_the_author_of_a_held_message_alone(service, sink):
    opened, address = await open_case(service)
    await reply(service, BRAM, address[BRAM], "I will not accept this.")
    review = sink.to(MEDIATOR)[-1]
    said = await command(service, sink, address, "#private\nCan you tell me what worries you?",
                         in_reply_to=review.message["Message-ID"])
    assert any("went to Bram de Boer only" in t for t in said)
    [private] = texts(sink, BRAM)
    assert private.startswith("Can you tell me what worries you?")
    assert sink.to(ANNA) == [] and sink.to(CEES) == []


# --- commands ----------------------------------------------------------------------------

async def test_status_shows_every_party_and_held_messages(service, sink):
    opened, address = await open_case(service)
    await reply(service, ANNA, address[ANNA], "A first thought.")
    [status] = await command(service, sink, address, "#status")
    for name in ("Anna Jansen", "Bram de Boer", "Cees Ünal"):
        assert name in status
    assert "message 1 from Anna Jansen" in status


async def test_add_invites_and_remove_revokes_addresses(service, sink):
    opened, address = await open_case(service)
    said = await command(service, sink, address, "#add Dirk Visser <dirk@home.test>")
    assert any("Dirk Visser was added" in t for t in said)
    [invitation] = sink.to("dirk@home.test")
    dirk_address = invitation.message["Reply-To"]
    said = await command(service, sink, address, "#remove Dirk")
    assert any("Dirk Visser was removed" in t for t in said)
    assert len(sink.to("dirk@home.test")) == 1  # told calmly that they are no longer part
    raw = compose("dirk@home.test", dirk_address, "Still here?")
    with pytest.raises(aiosmtplib.SMTPRecipientsRefused) as refused:
        await smtp_send(service.smtp_port, "dirk@home.test", [dirk_address], raw)
    [response] = refused.value.recipients
    assert f"{response.code} {response.message}" == replies.REVOKED_RECIPIENT


async def test_a_removed_party_accepted_by_a_recent_rcpt_answer_is_still_not_relayed(
    service, sink
):
    """The SMTP server remembers RCPT answers for a few seconds; the pipeline decides on the
    participant as they are now, so a removed party's mail never reaches anyone."""
    opened, address = await open_case(service)
    await command(service, sink, address, "#add Dirk Visser <dirk@home.test>")
    [invitation] = sink.to("dirk@home.test")
    dirk_address = invitation.message["Reply-To"]
    await reply(service, "dirk@home.test", dirk_address, "Hello, this is Dirk.")
    await command(service, sink, address, "#remove Dirk")
    sink.delivered.clear()
    await reply(service, "dirk@home.test", dirk_address, "One more thing from Dirk.",
                in_reply_to=invitation.message["Message-ID"])  # as his mail client would
    assert all("One more thing" not in d.text for d in sink.delivered)
    with Session(service.engine) as session:
        texts_kept = session.exec(select(Message.text)).all()
        assert not any("One more thing" in t for t in texts_kept)
        last = session.exec(select(InboundMail).order_by(InboundMail.id.desc())).first()
        assert "One more thing" in last.raw.decode() and last.status == "ignored"


async def test_time_and_costs_use_the_hourly_rate(service, sink):
    opened, address = await open_case(service)
    said = await command(service, sink, address, "#time 1h30 intake calls\n#time 0:30")
    assert any("2h00 in total" in t for t in said), said
    [costs] = await command(service, sink, address, "#costs")
    assert "€100.00 per hour = €200.00" in costs and "intake calls" in costs


async def test_a_malformed_command_means_nothing_in_that_mail_happens(service, sink):
    opened, address = await open_case(service)
    said = await command(service, sink, address, "#moderation open\n#time soon")
    assert any("Nothing in your mail was carried out" in t for t in said)
    assert any("#time soon: write the time as" in t for t in said)
    with Session(service.engine) as session:
        assert session.exec(select(Case)).one().moderation == "review"
        assert session.exec(select(TimeEntry)).all() == []


async def test_unknown_commands_and_help_are_answered(service, sink):
    opened, address = await open_case(service)
    said = await command(service, sink, address, "#aprove")
    assert any("'#aprove' is not a command I know" in t for t in said)
    [help_text] = await command(service, sink, address, "#HELP")
    assert "#approve" in help_text and "#close" in help_text


async def test_dutch_aliases_work_and_the_answer_is_in_the_mediators_language(service, sink):
    opened, address = await open_case(service)
    said = await command(service, sink, address, "#moderatie open")
    assert any("Moderation is now 'open'" in t for t in said)


async def test_remind_writes_to_the_named_party(service, sink):
    opened, address = await open_case(service)
    said = await command(service, sink, address, "#remind Cees")
    assert any("reminder went to Cees Ünal" in t for t in said)
    [reminder] = texts(sink, CEES)
    assert "reminder" in reminder.lower()


async def test_closing_tells_everyone_and_later_mail_gets_a_polite_answer(service, sink):
    opened, address = await open_case(service, moderation="open")
    await command(service, sink, address, "#close settled Thank you all.")
    for party in (ANNA, BRAM, CEES):
        [told] = texts(sink, party)
        assert "has now ended with an agreement" in told and "Thank you all." in told
    sink.delivered.clear()
    await reply(service, ANNA, address[ANNA], "One more thing...")
    [answer] = texts(sink, ANNA)
    assert "has ended, so your message has not been passed on" in answer
    assert sink.to(BRAM) == [] and sink.to(CEES) == []
    said = await command(service, sink, address, "#reopen")
    assert any("open again" in t for t in said)
    assert len(sink.to(BRAM)) == 1


# --- routing that survives real clients ---------------------------------------------------

async def test_a_reply_without_its_token_is_routed_by_references(service, sink):
    opened, address = await open_case(service, moderation="open")
    invitation = sink.to(ANNA)[0].message
    bare = f"{opened.ref}@{DOMAIN}"
    sink.delivered.clear()
    await reply(service, ANNA, bare, "My server dropped the plus part.",
                in_reply_to=invitation["Message-ID"])
    assert texts(sink, BRAM)[0].startswith("My server dropped the plus part.")


async def test_a_second_address_is_held_then_accepted_with_alias(service, sink):
    opened, address = await open_case(service, moderation="open")
    sink.delivered.clear()
    await reply(service, "anna.work@office.test", address[ANNA], "From my work address.")
    assert sink.to(BRAM) == []
    held = sink.to(MEDIATOR)[-1]
    assert "not registered for Anna Jansen" in held.text
    said = await command(service, sink, address, "#alias Anna <anna.work@office.test>\n#approve",
                         in_reply_to=held.message["Message-ID"])
    assert any("now counts as Anna Jansen's" in t for t in said)
    assert texts(sink, BRAM)[0].startswith("From my work address.")
    sink.delivered.clear()
    await reply(service, "anna.work@office.test", address[ANNA], "And again from work.")
    assert texts(sink, BRAM)[0].startswith("And again from work.")


async def test_export_sends_the_case_file_to_the_mediator(service, sink):
    import io
    import zipfile

    opened, address = await open_case(service, moderation="open")
    await reply(service, ANNA, address[ANNA], "Something for the record.")
    sink.delivered.clear()
    await reply(service, MEDIATOR, address[MEDIATOR], "#export")
    [mail] = sink.to(MEDIATOR)
    [archive] = [p for p in mail.message.iter_attachments()]
    names = zipfile.ZipFile(io.BytesIO(archive.get_content())).namelist()
    assert "transcript.html" in names and "manifest.json" in names
    assert sink.to(ANNA) == [] and sink.to(BRAM) == []


async def test_reply_by_sends_the_message_and_awaits_every_party(service, sink):
    from threads.models import Awaiting

    opened, address = await open_case(service)
    said = await command(service, sink, address,
                         "#reply-by 3d\nCould each of you list your three priorities?")
    assert any("with a request to answer by" in t for t in said)
    for party in (ANNA, BRAM, CEES):
        assert texts(sink, party)[0].startswith("Could each of you list your three priorities?")
    with Session(service.engine) as session:
        assert len(session.exec(select(Awaiting)).all()) == 3
    said = await command(service, sink, address, "#awaiting Bram 1-1-2020")
    assert any("write the date as" in t for t in said)
    said = await command(service, sink, address, "#awaiting Bram")
    assert any("waiting for Bram de Boer's answer" in t for t in said)


async def test_healthz_reports_database_and_outbox_backlog(service):
    import httpx

    if service.web is None:
        return
    async with httpx.AsyncClient() as client:
        answer = await client.get(f"http://127.0.0.1:{service.web_port}/healthz")
    report = answer.json()
    assert answer.status_code == 200 and report["status"] == "ok"
    assert report["database"]["ok"] and "pending" in report["outbox"]


async def test_a_large_case_file_waits_behind_a_signed_link(service, sink, monkeypatch):
    import httpx

    import mediate.export

    monkeypatch.setattr(mediate.export, "MAIL_LIMIT", 10)  # every archive counts as large
    opened, address = await open_case(service)
    sink.delivered.clear()
    await reply(service, MEDIATOR, address[MEDIATOR], "#export")
    [mail] = texts(sink, MEDIATOR)
    link = next(line.strip() for line in mail.splitlines() if "/export/" in line)
    link = link.replace(service.settings.service.base_url, f"http://127.0.0.1:{service.web_port}")
    async with httpx.AsyncClient() as client:
        good = await client.get(link)
        bad = await client.get(link[:-3] + "xyz")
    assert good.status_code == 200 and good.content[:2] == b"PK"
    assert bad.status_code == 404


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("#add Dirk", "Use '#add Name <email>'"),
        ("#add Anna Jansen <anna@home.test>", "already takes part"),
        ("#remove Zoë", "nobody in this case is called 'Zoë'"),
        ("#remind Nobody", "nobody in this case is called 'Nobody'"),
        ("#close maybe", "say '#close settled' or '#close not-settled'"),
        ("#reopen", "the case is open"),
        ("#alias Anna anna.work@office.test", "use '#alias Name <email>'"),
        ("#moderation loud", "say '#moderation open' or '#moderation review'"),
        ("#reject", "no message is waiting for your review"),
        ("#approve 42", "there is no message 42"),
        ("#private Anna", "write your private message below the command"),
        ("#link", "please add a name"),
        ("#reply-by someday\nPlease answer.", "write the date as"),
        ("#time 30h", "at most 24 hours"),
    ],
)
async def test_each_malformed_command_is_answered_with_what_was_wrong(
    service, sink, line, expected
):
    opened, address = await open_case(service)
    said = await command(service, sink, address, line)
    assert any("Nothing in your mail was carried out" in t and expected in t for t in said), said
    assert sink.to(ANNA) == [] and sink.to(BRAM) == [] and sink.to(CEES) == []


async def test_status_lists_mail_that_was_quarantined(service, sink):
    opened, address = await open_case(service)
    await smtp_send(service.smtp_port, ANNA, [address[ANNA]], b"\x00\x00 not a mail at all")
    await service.settle()
    [status] = await command(service, sink, address, "#status")
    assert "Mail that could not be processed: 1" in status


async def test_a_party_replying_link_gets_fresh_links_and_nothing_is_relayed(service, sink):
    opened, address = await open_case(service, moderation="open")
    sink.delivered.clear()
    await reply(service, ANNA, address[ANNA], "Link?")
    [fresh] = texts(sink, ANNA)
    assert "/register/" in fresh or "/intake/" in fresh or "/agreement/" in fresh
    assert sink.to(BRAM) == [] and sink.to(CEES) == [] and sink.to(MEDIATOR) == []


async def test_the_mediator_can_ask_for_the_full_original_of_a_message(service, sink):
    opened, address = await open_case(service)
    await reply(service, ANNA, address[ANNA], "Short answer.\n\nOn Monday Maria wrote:\n> Old")
    review = sink.to(MEDIATOR)[-1]
    assert "Old" not in review.text
    sink.delivered.clear()
    await reply(service, MEDIATOR, address[MEDIATOR], "#original",
                in_reply_to=review.message["Message-ID"])
    [mail] = sink.to(MEDIATOR)
    [attached] = list(mail.message.iter_attachments())
    assert attached.get_content_type() == "message/rfc822"
    original = attached.get_content()
    assert "> Old" in original.get_body(("plain",)).get_content()
    said = await command(service, sink, address, "#original 9")
    assert any("there is no message 9" in t for t in said)


def _bare_line_ends(raw: bytes) -> list[int]:
    """Offsets of CRs not followed by LF and LFs not preceded by CR."""
    return [i for i, byte in enumerate(raw)
            if (byte == 13 and raw[i + 1:i + 2] != b"\n") or (byte == 10 and raw[i - 1:i] != b"\r")]


async def _send_as_is(port: int, sender: str, rcpt: str, raw: bytes) -> None:
    """An SMTP conversation that sends the bytes unchanged (aiosmtplib would normalise the
    line ends, as a careful client does; an attacker's does not)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)

    async def say(line: bytes) -> bytes:
        writer.write(line)
        await writer.drain()
        answer = await reader.readline()
        while answer[3:4] == b"-":
            answer = await reader.readline()
        return answer

    await reader.readline()
    for line in (b"HELO client.test\r\n", f"MAIL FROM:<{sender}>\r\n".encode(),
                 f"RCPT TO:<{rcpt}>\r\n".encode(), b"DATA\r\n"):
        assert (await say(line))[:1] in (b"2", b"3")
    assert (await say(raw.rstrip(b"\r\n") + b"\r\n.\r\n")).startswith(b"250")
    await say(b"QUIT\r\n")
    writer.close()


async def test_the_original_passed_on_has_no_bare_cr_or_lf(service, sink):
    # A bare "\r.\r\n" in a party's mail could end the DATA of a lax relay early (SMTP
    # smuggling) if a copy carried it on unchanged.
    opened, address = await open_case(service)
    raw = compose(ANNA, address[ANNA], "Kort antwoord.").replace(
        b"Kort antwoord.", b"Kort antwoord.\r.\rMAIL FROM:<x@evil.test>\nverder")
    await _send_as_is(service.smtp_port, ANNA, address[ANNA], raw)
    await service.settle()
    review = sink.to(MEDIATOR)[-1]
    sink.delivered.clear()
    await reply(service, MEDIATOR, address[MEDIATOR], "#original",
                in_reply_to=review.message["Message-ID"])
    [mail] = sink.to(MEDIATOR)
    assert b"MAIL FROM:<x@evil.test>" in mail.raw
    assert _bare_line_ends(mail.raw) == []
    assert _bare_line_ends(review.raw) == []
