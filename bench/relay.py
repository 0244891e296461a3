"""Scenarios ``relay`` and ``attachment``: replies into open-mode cases of 30 parties.

relay: R replies are sent into open-mode cases; each becomes 30 copies (29 parties and the
mediator), delivered by serve's ``smtp`` transport into the sink. The clock runs from the first
send to the last copy received. Baseline: the same number of personalised copies sent straight
to the same sink by a bare aiosmtplib sender with the same connection reuse and parallelism as
serve's transport (``outbound.connections`` = 4 reused connections).

attachment: one reply with a 25 MB attachment into a 30-party case; the figures are the peak
resident memory of serve above its idle level (the kernel's VmHWM after resetting it through
/proc/<pid>/clear_refs, sampled as a fallback) against the attachment size, and the time until
the last copy, against a bare transfer of the same mail into the no-op aiosmtpd server.
"""

from __future__ import annotations

import asyncio
import time
import uuid

import aiosmtplib

from bench import mails
from bench.env import PARTIES, Env, Profile
from bench.report import Row
from bench.smtpload import HOST, Job, median, run_load, stuff

CONNECTIONS = 4  # outbound.connections in the benchmark's config
TARGET_RELAY = 0.5
TARGET_MEMORY = 4.0


def reply_jobs(env: Env, count: int, template: bytes) -> list[Job]:
    jobs = []
    for number in range(count):
        case = env.open_cases[number % len(env.open_cases)]
        email, address = case.parties[(number // len(env.open_cases)) % len(case.parties)]
        raw = mails.personalise(template, email, address, f"<{uuid.uuid4().hex}@client.test>")
        jobs.append(Job(email, [address], stuff(raw)))
    return jobs


async def bare_fanout(port: int, copies: list[tuple[str, bytes]], lanes: int) -> float:
    """Send personalised copies over ``lanes`` reused aiosmtplib connections."""
    async def lane(share: list[tuple[str, bytes]]) -> None:
        client = aiosmtplib.SMTP(hostname=HOST, port=port, timeout=30)
        await client.connect()
        try:
            for rcpt, raw in share:
                await client.sendmail("bounces@mediation.bench.test", [rcpt], raw)
        finally:
            await client.quit()

    started = time.monotonic()
    await asyncio.gather(*(lane(copies[i::lanes]) for i in range(lanes)))
    return started


async def run(env: Env, profile: Profile, label: str = "") -> list[Row]:
    template = mails.reply(4096)
    text = mails.new_words(4096)
    replies = profile.relay_replies
    expected = replies * PARTIES
    reply_rates, copy_rates, bare_rates, ratios = [], [], [], []
    for _ in range(profile.rounds):
        copies = [(f"p{i}@bench.test",
                   mails.relay_copy(f"P{i} <p{i}@bench.test>", "case+token@mediation.bench.test",
                                    f"<{uuid.uuid4().hex}@mediation.bench.test>", text))
                  for i in range(expected)]
        env.sink.reset()
        started = await bare_fanout(env.sink.port, copies, CONNECTIONS)
        await env.sink.wait_for(expected, profile.deadline)
        bare_seconds = env.sink.last - started

        env.sink.reset()
        jobs = reply_jobs(env, replies, template)
        started = time.monotonic()
        sent = await run_load(env.serve.port, jobs, CONNECTIONS, profile.deadline)
        if not await env.sink.wait_for(expected, profile.deadline):
            env.note(f"relay{label}: {env.sink.count} of {expected} copies arrived in time")
        ours = max(env.sink.last - started, 1e-9)
        if sent.errors:
            env.note(f"relay{label}: {len(sent.errors)} send errors, e.g. {sent.errors[0]}")
        await env.probe.settle(profile.settle_seconds)
        reply_rates.append(replies / ours)
        copy_rates.append(env.sink.count / ours)
        bare_rates.append(expected / bare_seconds)
        ratios.append(copy_rates[-1] / bare_rates[-1])
    variant = f"{replies} replies x {PARTIES} copies"
    ratio = median(ratios)
    return [
        Row(f"relay{label}", variant, "copies/s", median(copy_rates), median(bare_rates), ratio,
            f">= {TARGET_RELAY}", ratio >= TARGET_RELAY, rounds=ratios),
        Row(f"relay{label}", variant, "replies/s", median(reply_rates),
            median(bare_rates) / PARTIES, ratio),
    ]


async def _sample(env: Env, sampled: list[int], stop: asyncio.Event, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not stop.is_set() and time.monotonic() < deadline:
        sampled.append(env.serve.rss())
        await asyncio.sleep(0.01)


async def attachment(env: Env, profile: Profile) -> list[Row]:
    size = profile.attachment_bytes
    case = env.attachment_case
    email, address = case.parties[0]
    template = mails.reply(4096, size)
    above, together, seconds, bare_seconds = [], [], [], []
    each: dict[str, list[int]] = {}  # process name -> its peak above its idle, per round
    for _ in range(profile.attachment_rounds):
        raw = mails.personalise(template, email, address, f"<{uuid.uuid4().hex}@client.test>")
        job = Job(email, [address], stuff(raw))
        bare = await run_load(env.noop.port, [job], 1, profile.deadline)
        bare_seconds.append(bare.seconds)
        await env.probe.settle(profile.settle_seconds)
        idle = env.serve.rss()
        idle_each = env.serve.by_process("VmRSS")
        exact = env.serve.reset_peak()
        env.sink.reset()
        sampled = [idle]
        stop = asyncio.Event()
        sampler = asyncio.create_task(_sample(env, sampled, stop, 2 * profile.deadline))
        started = time.monotonic()
        sent = await run_load(env.serve.port, [job], 1, profile.deadline)
        arrived = await env.sink.wait_for(PARTIES, 2 * profile.deadline)
        await env.probe.settle(profile.settle_seconds)
        stop.set()
        await sampler
        if sent.errors or not arrived:
            env.note(f"attachment: errors {sent.errors[:1]}, {env.sink.count} copies arrived")
        peak = env.serve.peak() if exact else max(sampled)
        above.append(max(peak, max(sampled)) - idle)
        together.append(max(sampled) - idle)
        if exact:
            for name, hwm in env.serve.by_process("VmHWM").items():
                each.setdefault(name, []).append(hwm - idle_each.get(name, hwm))
        seconds.append(env.sink.last - started)
    variant = f"{size / 1e6:.0f} MB to {PARTIES}"
    rows = []
    if each:  # the kernel's per-process peaks (not when clear_refs is refused)
        largest = max(median(v) for v in each.values())
        rows.append(Row("attachment", variant, "peak MB above idle (largest process)",
                        largest / 1e6, size / 1e6, largest / size, f"< {TARGET_MEMORY}",
                        largest / size < TARGET_MEMORY))
        rows += [Row("attachment", variant, f"peak MB above idle ({name})", median(v) / 1e6,
                     size / 1e6, median(v) / size) for name, v in sorted(each.items())]
    memory_ratio = median(above) / size
    return [
        *rows,
        Row("attachment", variant, "peak MB above idle (sum of the processes' peaks)",
            median(above) / 1e6, size / 1e6, memory_ratio, f"< {TARGET_MEMORY}",
            memory_ratio < TARGET_MEMORY),
        # the processes' RSS summed at each 10 ms sample: the real peak of serve as a whole
        # is at least this (a peak shorter than 10 ms can be missed) and at most the sum above
        Row("attachment", variant, "peak MB above idle (summed RSS, sampled)",
            median(together) / 1e6, size / 1e6, median(together) / size),
        Row("attachment", variant, "seconds to last copy",
            median(seconds), median(bare_seconds), median(seconds) / median(bare_seconds)),
    ]
