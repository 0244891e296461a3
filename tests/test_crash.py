"""`kill -9` of a real `mediate serve` at random moments during a burst of replies loses
nothing and doubles nothing: every mail that got a 250 becomes exactly one message, every copy
it causes reaches its recipient, and a copy that arrives twice is the very same mail (same
Message-ID), sent again because the process died between the relay's answer and the commit."""

from __future__ import annotations

import asyncio
import random
import time
from collections import defaultdict

from conftest import MEDIATOR
from serving import ServeProcess, free_port, load, open_cases, send_like_an_mta, write_config
from sqlmodel import Session, select
from support import Sink, compose

from threads.db import make_engine
from threads.models import InboundMail, Message, OutgoingMail

CASES, PARTIES, REPLIES, KILLS = 3, 3, 200, 4


async def test_kill_9_during_a_burst_loses_and_doubles_nothing(tmp_path, sink):
    rng = random.Random()
    seed = rng.randrange(10**6)
    rng.seed(seed)
    port = free_port()
    url = f"sqlite:///{tmp_path / 'mediate.sqlite3'}"
    config = write_config(tmp_path, url, port, sink.port)
    opened = open_cases(load(config), CASES, PARTIES)
    serve = ServeProcess(config, port)
    serve.start()
    try:
        await serve.ready()
        replies = []  # (marker, author, reply address, case index)
        for n in range(REPLIES):
            c, k = n % CASES, (n // CASES) % PARTIES
            name, address = opened[c].party_addresses[k]
            replies.append((f"MARK{n:04d}Z", f"p{k}.c{c}@home.test", address, c))
        accepted: set[str] = set()
        deadline = time.monotonic() + 40

        async def lane(share):
            for marker, author, address, _ in share:
                raw = compose(author, address, f"Reply {marker}: about the house.",
                              subject="Re: the house")
                if await send_like_an_mta(port, author, address, raw, deadline):
                    accepted.add(marker)

        burst = asyncio.gather(*(lane(replies[i::8]) for i in range(8)))
        # Kill at random points of the burst's progress (not of the clock), so that every
        # kill lands mid-burst however fast or slow the machine is.
        kills = 0
        for threshold in sorted(rng.sample(range(5, REPLIES - 20), KILLS)):
            while len(accepted) < threshold and not burst.done():
                await asyncio.sleep(0.01)
            if burst.done():
                break
            await asyncio.sleep(rng.uniform(0, 0.05))
            serve.kill()
            kills += 1
            serve.start()
            await serve.ready()
        await burst
        assert kills == KILLS, f"the burst ended before {KILLS} kills (seed {seed})"
        assert len(accepted) == REPLIES, f"not every reply was accepted (seed {seed})"

        # Every accepted reply goes to the other parties and the mediator of its case.
        expected = {
            (marker, rcpt)
            for marker, author, _, c in replies
            for rcpt in [f"p{k}.c{c}@home.test" for k in range(PARTIES)] + [MEDIATOR]
            if rcpt != author
        }
        await wait_for_copies(sink, len(expected), timeout=40)
        assert await asyncio.to_thread(serve.terminate) == 0
    finally:
        serve.ensure_stopped()

    received = defaultdict(list)  # (marker, recipient) -> Message-IDs that arrived
    for delivered in sink.delivered:
        for marker in markers_in(delivered.raw):
            received[(marker, delivered.rcpt_to)].append(delivered.message["Message-ID"])
    assert set(received) == expected, f"missing or misdirected copies (seed {seed})"
    for key, message_ids in received.items():
        assert len(set(message_ids)) == 1, f"{key} arrived as different mails (seed {seed})"

    engine = make_engine(url)
    with Session(engine) as session:
        texts = session.exec(select(Message.text)).all()
        per_marker = defaultdict(int)
        for text in texts:
            for marker in markers_in(text.encode()):
                per_marker[marker] += 1
        assert per_marker == dict.fromkeys(accepted, 1), f"not exactly once (seed {seed})"
        statuses = set(session.exec(select(InboundMail.status)).all())
        assert statuses <= {"processed", "duplicate"}, statuses
        assert set(session.exec(select(OutgoingMail.status)).all()) == {"sent"}
    engine.dispose()
    assert "database is locked" not in serve.output()
    # Every start warns that the From address alone makes a mediator (serving.write_config).
    assert all("inbound.mediator_authentication is" in log.read_text(errors="replace")
               for log in serve.logs)


def markers_in(raw: bytes) -> set[str]:
    text = raw.decode("utf-8", "replace")
    found, start = set(), 0
    while (start := text.find("MARK", start)) != -1:
        candidate = text[start:start + 9]
        if candidate.endswith("Z") and candidate[4:8].isdigit():
            found.add(candidate)
        start += 4
    return found


async def wait_for_copies(sink: Sink, count: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = {(m, d.rcpt_to) for d in sink.delivered for m in markers_in(d.raw)}
        if len(got) >= count:
            return
        await asyncio.sleep(0.2)
