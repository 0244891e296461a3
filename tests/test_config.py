"""Configuration: every problem names its key; secrets may come from the environment."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from mediate.config import EXAMPLE, INSECURE_EXAMPLE_KEY, ConfigError, from_mapping, load

MEDIATOR = {"email": "m@office.example", "name": "Maria"}
BASE = {"service": {"secret_key": "0123456789abcdefXYZ"}, "mediators": [MEDIATOR]}


def problems(data: dict, environ: dict | None = None) -> list[str]:
    with pytest.raises(ConfigError) as error:
        from_mapping(data, Path("."), environ=environ or {})
    return error.value.problems


def test_the_example_config_works_as_it_is():
    settings = load(EXAMPLE, environ={})
    assert settings.inbound.smtp.port == 2525
    assert settings.web.port == 8025
    assert settings.outbound.transport == "maildir"
    assert settings.database_url.endswith("/var/mediate.sqlite3")
    assert settings.service.domain == "mediation.example.org"
    assert [m.email for m in settings.mediators] == ["mediator@example.org"]


def test_an_unknown_key_is_an_error_naming_the_key():
    found = problems({**BASE, "outbound": {"transprot": "smtp"}})
    assert found == ["outbound.transprot: unknown key (check the spelling against "
                     "config.example.toml)"]


def test_a_bad_value_names_the_key_and_what_is_expected():
    found = problems({**BASE, "outbound": {"transport": "carrier-pigeon", "port": 99999}})
    assert any(p.startswith("outbound.transport: ") and "'maildir'" in p for p in found)
    assert any(p.startswith("outbound.port: ") and "65535" in p for p in found)


def test_a_bad_mediator_address_names_its_position():
    found = problems({**BASE, "mediators": [MEDIATOR, {"email": "not-an-address", "name": "X"}]})
    assert len(found) == 1 and found[0].startswith("mediators[1].email: ")


def test_missing_mediators_and_short_secret_are_reported_together():
    found = problems({"service": {"secret_key": "short"}})
    assert any(p.startswith("mediators:") for p in found)
    assert any(p.startswith("service.secret_key:") for p in found)


def test_secrets_may_come_from_the_environment():
    settings = from_mapping(
        {"mediators": [MEDIATOR]}, Path("."),
        environ={"MEDIATE_SECRET_KEY": "from-the-environment-123",
                 "MEDIATE_OUTBOUND_PASSWORD": "relay-pass"},
    )
    assert settings.service.secret_key == "from-the-environment-123"
    assert settings.outbound.password == "relay-pass"
    assert "relay-pass" not in repr(settings)


def test_check_config_prints_every_problem_and_exits_1(tmp_path: Path):
    config = tmp_path / "config.toml"
    config.write_text('[service]\nsecret_key = "x"\ndomian = "a.example"\n')
    result = subprocess.run(
        [sys.executable, "-m", "mediate.cli", "check-config", "--config", str(config)],
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 1
    assert "service.domian: unknown key" in result.stderr


def test_check_config_accepts_the_example_apart_from_its_public_key(tmp_path: Path):
    result = subprocess.run(
        [sys.executable, "-m", "mediate.cli", "check-config", "--config", str(EXAMPLE)],
        capture_output=True, text=True, timeout=60,
        env={**os.environ, "MEDIATE_SECRET_KEY": "x" * 32},
    )
    assert result.returncode == 0, result.stderr
    assert "configuration is valid" in result.stdout
    public = subprocess.run(
        [sys.executable, "-m", "mediate.cli", "check-config", "--config", str(EXAMPLE)],
        capture_output=True, text=True, timeout=60,
        env={k: v for k, v in os.environ.items() if k != "MEDIATE_SECRET_KEY"},
    )
    assert public.returncode == 1
    assert public.stderr.splitlines()[1:] == [
        "  service.secret_key: is the public example key; run `mediate init` for a "
        "config.toml with a fresh one, or set MEDIATE_SECRET_KEY"]


def test_the_open_address_must_be_on_the_service_domain():
    found = problems({**BASE, "service": {**BASE["service"], "domain": "m.example.org",
                                          "open_address": "open@elsewhere.example"}})
    assert found == ["service.open_address: must be an address on service.domain "
                     "(e.g. open@m.example.org), not open@elsewhere.example"]


def test_attachment_limits_are_checked_and_name_their_key():
    found = problems({**BASE, "inbound": {"attachments": {"max_file_mb": 0}}})
    assert len(found) == 1 and found[0].startswith("inbound.attachments.max_file_mb: ")


def test_address_only_mediator_authentication_is_warned_about_by_check_config(tmp_path: Path):
    config = tmp_path / "config.toml"
    example = EXAMPLE.read_text(encoding="utf-8")
    mine = example.replace('mediator_authentication = "dkim"',
                           'mediator_authentication = "address-only"')
    mine = mine.replace(INSECURE_EXAMPLE_KEY, "k" * 40)  # check-config refuses the public key
    config.write_text(mine)
    result = subprocess.run(
        [sys.executable, "-m", "mediate.cli", "check-config", "--config", str(config)],
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert 'warning: inbound.mediator_authentication is "address-only"' in result.stdout
    assert load(EXAMPLE, environ={}).inbound.mediator_authentication == "dkim"  # the default
    assert "mediator_authentication" in example and "open_per_hour" in example
    assert "address-only" not in subprocess.run(  # only the key is wrong there
        [sys.executable, "-m", "mediate.cli", "check-config", "--config", str(EXAMPLE)],
        capture_output=True, text=True, timeout=60).stdout


def test_mediator_authentication_takes_only_the_two_known_ways():
    found = problems({**BASE, "inbound": {"mediator_authentication": "trust-me"}})
    assert len(found) == 1 and found[0].startswith("inbound.mediator_authentication:")


def test_the_admin_address_must_be_an_address():
    found = problems({**BASE, "service": {**BASE["service"], "admin_address": "postmaster"}})
    assert len(found) == 1 and found[0].startswith("service.admin_address: 'postmaster' is not")
