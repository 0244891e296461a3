"""Installing and starting: `mediate init`, the refusal of a public or short secret key, private
file modes, one-line errors that name the setting, and every imported package declared."""

from __future__ import annotations

import ast
import asyncio
import importlib.metadata
import re
import socket
import stat
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from mediate import config as configuration
from mediate.config import ConfigError, load
from mediate.init_cmd import init_folder
from mediate.service import Service

SOURCE = Path(__file__).resolve().parent.parent


def mediate(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mediate.cli", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=120)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_init_writes_a_private_config_with_a_fresh_key_and_a_private_data_folder(tmp_path):
    first = init_folder(tmp_path / "a")
    second = init_folder(tmp_path / "b")
    one, two = (load(path, environ={}) for path in (first, second))
    assert one.service.secret_key != two.service.secret_key
    assert one.service.secret_key != configuration.INSECURE_EXAMPLE_KEY
    assert len(one.service.secret_key.encode()) >= configuration.MIN_SECRET_BYTES
    assert configuration.serving_problems(one) == []
    assert mode(first) == 0o600
    assert mode(tmp_path / "a" / "var") == 0o700
    # the example's comments travel along: the administrator's file documents every key
    assert "[outbound.dkim]" in first.read_text() and "# Signs links" in first.read_text()


def test_init_never_overwrites_a_config(tmp_path):
    (tmp_path / "config.toml").write_text("# mine\n")
    result = mediate("init", str(tmp_path), cwd=tmp_path)
    assert result.returncode == 1
    assert "exists already" in result.stderr
    assert (tmp_path / "config.toml").read_text() == "# mine\n"


@pytest.mark.parametrize("key, says", [
    (configuration.INSECURE_EXAMPLE_KEY, "public example key"),
    ("only-twenty-bytes-xx", "at least 32 bytes"),
])
def test_serve_refuses_a_public_or_short_key_in_one_line(tmp_path, key, says):
    config = init_folder(tmp_path)
    text = re.sub(r'secret_key = "[^"]*"', f'secret_key = "{key}"', config.read_text())
    config.write_text(text)
    result = mediate("--config", str(config), "serve", cwd=tmp_path)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "service.secret_key" in lines[0] and says in lines[0]
    assert not (tmp_path / "var" / "mediate.sqlite3").exists()  # refused before anything
    checked = mediate("--config", str(config), "check-config", cwd=tmp_path)
    assert checked.returncode == 1 and says in checked.stderr


def test_the_database_is_born_private(tmp_path):
    config = init_folder(tmp_path)
    result = mediate("--config", str(config), "db", "upgrade", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert mode(tmp_path / "var" / "mediate.sqlite3") == 0o600
    assert mode(tmp_path / "var") == 0o700


def test_check_config_says_plainly_what_is_stored_in_the_clear(tmp_path):
    config = init_folder(tmp_path)
    result = mediate("--config", str(config), "check-config", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "stored in the clear" in result.stdout
    assert "configuration is valid" in result.stdout


def test_a_busy_smtp_port_is_one_line_naming_the_setting(tmp_path):
    config = init_folder(tmp_path)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config.write_text(config.read_text().replace("port = 2525", f"port = {port}")
                          .replace("port = 8025", "port = 0"))
        result = mediate("--config", str(config), "serve", cwd=tmp_path)
    assert result.returncode == 1
    lines = [line for line in result.stderr.splitlines() if "level=" not in line]
    assert lines == [f"mediate serve could not start: inbound.smtp.port: cannot listen on "
                     f"127.0.0.1:{port} (Address already in use)"]


def test_a_busy_web_port_is_one_line_naming_the_setting(tmp_path):
    config = init_folder(tmp_path)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config.write_text(config.read_text().replace("port = 2525", "port = 0")
                          .replace("port = 8025", f"port = {port}"))
        result = mediate("--config", str(config), "serve", cwd=tmp_path)
    assert result.returncode == 1
    lines = [line for line in result.stderr.splitlines() if "level=" not in line]
    assert lines == [f"mediate serve could not start: web.port: cannot listen on "
                     f"127.0.0.1:{port} (Address already in use)"]


def test_an_unreadable_dkim_key_is_one_line_naming_the_setting(tmp_path):
    config = init_folder(tmp_path)
    config.write_text(config.read_text()
                      .replace('enabled = false\nselector = "mediate"',
                               'enabled = true\nselector = "mediate"')
                      .replace('private_key = ""', 'private_key = "dkim.pem"'))
    expected = f"outbound.dkim.private_key: cannot read {tmp_path / 'dkim.pem'}: "
    checked = mediate("--config", str(config), "check-config", cwd=tmp_path)
    assert checked.returncode == 1
    assert checked.stderr.splitlines()[1].startswith(f"  {expected}")
    served = mediate("--config", str(config), "serve", cwd=tmp_path)
    lines = [line for line in served.stderr.splitlines() if "level=" not in line]
    assert served.returncode == 1 and len(lines) == 1
    assert lines[0].startswith(f"mediate serve could not start: {expected}")


def test_an_unreadable_config_is_one_line(tmp_path):
    config = tmp_path / "config.toml"
    config.mkdir()  # unreadable as a file even for root, who reads files of mode 0000
    with pytest.raises(ConfigError) as error:
        load(config, environ={})
    assert error.value.problems == [f"{config}: cannot be read (Is a directory)"]


async def test_shipped_templates_and_forms_can_be_replaced_by_the_administrators(
    tmp_path, settings
):
    own = tmp_path / "forms"
    own.mkdir()
    shipped = (settings.intake_forms_dir / "default.toml").read_text()
    (own / "default.toml").write_text(shipped)
    (own / "clinic.toml").write_text(shipped)
    mine = settings.model_copy(update={"files": settings.files.model_copy(
        update={"intake_forms_dir": str(own)})})
    service = Service.build(mine)
    assert set(service.pipeline.intake_forms) == {"default", "clinic"}
    service.engine.dispose()
    with pytest.raises(ConfigError) as error:
        configuration.from_mapping({"files": {"templates_dir": "nowhere"},
                                    "mediators": [{"email": "m@x.example", "name": "M"}],
                                    "service": {"secret_key": "k" * 40}}, tmp_path, environ={})
    assert error.value.problems == [f"files.templates_dir: {tmp_path / 'nowhere'} is not a folder"]
    await asyncio.sleep(0)


def imported_packages() -> set[str]:
    """Top-level names imported anywhere in the three rooms, outside the standard library."""
    names: set[str] = set()
    for room in ("threads", "mailgate", "mediate"):
        for path in (SOURCE / room).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Import):
                    names.update(alias.name.split(".")[0] for alias in node.names)
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names.add(node.module.split(".")[0])
    return names - set(sys.stdlib_module_names) - {"threads", "mailgate", "mediate"}


def test_every_imported_package_is_declared():
    project = tomllib.loads((SOURCE / "pyproject.toml").read_text())["project"]
    declared = {re.split(r"[\s<>=\[;]", spec, maxsplit=1)[0].lower().replace("_", "-")
                for spec in project["dependencies"]}
    providers = importlib.metadata.packages_distributions()
    missing = {}
    for name in imported_packages():
        dists = {d.lower().replace("_", "-") for d in providers.get(name, [name])}
        if not dists & declared:
            missing[name] = sorted(dists)
    assert missing == {}
    assert not any(spec.startswith("psycopg") for spec in project["dependencies"])
    assert project["optional-dependencies"]["postgresql"] == ["psycopg[binary]>=3.1"]
