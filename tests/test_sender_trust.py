"""Sender trust (issue 9, part 7): a DMARC or DKIM failure reported by our own MTA in an
Authentication-Results header (RFC 8601) holds the message for the mediator."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import MEDIATOR, make_settings
from sqlmodel import Session, select
from support import DKIM_KEY, compose, smtp_send

from mailgate.authentication import AUTHENTICATION_FAILED, sender_trust
from mediate import casework
from mediate.service import Service
from threads.models import Message

ANNA, BRAM = "anna@home.test", "bram@work.test"
TRUSTED = "mx.mediation.test"


@pytest.mark.parametrize("values, expected", [
    ([f"{TRUSTED}; dkim=pass header.d=home.test; dmarc=pass header.from=home.test"], None),
    ([f"{TRUSTED}; dkim=fail header.d=home.test; dmarc=fail header.from=home.test"],
     AUTHENTICATION_FAILED),
    ([f"{TRUSTED}; spf=pass smtp.mailfrom=home.test; dmarc=fail header.from=home.test"],
     AUTHENTICATION_FAILED),
    ([f"{TRUSTED}; dkim=fail header.d=home.test"], AUTHENTICATION_FAILED),
    # One broken signature (a list footer, an ESP's own) next to a passing one is no forgery.
    ([f"{TRUSTED}; dkim=fail header.d=esp.test; dkim=pass header.d=home.test; dmarc=pass"],
     None),
    (["mx.elsewhere.test; dkim=fail; dmarc=fail"], None),  # not our server: not trusted
    ([f"{TRUSTED.upper()}; dmarc=fail header.from=home.test"], AUTHENTICATION_FAILED),
    # A forged "pass" from the trusted id above the real result changes nothing.
    ([f"{TRUSTED}; dmarc=pass", f"{TRUSTED}; dmarc=fail header.from=home.test"],
     AUTHENTICATION_FAILED),
    ([f"{TRUSTED}; none"], None),
    (["this is ;; not = a header"], None),
    ([], None),
])
def test_a_failure_reported_by_the_trusted_server_is_a_hold_reason(values, expected):
    assert sender_trust(values, TRUSTED) == expected


def test_sender_trust_reads_raw_mail_and_is_off_without_an_authserv_id():
    folded = (f"Authentication-Results: {TRUSTED};\r\n dkim=fail header.d=home.test;\r\n"
              " dmarc=fail (p=reject) header.from=home.test\r\n").encode()
    raw = folded + compose(ANNA, "x@mediation.test", "Hi")
    assert sender_trust(raw, TRUSTED) == AUTHENTICATION_FAILED
    assert sender_trust(raw, "") is None


@pytest.fixture
async def trusting_service(tmp_path: Path, database_url: str, sink):
    settings = make_settings(
        tmp_path, database_url,
        outbound={"transport": "smtp", "host": "127.0.0.1", "port": sink.port},
        inbound={"trusted_authserv_id": TRUSTED},
    )
    service = Service.build(settings, dkim_dns=DKIM_KEY.dns)
    await service.start()
    yield service
    await service.stop()
    service.engine.dispose()


async def send_as_anna(service: Service, results: str, text: str) -> str:
    opened = casework.open_case(
        service.settings, title="Sharing the house", mediator_email=MEDIATOR,
        parties=[f"Anna Jansen <{ANNA}>", f"Bram de Boer <{BRAM}>"], moderation="open",
        language="en", engine=service.engine,
    )
    await service.settle()
    address = dict(opened.party_addresses)["Anna Jansen"]
    raw = compose(ANNA, address, text, headers={"Authentication-Results": results})
    await smtp_send(service.smtp_port, ANNA, [address], raw)
    await service.settle()
    return address


async def test_a_reply_failing_dmarc_is_held_for_the_mediator_not_relayed(trusting_service, sink):
    await send_as_anna(trusting_service, f"{TRUSTED}; dkim=fail header.d=home.test; "
                       "dmarc=fail (p=reject) header.from=home.test", "Transfer the money now.")
    assert [d for d in sink.to(BRAM) if "Transfer the money" in d.text] == []
    [notice] = [d for d in sink.to(MEDIATOR) if "could not confirm" in d.text]
    assert "may have been forged" in notice.text and "Transfer the money now." in notice.text
    with Session(trusting_service.engine) as session:
        message = session.exec(select(Message).where(Message.text.contains("money"))).one()
    assert (message.status, message.hold_reason) == ("held", AUTHENTICATION_FAILED)


async def test_a_reply_passing_dmarc_or_judged_by_another_server_goes_on(trusting_service, sink):
    await send_as_anna(trusting_service, "mx.elsewhere.test; dmarc=fail header.from=home.test",
                       "I keep the sofa.")
    assert any(d.text.startswith("I keep the sofa.") for d in sink.to(BRAM))
