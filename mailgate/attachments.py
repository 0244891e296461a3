"""Decide which attachments may be passed on to the other participants.

Executable and macro-carrying formats are refused outright (the list follows the file types
Outlook and Gmail block); sizes are capped per file and per message; inline images with a
Content-ID are signature logos and tracking pixels, not documents a party meant to share.
"""

from __future__ import annotations

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


def screen_attachments(atts: list[Attachment],
                       policy: AttachmentPolicy) -> list[tuple[Attachment, bool, str]]:
    """(attachment, passed, reason) for each attachment, in order."""
    out: list[tuple[Attachment, bool, str]] = []
    total = 0
    forbidden = {e.lower().lstrip(".") for e in policy.forbidden_extensions}
    for att in atts:
        if att.inline:
            out.append((att, False, "inline image (signature or logo)"))
            continue
        ext = _extension(att.filename)
        if ext in forbidden:
            out.append((att, False, f"file type .{ext} is not allowed"))
            continue
        if att.size > policy.max_file_bytes:
            out.append((att, False, f"larger than {policy.max_file_bytes} bytes"))
            continue
        if total + att.size > policy.max_message_bytes:
            out.append((att, False, f"message attachments exceed {policy.max_message_bytes} bytes"))
            continue
        total += att.size
        out.append((att, True, "ok"))
    return out
