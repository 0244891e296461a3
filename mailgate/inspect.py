"""The inbound analysis in one call: parse, classify, extract the reply, screen attachments.

`analyse` is the single place that fixes the order of the stages; the serve pipeline and
`mediate inspect` both use it, so what an administrator sees with `inspect` is what the
gateway does. `inspect_mail` renders the result as JSON-ready data.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mailgate.attachments import AttachmentPolicy, screen_attachments
from mailgate.classify import ClassifyContext, Verdict, classify
from mailgate.parse import Attachment, MalformedMail, ParsedMail, parse_mail
from mailgate.reply_text import extract_reply
from threads.tone import Lexicon, analyse_tone


@dataclass
class Analysis:
    parsed: ParsedMail | None
    verdict: Verdict
    relay: bool
    text: str  # the new words that would be relayed ("" when not relayed)
    attachments: list[tuple[Attachment, bool, str]] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)


def analyse(raw: bytes, ctx: ClassifyContext, policy: AttachmentPolicy | None = None,
            as_reply_from: str | None = None) -> Analysis:
    """Decide what the gateway would do with these bytes, with every reason recorded."""
    policy = policy or AttachmentPolicy()
    parsed: ParsedMail | None
    try:
        parsed = parse_mail(raw)
    except MalformedMail:
        parsed = None
    verdict = classify(parsed, raw, ctx)
    reasons = [verdict.reason]
    if parsed is None or not verdict.relayable:
        return Analysis(parsed, verdict, False, "", [], reasons)

    relay = True
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
    if relay and not text and not any(ok for _, ok, _ in screened):
        relay = False
        reasons.append("no new text and no attachment to pass on")
    if relay:
        reasons.append(f"relay {len(text)} characters of new text")
    return Analysis(parsed, verdict, relay, text if relay else "", screened, reasons)


def inspect_mail(raw: bytes, *, as_reply_from: str | None = None,
                 own_domain: str = "mediation.example.org",
                 attachment_policy: AttachmentPolicy | None = None,
                 tone_lexicon: Lexicon | None = None) -> dict[str, Any]:
    """`analyse` rendered as plain data for `mediate inspect --json`."""
    result = analyse(raw, ClassifyContext(own_domain=own_domain), attachment_policy, as_reply_from)
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
             "passed": ok, "reason": why}
            for att, ok, why in result.attachments
        ],
        "bounced": [{"address": b.address, "permanent": b.permanent}
                    for b in result.verdict.bounced],
        "reasons": result.reasons,
        "tone": tone,
    }
