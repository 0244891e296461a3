"""Logs never hold a party's address or words: an end-to-end case run with every logger at DEBUG."""

from __future__ import annotations

import logging

from conftest import MEDIATOR
from record_scenario import (
    ANNA,
    ANNA_RELEASED,
    ANNA_WROTE,
    BRAM,
    BRAM_PRIVATE,
    CEES,
    CEES_WROTE,
    MEDIATOR_PRIVATE,
    MEDIATOR_SHARED,
    REJECT_REASON,
    play_case,
)


async def test_an_end_to_end_case_leaves_no_address_or_message_text_in_the_logs(
    service, sink, caplog
):
    caplog.set_level(logging.DEBUG)  # the root logger: every logger that does not say otherwise
    for name in list(logging.root.manager.loggerDict):
        if name.startswith(("mediate", "mailgate", "threads")):
            caplog.set_level(logging.DEBUG, logger=name)
    await play_case(service)
    records = caplog.records
    assert records, "the run logged nothing: the test would prove nothing"
    logged = "\n".join(
        f"{r.name} {r.getMessage()} {r.exc_text or ''} {r.stack_info or ''}" for r in records
    )
    secrets = [ANNA, BRAM, CEES, MEDIATOR, ANNA_WROTE, ANNA_RELEASED, BRAM_PRIVATE,
               MEDIATOR_PRIVATE, MEDIATOR_SHARED, CEES_WROTE, REJECT_REASON]
    leaks = [s for s in secrets if s.lower() in logged.lower()]
    leaks += [s for s in secrets if s.split("@")[0] + "@" in logged]  # local part, any domain
    assert not leaks, f"found in the logs: {leaks}"
