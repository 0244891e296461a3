"""Purging a case leaves only its tombstone; retention warns, then purges, by a fixed clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from conftest import MEDIATOR
from record_scenario import ANNA, BRAM, BRAM_PRIVATE, CEES, INTAKE, NAMES, play_case
from sqlalchemy import select as sa_select
from sqlmodel import Session, SQLModel, select

from mailgate.compose import Composer
from mediate import cli
from mediate.data import TEMPLATES
from mediate.export import build_case_archive
from threads import audit, db
from threads.cases import open_case, parse_party
from threads.db import session_scope
from threads.models import AuditEvent, Case, CaseExport, Tombstone
from threads.record import purge, purge_due, warn_due
from threads.settings import CaseSettings, MediatorSettings

CLOSED = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def everything_stored(session: Session) -> str:
    """Every row of every table, as text: what a purge must have emptied of personal data."""
    return "\n".join(
        repr(tuple(row)) for table in SQLModel.metadata.sorted_tables
        for row in session.execute(sa_select(table))
    )


async def test_purge_leaves_only_the_tombstone_and_the_chains_final_hash(service, sink):
    played = await play_case(service)
    with session_scope(service.engine) as session:
        case = played.case(session)
        build_case_archive(session, case, None, service.settings.templates_dir)
        final = audit.final_hash(session, case)
        events = len(audit.events_of(session, case))
        result = purge(session, case, actor="command line")
    assert result.final_hash == final and result.events == events
    with Session(service.engine) as session:
        case = session.exec(select(Case).where(Case.ref == played.ref)).one()
        tomb = session.exec(select(Tombstone).where(Tombstone.case_id == case.id)).one()
        assert (tomb.ref, tomb.outcome, tomb.final_hash) == (played.ref, "settled", final)
        assert tomb.closed_at is not None and tomb.export_sha256
        assert case.status == "purged" and case.title == ""
        [purged] = audit.events_of(session, case)
        assert purged.kind == "purged" and purged.prev_hash == final
        assert audit.check(session, case) is None  # the surviving row chains onto the tombstone
        stored = everything_stored(session)
    for trace in (ANNA, BRAM, CEES, *NAMES.values(), BRAM_PRIVATE, "Sharing the house",
                  "inventory", "sofa", *INTAKE.values(), "192.0.2.7"):
        assert trace not in stored, trace


async def test_purge_by_hand_asks_for_the_reference_unless_yes(
    service, sink, tmp_path, capsys, monkeypatch
):
    played = await play_case(service)
    config = tmp_path / "config.toml"
    config.write_text(
        f'[service]\ndomain = "mediation.test"\n'
        'secret_key = "test-secret-key-0123456789-abcdefghij"\n'
        f'[database]\nurl = "{service.settings.database_url}"\n'
        f'[[mediators]]\nemail = "{MEDIATOR}"\nname = "Maria de Vries"\n'
    )
    monkeypatch.setattr("sys.stdin.isatty", lambda: True)
    monkeypatch.setattr("builtins.input", lambda prompt: "2099-999")
    assert cli.main(["case", "purge", played.ref, "--config", str(config)]) == 1
    out = capsys.readouterr().out
    assert "Nothing was purged." in out and "no export of this case" in out
    monkeypatch.setattr("builtins.input", lambda prompt: played.ref)
    assert cli.main(["case", "purge", played.ref, "--config", str(config)]) == 0
    assert "purged" in capsys.readouterr().out
    assert cli.main(["case", "verify", played.ref, "--config", str(config)]) == 0
    with Session(service.engine) as session:
        assert session.exec(select(Tombstone)).one().ref == played.ref


@pytest.fixture
def engine(database_url):
    engine = db.make_engine(database_url)
    db.upgrade(engine)
    yield engine
    engine.dispose()


def closed_case(engine, title: str = "Closed case") -> int:
    mediator = MediatorSettings(email=MEDIATOR, name="Maria de Vries", language="en")
    with session_scope(engine) as session:
        case, _ = open_case(
            session, title=title, mediator=mediator, settings=CaseSettings(),
            parties=[parse_party("Anna <anna@home.test>"), parse_party("Bram <bram@work.test>")],
        )
        case.status, case.outcome, case.closed_at = "closed", "settled", CLOSED
        session.add(case)
        return case.id


def exported(engine, case_id: int, at: datetime) -> None:
    with session_scope(engine) as session:
        session.add(CaseExport(case_id=case_id, sha256="0" * 64, manifest_sha256="0" * 64,
                               created_at=at))


def sweep(engine, now: datetime, retain_days: float = 30):
    with session_scope(engine) as session:
        notices = warn_due(session, now, retain_days)
        due = [case.id for case in purge_due(session, now, retain_days)]
        return notices, due


def test_the_mediator_is_warned_once_a_week_before_the_purge(engine):
    case_id = closed_case(engine)
    assert sweep(engine, CLOSED + timedelta(days=22, hours=23)) == ([], [])
    notices, due = sweep(engine, CLOSED + timedelta(days=23))
    [warning] = notices
    assert warning.kind == "purge-warning" and warning.recipient.role == "mediator"
    assert warning.case.id == case_id and due == []
    assert warning.context["purge_on"] == (CLOSED + timedelta(days=30)).date()
    assert warning.context["exported"] is False
    assert sweep(engine, CLOSED + timedelta(days=24)) == ([], [])  # never twice


def test_a_case_is_purged_only_after_retention_an_export_and_a_weeks_warning(engine):
    case_id = closed_case(engine)
    sweep(engine, CLOSED + timedelta(days=23))  # the warning
    assert sweep(engine, CLOSED + timedelta(days=30)) == ([], [])  # no export yet
    exported(engine, case_id, CLOSED + timedelta(days=1))
    assert sweep(engine, CLOSED + timedelta(days=29, hours=23)) == ([], [])
    assert sweep(engine, CLOSED + timedelta(days=30)) == ([], [case_id])


def test_a_late_warning_still_gives_the_mediator_a_full_week(engine):
    case_id = closed_case(engine)
    exported(engine, case_id, CLOSED + timedelta(hours=1))
    notices, due = sweep(engine, CLOSED + timedelta(days=40))  # the scheduler was down
    assert len(notices) == 1 and due == []
    assert notices[0].context["purge_on"] == (CLOSED + timedelta(days=47)).date()
    assert sweep(engine, CLOSED + timedelta(days=46))[1] == []
    assert sweep(engine, CLOSED + timedelta(days=47))[1] == [case_id]


def test_an_export_made_before_closing_does_not_count(engine):
    case_id = closed_case(engine)
    exported(engine, case_id, CLOSED - timedelta(days=1))
    sweep(engine, CLOSED + timedelta(days=23))
    assert sweep(engine, CLOSED + timedelta(days=60))[1] == []


def test_retain_days_zero_keeps_every_case(engine):
    closed_case(engine)
    assert sweep(engine, CLOSED + timedelta(days=3650), retain_days=0) == ([], [])


def test_the_purge_warning_renders_in_dutch_and_english(engine, tmp_path):
    closed_case(engine, title="Het huis")
    notices, _ = sweep(engine, CLOSED + timedelta(days=23))
    composer = Composer(domain="mediation.test", templates_dir=TEMPLATES)
    for lang, words in (("en", "will be deleted on"), ("nl", "wordt op")):
        subject, body = composer.render("purge-warning", lang, {
            **notices[0].context, "case": notices[0].case, "recipient": notices[0].recipient,
            "service_name": "Mediate",
        })
        assert words in subject and "#export" in body and "Het huis" in body


def test_purged_chain_survives_a_second_purge(engine):
    case_id = closed_case(engine)
    with session_scope(engine) as session:
        case = session.get(Case, case_id)
        first = purge(session, case)
        audit.record(session, case, "late-mail")
        second = purge(session, case)
        assert second.final_hash != first.final_hash
        assert audit.check(session, case) is None
        tomb = session.exec(select(Tombstone).where(Tombstone.case_id == case_id)).one()
        assert tomb.events == first.events + 2
        assert len(session.exec(select(AuditEvent).where(AuditEvent.case_id == case_id))
                   .all()) == 1
