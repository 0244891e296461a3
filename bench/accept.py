"""Scenario ``accept``: replies sent by SMTP into ``mediate serve`` versus a bare aiosmtpd.

The same jobs (a realistic ~4 KB reply with quoted history, or the same with a 200 KB
attachment, to real reply addresses of review-mode cases) go once to the bare no-op aiosmtpd
server and once to ``mediate serve``, which stores each mail durably before it answers 250.
Figures per concurrency: messages/s and the ratio to the bare server, p50/p99 transaction time.
Between rounds the benchmark waits until serve has processed and relayed everything, so each
round starts from the same quiet state.
"""

from __future__ import annotations

import itertools
import uuid

from bench import mails
from bench.env import Env, Profile
from bench.report import Row
from bench.smtpload import Job, median, run_load, stuff

TARGET_C8 = 0.6


def jobs_for(env: Env, template: bytes, count: int) -> list[Job]:
    senders = itertools.cycle([p for case in env.review_cases for p in case.parties])
    jobs = []
    for _ in range(count):
        email, address = next(senders)
        raw = mails.personalise(template, email, address, f"<{uuid.uuid4().hex}@client.test>")
        jobs.append(Job(email, [address], stuff(raw)))
    return jobs


async def run(env: Env, profile: Profile, label: str = "") -> list[Row]:
    rows: list[Row] = []
    variants = [("4 KB", mails.reply(4096), profile.accept_small),
                ("200 KB att.", mails.reply(4096, 200 * 1024), profile.accept_large)]
    if label and profile.pg_only_c8:
        variants = [("4 KB", variants[0][1], ((8, 40),))]
    for name, template, plan in variants:
        for concurrency, count in plan:
            rates, bare_rates, p50, p99, bare_p50, bare_p99, ratios = [], [], [], [], [], [], []
            errors: list[str] = []
            for _ in range(profile.rounds):
                jobs = jobs_for(env, template, count)
                bare = await run_load(env.noop.port, jobs, concurrency, profile.deadline)
                settled = await env.probe.settle(profile.settle_seconds)
                ours = await run_load(env.serve.port, jobs, concurrency, profile.deadline)
                settled = await env.probe.settle(profile.settle_seconds) and settled
                if not settled:
                    errors.append("serve did not settle between rounds")
                errors += bare.errors + ours.errors
                rates.append(ours.rate)
                bare_rates.append(bare.rate)
                ratios.append(ours.rate / bare.rate)
                p50.append(ours.percentile(50) * 1000)
                p99.append(ours.percentile(99) * 1000)
                bare_p50.append(bare.percentile(50) * 1000)
                bare_p99.append(bare.percentile(99) * 1000)
            variant = f"{name} C={concurrency}"
            target, met = "", None
            if concurrency == 8 and name == "4 KB":
                target, met = f">= {TARGET_C8}", median(ratios) >= TARGET_C8
            scenario = f"accept{label}"
            rows.append(Row(scenario, variant, "msgs/s", median(rates), median(bare_rates),
                            median(ratios), target, met, rounds=ratios))
            rows.append(Row(scenario, variant, "p50 ms", median(p50), median(bare_p50),
                            median(p50) / median(bare_p50)))
            rows.append(Row(scenario, variant, "p99 ms", median(p99), median(bare_p99),
                            median(p99) / median(bare_p99)))
            if errors:
                env.note(f"accept{label} {variant}: {len(errors)} errors, e.g. {errors[0]}")
    return rows
