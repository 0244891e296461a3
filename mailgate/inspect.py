"""The inbound analysis in one call: parse, classify, extract the reply, screen attachments.

`analyse` is the single place that fixes the order of the stages; the serve pipeline and
`mediate inspect` both use it, so what an administrator sees with `inspect` is what the
gateway does. `inspect_mail` renders the result as JSON-ready data.

Two rules hold whatever the stages find. A mail whose analysis runs past its time budget
(`mailgate.budget`) is quarantined with that reason. A reply in which nothing new is left once
the quoted history is taken away is never relayed: it is held for the mediator as
`NO_NEW_TEXT` (relaying the whole body would repeat earlier messages, possibly the mediator's
words to this party and their personal reply address).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mailgate import budget
from mailgate.attachments import AttachmentPolicy, describe, screen_attachments
from mailgate.classify import ClassifyContext, Verdict, classify
from mailgate.parse import Attachment, MalformedMail, ParsedMail, parse_mail, sender_of
from mailgate.reply_text import extract_reply, scrub
from threads.tone import Lexicon, analyse_tone

NO_NEW_TEXT = "no-new-text"  # hold reason: the reply holds only quoted history


@dataclass
class Analysis:
    parsed: ParsedMail | None
    verdict: Verdict
    relay: bool
    text: str  # the new words that would be relayed ("" when not relayed)
    # the same words with the writer's closing and signature: a mediator's message goes out
    # as written, only quoted history removed
    signed_text: str = ""
    attachments: list[tuple[Attachment, bool, str]] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    hold: str | None = None  # hold for the mediator, with this reason, instead of relaying
    too_slow: bool = False  # quarantined because the analysis ran past its time budget
    sender: str | None = None  # the From address, also when the mail could not be parsed


def analyse(raw: bytes, ctx: ClassifyContext, policy: AttachmentPolicy | None = None,
            as_reply_from: str | None = None,
            seconds: float | None = budget.DEFAULT_SECONDS) -> Analysis:
    """Decide what the gateway would do with these bytes, with every reason recorded.

    `seconds` is the time budget (None: none); past it the mail is quarantined.
    """
    try:
        with budget.within(seconds):
            return _analyse(raw, ctx, policy or AttachmentPolicy(), as_reply_from)
    except budget.TooSlow as slow:
        reason = f"quarantined: {slow} (the time budget for one mail)"
        return Analysis(None, Verdict("malformed", reason), False, "", reasons=[reason],
                        too_slow=True, sender=sender_of(raw))


def _analyse(raw: bytes, ctx: ClassifyContext, policy: AttachmentPolicy,
             as_reply_from: str | None) -> Analysis:
    parsed: ParsedMail | None
    try:
        parsed = parse_mail(raw)
    except MalformedMail:
        parsed = None
    verdict = classify(parsed, raw, ctx)
    reasons = [verdict.reason]
    if parsed is None or not verdict.relayable:
        return Analysis(parsed, verdict, False, "", reasons=reasons)

    relay = True
    hold = None
    expected = (as_reply_from or "").strip().lower()
    if expected and parsed.from_address != expected:
        relay = False
        reasons.append(f"sender does not match: From is {parsed.from_address or 'missing'}, "
                       f"expected {expected}")
    elif parsed.from_address is None:
        relay = False
        reasons.append("no usable From address")
    screened = screen_attachments(parsed.attachments, policy)
    text = extract_reply(parsed.text) if parsed.text.strip() else ""
    text = scrub(text, [parsed.from_address or ""], ctx.own_domain)
    files = any(ok for _, ok, _ in screened)
    if not text and parsed.text.strip() and not files:
        relay, hold = False, NO_NEW_TEXT
        reasons.append("no new text: only quoted history; held for the mediator")
    elif relay and not text and not files:
        relay, hold = False, NO_NEW_TEXT  # an empty mail: nothing to pass on either
        reasons.append("no new text and no attachment to pass on")
    if relay:
        reasons.append(f"relay {len(text)} characters of new text")
    signed = extract_reply(parsed.text, keep_signature=True) if relay and text else ""
    return Analysis(parsed, verdict, relay, text if relay else "", signed_text=signed,
                    attachments=screened, reasons=reasons, hold=hold)


def inspect_mail(raw: bytes, *, as_reply_from: str | None = None,
                 own_domain: str = "mediation.example.org",
                 attachment_policy: AttachmentPolicy | None = None,
                 seconds: float | None = budget.DEFAULT_SECONDS,
                 tone_lexicon: Lexicon | None = None) -> dict[str, Any]:
    """`analyse` rendered as plain data for `mediate inspect --json`."""
    result = analyse(raw, ClassifyContext(own_domain=own_domain), attachment_policy,
                     as_reply_from, seconds)
    # the tone of the new words even when they would not be relayed: the administrator asks
    # what the check says about this text, whatever else stops it
    new_text = (result.text or (extract_reply(result.parsed.text)
                                if result.parsed and result.parsed.text.strip() else ""))
    tone = analyse_tone(new_text, tone_lexicon).as_dict() if new_text else None
    return {
        "classification": result.verdict.kind,
        "relay": result.relay,
        "text": result.text,
        "attachments": [
            {"filename": att.filename, "content_type": att.content_type, "size": att.size,
             "passed": ok, "reason": describe(why, "en")}
            for att, ok, why in result.attachments
        ],
        "bounced": [{"address": b.address, "permanent": b.permanent}
                    for b in result.verdict.bounced],
        "reasons": result.reasons,
        "tone": tone,
    }
