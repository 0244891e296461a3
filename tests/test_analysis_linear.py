"""No mail can stall the gateway: analysis time grows linearly with the mail's size, and a
mail that still takes too long is quarantined at the end of its time budget.

Each shape below once made one step quadratic (a 200 KB mail held the pipeline for minutes).
Every shape is analysed at 20 KB and at 200 KB in one run; ten times the size may take at
most thirty times the time (linear work with room for noise; quadratic work takes a hundred).
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable

import pytest

from mailgate.classify import ClassifyContext
from mailgate.inspect import analyse

HEAD = (b"From: Sanne de Vries <sanne@example.nl>\r\nTo: open@mediation.example.org\r\n"
        b"Subject: Vraag\r\nMessage-ID: <shape@example.nl>\r\nMIME-Version: 1.0\r\n")


def one_char_lines(size: int) -> bytes:
    """100,000 one-character lines at 200 KB: signature cutting looked at every line below."""
    return HEAD + b"Content-Type: text/plain\r\n\r\n" + b"a\r\n" * (size // 3)


def distinct_boundaries(size: int) -> bytes:
    """A multipart whose declared boundary never occurs, and thousands of other '--' lines:
    boundary repair counted each candidate in the whole body."""
    lines = b"".join(b"--t%06d\r\n" % i for i in range(size // 10))
    return (HEAD + b'Content-Type: multipart/mixed; boundary="declared"\r\n\r\n'
            + b"--wrong\r\nContent-Type: text/plain\r\n\r\n" + lines)


def flowed_paragraph(size: int) -> bytes:
    """One format=flowed paragraph of many soft-broken lines: joining copied it per line."""
    return (HEAD + b"Content-Type: text/plain; charset=utf-8; format=flowed\r\n\r\n"
            + b"woord \r\n" * (size // 8) + b"einde\r\n")


def unclosed_blockquotes(size: int) -> bytes:
    """Thousands of unclosed <blockquote>s: each line was prefixed with one '> ' per level."""
    return HEAD + b"Content-Type: text/html\r\n\r\n" + b"<blockquote>a " * (size // 14)


def unfinished_tags(size: int) -> bytes:
    """'<a<a<a...': the stdlib HTML parser rescanned the rest for every unfinished tag."""
    return HEAD + b"Content-Type: text/html\r\n\r\n" + b"<a" * (size // 2)


def stray_end_tags(size: int) -> bytes:
    """Open <div>s then end tags that match none: each end tag searched the whole stack."""
    n = size // 12
    return HEAD + b"Content-Type: text/html\r\n\r\n" + b"<div>" * n + b"</span>" * n


def base64_pieces(size: int) -> bytes:
    """Base64 glued from padded pieces: the decoded bytes were appended piece by piece."""
    piece = base64.b64encode(b"ab") + b"\r\n"
    return (HEAD + b"Content-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\n"
            + piece * (size // len(piece)))


def daemon_one_char_lines(size: int) -> bytes:
    """The same lines from a mailer-daemon: every bounce heuristic reads the whole text."""
    head = HEAD.replace(b"Sanne de Vries <sanne@example.nl>", b"MAILER-DAEMON@example.nl")
    return head + b"Content-Type: text/plain\r\n\r\n" + b"a\r\n" * (size // 3)


def long_address_line(size: int) -> bytes:
    """One long line of address characters without a domain: address searches restarted at
    every character."""
    head = HEAD.replace(b"Sanne de Vries <sanne@example.nl>", b"postmaster@example.nl")
    return head + b"Content-Type: text/plain\r\n\r\n" + b"a" * size + b"@b\r\n"


def unclosed_links(size: int) -> bytes:
    """Links never closed, so all text is one line: the reply-token search restarted at every
    word character."""
    return HEAD + b"Content-Type: text/html\r\n\r\n" + b"<a href='http://x'>y" * (size // 20)


def long_lines_ending_in_colons(size: int) -> bytes:
    """Lines that end like an attribution: each was searched for a verb and an address from
    every character."""
    return HEAD + b"Content-Type: text/plain\r\n\r\n" + (b"x" * 300 + b":\r\n") * (size // 303)


def many_small_parts(size: int) -> bytes:
    """Thousands of MIME parts."""
    part = b"--b\r\nContent-Type: text/plain\r\n\r\nx\r\n"
    return (HEAD + b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n'
            + part * (size // len(part)) + b"--b--\r\n")


def many_dsn_recipients(size: int) -> bytes:
    """A delivery report naming thousands of failed recipients."""
    blocks = b"".join(b"Final-Recipient: rfc822; u%d@example.org\r\nAction: failed\r\n"
                      b"Status: 5.1.1\r\n\r\n" % i for i in range(size // 70))
    return (HEAD + b"Content-Type: multipart/report; report-type=delivery-status; "
            b'boundary="b"\r\n\r\n--b\r\nContent-Type: message/delivery-status\r\n\r\n'
            b"Reporting-MTA: dns; x\r\n\r\n" + blocks + b"--b--\r\n")


SHAPES: list[Callable[[int], bytes]] = [
    one_char_lines, distinct_boundaries, flowed_paragraph, unclosed_blockquotes,
    unfinished_tags, stray_end_tags, base64_pieces, daemon_one_char_lines, long_address_line,
    unclosed_links, long_lines_ending_in_colons, many_small_parts, many_dsn_recipients,
]
# Below this a measurement is mostly timer and allocator noise, not work.
FLOOR_SECONDS = 0.005


def _seconds(raw: bytes) -> float:
    best = float("inf")
    for _ in range(2):
        start = time.perf_counter()
        analyse(raw, ClassifyContext(), seconds=None)
        best = min(best, time.perf_counter() - start)
    return best


@pytest.mark.parametrize("shape", SHAPES, ids=lambda f: f.__name__)
def test_ten_times_the_size_takes_at_most_thirty_times_the_time(shape) -> None:
    small = _seconds(shape(20_000))
    large = _seconds(shape(200_000))
    assert large <= 30 * max(small, FLOOR_SECONDS), (shape.__name__, small, large)


def test_a_mail_past_its_time_budget_is_quarantined_with_the_reason() -> None:
    result = analyse(one_char_lines(200_000), ClassifyContext(), seconds=0.001)
    assert result.verdict.kind == "malformed"
    assert result.too_slow and result.relay is False and result.text == ""
    assert "time budget" in result.reasons[0]


def test_within_its_budget_the_same_mail_is_decided_normally() -> None:
    result = analyse(one_char_lines(20_000), ClassifyContext(), seconds=30)
    assert result.verdict.kind == "reply" and not result.too_slow
