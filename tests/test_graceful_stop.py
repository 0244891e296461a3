"""SIGTERM to a real `mediate serve`: new SMTP clients are greeted with 421, the copies on the
wire are finished and recorded, the rest are handed back untouched, and the process exits;
the next start sends the rest, and nothing arrives twice."""

from __future__ import annotations

import asyncio
import signal
import time
from collections import Counter
from dataclasses import dataclass, field

from serving import ServeProcess, free_port, load, open_cases, write_config
from sqlmodel import Session, select
from support import Sink

from threads.db import make_engine
from threads.models import OutgoingMail


@dataclass
class SlowSink(Sink):
    """Takes ``delay`` seconds to answer DATA, so a copy is surely on the wire."""

    delay: float = 0.0
    receiving: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        self.receiving.set()
        await asyncio.sleep(self.delay)
        return await super().handle_DATA(server, session, envelope)


async def greeting(port: int) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        return await asyncio.wait_for(reader.readline(), 5)
    finally:
        writer.close()


async def test_sigterm_refuses_new_mail_finishes_the_copies_on_the_wire_and_exits(tmp_path):
    sink = await SlowSink(delay=2.0).start()
    port = free_port()
    url = f"sqlite:///{tmp_path / 'mediate.sqlite3'}"
    config = write_config(tmp_path, url, port, sink.port)
    open_cases(load(config), 3)  # 12 invitations and confirmations, more than 4 lanes carry
    serve = ServeProcess(config, port)
    serve.start()
    try:
        await serve.ready()
        await asyncio.wait_for(sink.receiving.wait(), 20)
        serve.process.send_signal(signal.SIGTERM)
        answers = []
        deadline = time.monotonic() + 5
        while not answers or not answers[-1].startswith(b"421"):
            assert time.monotonic() < deadline, answers
            answers.append(await greeting(port))
        assert answers[-1].startswith(b"421 4.3.2")
        assert await asyncio.to_thread(serve.process.wait, 30) == 0
    finally:
        serve.ensure_stopped()

    engine = make_engine(url)
    with Session(engine) as session:
        rows = session.exec(select(OutgoingMail)).all()
        sent = {r.message_id for r in rows if r.status == "sent"}
        waiting = [r for r in rows if r.status == "pending"]
    delivered = Counter(d.message["Message-ID"] for d in sink.delivered)
    assert set(delivered) == sent and set(delivered.values()) == {1}
    assert waiting and all(r.claimed_until is None for r in waiting)

    sink.delay = 0.0
    serve.start()
    try:
        await serve.ready()
        expected = len(rows)
        give_up = time.monotonic() + 20
        while len(sink.delivered) < expected and time.monotonic() < give_up:
            await asyncio.sleep(0.1)
        assert await asyncio.to_thread(serve.terminate) == 0
    finally:
        serve.ensure_stopped()
        await sink.stop()
    delivered = Counter(d.message["Message-ID"] for d in sink.delivered)
    assert len(delivered) == expected and set(delivered.values()) == {1}
    engine.dispose()
