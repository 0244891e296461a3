"""Structured logs: one line per record, ``key=value`` pairs (logfmt), addresses redacted.

Each decision is logged as one line with its subject and reason, e.g.::

    2026-03-02T10:15:04Z level=warning logger=mediate.outbox msg="copy failed" case=2026-014
        copy=812 kind=relay to=a***@example.org reason="refused: 550 5.1.1 no such user"

(shown wrapped; it is one line). Fields passed with ``extra={...}`` become pairs; a traceback
is folded into an ``exc=`` pair so that a line never spills over. Every e-mail address in a
value is redacted to its first letter and domain (``a***@example.org``): logs are read by
people and kept by machines that have no business with a party's address.
"""

from __future__ import annotations

import logging
import re
import sys
import time

from threads.redaction import redact

_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}
_BARE = re.compile(r"^[A-Za-z0-9_.:/@*+-]+$")


def _value(value: object) -> str:
    text = redact(" ".join(str(value).split()))
    if text and _BARE.match(text):
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


class LogfmtFormatter(logging.Formatter):
    converter = time.gmtime

    def format(self, record: logging.LogRecord) -> str:
        pairs = [
            self.formatTime(record, "%Y-%m-%dT%H:%M:%SZ"),
            f"level={record.levelname.lower()}",
            f"logger={record.name}",
            f"msg={_value(record.getMessage())}",
        ]
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_") and value is not None:
                pairs.append(f"{key}={_value(value)}")
        if record.exc_info:
            pairs.append(f"exc={_value(self.formatException(record.exc_info))}")
        return " ".join(pairs)


def configure(level: str = "INFO", stream=sys.stderr) -> None:  # noqa: ANN001
    """Send every logger's records, one logfmt line each, to ``stream``."""
    handler = logging.StreamHandler(stream)
    handler.setFormatter(LogfmtFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # aiosmtpd logs every envelope address at INFO; APScheduler every job run.
    logging.getLogger("mail.log").setLevel(logging.WARNING)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
