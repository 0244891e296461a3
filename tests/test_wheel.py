"""The wheel installs and runs anywhere: built from this tree, installed into a fresh venv
outside it (dependencies from requirements.lock), then `mediate init`, `check-config`,
`db upgrade` and `demo` from an empty folder.

Slow (a minute or two), so it runs where ``MEDIATE_TEST_WHEEL=1`` is set: in CI (.ci/run)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

SOURCE = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.skipif(os.environ.get("MEDIATE_TEST_WHEEL") != "1",
                                reason="builds and installs a wheel; set MEDIATE_TEST_WHEEL=1")


def run(*command: str | Path, cwd: Path) -> str:
    # PYTHONPATH and the like must not lead back into the source tree
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    result = subprocess.run([str(part) for part in command], cwd=cwd, env=env,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, f"{command}\n{result.stdout}\n{result.stderr}"
    return result.stdout


def test_the_wheel_installed_elsewhere_initialises_checks_and_runs_the_demo(tmp_path):
    run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", tmp_path / "dist",
        SOURCE, cwd=tmp_path)
    wheel = next((tmp_path / "dist").glob("mediate-*.whl"))
    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", venv, cwd=tmp_path)
    pip = venv / "bin" / "pip"
    run(pip, "install", "--quiet", "--require-hashes", "-r", SOURCE / "requirements.lock",
        cwd=tmp_path)
    run(pip, "install", "--quiet", "--no-deps", wheel, cwd=tmp_path)

    empty = tmp_path / "empty"
    empty.mkdir()
    where = run(venv / "bin" / "python", "-c", "import mediate; print(mediate.__file__)",
                cwd=empty)
    assert where.startswith(str(venv)), where  # the installed copy, not the source tree
    dutch = run(venv / "bin" / "python", "-c", "from threads.i18n import catalog_path, translate;"
                " print(translate('nl', 'Kind regards,'), catalog_path('nl'))", cwd=empty)
    assert dutch.startswith("Met vriendelijke groet,") and str(venv) in dutch  # the catalog ships

    mediate = venv / "bin" / "mediate"
    run(mediate, "init", cwd=empty)
    assert stat.S_IMODE((empty / "var").stat().st_mode) == 0o700
    checked = run(mediate, "check-config", cwd=empty)
    assert "configuration is valid" in checked
    # the shipped forms, read from the wheel
    assert "intake forms: default, evaluation, family" in checked
    assert str(venv) in checked  # ... from the installed package data
    run(mediate, "db", "upgrade", cwd=empty)
    assert stat.S_IMODE((empty / "var" / "mediate.sqlite3").stat().st_mode) == 0o600
    demo = run(mediate, "demo", cwd=empty)
    assert "No party ever saw another party's e-mail address." in demo
    assert "-> to anna@home.example" in demo  # templates rendered: mail went out
