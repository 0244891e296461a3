"""Decide which attachments may be passed on to the other participants.

Executable and macro-carrying formats are refused outright (the list follows the file types
Outlook and Gmail block); sizes are capped per file and per message; inline images with a
Content-ID are signature logos and tracking pixels, not documents a party meant to share.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mailgate.parse import Attachment

FORBIDDEN_EXTENSIONS: tuple[str, ...] = (
    "exe", "bat", "cmd", "com", "scr", "js", "jse", "vbs", "vbe", "ps1", "psm1", "jar", "msi",
    "msp", "msc", "dll", "cpl", "hta", "lnk", "pif", "reg", "wsf", "wsh", "sh", "app", "apk",
    "iso", "img", "vhd", "docm", "dotm", "xlsm", "xltm", "xlam", "pptm", "potm", "ppam", "sldm",
)


@dataclass
class AttachmentPolicy:
    max_file_bytes: int = 10 * 1024 * 1024
    max_message_bytes: int = 25 * 1024 * 1024
    forbidden_extensions: tuple[str, ...] = FORBIDDEN_EXTENSIONS


def _extension(filename: str) -> str:
    return filename.rpartition(".")[2].lower() if "." in filename else ""


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):g} MB"


# Why a file was not passed on: the English sentence is what is stored and what
# `mediate inspect` shows; `describe` words it for the reader of a mail.
_REASONS = {
    "inline": ("inline image (signature or logo)",
               "afbeelding in de tekst (handtekening of logo)"),
    "type": ("files of type .{0} are not passed on",
             "bestanden van het type .{0} worden niet doorgestuurd"),
    "file": ("larger than {0}, the limit per file", "groter dan {0}, het maximum per bestand"),
    "message": ("together with the other files larger than {0}, the limit per message",
                "samen met de andere bestanden groter dan {0}, het maximum per bericht"),
}
_READ_BACK = [(kind, re.compile("^" + re.escape(en).replace(r"\{0\}", "(.+)") + "$"))
              for kind, (en, _) in _REASONS.items()]


def _reason(kind: str, value: str = "") -> str:
    return _REASONS[kind][0].format(value)


def describe(reason: str, lang: str) -> str:
    """A stored reason in the reader's language (as it is when it is not one of ours)."""
    for kind, pattern in _READ_BACK:
        match = pattern.match(reason)
        if match:
            words = _REASONS[kind][1 if lang == "nl" else 0]
            return words.format(*match.groups())
    return reason


def screen_attachments(atts: list[Attachment],
                       policy: AttachmentPolicy) -> list[tuple[Attachment, bool, str]]:
    """(attachment, passed, reason) for each attachment, in order."""
    out: list[tuple[Attachment, bool, str]] = []
    total = 0
    forbidden = {e.lower().lstrip(".") for e in policy.forbidden_extensions}
    for att in atts:
        if att.inline:
            out.append((att, False, _reason("inline")))
            continue
        ext = _extension(att.filename)
        if ext in forbidden:
            out.append((att, False, _reason("type", ext)))
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
