"""Classify an inbound mail: a human reply, or something no party may ever see.

Each stage is a small module with one `check(mail, raw, ctx) -> Verdict | None`; the first stage
that returns a verdict decides. The order is data, in `STAGES`: an unreadable mail first, then
our own mail coming back (loop), then delivery reports (they often carry the original message,
headers and all, so they must be recognised before anything looks at those headers), then
a calendar reply to an invitation, then automatic replies. Whatever passes all stages is a reply.
"""

from __future__ import annotations

from collections.abc import Callable

from mailgate import budget
from mailgate.classify import autoreply, bounce, calendar, loop, malformed
from mailgate.classify.verdict import Bounced, ClassifyContext, Verdict
from mailgate.parse import ParsedMail

__all__ = ["Bounced", "ClassifyContext", "STAGES", "Verdict", "classify"]

Stage = Callable[[ParsedMail, bytes, ClassifyContext], "Verdict | None"]

STAGES: tuple[Stage, ...] = (
    malformed.check,
    loop.check,
    bounce.check,
    calendar.check,  # before automatic replies: a calendar server's RSVP may say auto-generated
    autoreply.check,
)


def classify(mail: ParsedMail | None, raw: bytes, ctx: ClassifyContext) -> Verdict:
    """Run the stages in order; the first verdict wins, otherwise the mail is a reply."""
    if mail is None:
        return malformed.unparsed(raw)
    for stage in STAGES:
        budget.check()
        verdict = stage(mail, raw, ctx)
        if verdict is not None:
            return verdict
    return Verdict("reply", "no automatic-mail marker found: a reply written by a person")
