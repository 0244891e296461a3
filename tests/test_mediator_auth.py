"""Who is the mediator (issue 12): only mail at the mediator's own address whose sender is
authenticated (DKIM verified by Mediate, or a trusted Authentication-Results) is carried out.
Everything else in the mediator's name is held, and the mediator told. All over real SMTP."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import DOMAIN, MEDIATOR, make_settings
from sqlmodel import Session, func, select
from support import DKIM_KEY, compose, smtp_send
from test_mediator_mail import private_line
from test_walking_skeleton import ANNA, BRAM, CEES, open_case

from mailgate.smtp_server import store_inbound
from mediate.service import Service
from threads.lookup import Kind, candidates, is_address
from threads.models import (
    AuditEvent,
    Case,
    InboundMail,
    Message,
    OutgoingMail,
    Participant,
    TimeEntry,
)

OPEN = f"open@{DOMAIN}"
TRUSTED = "mx.mediation.test"
PARTIES = "Anna Jansen <anna@home.test>\nBram de Boer <bram@work.test>\n"


async def send(service, rcpts, raw, mail_from=MEDIATOR):
    await smtp_send(service.smtp_port, mail_from, rcpts, raw)
    await service.settle()


def count(service, model, *where) -> int:
    with Session(service.engine) as session:
        return session.exec(select(func.count()).select_from(model).where(*where)).one()


def unverified_notices(sink) -> list:
    return [d for d in sink.to(MEDIATOR) if "A mail with your address as its sender" in d.text]


def held_in_the_mediators_name(service) -> list[Message]:
    with Session(service.engine) as session:
        return list(session.exec(
            select(Message).where(Message.hold_reason == "unverified-mediator")))


def moderation(service) -> str:
    with Session(service.engine) as session:
        return session.exec(select(Case)).one().moderation


@pytest.fixture
async def running(tmp_path: Path, database_url: str, sink, request):
    """A service with extra ``[inbound]`` settings (``@pytest.mark.inbound(...)``)."""
    marker = request.node.get_closest_marker("inbound")
    settings = make_settings(
        tmp_path, database_url,
        outbound={"transport": "smtp", "host": "127.0.0.1", "port": sink.port},
        inbound={"smtp": {"host": "127.0.0.1", "port": 0}, **(marker.kwargs if marker else {})},
    )
    service = Service.build(settings, dkim_dns=DKIM_KEY.dns)
    await service.start()
    yield service
    await service.stop()
    service.engine.dispose()


# --- a party never speaks as the mediator ----------------------------------------------------

@pytest.mark.parametrize("where", ["private line", "reply address"])
async def test_the_mediator_forged_on_a_partys_address_is_held_and_the_mediator_told(
        service, sink, where):
    opened, address = await open_case(service)
    line = private_line(service, ANNA) if where == "private line" else address[ANNA]
    sink.delivered.clear()
    # Signed or not: Anna's addresses are hers; mail there is never the mediator's.
    forged = compose(MEDIATOR, line, "#moderation open\n#add Eve <eve@evil.test>")
    await send(service, [line], forged, mail_from=ANNA)
    assert moderation(service) == "review"
    assert count(service, Participant, Participant.email_hash.in_(
        candidates("eve@evil.test", Kind.ADDRESS, None))) == 0
    [held] = held_in_the_mediators_name(service)
    assert held.status == "held" and "#add Eve" in held.text
    [told] = unverified_notices(sink)
    assert "not yours" in told.text
    assert sink.to(ANNA) == [] and sink.to(BRAM) == [] and sink.to(CEES) == []
    assert sink.to("eve@evil.test") == []


async def test_mail_in_the_mediators_name_is_announced_a_few_times_an_hour_at_most(service, sink):
    opened, address = await open_case(service)
    line = private_line(service, BRAM)
    sink.delivered.clear()
    for n in range(6):
        await send(service, [line], compose(MEDIATOR, line, f"#time {n + 1}h"), mail_from=BRAM)
    assert count(service, TimeEntry) == 0
    assert len(held_in_the_mediators_name(service)) == 6  # every one on the record
    assert len(unverified_notices(sink)) == 3


async def test_unsigned_mediator_mail_is_refused_under_dkim(service, sink):
    opened, address = await open_case(service)
    sink.delivered.clear()
    raw = compose(MEDIATOR, address[MEDIATOR], "#time 1h30 intake calls", sign=False)
    await send(service, [address[MEDIATOR]], raw)
    assert count(service, TimeEntry) == 0
    [told] = unverified_notices(sink)
    assert "DKIM" in told.text
    assert len(held_in_the_mediators_name(service)) == 1


async def test_dkim_signed_mediator_mail_at_the_own_address_is_carried_out(service, sink):
    opened, address = await open_case(service)
    DKIM_KEY.lookups.clear()
    await send(service, [address[MEDIATOR]], compose(MEDIATOR, address[MEDIATOR], "#time 45m"))
    assert count(service, TimeEntry) == 1
    assert f"test._domainkey.{MEDIATOR.split('@')[1]}." in DKIM_KEY.lookups
    assert unverified_notices(sink) == []


async def test_a_signature_from_another_domain_does_not_vouch_for_the_mediator(service, sink):
    opened, address = await open_case(service)
    raw = compose(MEDIATOR, address[MEDIATOR], "#time 2h", sign=False)
    raw = DKIM_KEY.sign(raw, "evil.test")  # valid, but the forger's own domain
    await send(service, [address[MEDIATOR]], raw)
    assert "test._domainkey.evil.test." in DKIM_KEY.lookups  # it was checked, and verified
    assert count(service, TimeEntry) == 0


@pytest.mark.inbound(mediator_authentication="address-only")
async def test_unsigned_mediator_mail_is_accepted_under_address_only(running, sink):
    opened, address = await open_case(running)
    raw = compose(MEDIATOR, address[MEDIATOR], "#time 1h", sign=False)
    await send(running, [address[MEDIATOR]], raw)
    assert count(running, TimeEntry) == 1


@pytest.mark.inbound(mediator_authentication="address-only")
async def test_address_only_still_wants_the_mediators_own_address(running, sink):
    opened, address = await open_case(running)
    line = private_line(running, ANNA)
    await send(running, [line], compose(MEDIATOR, line, "#time 1h", sign=False), mail_from=ANNA)
    assert count(running, TimeEntry) == 0
    assert len(held_in_the_mediators_name(running)) == 1


# --- the From header, read strictly -------------------------------------------------------

@pytest.mark.inbound(trusted_authserv_id=TRUSTED)
async def test_a_display_name_that_is_the_mediators_address_is_not_the_mediator(running, sink):
    opened, address = await open_case(running)
    sink.delivered.clear()
    # The attacker's own domain passes DMARC; a lenient reader would see the mediator.
    raw = compose(f"{MEDIATOR} <attacker@evil.test>", address[MEDIATOR], "#time 3h",
                  sign=False, headers={"Authentication-Results":
                                       f"{TRUSTED}; dmarc=pass header.from=evil.test"})
    await send(running, [address[MEDIATOR]], raw, mail_from="attacker@evil.test")
    assert count(running, TimeEntry) == 0
    assert len(unverified_notices(sink)) == 1


async def test_two_from_headers_are_never_the_mediator(service, sink):
    opened, address = await open_case(service)
    raw = compose(MEDIATOR, address[MEDIATOR], "#time 3h")  # signed, From the mediator ...
    head, _, body = raw.partition(b"\r\n\r\n")
    raw = head + b"\r\nFrom: attacker@evil.test\r\n\r\n" + body  # ... and a second From
    await send(service, [address[MEDIATOR]], raw)
    assert count(service, TimeEntry) == 0
    [told] = unverified_notices(sink)
    assert "more than one address" in told.text


@pytest.mark.inbound(trusted_authserv_id=TRUSTED)
@pytest.mark.parametrize(("result", "accepted"), [
    ("dmarc=pass header.from=office.test", True),
    ("dkim=pass header.d=office.test", True),
    ("dkim=pass header.i=@mail.office.test", True),
    ("dmarc=pass header.from=evil.test", False),
    ("dkim=pass header.d=evil.test", False),
    ("dmarc=pass", False),  # for which domain? not said, so not aligned
    ("dkim=pass header.d=office.test; dmarc=fail header.from=office.test", False),
])
async def test_trusted_authentication_results_count_only_when_aligned(
        running, sink, result, accepted):
    opened, address = await open_case(running)
    raw = compose(MEDIATOR, address[MEDIATOR], "#time 1h", sign=False,
                  headers={"Authentication-Results": f"{TRUSTED}; {result}"})
    await send(running, [address[MEDIATOR]], raw)
    assert count(running, TimeEntry) == (1 if accepted else 0)


@pytest.mark.inbound(trusted_authserv_id=TRUSTED)
async def test_a_pass_under_another_authserv_id_counts_for_nothing(running, sink):
    opened, address = await open_case(running)
    raw = compose(MEDIATOR, address[MEDIATOR], "#time 1h", sign=False,
                  headers={"Authentication-Results": "mx.elsewhere.test; dmarc=pass "
                                                     "header.from=office.test"})
    await send(running, [address[MEDIATOR]], raw)
    assert count(running, TimeEntry) == 0


# --- opening a case by mail --------------------------------------------------------------

async def test_a_forged_open_request_opens_nothing_and_the_mediator_is_told(service, sink):
    raw = compose(MEDIATOR, OPEN, PARTIES, subject="Forged", sign=False)
    await send(service, [OPEN], raw, mail_from="attacker@evil.test")
    assert count(service, Case) == 0
    assert sink.to(ANNA) == [] and sink.to(BRAM) == []
    assert len(unverified_notices(sink)) == 1


async def test_one_mail_to_the_open_address_many_times_opens_one_case(service, sink):
    raw = compose(MEDIATOR, OPEN, PARTIES, subject="Once")
    rcpts = [OPEN, OPEN.upper(), f"Open@{DOMAIN}", f"oPen@{DOMAIN}", f"opEn@{DOMAIN}"]
    await send(service, rcpts, raw)
    await send(service, [OPEN], raw)  # and delivered again
    assert count(service, Case) == 1
    assert len(sink.to(ANNA)) == 1


@pytest.mark.inbound(open_per_hour=2)
async def test_a_mediator_opens_at_most_the_hourly_limit_by_mail(running, sink):
    for n in range(3):
        await send(running, [OPEN], compose(MEDIATOR, OPEN, PARTIES, subject=f"Case {n}"))
    assert count(running, Case) == 2
    refusal = [d for d in sink.to(MEDIATOR) if "not opened" in d.message["Subject"]]
    assert len(refusal) == 1 and "2 cases by mail in the past hour" in refusal[0].text


# --- once per mail -----------------------------------------------------------------------

async def test_a_redelivered_mediator_mail_is_carried_out_once(service, sink):
    opened, address = await open_case(service)
    raw = compose(MEDIATOR, address[MEDIATOR], "#time 1h30 reading")
    for _ in range(3):  # a sending MTA that did not hear our 250 tries again
        await send(service, [address[MEDIATOR]], raw)
    assert count(service, TimeEntry) == 1
    assert count(service, InboundMail, InboundMail.status == "duplicate") == 2


async def test_one_mail_to_three_case_addresses_logs_the_time_once(service, sink):
    opened, address = await open_case(service)
    await send(service, [private_line(service, ANNA)],
               compose(ANNA, private_line(service, ANNA), "A word alone."), mail_from=ANNA)
    own_line = sink.to(MEDIATOR)[-1].message["Reply-To"]  # the mediator's line to Anna
    rcpts = [own_line, address[MEDIATOR], address[BRAM]]
    sink.delivered.clear()
    raw = compose(MEDIATOR, ", ".join(rcpts), "#time 1h")
    await send(service, rcpts, raw)
    assert count(service, TimeEntry) == 1
    assert held_in_the_mediators_name(service) == []  # Bram's address did not count
    assert count(service, OutgoingMail, OutgoingMail.kind == "command-reply") == 1


# --- one place decides ---------------------------------------------------------------------

async def test_every_decision_names_its_rule_even_for_a_removed_partys_address(service, sink):
    opened, address = await open_case(service)
    await send(service, [address[MEDIATOR]], compose(MEDIATOR, address[MEDIATOR],
                                                     "#remove Bram de Boer"))
    # IMAP asks no RCPT question, so mail to the revoked address still reaches the pipeline.
    store_inbound(service.engine, compose(BRAM, address[BRAM], "Still here."), BRAM,
                  [address[BRAM]], "imap")
    await service.settle()
    with Session(service.engine) as session:
        rows = session.exec(select(InboundMail).order_by(InboundMail.id)).all()
        assert rows[0].status == "processed" and "mediator: mediator" in rows[0].reason
        assert rows[1].status == "ignored" and "revoked: revoked address" in rows[1].reason
        events = session.exec(select(AuditEvent.kind)).all()
        assert "revoked-address" in events
    assert sink.to(ANNA)[-1].text.count("Still here.") == 0


async def test_a_forged_out_of_office_does_not_mark_the_mediator_away(service, sink):
    opened, address = await open_case(service)
    auto = {"Auto-Submitted": "auto-replied"}
    forged = compose(MEDIATOR, address[MEDIATOR], "I am away.", subject="Away (forged)",
                     headers=auto, sign=False)
    await send(service, [address[MEDIATOR]], forged)
    real = compose(MEDIATOR, address[MEDIATOR], "I am away.", subject="Away", headers=auto)
    with Session(service.engine) as session:
        mediator = session.exec(select(Participant).where(
            is_address(session, Participant.email_hash, MEDIATOR))).one()
        assert mediator.away_note is None
    await send(service, [address[MEDIATOR]], real)
    with Session(service.engine) as session:
        mediator = session.exec(select(Participant).where(
            is_address(session, Participant.email_hash, MEDIATOR))).one()
        assert mediator.away_note == "Away"
