"""Addresses are redacted in every log line, whatever script or form they are written in."""

from __future__ import annotations

import io
import logging

import pytest

from mediate.logging_setup import LogfmtFormatter, redact


@pytest.mark.parametrize("address, shown", [
    ("anna.jansen@example.org", "a***@example.org"),
    ("dirk@intranet", "d***@intranet"),  # a domain of one label, as on office networks
    ("jörg.müller@example.org", "j***@example.org"),  # RFC 6531 local part
    ("anna@bücher.de", "a***@bücher.de"),  # internationalised domain
    ('"john doe"@example.org', '"***@example.org'),  # quoted local part, RFC 5321
    ('"a\\"b"@example.org', '"***@example.org'),
    ("root@[192.0.2.1]", "r***@[192.0.2.1]"),
    ("bounces+anna=home.test@relay.example", "b***@relay.example"),  # VERP
])
def test_every_form_of_address_is_redacted(address, shown):
    assert redact(f"to {address}, please") == f"to {shown}, please"


def test_a_log_line_carries_no_address_in_any_field():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(LogfmtFormatter())
    log = logging.getLogger("test.redaction")
    log.addHandler(handler)
    try:
        log.warning("copy to %s failed", "jörg@bücher.de",
                    extra={"to": "dirk@intranet", "sender": '"john doe"@example.org'})
    finally:
        log.removeHandler(handler)
    line = stream.getvalue()
    for secret in ("jörg", "dirk@", "john", "doe"):
        assert secret not in line
    assert 'to=d***@intranet' in line and "j***@bücher.de" in line
