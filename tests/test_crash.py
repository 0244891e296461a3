"""`kill -9` of a real `mediate serve`, or of one of its processes (the front door mid-DATA,
a worker mid-batch), at random moments during a burst of replies loses nothing and doubles
nothing: every mail that got a 250 becomes exactly one message, every copy
it causes reaches its recipient, and a copy that arrives twice is the very same mail (same
Message-ID), sent again because the process died between the relay's answer and the commit."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import time
from collections import Counter, defaultdict
from pathlib import Path

import httpx
from conftest import MEDIATOR
from serving import (
    ServeProcess,
    free_port,
    load,
    open_cases,
    processes_of,
    send_like_an_mta,
    write_config,
)
from sqlmodel import Session, select
from support import Sink, compose

from threads.db import make_engine
from threads.models import InboundMail, Message, OutgoingMail

CASES, PARTIES, REPLIES, KILLS = 3, 3, 200, 4


async def test_kill_9_during_a_burst_loses_and_doubles_nothing(tmp_path, sink):
    """kill -9 of the whole `mediate serve` (its supervisor, and with it every process)."""

    async def kill_all(serve: ServeProcess, rng: random.Random) -> None:
        serve.kill()
        serve.start()
        await serve.ready()

    await burst_with_kills(tmp_path, sink, kill_all)


async def test_kill_9_of_the_front_door_or_a_worker_during_a_burst_loses_and_doubles_nothing(
    tmp_path, sink
):
    """kill -9 of one process at a time, each kind in turn (a pipeline worker mid-batch, an
    outbox worker mid-send, the front door mid-conversation); the supervisor starts it again,
    and /healthz reports every process alive with its restarts."""
    victims = ["front", "pipeline-1", "outbox-1", "pipeline-2", "scheduler", "outbox-2"]
    killed: Counter = Counter()

    async def kill_one(serve: ServeProcess, rng: random.Random) -> None:
        victim = victims[sum(killed.values()) % len(victims)]
        before = await asyncio.to_thread(wait_for_processes, serve, victims)
        os.kill(before[victim], signal.SIGKILL)
        killed[victim] += 1
        await asyncio.to_thread(wait_for_processes, serve, victims, before[victim])
        await serve.ready()

    web_port = free_port()
    report = await burst_with_kills(
        tmp_path, sink, kill_one, kills=len(victims), web_port=web_port,
        serve_lines="pipeline_workers = 2\noutbox_workers = 2",
        before_stop=lambda: healthz(web_port))
    assert report["ok"] is True
    processes = {p["name"]: p for p in report["processes"]}
    assert set(processes) == set(victims)
    assert all(p["alive"] for p in processes.values()), processes
    assert {name: p["restarts"] for name, p in processes.items()} == {v: killed[v] for v in victims}
    assert len({p["pid"] for p in processes.values()}) == len(victims)


async def burst_with_kills(tmp_path, sink, kill, kills: int = KILLS, web_port: int = 0,
                           serve_lines: str = "", before_stop=None):
    """Send REPLIES replies in 8 lanes, calling ``kill`` at ``kills`` random points of the
    burst's progress; then check that every copy arrived once (or twice as the very same
    mail) and every reply is one message. Returns what ``before_stop`` returned."""
    rng = random.Random()
    seed = rng.randrange(10**6)
    rng.seed(seed)
    port = free_port()
    url = f"sqlite:///{tmp_path / 'mediate.sqlite3'}"
    config = write_config(tmp_path, url, port, sink.port, web_port=web_port, serve=serve_lines)
    opened = open_cases(load(config), CASES, PARTIES)
    serve = ServeProcess(config, port)
    serve.start()
    result = None
    try:
        await serve.ready()
        replies = []  # (marker, author, reply address, case index)
        for n in range(REPLIES):
            c, k = n % CASES, (n // CASES) % PARTIES
            name, address = opened[c].party_addresses[k]
            replies.append((f"MARK{n:04d}Z", f"p{k}.c{c}@home.test", address, c))
        accepted: set[str] = set()
        deadline = time.monotonic() + 60

        async def lane(share):
            for marker, author, address, _ in share:
                raw = compose(author, address, f"Reply {marker}: about the house.",
                              subject="Re: the house")
                if await send_like_an_mta(port, author, address, raw, deadline):
                    accepted.add(marker)

        burst = asyncio.gather(*(lane(replies[i::8]) for i in range(8)))
        # Kill at random points of the burst's progress (not of the clock), so that every
        # kill lands mid-burst however fast or slow the machine is.
        done = 0
        for threshold in sorted(rng.sample(range(5, REPLIES - 20), kills)):
            while len(accepted) < threshold and not burst.done():
                await asyncio.sleep(0.01)
            if burst.done():
                break
            await asyncio.sleep(rng.uniform(0, 0.05))
            await kill(serve, rng)
            done += 1
        await burst
        assert done == kills, f"the burst ended before {kills} kills (seed {seed})"
        assert len(accepted) == REPLIES, f"not every reply was accepted (seed {seed})"

        # Every accepted reply goes to the other parties and the mediator of its case.
        expected = {
            (marker, rcpt)
            for marker, author, _, c in replies
            for rcpt in [f"p{k}.c{c}@home.test" for k in range(PARTIES)] + [MEDIATOR]
            if rcpt != author
        }
        await wait_for_copies(sink, len(expected), timeout=60)
        if before_stop is not None:
            result = await before_stop()
        children = processes_of(serve.process.pid)
        assert await asyncio.to_thread(serve.terminate) == 0
        assert not any(Path(f"/proc/{pid}").exists() for pid in children.values())
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
    return result


async def test_kill_9_of_the_front_door_mid_data_loses_nothing(tmp_path, sink):
    """The front door dies while a reply's DATA is half sent: no 250 was given, so the sender
    tries again once the supervisor has started the front door again; the reply becomes one
    message and its copies arrive once."""
    port = free_port()
    url = f"sqlite:///{tmp_path / 'mediate.sqlite3'}"
    config = write_config(tmp_path, url, port, sink.port)
    opened = open_cases(load(config), 1, PARTIES)
    author, address = "p0.c0@home.test", opened[0].party_addresses[0][1]
    raw = compose(author, address, "Reply MARK0001Z: about the house.", subject="Re: house")
    serve = ServeProcess(config, port)
    serve.start()
    try:
        await serve.ready()
        front = processes_of(serve.process.pid)["front"]
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        await reader.readline()
        for line in (b"EHLO mta.home.test", f"MAIL FROM:<{author}>".encode(),
                     f"RCPT TO:<{address}>".encode(), b"DATA"):
            writer.write(line + b"\r\n")
            await writer.drain()
            while (answer := await reader.readline())[3:4] == b"-":
                pass
            assert answer[:1] in (b"2", b"3"), answer
        writer.write(raw[: len(raw) // 2].replace(b"\n", b"\r\n"))
        await writer.drain()
        os.kill(front, signal.SIGKILL)
        try:  # the connection dies without an answer (closed, or reset: unread bytes)
            assert await reader.read() == b""
        except ConnectionResetError:
            pass
        writer.close()
        await serve.ready()
        assert await send_like_an_mta(port, author, address, raw, time.monotonic() + 30)
        expected = {("MARK0001Z", r) for r in
                    [f"p{k}.c0@home.test" for k in range(1, PARTIES)] + [MEDIATOR]}
        await wait_for_copies(sink, len(expected), timeout=30)
        assert await asyncio.to_thread(serve.terminate) == 0
    finally:
        serve.ensure_stopped()
    got = Counter((m, d.rcpt_to) for d in sink.delivered for m in markers_in(d.raw))
    assert got == Counter(expected)
    engine = make_engine(url)
    with Session(engine) as session:
        assert len(session.exec(select(InboundMail)).all()) == 1
    engine.dispose()


def wait_for_processes(serve: ServeProcess, names: list[str], gone: int = 0,
                       timeout: float = 20.0) -> dict:
    """The pids of every process of ``serve`` once all of ``names`` are there (and the
    process ``gone`` is not)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = processes_of(serve.process.pid)
        if set(names) <= set(found) and gone not in found.values():
            return found
        time.sleep(0.02)
    raise TimeoutError(f"not all of {names} running: {found}\n{serve.output()}")


async def healthz(port: int) -> dict:
    async with httpx.AsyncClient() as client:
        deadline = time.monotonic() + 10
        while True:  # a restarted process posts its heartbeat within a second
            report = (await client.get(f"http://127.0.0.1:{port}/healthz")).json()
            if all(p["alive"] for p in report["processes"]) or time.monotonic() > deadline:
                return report
            await asyncio.sleep(0.2)


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
