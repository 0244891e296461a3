"""Figures for bench/README.md: mailgate.parse against the mail-parser package, per shape.

Not part of `make bench`; run by hand where mail-parser is installed (it is not a dependency):

    pip install mail-parser && python -m bench.mail_parser_compare

For each shape: seconds (best of 3) and peak traced memory (tracemalloc) to read the mail into
headers, text and attachments, by `mailgate.parse.parse_mail` and by `mailparser.parse_from_bytes`.
"""

from __future__ import annotations

import base64
import os
import time
import tracemalloc
from collections.abc import Callable

from mailgate.parse import parse_mail

HEAD = (b"From: Anna <anna@example.nl>\r\nTo: x@example.org\r\nSubject: Stukken\r\n"
        b"MIME-Version: 1.0\r\n")


def pdf_25mb() -> bytes:
    data = base64.encodebytes(os.urandom(25 * 1024 * 1024)).replace(b"\n", b"\r\n")
    return (HEAD + b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\n'
            b"Content-Type: text/plain\r\n\r\nZie bijlage.\r\n--b\r\nContent-Type: application/pdf"
            b'\r\nContent-Disposition: attachment; filename="a.pdf"\r\nContent-Transfer-Encoding:'
            b" base64\r\n\r\n" + data + b"--b--\r\n")


def one_char_lines() -> bytes:
    return HEAD + b"Content-Type: text/plain\r\n\r\n" + b"a\r\n" * 66_666


def unclosed_blockquotes() -> bytes:
    return HEAD + b"Content-Type: text/html\r\n\r\n" + b"<blockquote>a " * 14_285


def broken_boundary() -> bytes:
    lines = b"".join(b"--t%06d\r\n" % i for i in range(20_000))
    return (HEAD + b'Content-Type: multipart/mixed; boundary="declared"\r\n\r\n'
            + b"--wrong\r\nContent-Type: text/plain\r\n\r\n" + lines)


SHAPES: dict[str, Callable[[], bytes]] = {
    "25 MB PDF attached": pdf_25mb, "200 KB of one-character lines": one_char_lines,
    "200 KB of unclosed <blockquote>": unclosed_blockquotes,
    "200 KB, declared boundary never used": broken_boundary,
}


def _ours(raw: bytes) -> object:
    mail = parse_mail(raw)
    return mail.text, [a.data for a in mail.attachments]


def _theirs(raw: bytes) -> object:
    import mailparser  # not a dependency: only for these figures

    mail = mailparser.parse_from_bytes(raw)
    return mail.body, mail.text_plain, mail.text_html, mail.attachments, mail.defects


def _measure(read: Callable[[bytes], object], raw: bytes) -> tuple[float, float]:
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        read(raw)
        best = min(best, time.perf_counter() - start)
    tracemalloc.start()
    read(raw)
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return best, peak


def main() -> None:
    print("| mail | parse_mail s | MB | mail-parser s | MB |")
    print("| --- | --- | --- | --- | --- |")
    for name, make in SHAPES.items():
        raw = make()
        ours, theirs = _measure(_ours, raw), _measure(_theirs, raw)
        print(f"| {name} | {ours[0]:.3f} | {ours[1]:.0f} | {theirs[0]:.3f} | {theirs[1]:.0f} |")


if __name__ == "__main__":
    main()
