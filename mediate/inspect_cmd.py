"""`mediate inspect`: what the gateway would do with one mail, without storing or sending.

It calls the very ``analyse`` the serve pipeline calls, so the answer is the gateway's answer.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from mailgate.attachments import AttachmentPolicy
from mailgate.budget import DEFAULT_SECONDS
from mailgate.inspect import inspect_mail
from mediate.config import ConfigError, load_settings


def _settings(config: str | None) -> tuple[str, AttachmentPolicy, float]:
    """The service domain, attachment limits and time budget inspect judges by, as serve
    would."""
    try:
        settings = load_settings(config)
    except ConfigError as error:
        print(f"warning: configuration not usable ({error.problems[0]}); "
              "assuming the example domain and default limits", file=sys.stderr)
        return "mediation.example.org", AttachmentPolicy(), DEFAULT_SECONDS
    inbound = settings.inbound
    return settings.service.domain, inbound.attachments.policy(), inbound.analysis_seconds


def render_text(result: dict) -> str:
    lines = [
        f"classification: {result['classification']}",
        f"would be relayed: {'yes' if result['relay'] else 'no'}",
    ]
    lines += [f"  - {reason}" for reason in result["reasons"]]
    for bounce in result["bounced"]:
        kind = "permanent" if bounce["permanent"] else "temporary"
        lines.append(f"bounced address: {bounce['address']} ({kind})")
    for attachment in result["attachments"]:
        verdict = "passes" if attachment["passed"] else f"held back: {attachment['reason']}"
        lines.append(
            f"attachment: {attachment['filename']} ({attachment['content_type']}, "
            f"{attachment['size']} bytes) {verdict}"
        )
    if result["relay"]:
        lines += ["", "text that would be relayed:", "-" * 40, result["text"], "-" * 40]
    return "\n".join(lines)


def run_inspect(args: argparse.Namespace) -> int:
    source = args.file
    try:
        raw = sys.stdin.buffer.read() if source == "-" else Path(source).read_bytes()
    except OSError as error:
        print(f"error: cannot read {source}: {error.strerror}", file=sys.stderr)
        return 2
    domain, policy, seconds = _settings(args.config)
    result = inspect_mail(raw, as_reply_from=args.as_reply_from, own_domain=domain,
                          attachment_policy=policy, seconds=seconds)
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
    else:
        print(render_text(result))
    return 0
