"""Parse raw inbound bytes into a `ParsedMail` that later stages can trust.

Follows RFC 5322 (message format), RFC 2045-2047 (MIME, encoded words), RFC 2231 (parameter
encoding, used for attachment names) and RFC 6532 (raw UTF-8 in headers). Real mail breaks all of
them, so every decoding step degrades instead of failing: unknown charsets fall back to UTF-8 or
Windows-1252, broken base64 keeps what decodes, an HTML-only message is converted to text.
`parse_mail` raises nothing but `MalformedMail`, and only when there is no message to speak of.
"""

from __future__ import annotations

import binascii
import codecs
import contextlib
import email.errors
import email.policy
import email.utils
import hashlib
import re
import secrets
from collections import Counter
from contextvars import ContextVar
from dataclasses import dataclass, field
from email.message import Message
from email.parser import BytesParser

import nh3

from mailgate import budget
from mailgate.body_decoding import base64_pieces, unflow
from mailgate.html_text import html_to_text


class RepairedBoundaryDefect(email.errors.MessageDefect):
    """The declared multipart boundary was wrong; the one actually used was found and applied."""


class MalformedMail(Exception):
    """The bytes are not a mail we can read; `reason` says why, for the quarantine record."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class Attachment:
    filename: str
    content_type: str
    data: bytes
    sha256: str
    inline: bool

    @property
    def size(self) -> int:
        return len(self.data)


@dataclass
class ParsedMail:
    message_id: str | None
    in_reply_to: list[str]
    references: list[str]
    from_address: str | None
    from_name: str
    subject: str
    headers: Message
    text: str
    html_source: str | None  # the first HTML body as sent (untrusted)
    attachments: list[Attachment] = field(default_factory=list)
    defects: list[str] = field(default_factory=list)

    @property
    def html(self) -> str | None:
        """The HTML body made safe to show. Cleaned only when asked for: nothing in the
        analysis needs it, and html5ever's tree building grows faster than linearly with
        thousands of unclosed elements."""
        return nh3.clean(self.html_source) if self.html_source is not None else None


# Names that mail software writes but Python's codec registry does not know (or knows as a
# narrower set: Outlook labels cp1252 text "iso-8859-1", Korean mail says ks_c_5601-1987).
_CHARSET_ALIASES = {
    "ks_c_5601-1987": "cp949", "ks_c_5601": "cp949", "euc-kr": "cp949",
    "iso-8859-1": "cp1252", "latin1": "cp1252", "us-ascii": "utf-8", "ascii": "utf-8",
    "gb2312": "gb18030", "gbk": "gb18030", "x-gbk": "gb18030",
    "shift_jis": "cp932", "shift-jis": "cp932", "x-sjis": "cp932", "sjis": "cp932",
    "iso-2022-jp": "iso2022_jp_ext", "unicode-1-1-utf-7": "utf-7", "x-unknown": "utf-8",
    "unknown-8bit": "utf-8", "default": "utf-8", "utf8": "utf-8", "x-user-defined": "cp1252",
}
_ENCODED_WORD = re.compile(r"=\?([^?\s]+)\?([bBqQ])\?([^?]*)\?=")
_BETWEEN_WORDS = re.compile(r"(=\?[^?\s]+\?[bBqQ]\?[^?]*\?=)\s+(?==\?)")
_BOUNDARY_LINE = re.compile(r"(?m)^--(\S{4,}?)(--)?[ \t]*\r?$")
_MSG_ID = re.compile(r"<[^<>\s]+>")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# RFC 2045 section 2.7/2.8: no NUL, and control characters other than CR, LF and TAB have no
# place in text; a broken client's NUL bytes must not reach the other parties.
_TEXT_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def decode_bytes(data: bytes, charset: str | None) -> str:
    """Decode text in its declared charset; fall back to UTF-8, then Windows-1252 (never fails)."""
    name = (charset or "").strip().strip('"').lower()
    name = _CHARSET_ALIASES.get(name, name)
    try:
        codecs.lookup(name)
    except LookupError:
        name = "utf-8"
    if name != "utf-8" and not data.isascii():
        # Bytes that are valid UTF-8 are UTF-8, whatever the label says (clients label UTF-8
        # text Big5, Latin-1 or Windows-1252): text in those charsets is almost never valid
        # UTF-8 by accident, and decoding it as labelled would give mojibake.
        with contextlib.suppress(UnicodeDecodeError):
            return data.decode("utf-8")
    if name == "utf-8":
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            return data.decode("cp1252", errors="replace")
    return data.decode(name, errors="replace")


def _decode_word(match: re.Match[str]) -> str:
    charset, enc, payload = match.group(1).split("*")[0], match.group(2).upper(), match.group(3)
    try:
        if enc == "B":
            raw = codecs.decode(payload.encode("ascii", "replace") + b"===", "base64")
        else:
            raw = codecs.decode(payload.replace("_", " ").encode("ascii", "replace"), "quopri")
    except ValueError:
        return match.group(0)
    return decode_bytes(raw, charset)


def decode_header(value: str | None) -> str:
    """Unfold a header and decode RFC 2047 words and raw 8-bit (RFC 6532) text."""
    if value is None:
        return ""
    value = str(value)
    if any("\udc80" <= ch <= "\udcff" for ch in value):  # undecodable bytes kept by the parser
        value = decode_bytes(value.encode("ascii", "surrogateescape"), "utf-8")
    value = re.sub(r"\r?\n[ \t]+", " ", value).replace("\r", "").replace("\n", "")
    value = _BETWEEN_WORDS.sub(r"\1", value)
    return _ENCODED_WORD.sub(_decode_word, value).strip()


def raw_header(msg: Message, name: str) -> str | None:
    """The first occurrence of a header as stored (not decoded), or None."""
    name = name.lower()
    for key, value in msg.raw_items():
        if key.lower() == name:
            return str(value)
    return None


def _address(msg: Message) -> tuple[str | None, str]:
    value = raw_header(msg, "from")
    if value is None:
        return None, ""
    unfolded = re.sub(r"\r?\n[ \t]+", " ", value)
    if any("\udc80" <= ch <= "\udcff" for ch in unfolded):
        unfolded = decode_header(unfolded)
    name, addr = email.utils.parseaddr(unfolded)
    if not addr:
        found = re.search(r"[\w.+=-]+@[\w.-]+\.\w+", unfolded[:998])  # (bounded: no rescans)
        addr = found.group(0) if found else ""
    addr = addr.strip().strip("<>").lower()
    name = decode_header(name).strip().strip('"').strip()
    return (addr if "@" in addr else None), name


def sender_of(raw: bytes) -> str | None:
    """The From address read from the header section alone (its first 64 KB): cheap, for a
    mail whose full analysis did not finish."""
    head = BytesParser(policy=email.policy.compat32).parsebytes(raw[:65536], headersonly=True)
    return _address(head)[0]


def _message_ids(value: str | None) -> list[str]:
    value = value or ""
    if any("\udc80" <= ch <= "\udcff" for ch in value):  # raw UTF-8 (RFC 6532, SMTPUTF8)
        value = value.encode("ascii", "surrogateescape").decode("utf-8", "replace")
    return _MSG_ID.findall(value)


def sanitise_filename(name: str | None, content_type: str) -> str:
    """A filename safe to show and store: no path, no control characters, at most 150 chars."""
    name = decode_header(name or "")
    name = re.split(r"[\\/]", name)[-1]
    # As Windows would: trailing dots and spaces go ("evil.exe . ." opens as evil.exe)
    name = _CONTROL.sub("", name).strip().lstrip(".").rstrip(". ").strip()
    if not name:
        import mimetypes

        ext = mimetypes.guess_extension(content_type) or ".bin"
        name = "attachment" + ext
    if len(name) > 150:
        stem, dot, ext = name.rpartition(".")
        name = (stem[: 149 - len(ext)] + "." + ext) if dot and len(ext) <= 10 else name[:150]
    return name


class _Spool:
    """Long runs of base64 lines (the files in a mail) are taken out of the raw bytes before
    the stdlib parser sees them and put back when a part's payload is read. The parser works
    line by line on a ``str`` copy and keeps lines, text and payload at once: for a 25 MB file
    that was 4.5 s and 265 MB; now the run is decoded once, straight from the raw bytes."""

    MIN_BYTES = 256 * 1024
    # One character class, no repeated group: the regex engine keeps no state per line.
    _RUN = re.compile(rb"[A-Za-z0-9+/=\r\n]{%d,}" % MIN_BYTES)
    def __init__(self, raw: bytes) -> None:
        self.raw = memoryview(raw)
        self.runs: list[tuple[int, int]] = []
        # A random mark, so that words a sender writes can never be taken for one.
        self.tag = f"@@mediate-spool-{secrets.token_hex(8)}-"
        self._mark: re.Pattern[str] | None = None

    @property
    def mark(self) -> re.Pattern[str]:
        # Compiled only for a mail that has runs: a new pattern per mail cost more than
        # the rest of the analysis of a short reply.
        if self._mark is None:
            self._mark = re.compile(re.escape(self.tag) + r"(\d+)@@(?:\r?\n)?")  # EOL may go
        return self._mark

    def take_out(self) -> bytes:
        raw = self.raw.obj
        if len(raw) < self.MIN_BYTES:
            return raw  # type: ignore[return-value]
        pieces, end = [], 0
        for match in self._RUN.finditer(raw):  # type: ignore[arg-type]
            start, stop = self._whole_lines(raw, match.start(), match.end())  # type: ignore[arg-type]
            if stop - start < self.MIN_BYTES:
                continue
            pieces += [self.raw[end:start], f"{self.tag}{len(self.runs)}@@\r\n".encode()]
            self.runs.append((start, stop))
            end = stop
        if not self.runs:
            return raw  # type: ignore[return-value]
        pieces.append(self.raw[end:])
        return b"".join(pieces)

    @staticmethod
    def _whole_lines(raw: bytes, start: int, stop: int) -> tuple[int, int]:
        """The run narrowed to whole lines, never taking in a blank line at its start (the
        end of a header section, e.g. after 'Content-Transfer-Encoding: base64')."""
        if start > 0 and raw[start - 1:start] != b"\n":
            start = raw.find(b"\n", start, stop) + 1 or stop
        while start < stop and raw[start:start + 1] in (b"\r", b"\n"):
            start += 1
        if raw[stop - 1:stop] != b"\n":
            stop = raw.rfind(b"\n", start, stop) + 1 or start
        return start, max(start, stop)

    def holds(self, text: str) -> bool:
        return bool(self.runs) and self.tag in text

    def pieces(self, text: str) -> list:
        """The text with each mark replaced by the bytes it stands for (as memoryviews)."""
        out, end = [], 0
        for match in self.mark.finditer(text):
            start, stop = self.runs[int(match.group(1))]
            out += [text[end:match.start()].encode("ascii", "surrogateescape"),
                    self.raw[start:stop]]
            end = match.end()
        out.append(text[end:].encode("ascii", "surrogateescape"))
        return out

    def only_run(self, text: str) -> memoryview | None:
        """The raw bytes of the run when ``text`` is one mark and blank space (a file's part),
        else None: decoded from there, the run is never copied out of the mail."""
        pieces = self.pieces(text)
        runs = [piece for piece in pieces if isinstance(piece, memoryview)]
        if len(runs) == 1 and all(piece is runs[0] or not piece.strip() for piece in pieces):
            return runs[0]
        return None

    def put_back(self, data: bytes) -> bytes:
        return b"".join(self.pieces(data.decode("ascii", "surrogateescape"))) \
            if self.runs and self.tag.encode() in data else data


_SPOOL: ContextVar[_Spool | None] = ContextVar("mediate_parse_spool", default=None)


def _payload(part: Message) -> bytes:
    spool = _SPOOL.get() or _Spool(b"")
    raw = part.get_payload()
    cte = str(part.get("Content-Transfer-Encoding") or "").strip().lower()
    if isinstance(raw, str) and spool.holds(raw):
        if cte == "base64":
            run = spool.only_run(raw)
            with contextlib.suppress(binascii.Error):  # else the lenient way below
                return binascii.a2b_base64(run if run is not None
                                           else b"".join(spool.pieces(raw)))
        whole = b"".join(spool.pieces(raw))
        part.set_payload(whole.decode("ascii", "surrogateescape"))
        raw = part.get_payload()
    if isinstance(raw, str) and cte == "base64" and part.get_content_maintype() == "text":
        pieces = base64_pieces(raw)
        if pieces is not None:
            return pieces
    data = part.get_payload(decode=True)
    if isinstance(data, bytes):
        return data
    return raw.encode("utf-8", "surrogateescape") if isinstance(raw, str) else b""


def _plain_text(part: Message) -> str:
    """A text/plain part decoded, with RFC 3676 format=flowed lines joined."""
    text = decode_bytes(_payload(part), part.get_content_charset())
    if str(part.get_param("format") or "").lower() == "flowed":
        text = unflow(text, delsp=str(part.get_param("delsp") or "").lower() == "yes")
    return text


def _is_attachment(part: Message) -> bool:
    disposition = (part.get_content_disposition() or "").lower()
    if disposition == "attachment":
        return True
    if part.get_content_maintype() == "text" and part.get_content_subtype() in ("plain", "html"):
        return False
    return True


def _walk(msg: Message, texts: list[str], htmls: list[str], atts: list[Attachment]) -> None:
    """Collect body texts, HTML and attachments; multipart/alternative contributes one body."""
    budget.check()
    ctype = msg.get_content_type()
    # A mail attached to a mail (message/rfc822; the stdlib counts it as multipart) is a
    # file of its own: its text is not the sender's new words.
    if ctype == "message/rfc822" or ctype.startswith("message/"):
        inner = msg.get_payload()
        data = (_SPOOL.get() or _Spool(b"")).put_back(inner[0].as_bytes()) \
            if isinstance(inner, list) and inner else _payload(msg)
        _add_attachment(msg, data, atts, default_name="forwarded.eml")
        return
    if msg.is_multipart():
        parts = [p for p in msg.get_payload() if isinstance(p, Message)]
        if ctype == "multipart/alternative":
            plain = [p for p in parts if p.get_content_type() == "text/plain"]
            html = [p for p in parts if p.get_content_type() == "text/html"]
            nested = [p for p in parts if p.is_multipart()]
            plain_text = _plain_text(plain[0]) if plain and not _is_attachment(plain[0]) else ""
            if plain_text.strip() or (plain and not html and not nested):
                texts.append(plain_text)
                if html:
                    htmls.append(decode_bytes(_payload(html[0]), html[0].get_content_charset()))
                return
            choice = nested[-1] if nested else (html[-1] if html else None)
            if choice is not None:
                _walk(choice, texts, htmls, atts)
                return
        for part in parts:
            _walk(part, texts, htmls, atts)
        return
    if _is_attachment(msg) or (texts and msg.get_filename()):
        # a named text part after the body is a .txt/.html file the sender attached
        _add_attachment(msg, _payload(msg), atts)
        return
    if ctype == "text/html":
        body = decode_bytes(_payload(msg), msg.get_content_charset())
        htmls.append(body)
        texts.append(html_to_text(body))
    else:
        texts.append(_plain_text(msg))


def _add_attachment(part: Message, data: bytes, atts: list[Attachment],
                    default_name: str | None = None) -> None:
    ctype = part.get_content_type()
    disposition = (part.get_content_disposition() or "").lower()
    inline = (disposition != "attachment" and part.get("Content-ID") is not None
              and part.get_content_maintype() == "image")
    try:
        name = part.get_filename() or part.get_param("name") or default_name
    except (ValueError, LookupError):
        name = default_name
    if isinstance(name, tuple):  # RFC 2231 value that collapse could not decode
        name = decode_bytes(str(name[2]).encode("latin-1", "replace"), name[0])
    atts.append(Attachment(filename=sanitise_filename(str(name or ""), ctype), content_type=ctype,
                           data=data, sha256=hashlib.sha256(data).hexdigest(), inline=inline))


def _repair_boundaries(msg: Message) -> None:
    """Re-split multiparts whose declared boundary never occurs (a broken MTA rewrote it).

    The stdlib then keeps the whole body as one string, and relaying that would show raw MIME.
    The boundary actually used is the "--token" line that recurs and encloses MIME headers.
    """
    for part in list(msg.walk()):
        body = part.get_payload()
        if not part.is_multipart() and part.get_content_maintype() == "multipart" \
                and isinstance(body, str):
            # counted once (not .count per token: 208 KB of distinct "--x" lines took 4.4 s)
            seen: Counter[str] = Counter()
            closed: set[str] = set()
            for match in _BOUNDARY_LINE.finditer(body):
                seen[match.group(1)] += 1
                if match.group(2):
                    closed.add(match.group(1))
            candidates = [t for t, n in seen.items() if n >= 2 or t in closed]
            if not candidates:
                continue
            part.set_param("boundary", candidates[0])
            inner = BytesParser(policy=email.policy.compat32).parsebytes(
                b"Content-Type: " + str(part.get("Content-Type")).encode("utf-8", "replace")
                + b"\n\n" + body.encode("utf-8", "surrogateescape"))
            if inner.is_multipart():
                part.set_payload(inner.get_payload())
                part.defects.append(RepairedBoundaryDefect())


def parse_mail(raw: bytes) -> ParsedMail:
    """Parse raw RFC 5322 bytes; raise MalformedMail (with a reason) if nothing usable is there."""
    if not raw or raw.isspace():  # (no .strip(): that copies a 35 MB mail)
        raise MalformedMail("empty message")
    head = raw[:4096].lstrip().split(b"\n", 1)[0]
    if not re.match(rb"^(From |[\x21-\x39\x3b-\x7e]+:)", head):
        raise MalformedMail("no header section: the first line is not a header")
    spool = _Spool(raw)
    spooling = _SPOOL.set(spool)
    try:
        msg = BytesParser(policy=email.policy.compat32).parsebytes(spool.take_out())
        _repair_boundaries(msg)
        texts: list[str] = []
        htmls: list[str] = []
        atts: list[Attachment] = []
        _walk(msg, texts, htmls, atts)
        defects = [type(d).__name__ for part in msg.walk() for d in part.defects]
        from_address, from_name = _address(msg)
        text = "\n\n".join(t.strip("\n") for t in texts if t.strip())
        return ParsedMail(
            message_id=(_message_ids(raw_header(msg, "message-id")) or [None])[0],
            in_reply_to=_message_ids(raw_header(msg, "in-reply-to")),
            references=_message_ids(raw_header(msg, "references")),
            from_address=from_address,
            from_name=from_name,
            subject=decode_header(raw_header(msg, "subject")),
            headers=msg,
            text=_TEXT_CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n")),
            html_source=htmls[0] if htmls else None,
            attachments=atts,
            defects=defects,
        )
    except (MalformedMail, budget.TooSlow):
        raise
    except Exception as exc:  # the stdlib parser has many failure modes; all mean "unreadable"
        raise MalformedMail(f"cannot parse message: {type(exc).__name__}: {exc}") from exc
    finally:
        _SPOOL.reset(spooling)
