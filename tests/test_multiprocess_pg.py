"""Two real `mediate serve` machines on one PostgreSQL database, each with its own SMTP port and
two pipeline and two outbox workers, share a burst of replies: every reply becomes one message,
and every copy arrives exactly once (inbound mail and outgoing copies are claimed with FOR
UPDATE SKIP LOCKED)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
import uuid
from collections import Counter

import pytest
import sqlalchemy
from conftest import MEDIATOR, PG_URL
from serving import ServeProcess, free_port, load, open_cases, send_like_an_mta, write_config
from sqlmodel import Session, select
from support import compose
from test_crash import markers_in

from threads.db import make_engine
from threads.models import InboundMail, Message, OutgoingMail

pytestmark = pytest.mark.skipif(
    not PG_URL, reason="needs PostgreSQL: set MEDIATE_TEST_DATABASE_URL (CI does)"
)
CASES, PARTIES, REPLIES = 2, 3, 90


@pytest.fixture
def pg_schema_url():
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = sqlalchemy.create_engine(PG_URL)
    with admin.begin() as connection:
        connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    separator = "&" if "?" in PG_URL else "?"
    yield f"{PG_URL}{separator}options=-csearch_path%3D{schema}"
    with admin.begin() as connection:
        connection.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
    admin.dispose()


async def test_two_serve_processes_share_one_database_and_send_every_copy_once(
    tmp_path, pg_schema_url, sink
):
    ports = [free_port(), free_port()]
    configs = [write_config(tmp_path / f"m{i}", pg_schema_url, ports[i], sink.port,
                            serve="pipeline_workers = 2\noutbox_workers = 2")
               for i in range(2)]
    upgrade = subprocess.run(
        [sys.executable, "-m", "mediate.cli", "--config", str(configs[0]), "db", "upgrade"],
        capture_output=True, text=True, timeout=120,
    )
    assert upgrade.returncode == 0, upgrade.stderr
    opened = open_cases(load(configs[0]), CASES, PARTIES)
    machines = [ServeProcess(configs[i], ports[i], name=f"m{i}") for i in range(2)]
    try:
        for machine in machines:
            machine.start()
        for machine in machines:
            await machine.ready()
        replies = []
        for n in range(REPLIES):
            c, k = n % CASES, (n // CASES) % PARTIES
            replies.append((f"MARK{n:04d}Z", f"p{k}.c{c}@home.test",
                            opened[c].party_addresses[k][1], c))
        deadline = time.monotonic() + 40

        async def lane(share, port):
            accepted = 0
            for marker, author, address, _ in share:
                raw = compose(author, address, f"Reply {marker}.", subject="Re: the house")
                accepted += await send_like_an_mta(port, author, address, raw, deadline)
            return accepted

        # The burst is split across both machines, as several MX hosts would split it.
        counts = await asyncio.gather(*(lane(replies[i::8], ports[i % 2]) for i in range(8)))
        assert sum(counts) == REPLIES
        expected = Counter(
            (marker, rcpt)
            for marker, author, _, c in replies
            for rcpt in [f"p{k}.c{c}@home.test" for k in range(PARTIES)] + [MEDIATOR]
            if rcpt != author
        )
        give_up = time.monotonic() + 40
        while time.monotonic() < give_up:
            got = Counter((m, d.rcpt_to) for d in sink.delivered for m in markers_in(d.raw))
            if len(got) >= len(expected):
                break
            await asyncio.sleep(0.2)
        for machine in machines:
            assert await asyncio.to_thread(machine.terminate) == 0
    finally:
        for machine in machines:
            machine.ensure_stopped()

    got = Counter((m, d.rcpt_to) for d in sink.delivered for m in markers_in(d.raw))
    assert got == expected  # every relay arrived, exactly once, to the right people
    engine = make_engine(pg_schema_url)
    with Session(engine) as session:
        texts = session.exec(select(Message.text)).all()
        assert Counter(m for t in texts for m in markers_in(t.encode())) == Counter(
            r[0] for r in replies)
        deciders = set(session.exec(select(InboundMail.claimed_by)).all())
        senders = set(session.exec(select(OutgoingMail.claimed_by)).all())
        assert set(session.exec(select(OutgoingMail.status)).all()) == {"sent"}
    engine.dispose()
    # the work was shared by both machines (a claimant is "host:port/worker")
    machine = lambda claimants: {c.split("/")[0] for c in claimants - {None}}  # noqa: E731
    assert len(machine(deciders)) == 2 and len(machine(senders)) == 2
