"""A reply relayed to 30 parties costs work per reply, not per copy (issue 16).

The relay benchmark (bench/README.md) sends each reply to 30 parties; a profile of serve put
most of the outbox worker's time in statements it issued once per copy (claiming each copy as
an object, recording each as sent with its own UPDATE) and a fifth of each composed copy in
encoding the same words again. What a relay costs is counted here, in statements and in
encodings, so that a change making it grow with the copies fails a test instead of waiting for
a bench run. Each party still gets a copy of their own, from their own reply address, naming
no other party's address.
"""

from __future__ import annotations

import re
from email import message_from_bytes

import pytest
from conftest import MEDIATOR, make_settings
from sqlalchemy import event
from support import DKIM_KEY, compose

from mailgate import compose as composing
from mailgate.smtp_server import store_inbound
from mediate import casework
from mediate.service import Service


class Counter:
    """Statements as the database runs them: an ``executemany`` (the ORM's flush of 30
    changed rows) counts once per row."""

    def __init__(self, engine) -> None:  # noqa: ANN001
        self.engine = engine
        self.statements: list[str] = []
        event.listen(engine, "before_cursor_execute", self._statement)

    def _statement(self, _conn, _cursor, statement, parameters, _context,  # noqa: ANN001
                   executemany: bool) -> None:
        self.statements += [" ".join(statement.split())] * (
            len(parameters) if executemany else 1)

    def stop(self) -> None:
        event.remove(self.engine, "before_cursor_execute", self._statement)

    def updates(self, table: str) -> int:
        return sum(1 for s in self.statements if s.upper().startswith(f"UPDATE {table.upper()}"))

    def per_reply(self) -> list[str]:
        """All but the rows each copy is: itself and its recipient's thread."""
        return [s for s in self.statements if not s.upper().startswith(
            ("INSERT INTO OUTGOINGMAIL", "INSERT INTO THREADROOT", "UPDATE THREADROOT"))]


@pytest.fixture
def driven(tmp_path, database_url):
    """A Service that is not started: the test drives the pipeline and the outbox itself."""
    built = Service.build(make_settings(tmp_path, database_url, outbound={"transport": "memory"}),
                          dkim_dns=DKIM_KEY.dns)
    yield built
    built.engine.dispose()


async def _drain(service: Service) -> None:
    while await service.outbox.deliver_due():
        pass


async def relay(service: Service, parties: int, monkeypatch) -> tuple:  # noqa: ANN001
    """Open an open-mode case of ``parties`` parties, let its invitations go, then relay one
    reply of the first party; return its copies, the case's addresses, the statements and the
    number of text encodings the relay took."""
    emails = [f"party{n}.{parties}@home.test" for n in range(parties)]
    opened = casework.open_case(
        service.settings, title="Sharing the land", mediator_email=MEDIATOR,
        parties=[f"Party {n} <{email}>" for n, email in enumerate(emails)], moderation="open",
        language="en", engine=service.engine,
    )
    await _drain(service)
    addresses = dict(opened.party_addresses)
    service.outbox.transport.sent.clear()
    encodings = []
    monkeypatch.setattr(composing, "MIMEText", lambda *a, **k: encodings.append(1) or
                        _MIMEText(*a, **k))
    counter = Counter(service.engine)
    raw = compose(emails[0], addresses["Party 0"], "We could sell the land in the spring.")
    service.pipeline.process(store_inbound(service.engine, raw, emails[0],
                                           [addresses["Party 0"]], "smtp"))
    await _drain(service)
    counter.stop()
    monkeypatch.undo()
    return service.outbox.transport.sent[:], emails, addresses, counter, len(encodings)


_MIMEText = composing.MIMEText


async def test_each_of_30_parties_gets_their_own_copy_and_the_mediator_one(driven, monkeypatch):
    sent, emails, addresses, _, _ = await relay(driven, 30, monkeypatch)
    assert sorted(env.rcpt_to for env in sent) == sorted([*emails[1:], MEDIATOR])
    for env in sent:
        mail = message_from_bytes(env.raw)
        if env.rcpt_to == MEDIATOR:
            assert "We could sell the land in the spring." in mail.get_payload(decode=True).decode()
            continue
        number = int(re.match(r"party(\d+)\.", env.rcpt_to).group(1))
        assert mail["Reply-To"] == addresses[f"Party {number}"]
        others = [email for email in emails if email != env.rcpt_to]
        assert not any(other.encode() in env.raw for other in others)
        others = [a for name, a in addresses.items() if name != f"Party {number}"]
        assert not any(other.encode() in env.raw for other in others)
    assert len({message_from_bytes(env.raw)["Message-ID"] for env in sent}) == 30


async def test_a_reply_to_30_parties_costs_what_one_to_3_does(driven, monkeypatch):
    """Claimed in one UPDATE, recorded as sent in one more; the words encoded once for the
    parties and once for the mediator's copy (the code before: 60 UPDATEs of copies, 30
    encodings)."""
    few = await relay(driven, 3, monkeypatch)
    many = await relay(driven, 30, monkeypatch)
    assert (len(few[0]), len(many[0])) == (3, 30)
    assert many[3].updates("outgoingmail") == few[3].updates("outgoingmail") == 2
    assert len(many[3].per_reply()) == len(few[3].per_reply())
    assert many[4] <= 2
