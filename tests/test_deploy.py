"""deploy/ holds what an administrator installs: a systemd unit whose commands are the program's
own, with systemd's hardening, and a Postfix snippet that refuses unknown addresses up front."""

from __future__ import annotations

import configparser
import shlex
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from mediate.cli import build_parser
from mediate.config import EXAMPLE

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"


def unit() -> dict[str, list[str]]:
    """The [Service] section, every value of a repeated key kept."""
    values: dict[str, list[str]] = {}
    section = ""
    for line in (DEPLOY / "mediate.service").read_text().splitlines():
        line = line.strip()
        if line.startswith("["):
            section = line
        elif line and not line.startswith("#") and section == "[Service]":
            key, _, value = line.partition("=")
            values.setdefault(key, []).append(value)
    return values


def test_the_unit_runs_commands_the_program_has_on_the_folder_mediate_init_makes():
    service = unit()
    parser = build_parser()
    for key, command in (("ExecStartPre", "check-config"), ("ExecStart", "serve")):
        [line] = service[key]
        binary, *args = shlex.split(line)
        assert binary.endswith("/bin/mediate")
        parsed = parser.parse_args(args)
        assert parsed.command == command
        assert Path(parsed.config).parent == Path(service["WorkingDirectory"][0])
        assert Path(parsed.config).name == "config.toml"  # what `mediate init DIR` writes
    assert service["StateDirectoryMode"] == ["0700"] and service["UMask"] == ["0077"]
    assert int(service["TimeoutStopSec"][0]) > 20  # serve's own stop takes at most 20 s


def test_the_unit_uses_systemds_hardening():
    service = unit()
    for key, value in {"NoNewPrivileges": "yes", "ProtectSystem": "strict",
                       "PrivateTmp": "yes", "ProtectHome": "yes", "PrivateDevices": "yes",
                       "RestrictSUIDSGID": "yes", "CapabilityBoundingSet": ""}.items():
        assert service[key] == [value], key
    assert "@system-service" in service["SystemCallFilter"]


def test_the_postfix_snippet_refuses_unknown_addresses_and_delivers_to_mediates_port():
    main = (DEPLOY / "postfix" / "main.cf").read_text()
    assert "reject_unverified_recipient" in main
    example = tomllib.loads(EXAMPLE.read_text())
    [route] = [line for line in (DEPLOY / "postfix" / "transport").read_text().splitlines()
               if line and not line.startswith("#")]
    assert route.split()[1] == f"lmtp:inet:127.0.0.1:{example['inbound']['smtp']['port']}"


def test_the_unit_file_is_well_formed():
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string((DEPLOY / "mediate.service").read_text())
    assert parser.sections() == ["Unit", "Service", "Install"]


def test_systemd_accepts_every_directive_of_the_unit(tmp_path):
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed")
    mediate = Path(sys.executable).parent / "mediate"  # the unit's binary, here
    text = (DEPLOY / "mediate.service").read_text().replace("/opt/mediate/bin/mediate",
                                                            str(mediate))
    (tmp_path / "mediate.service").write_text(text)
    result = subprocess.run([analyze, "verify", str(tmp_path / "mediate.service")],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and result.stderr.strip() == "", result.stderr
