"""The administrator's tools: `mediate outbox list|retry|purge-failed`, the health report
behind /healthz, and log lines that are one per decision with addresses redacted."""

from __future__ import annotations

import io
import logging
from datetime import timedelta

from conftest import MEDIATOR
from serving import free_port, load, write_config
from sqlmodel import Session, select

from mediate import casework
from mediate.cli import main
from mediate.health import health
from mediate.logging_setup import LogfmtFormatter, configure
from threads.db import make_engine
from threads.models import OutgoingMail, utcnow


def failed_case(tmp_path, database_url):
    config = write_config(tmp_path, database_url, free_port(), free_port())
    casework.open_case(load(config), title="House", mediator_email=MEDIATOR,
                       parties=["Anna <anna@home.test>", "Bram <bram@home.test>"])
    engine = make_engine(load(config).database_url)
    with Session(engine) as session:
        rows = session.exec(select(OutgoingMail).order_by(OutgoingMail.id)).all()
        rows[0].status, rows[0].attempts = "failed", 3
        rows[0].last_error = "550 5.1.1 <anna@home.test>: no such user"
        rows[0].created_at = utcnow() - timedelta(days=40)
        session.add(rows[0])
        session.commit()
        ids = [r.id for r in rows]
    return str(config), engine, ids


def statuses(engine) -> list[str]:
    with Session(engine) as session:
        return list(session.exec(select(OutgoingMail.status).order_by(OutgoingMail.id)))


def test_outbox_list_shows_waiting_and_failed_copies_with_addresses_redacted(
    tmp_path, database_url, capsys
):
    config, engine, ids = failed_case(tmp_path, database_url)
    assert main(["--config", config, "outbox", "list"]) == 0
    out = capsys.readouterr().out
    assert "1 failed, 2 pending" in out
    assert "a***@home.test" in out and "anna@home.test" not in out.replace("a***", "")
    assert "550 5.1.1" in out
    assert main(["--config", config, "outbox", "list", "--status", "failed", "--addresses"]) == 0
    out = capsys.readouterr().out
    assert f"{ids[0]:>7} failed" in out and "anna@home.test" in out
    engine.dispose()


def test_outbox_retry_makes_failed_copies_due_again(tmp_path, database_url, capsys):
    config, engine, ids = failed_case(tmp_path, database_url)
    assert main(["--config", config, "outbox", "retry"]) == 1  # says what to name
    assert main(["--config", config, "outbox", "retry", "--all-failed"]) == 0
    assert "1 copies will be sent again" in capsys.readouterr().out
    assert statuses(engine) == ["pending"] * 3
    with Session(engine) as session:
        row = session.get(OutgoingMail, ids[0])
        assert row.next_attempt_at.replace(tzinfo=None) <= utcnow().replace(tzinfo=None)
    engine.dispose()


def test_outbox_purge_failed_deletes_only_old_failed_copies(tmp_path, database_url, capsys):
    config, engine, ids = failed_case(tmp_path, database_url)
    assert main(["--config", config, "outbox", "purge-failed", "--older-than", "60"]) == 0
    assert "Deleted 0" in capsys.readouterr().out
    assert main(["--config", config, "outbox", "purge-failed"]) == 0
    assert "Deleted 1 failed" in capsys.readouterr().out
    assert statuses(engine) == ["pending", "pending"]
    engine.dispose()


async def test_health_reports_database_backlog_and_scheduler(service, sink):
    sink.answers["anna@home.test"] = "451 4.3.0 try later"
    casework.open_case(service.settings, title="House", mediator_email=MEDIATOR,
                       parties=["Anna <anna@home.test>", "Bram <bram@home.test>"],
                       engine=service.engine)
    await service.settle()
    report = health(service)
    assert report["ok"] and report["database"]["ok"] and report["accepting_mail"]
    assert report["outbox"]["pending"] == 1 and report["outbox"]["deferred"] == 1
    assert report["outbox"]["due"] == 0 and report["outbox"]["failed"] == 0
    assert report["outbox"]["oldest_pending_seconds"] >= 0
    assert report["inbound"] == {"pending": 0, "quarantined": 0}
    assert "scheduler" in report
    assert report["claimant"].endswith(f":{service.smtp_port}")


def test_a_log_line_is_one_line_per_decision_with_its_reason_and_no_address():
    stream = io.StringIO()
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    configure("INFO", stream)
    try:
        log = logging.getLogger("mediate.outbox")
        log.warning("copy failed", extra={
            "case": "2026-014", "copy": 812, "to": "anna.jansen@example.org",
            "reason": "refused: 550 5.1.1 <anna.jansen@example.org> no such user"})
        try:
            raise ValueError("bad\nthing for bram@example.net")
        except ValueError:
            log.exception("inbound 3 quarantined")
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
    first, second = stream.getvalue().splitlines()
    assert 'msg="copy failed" case=2026-014 copy=812 to=a***@example.org' in first
    assert 'reason="refused: 550 5.1.1 <a***@example.org> no such user"' in first
    assert "level=warning logger=mediate.outbox" in first
    assert "exc=" in second and "b***@example.net" in second and "bram@" not in second
    assert LogfmtFormatter().format(logging.makeLogRecord({"msg": "x y"})).endswith('msg="x y"')
