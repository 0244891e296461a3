"""DATA received into one growing buffer, not a list of lines joined at the end.

aiosmtpd's own DATA keeps every received line as a ``bytearray`` of its own (object headers
and all: about twice the mail for 76-character base64 lines) and then joins them into
``original_content`` while the list is still held: a 34 MB mail cost about 100 MB before it
was stored. Here each line is appended, dot-unstuffed (RFC 5321 section 4.5.2), to one
``bytearray`` as it arrives, so receiving holds the mail once. The answers for a mail over
``data_size_limit`` (552) or with a line over ``line_length_limit`` (500, RFC 5321 section
4.5.3.1.6) are aiosmtpd's, given once the client has finished sending (section 4.2.5); the
buffer is dropped as soon as either is known.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

TOO_MUCH = "552 Error: Too much mail data"
TOO_LONG = "500 Line too long (see RFC5321 4.5.3.1.6)"


@dataclass
class Received:
    data: bytearray
    refusal: str = ""  # TOO_MUCH or TOO_LONG, else empty: the mail is whole


async def receive(reader: asyncio.StreamReader, size_limit: int | None,
                  line_limit: int) -> Received:
    """Read DATA up to its lone dot. ``reader``'s own limit is the longest line it returns
    whole; a longer line arrives in pieces and makes the mail TOO_LONG."""
    data = bytearray()
    refusal = ""
    size = 0
    in_line = False  # the piece just read continues a line longer than the reader's limit
    while True:
        try:
            line = await reader.readuntil(b"\r\n")
        except asyncio.LimitOverrunError as error:
            refusal = refusal or TOO_LONG
            line = await reader.read(error.consumed)
        if not in_line and line == b".\r\n":
            break
        size += len(line)
        in_line = not line.endswith(b"\r\n")
        if not refusal:
            if size_limit and size > size_limit:
                refusal = TOO_MUCH
            elif len(line) > line_limit:
                refusal = TOO_LONG
            else:
                data += memoryview(line)[1:] if line.startswith(b".") else line
        if refusal and data:
            data = bytearray()  # nothing of it will be stored: free it now
    return Received(data, refusal)
