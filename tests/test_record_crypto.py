"""Encryption at rest: raw mail is stored sealed when privacy.encryption_key is set."""

from __future__ import annotations

import pytest
from conftest import MEDIATOR, make_settings
from sqlmodel import Session, select
from support import DKIM_KEY, Sink, compose, smtp_send

from mediate import casework
from mediate.config import ConfigError, from_mapping
from mediate.service import Service
from threads.crypto import AtRestKey, SealError, is_sealed, new_key, seal, unseal
from threads.models import InboundMail, OutgoingMail

SECRET_TEXT = "I never told anyone about the debts."


def test_sealed_bytes_round_trip_and_are_not_plaintext():
    key = AtRestKey.from_setting(new_key())
    raw = f"Subject: x\r\n\r\n{SECRET_TEXT}\r\n".encode()
    stored = seal(raw, key)
    assert is_sealed(stored) and SECRET_TEXT.encode() not in stored
    assert unseal(stored, key) == raw


def test_mail_stored_before_a_key_was_set_is_read_as_it_is():
    key = AtRestKey.from_setting(new_key())
    assert unseal(b"Subject: old\r\n\r\nplain", key) == b"Subject: old\r\n\r\nplain"
    assert seal(b"plain", None) == b"plain"


def test_sealed_mail_without_the_right_key_is_an_error_not_garbage():
    stored = seal(b"secret", AtRestKey.from_setting(new_key()))
    with pytest.raises(SealError):
        unseal(stored, None)
    with pytest.raises(SealError):
        unseal(stored, AtRestKey.from_setting(new_key()))


def test_rotated_keys_still_open_mail_sealed_with_the_old_key():
    old, new = new_key(), new_key()
    stored = seal(b"before rotation", AtRestKey.from_setting(old))
    assert unseal(stored, AtRestKey.from_setting(f"{new},{old}")) == b"before rotation"


def test_a_malformed_key_is_a_configuration_error_naming_the_key(tmp_path):
    with pytest.raises(ConfigError) as error:
        from_mapping({"privacy": {"encryption_key": "not-a-key"}}, tmp_path, environ={})
    assert any(p.startswith("privacy.encryption_key:") for p in error.value.problems)


def test_the_key_may_come_from_the_environment(tmp_path, database_url):
    key = new_key()
    settings = make_settings(tmp_path, database_url)
    data = {"mediators": [{"email": MEDIATOR, "name": "M"}],
            "service": {"secret_key": "x" * 20}}
    assert from_mapping(data, tmp_path, environ={"MEDIATE_ENCRYPTION_KEY": key}) \
        .privacy.encryption_key == key
    assert settings.privacy.encryption_key == ""


async def test_with_a_key_stored_mail_is_sealed_and_the_mediation_still_works(
    tmp_path, database_url, sink: Sink
):
    settings = make_settings(
        tmp_path, database_url, privacy={"encryption_key": new_key()},
        outbound={"transport": "smtp", "host": "127.0.0.1", "port": sink.port},
    )
    service = Service.build(settings, dkim_dns=DKIM_KEY.dns)
    await service.start()
    try:
        opened = casework.open_case(
            settings, title="Sharing the house", mediator_email=MEDIATOR,
            parties=["Anna Jansen <anna@home.test>", "Bram de Boer <bram@work.test>"],
            moderation="open", language="en", engine=service.engine,
        )
        await service.settle()
        anna = dict(opened.party_addresses)["Anna Jansen"]
        await smtp_send(service.smtp_port, "anna@home.test", [anna],
                        compose("anna@home.test", anna, SECRET_TEXT))
        await service.settle()
        # relayed in plain text to Bram over SMTP ...
        assert any(SECRET_TEXT in d.text for d in sink.to("bram@work.test"))
        # ... while the database holds only sealed bytes
        with Session(service.engine) as session:
            stored = [r.raw for r in session.exec(select(InboundMail))]
            stored += [r.raw for r in session.exec(select(OutgoingMail))]
        assert stored and all(is_sealed(raw) for raw in stored)
        assert not any(SECRET_TEXT.encode() in raw or b"anna@home.test" in raw
                       for raw in stored)
        key = AtRestKey.from_setting(settings.privacy.encryption_key)
        assert any(SECRET_TEXT.encode() in unseal(raw, key) for raw in stored)
    finally:
        await service.stop()
        service.engine.dispose()
