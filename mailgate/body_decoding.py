"""Undo what transport did to a text body: base64 glued from pieces, RFC 3676 format=flowed.

Base64 (RFC 2045 section 6.8) ends at its padding; some mailers encode a body in pieces and
glue them, padding and all, and the stdlib decoder then silently drops everything after the
first piece. `base64_pieces` decodes each padded piece on its own.

Thunderbird, Roundcube, K-9/FairEmail and older Apple Mail send `format=flowed`: they wrap long
lines at about 72 characters and mark each wrap with a trailing space. Without joining them the
other parties would see the sender's line breaks in the middle of sentences. Quote depth is
kept (section 4.5: only lines of the same depth flow together), one space of space-stuffing is
removed (section 4.4), `DelSp=yes` drops the wrap space itself (section 4.2), and the "-- "
signature separator is never a flowed line (section 4.3).

One deliberate deviation: an empty line always stays a line of its own, even after a line that
ends in a space, so a stray space before a paragraph break does not glue two paragraphs.
"""

from __future__ import annotations

import codecs
import re

from mailgate import budget

_QUOTES = re.compile(r"^>+")


def base64_pieces(raw: str) -> bytes | None:
    """The bytes of base64 glued from padded pieces ("...Cg==SGFu..."); None for ordinary
    base64 (padding only at the end), which the stdlib decodes the same way."""
    data = re.sub(r"[^A-Za-z0-9+/=]", "", raw)
    if "=" not in data.rstrip("="):
        return None
    out: list[bytes] = []  # joined once at the end: appending to bytes is quadratic
    for piece in re.findall(r"[^=]+", data):
        budget.check()
        piece = piece[: len(piece) - (len(piece) % 4 == 1)]  # a lone sixth of a byte: drop it
        out.append(codecs.decode((piece + "=" * (-len(piece) % 4)).encode("ascii"), "base64"))
    return b"".join(out)


def _render(depth: int, text: str) -> str:
    if not depth:
        return text
    return ">" * depth + (" " + text if text else "")


def unflow(text: str, delsp: bool = False) -> str:
    """The text with flowed lines joined; fixed lines and quote depth as they were."""
    out: list[str] = []
    open_depth: int | None = None  # quote depth of the paragraph being joined
    joined: list[str] = []  # the paragraph's pieces, joined once it ends (linear in its size)
    for line in text.replace("\r\n", "\n").split("\n"):
        budget.check()
        quotes = _QUOTES.match(line)
        depth = len(quotes.group(0)) if quotes else 0
        body = line[depth:]
        if body.startswith(" "):
            body = body[1:]
        if open_depth is not None and (depth != open_depth or not body):
            out.append(_render(open_depth, "".join(joined)))  # ended without a fixed line
            open_depth, joined = None, []
        flowed = body.endswith(" ") and body != "-- "
        if flowed and delsp:
            body = body[:-1]
        joined.append(body)
        if flowed:
            open_depth = depth
        else:
            out.append(_render(depth, "".join(joined)))
            open_depth, joined = None, []
    if open_depth is not None:
        out.append(_render(open_depth, "".join(joined)))
    return "\n".join(out)
