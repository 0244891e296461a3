"""Addresses redacted from text that is kept or shown readably: the log lines, and the reason
an audit event records (the audit trail is not encrypted). ``a***@example.org`` keeps what a
reader needs (whose domain) and drops the person, and a case address's reply token with it.
"""

from __future__ import annotations

import re

# An address as people and MTAs write it: a dot-atom local part in any script (RFC 6531:
# jörg@...) or a quoted one ("john doe"@..., RFC 5321 section 4.1.2), at a domain of one or
# more labels in any script (intranet, bücher.de) or an address literal ([192.0.2.1]).
ADDRESS = re.compile(
    r"""("(?:[^"\\\r\n]|\\.)*"|[\w.!#$%&'*+/=?^`{|}~-]+)"""
    r"@(\[[^\]\s]*\]|[\w-]+(?:\.[\w-]+)*)"
)


def redact(text: str) -> str:
    """'anna.jansen@example.org' -> 'a***@example.org', wherever it appears; a quoted local
    part keeps only its opening quote."""
    return ADDRESS.sub(lambda m: f"{m.group(1)[:1]}***@{m.group(2)}", text)
