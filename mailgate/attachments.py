"""Decide which attachments may be passed on to the other participants.

Executable and macro-carrying formats are refused outright (the list follows the file types
Outlook and Gmail block, and what phishing moved on to: HTML and SVG pages, OneNote, disk
images, MSIX packages, Excel add-ins); sizes are capped per file and per message; inline
images with a Content-ID are signature logos and tracking pixels, not documents a party meant
to share.

A name is judged as Windows would open it (trailing dots and spaces do not count), a name with
bidirectional control characters is refused (U+202E shows "photo\u202egpj.html" as
"photolmth.jpg"), and containers are looked into: a zip's list of names (never its contents
unpacked) and the files of an attached mail, nested up to three deep.
"""

from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass
from email.message import Message
from email.parser import BytesParser
from email.policy import compat32
from functools import lru_cache

from mailgate.parse import Attachment
from threads.i18n import N_, translate

FORBIDDEN_EXTENSIONS: tuple[str, ...] = (
    "exe", "bat", "cmd", "com", "scr", "js", "jse", "vbs", "vbe", "ps1", "psm1", "jar", "msi",
    "msp", "msc", "dll", "cpl", "hta", "lnk", "pif", "reg", "wsf", "wsh", "sh", "app", "apk",
    "iso", "img", "vhd", "docm", "dotm", "xlsm", "xltm", "xlam", "pptm", "potm", "ppam", "sldm",
    "vhdx", "msix", "msixbundle", "appx", "appxbundle", "appinstaller", "xll", "xla", "wll",
    "one", "onepkg", "svg", "svgz", "html", "htm", "xhtml", "shtml", "mht", "mhtml",
    "chm", "hlp", "url", "website", "scf", "library-ms", "settingcontent-ms", "search-ms",
    "iqy", "slk", "inf", "ins", "isp", "sct", "shb", "shs", "ws", "wsc", "gadget", "jnlp",
    "appref-ms", "application", "diagcab", "cab", "msh", "msh1", "msh2", "mshxml", "ps1xml",
    "ps2", "ps2xml", "psc1", "psc2", "psd1", "vb", "vsmacros", "xbap", "mde", "mdb", "ade",
    "adp", "accde", "pyz", "pyw", "py", "bas", "ocx", "sys", "drv", "arj", "ace",
)


@dataclass
class AttachmentPolicy:
    max_file_bytes: int = 10 * 1024 * 1024
    max_message_bytes: int = 25 * 1024 * 1024
    forbidden_extensions: tuple[str, ...] = FORBIDDEN_EXTENSIONS


def _extension(filename: str) -> str:
    name = filename.rstrip(". \t")  # as Windows opens it: "evil.exe . ." is evil.exe
    return name.rpartition(".")[2].lower().strip() if "." in name else ""


def _inner_names(data: bytes, content_type: str, filename: str, depth: int = 0) -> list[str]:
    """The names of the files inside a zip or an attached mail (and inside those)."""
    if depth >= _NESTING:
        return []
    names: list[str] = []
    if content_type == "message/rfc822" or _extension(filename) == "eml":
        inner = BytesParser(policy=compat32).parsebytes(data)
        for part in inner.walk():
            if not isinstance(part, Message) or part.is_multipart():
                continue
            name = _part_name(part)
            if name:
                names.append(name)
                payload = part.get_payload(decode=True)
                if isinstance(payload, bytes):
                    names += _inner_names(payload, part.get_content_type(), name, depth + 1)
    elif data[:4] == b"PK\x03\x04" or _extension(filename) == "zip":
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                for info in archive.infolist()[:10000]:
                    names.append(info.filename.replace("\\", "/").rsplit("/", 1)[-1])
                    if _extension(info.filename) in ("zip", "eml") \
                            and info.file_size <= 10 * 1024 * 1024:
                        names += _inner_names(archive.read(info), "", info.filename, depth + 1)
        except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError, RuntimeError):
            return names  # unreadable or encrypted: its names are what could be read
    return names


def _part_name(part: Message) -> str:
    try:
        name = part.get_filename() or part.get_param("name") or ""
    except (ValueError, LookupError):
        return ""
    return str(name[2] if isinstance(name, tuple) else name)


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):g} MB"


# Why a file was not passed on, by kind. What is stored is the kind and its value ("type:.exe",
# "file:10 MB"); `describe` words it for each reader, `mediate inspect` in English.
REASONS = {
    "inline": N_("inline image (signature or logo)"),
    "type": N_("files of type %(value)s are not passed on"),
    "file": N_("larger than %(value)s, the limit per file"),
    "message": N_("together with the other files larger than %(value)s, the limit per message"),
    "bidi": N_("the name hides its real type (right-to-left control characters)"),
    "inside": N_("it contains a file of type %(value)s, which is not passed on"),
}
# Unicode's bidirectional controls: they make a name read differently from how it opens.
_BIDI = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_NESTING = 3


def _reason(kind: str, value: str = "") -> str:
    return f"{kind}:{value}" if value else kind


def describe(reason: str, lang: str) -> str:
    """A stored reason in the reader's language (as it is when it is not one of ours)."""
    kind, _, value = reason.partition(":")
    if kind not in REASONS:
        return reason
    return translate(lang, REASONS[kind], value=value)


@lru_cache(maxsize=8)
def _forbidden(extensions: tuple[str, ...]) -> frozenset[str]:
    return frozenset(e.lower().lstrip(".") for e in extensions)


def screen_attachments(atts: list[Attachment],
                       policy: AttachmentPolicy) -> list[tuple[Attachment, bool, str]]:
    """(attachment, passed, reason) for each attachment, in order."""
    out: list[tuple[Attachment, bool, str]] = []
    total = 0
    forbidden = _forbidden(tuple(policy.forbidden_extensions))
    for att in atts:
        if att.inline:
            out.append((att, False, _reason("inline")))
            continue
        if _BIDI.search(att.filename):
            att.filename = _BIDI.sub("", att.filename)  # shown without them from now on
            out.append((att, False, _reason("bidi")))
            continue
        # "evil.exe:stream" (an NTFS stream) opens as evil.exe: both readings are judged
        ext = next((e for e in (_extension(att.filename),
                                _extension(att.filename.split(":", 1)[0])) if e in forbidden),
                   None)
        if ext is not None:
            out.append((att, False, _reason("type", f".{ext}")))
            continue
        hidden = [e for e in map(_extension, _inner_names(att.data, att.content_type,
                                                         att.filename)) if e in forbidden]
        if hidden:
            out.append((att, False, _reason("inside", f".{hidden[0]}")))
            continue
        if att.size > policy.max_file_bytes:
            out.append((att, False, _reason("file", _megabytes(policy.max_file_bytes))))
            continue
        if total + att.size > policy.max_message_bytes:
            out.append((att, False, _reason("message", _megabytes(policy.max_message_bytes))))
            continue
        total += att.size
        out.append((att, True, "ok"))
    return out
