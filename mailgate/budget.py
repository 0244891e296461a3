"""A time budget for analysing one mail, so that no mail can stall the gateway.

Every step of the analysis is linear in the mail's size; the budget is the second line of
defence against a shape nobody thought of. `within(seconds)` sets a deadline for the current
analysis (a context variable, so concurrent analyses in other threads keep their own), and the
loops that walk a mail line by line or tag by tag call `check()`, which raises `TooSlow` once
the deadline has passed. The analysis then ends with the mail quarantined and the reason
recorded; the next mail is not kept waiting.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

DEFAULT_SECONDS = 10.0

# (deadline on the monotonic clock, the budget in seconds) of the analysis in this context
_DEADLINE: ContextVar[tuple[float, float] | None] = ContextVar("mediate_analysis_deadline",
                                                              default=None)


class TooSlow(Exception):
    """The analysis of one mail ran past its budget."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"analysis took longer than {seconds:g} s")
        self.seconds = seconds


@contextmanager
def within(seconds: float | None) -> Iterator[None]:
    """Run the block with a deadline `seconds` from now (None or <= 0: no deadline)."""
    limit = (time.monotonic() + seconds, seconds) if seconds and seconds > 0 else None
    token = _DEADLINE.set(limit)
    try:
        yield
    finally:
        _DEADLINE.reset(token)


def check() -> None:
    """Raise `TooSlow` when the current analysis is past its deadline (cheap: call it often)."""
    limit = _DEADLINE.get()
    if limit is not None and time.monotonic() > limit[0]:
        raise TooSlow(limit[1])
