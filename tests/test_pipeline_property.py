"""Mutated mail through the whole pipeline (issue 9, part 10), property-based with hypothesis.

Whatever arrives (truncated MIME, flipped bytes, lost or doubled header lines, 500-character
header lines, NUL bytes, no From, no Message-ID, no boundaries, bad base64) is stored, then
decided: it ends processed, ignored, duplicate or quarantined with a reason. No exception
escapes the pipeline, and no stored mail is left without a final status.

And mail arriving again (issue 12): redelivered, or to several of a case's addresses, each
mail is carried out exactly once (a stateful test).
"""

from __future__ import annotations

import base64
import re
import shutil
import tempfile
from pathlib import Path

import pytest
from conftest import MEDIATOR, make_settings
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from sqlmodel import Session, select
from support import DKIM_KEY, compose

from mailgate.smtp_server import store_inbound
from mediate import casework
from mediate.service import Service
from threads.lookup import is_address
from threads.models import InboundMail, Message, Participant, TimeEntry

ANNA, BRAM = "anna@home.test", "bram@work.test"
FINAL = {"processed", "ignored", "duplicate", "quarantined"}


@pytest.fixture
def world(tmp_path: Path):
    """A real Service on SQLite (not started: the test drives the pipeline) with one case."""
    config = make_settings(tmp_path, f"sqlite:///{tmp_path / 'property.sqlite3'}",
                           outbound={"transport": "memory"})
    service = Service.build(config, dkim_dns=DKIM_KEY.dns)
    opened = casework.open_case(
        config, title="Sharing the house", mediator_email=MEDIATOR,
        parties=[f"Anna Jansen <{ANNA}>", f"Bram de Boer <{BRAM}>"], moderation="open",
        language="en", engine=service.engine,
    )
    yield service, dict(opened.party_addresses)["Anna Jansen"]
    service.engine.dispose()


def seeds(address: str) -> list[bytes]:
    plain = compose(ANNA, address, "I would like to keep the sofa.\n\nAnna")
    payload = base64.encodebytes(b"%PDF-1.4 an offer\n" * 20).decode()
    boundary = "b1_mutation_test"
    multipart = (
        f"From: Anna Jansen <{ANNA}>\r\nTo: {address}\r\nSubject: Re: [2026-001] offer\r\n"
        f"Message-ID: <multi@home.test>\r\nMIME-Version: 1.0\r\n"
        f"Content-Type: multipart/mixed; boundary=\"{boundary}\"\r\n\r\n"
        f"--{boundary}\r\nContent-Type: multipart/alternative; boundary=\"alt_{boundary}\"\r\n\r\n"
        f"--alt_{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\n"
        f"Content-Transfer-Encoding: quoted-printable\r\n\r\n"
        f"Mijn voorstel staat in de bijlage=\r\n.\r\n"
        f"--alt_{boundary}\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
        f"<p>Mijn voorstel staat in de <b>bijlage</b>.</p>\r\n--alt_{boundary}--\r\n"
        f"--{boundary}\r\nContent-Type: application/pdf; name=\"offer.pdf\"\r\n"
        f"Content-Disposition: attachment; filename=\"offer.pdf\"\r\n"
        f"Content-Transfer-Encoding: base64\r\n\r\n{payload}\r\n--{boundary}--\r\n"
    ).encode()
    return [plain, multipart]


def _lines(raw: bytes) -> tuple[list[bytes], bytes]:
    head, sep, body = raw.partition(b"\r\n\r\n")
    return head.split(b"\r\n"), sep + body


def _head(lines: list[bytes], body: bytes) -> bytes:
    return b"\r\n".join(lines) + body


# Each mutation: (raw, draw) -> raw; ``draw`` is hypothesis' data.draw.
def truncate(raw, draw):
    return raw[: draw(st.integers(0, len(raw)))]


def flip_bytes(raw, draw):
    data = bytearray(raw)
    for _ in range(draw(st.integers(1, 8))):
        i = draw(st.integers(0, len(data) - 1)) if data else 0
        if data:
            data[i] ^= draw(st.integers(1, 255))
    return bytes(data)


def delete_header_line(raw, draw):
    lines, body = _lines(raw)
    if lines:
        del lines[draw(st.integers(0, len(lines) - 1))]
    return _head(lines, body)


def duplicate_header_line(raw, draw):
    lines, body = _lines(raw)
    if lines:
        i = draw(st.integers(0, len(lines) - 1))
        lines.insert(i, lines[i])
    return _head(lines, body)


def long_header_line(raw, draw):
    lines, body = _lines(raw)
    name = draw(st.sampled_from([b"Subject", b"X-Mailer", b"References", b"From"]))
    value = draw(st.sampled_from([b"a", b"<x@y> ", b"\xc3\xa9", b"=?utf-8?q?=C3=A9?= "]))
    lines.insert(draw(st.integers(0, len(lines))), name + b": " + (value * 500)[:500])
    return _head(lines, body)


def nul_bytes(raw, draw):
    data = bytearray(raw)
    for _ in range(draw(st.integers(1, 5))):
        data.insert(draw(st.integers(0, len(data))), 0)
    return bytes(data)


