"""Opening a case from the command line: good input opens it, bad input names the problem."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import MEDIATOR
from sqlmodel import Session, select

from mediate import casework
from mediate.service import prepare_database
from threads.cases import CaseError
from threads.models import Case, OutgoingMail, Participant


def parties(n: int) -> list[str]:
    return [f"Party {i} <p{i}@home.test>" for i in range(n)]


@pytest.mark.parametrize(
    ("given", "problem"),
    [
        (parties(1), "at least 2 parties, 1 given"),
        (parties(31), "at most 30 parties, 31 given"),
        (["Anna <anna@home.test>", "Bram <bram@@home.test>"], "'bram@@home.test' is not a valid"),
        (["Anna <anna@home.test>", "Bram <ANNA@home.test>"], "anna@home.test is given twice"),
        (["Anna <anna@home.test>", "bram@home.test"], "not of the form 'Name <email>'"),
    ],
)
def test_bad_parties_are_refused_with_the_problem_named(settings, given, problem):
    with pytest.raises(CaseError) as error:
        casework.open_case(settings, title="T", mediator_email=MEDIATOR, parties=given)
    assert any(problem in p for p in error.value.problems), error.value.problems
    with Session(prepare_database(settings)) as session:
        assert session.exec(select(Case)).all() == []


def test_an_unknown_mediator_is_refused(settings):
    with pytest.raises(CaseError) as error:
        casework.open_case(settings, title="T", mediator_email="who@else.test", parties=parties(2))
    assert "who@else.test is not a configured mediator" in error.value.problems[0]


def test_thirty_parties_open_a_case_with_an_invitation_each(settings):
    opened = casework.open_case(
        settings, title="Owners' association", mediator_email=MEDIATOR, parties=parties(30)
    )
    assert len(opened.party_addresses) == 30
    assert len({address for _, address in opened.party_addresses}) == 30
    with Session(prepare_database(settings)) as session:
        invitations = session.exec(select(OutgoingMail).where(OutgoingMail.kind == "invitation"))
        assert len(invitations.all()) == 30
        tokens = session.exec(select(Participant.token)).all()
        assert len(set(tokens)) == 31


def test_case_references_count_up_within_the_year(settings):
    first = casework.open_case(settings, title="A", mediator_email=MEDIATOR, parties=parties(2))
    second = casework.open_case(settings, title="B", mediator_email=MEDIATOR, parties=parties(2))
    year, number = first.ref.split("-")
    assert second.ref == f"{year}-{int(number) + 1:03d}"


def cli_case(tmp_path: Path) -> list[str]:
    """`mediate case` with a small configuration of its own (mediator m@office.test)."""
    config = tmp_path / "config.toml"
    config.write_text(
        '[service]\nsecret_key = "cli-test-secret-key-0123456789-abcdef"\n'
        '[database]\nurl = "sqlite:///var/cli.sqlite3"\n'
        '[[mediators]]\nemail = "m@office.test"\nname = "Maria"\n'
    )
    return [sys.executable, "-m", "mediate.cli", "--config", str(config), "case"]


def test_cli_open_prints_the_reference_and_addresses_and_refuses_bad_input(tmp_path: Path):
    base = cli_case(tmp_path)
    ok = subprocess.run(
        base + ["open", "--title", "House", "--mediator", "m@office.test",
                "--party", "Anna <anna@home.test>", "--party", "Bram <bram@home.test>"],
        capture_output=True, text=True, timeout=60,
    )
    assert ok.returncode == 0, ok.stderr
    assert "opened: House" in ok.stdout and "Anna: " in ok.stdout and "+" in ok.stdout
    bad = subprocess.run(
        base + ["open", "--title", "House", "--mediator", "m@office.test",
                "--party", "Anna <anna@home.test>"],
        capture_output=True, text=True, timeout=60,
    )
    assert bad.returncode == 1
    assert "at least 2 parties, 1 given" in bad.stderr
    listed = subprocess.run(base + ["list"], capture_output=True, text=True, timeout=60)
    assert "House" in listed.stdout
    ref = ok.stdout.split()[1]
    shown = subprocess.run(base + ["show", ref], capture_output=True, text=True, timeout=60)
    assert "Anna" in shown.stdout and "Outgoing mail: 3 pending" in shown.stdout
