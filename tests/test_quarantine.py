"""Nothing is set aside silently (issue 12): a mail we could not process because of our own
fault is kept, announced to the mediator, counted, listed and retried by the administrator;
its text never reaches the log or the stored reason."""

from __future__ import annotations

import email
import logging

import pytest
from conftest import DOMAIN, MEDIATOR
from serving import write_config
from sqlmodel import Session, select
from support import compose, smtp_send
from test_walking_skeleton import ANNA, open_case

import threads.rules
from mailgate.authentication import strict_from
from mediate.cli import main
from mediate.health import backlog
from threads.models import InboundMail, TimeEntry

SECRET_WORDS = "the secret of anna@home.test"


def broken(situation):
    raise ValueError(f"a fault that quotes the mail: {SECRET_WORDS}")


async def test_a_mail_we_could_not_process_is_announced_listed_and_retried(
        service, sink, monkeypatch, caplog, capsys, tmp_path, database_url):
    opened, address = await open_case(service)
    sink.delivered.clear()
    monkeypatch.setattr(threads.rules, "RULES", (broken, *threads.rules.RULES))
    raw = compose(MEDIATOR, address[MEDIATOR], f"#time 1h\n{SECRET_WORDS}")
    with caplog.at_level(logging.DEBUG):
        await smtp_send(service.smtp_port, MEDIATOR, [address[MEDIATOR]], raw)
        await service.settle()
    with Session(service.engine) as session:
        row = session.exec(select(InboundMail)).all()[-1]
        assert row.status == "quarantined" and row.case_id is not None
        assert row.reason.startswith("internal error: ValueError in threads/")
        assert "secret" not in row.reason and "anna" not in row.reason
        assert backlog(session)["inbound"]["quarantined"] == 1
    assert "secret" not in caplog.text and "anna@" not in caplog.text
    [told] = [d for d in sink.to(MEDIATOR) if "could not be processed" in d.text]
    assert f"mediate inbound retry {row.id}" in told.text
    assert "secret" not in told.text

    config = write_config(tmp_path / "admin", database_url, 2525, 2526)
    assert main(["--config", str(config), "inbound", "list"]) == 0
    listing = capsys.readouterr().out
    assert f"{row.id:>6}" in listing and opened.ref in listing and "ValueError" in listing
    assert MEDIATOR not in listing  # the sender is shown redacted

    monkeypatch.undo()  # the fault is fixed
    assert main(["--config", str(config), "inbound", "retry", str(row.id)]) == 0
    await service.settle()
    with Session(service.engine) as session:
        assert session.get(InboundMail, row.id).status == "processed"
        assert len(session.exec(select(TimeEntry)).all()) == 1
    assert main(["--config", str(config), "inbound", "list"]) == 0
    assert "No mail is waiting" in capsys.readouterr().out


async def test_retrying_mail_that_is_not_quarantined_changes_nothing(
        service, sink, capsys, tmp_path, database_url):
    opened, address = await open_case(service)
    await smtp_send(service.smtp_port, ANNA, [address[ANNA]], compose(ANNA, address[ANNA], "Hi"))
    await service.settle()
    with Session(service.engine) as session:
        row = session.exec(select(InboundMail)).all()[-1]
    config = write_config(tmp_path / "admin", database_url, 2525, 2526)
    assert main(["--config", str(config), "inbound", "retry", str(row.id)]) == 0
    assert "not quarantined (nothing done)" in capsys.readouterr().out
    with Session(service.engine) as session:
        assert session.get(InboundMail, row.id).status == "processed"


@pytest.mark.parametrize(("value", "expected"), [
    (MEDIATOR, MEDIATOR),
    (f"Maria de Vries <{MEDIATOR.upper()}>", MEDIATOR),
    (f'"{MEDIATOR}" <{MEDIATOR}>', MEDIATOR),  # a name that repeats the address is fine
    (f"{MEDIATOR} <attacker@evil.test>", None),  # two addresses, unquoted
    (f'"{MEDIATOR}" <attacker@evil.test>', None),  # the display-name trick
    (f'"Maria ({MEDIATOR})" <attacker@evil.test>', None),
    (f"{MEDIATOR}, attacker@evil.test", None),
    ("Maria de Vries", None),
])
def test_the_from_header_is_read_strictly(value, expected):
    raw = f"From: {value}\r\nTo: x@{DOMAIN}\r\nSubject: s\r\n\r\nbody\r\n".encode()
    assert strict_from(email.message_from_bytes(raw)) == expected