def remove_header(raw, draw):
    name = draw(st.sampled_from([b"from", b"message-id", b"content-type", b"to"]))
    lines, body = _lines(raw)
    return _head([line for line in lines if not line.lower().startswith(name + b":")], body)


def remove_boundaries(raw, draw):
    return re.sub(rb"(?m)^--[^\r\n]*\r?\n?", b"", raw)


def bad_base64(raw, draw):
    junk = draw(st.sampled_from([b"!!!not base64@@@", b"QUJD=RE", b"====", b"\xff\xfe"]))
    return re.sub(rb"(?m)^[A-Za-z0-9+/]{20,}=*$", lambda _: junk, raw, count=3)


MUTATIONS = [truncate, flip_bytes, delete_header_line, duplicate_header_line, long_header_line,
             nul_bytes, remove_header, remove_boundaries, bad_base64]


@settings(max_examples=75, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_mutated_mail_ends_processed_or_quarantined_and_nothing_is_lost(world, data):
    service, address = world
    raw = data.draw(st.sampled_from(seeds(address)), label="seed")
    for mutation in data.draw(st.lists(st.sampled_from(MUTATIONS), min_size=1, max_size=3),
                              label="mutations"):
        raw = mutation(raw, data.draw)

    row_id = store_inbound(service.engine, raw, ANNA, [address], "smtp")
    service.pipeline.process(row_id)  # raises nothing: every failure becomes a quarantine

    with Session(service.engine) as session:
        row = session.get(InboundMail, row_id)
        assert row is not None and row.status in FINAL, (row and row.status, raw[:300])
        if row.status == "quarantined":
            assert row.reason, raw[:300]
        assert not session.exec(
            select(InboundMail).where(InboundMail.status == "pending")).all()


# --- redeliveries (issue 12): commands happen once, nothing accepted disappears ----------------

class Redeliveries(RuleBasedStateMachine):
    """Mail from parties and the mediator arrives, and some of it again, or to several of the
    case's addresses at once. Whatever the order, each mail is carried out exactly once."""

    def __init__(self) -> None:
        super().__init__()
        self.folder = Path(tempfile.mkdtemp(prefix="redeliveries-"))
        config = make_settings(self.folder, f"sqlite:///{self.folder / 'r.sqlite3'}",
                               outbound={"transport": "memory"})
        self.service = Service.build(config, dkim_dns=DKIM_KEY.dns)
        opened = casework.open_case(
            config, title="House", mediator_email=MEDIATOR,
            parties=[f"Anna Jansen <{ANNA}>", f"Bram de Boer <{BRAM}>"], moderation="open",
            language="en", engine=self.service.engine)
        self.address = {**dict(opened.party_addresses), "mediator": opened.mediator_address}
        self.sent: list[tuple[bytes, str, list[str]]] = []  # every distinct mail
        self.minutes = 0  # what the distinct #time mails logged
        self.party_mails = 0

    def deliver(self, raw: bytes, sender: str, rcpts: list[str]) -> None:
        row_id = store_inbound(self.service.engine, raw, sender, rcpts, "smtp")
        self.service.pipeline.process(row_id)

    @rule(minutes=st.integers(1, 300), copies=st.integers(1, 3))
    def mediator_logs_time(self, minutes: int, copies: int) -> None:
        own = self.address["mediator"]
        rcpts = [own, self.address["Anna Jansen"], self.address["Bram de Boer"]][:copies]
        raw = compose(MEDIATOR, own, f"#time {minutes}m")
        self.sent.append((raw, MEDIATOR, rcpts))
        self.minutes += minutes
        self.deliver(raw, MEDIATOR, rcpts)

    @rule(words=st.text(alphabet="abcdefgh ", min_size=3, max_size=30).filter(str.strip))
    def anna_writes(self, words: str) -> None:
        raw = compose(ANNA, self.address["Anna Jansen"], f"Anna says {words}.")
        self.sent.append((raw, ANNA, [self.address["Anna Jansen"]]))
        self.party_mails += 1
        self.deliver(raw, ANNA, [self.address["Anna Jansen"]])

    @precondition(lambda self: self.sent)
    @rule(pick=st.integers(0, 1000))
    def a_mail_arrives_again(self, pick: int) -> None:
        raw, sender, rcpts = self.sent[pick % len(self.sent)]
        self.deliver(raw, sender, rcpts)

    @invariant()
    def each_mail_was_carried_out_once_and_none_disappeared(self) -> None:
        with Session(self.service.engine) as session:
            logged = sum(t.minutes for t in session.exec(select(TimeEntry)))
            assert logged == self.minutes
            messages = session.exec(select(Message).where(Message.author_id.in_(
                select(Participant.id).where(
                    is_address(session, Participant.email_hash, ANNA))))).all()
            assert len(messages) == self.party_mails
            statuses = [row.status for row in session.exec(select(InboundMail))]
            assert all(status in FINAL - {"quarantined"} for status in statuses), statuses

    def teardown(self) -> None:
        self.service.engine.dispose()
        shutil.rmtree(self.folder, ignore_errors=True)


Redeliveries.TestCase.settings = settings(
    max_examples=8, stateful_step_count=10, deadline=None,
    suppress_health_check=[HealthCheck.too_slow])
test_redeliveries_carry_each_mail_out_once = Redeliveries.TestCase
