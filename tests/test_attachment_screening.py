"""Attachments that must not slip through: names judged as Windows opens them, bidi tricks,
programs inside zips and attached mails, and the extended list of refused types."""

from __future__ import annotations

import hashlib
import io
import zipfile
from email.message import EmailMessage

import pytest

from mailgate.attachments import AttachmentPolicy, describe, screen_attachments
from mailgate.parse import Attachment, parse_mail


def _att(name: str, data: bytes = b"data", ctype: str = "application/octet-stream") -> Attachment:
    return Attachment(filename=name, content_type=ctype, data=data,
                      sha256=hashlib.sha256(data).hexdigest(), inline=False)


def _screen(att: Attachment) -> tuple[bool, str]:
    [(_, ok, why)] = screen_attachments([att], AttachmentPolicy())
    return ok, why


def _zip(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


@pytest.mark.parametrize("name", ["evil.exe . .", "evil.exe.", "evil.exe   ", "factuur.pdf.exe. "])
def test_trailing_dots_and_spaces_do_not_hide_a_program(name: str) -> None:
    ok, why = _screen(_att(name))
    assert not ok and ".exe" in why


def test_a_name_with_trailing_dots_is_cleaned_when_parsed() -> None:
    mail = EmailMessage()
    mail["From"] = "a@example.nl"
    mail.set_content("Zie bijlage.")
    mail.add_attachment(b"MZ", maintype="application", subtype="octet-stream",
                        filename="evil.exe . .")
    [att] = parse_mail(mail.as_bytes()).attachments
    assert att.filename == "evil.exe"


def test_a_right_to_left_override_in_a_name_is_refused() -> None:
    att = _att("photo\u202egpj.html")
    ok, why = _screen(att)
    assert not ok and "right-to-left" in why
    assert "\u202e" not in att.filename
    assert "leesrichting" in describe(why, "nl")


@pytest.mark.parametrize("ext", ["svg", "html", "one", "vhdx", "msix", "xll", "htm", "iqy"])
def test_the_extended_default_list_refuses(ext: str) -> None:
    ok, _ = _screen(_att(f"document.{ext}"))
    assert not ok


def test_a_program_inside_a_zip_is_refused_with_the_reason() -> None:
    ok, why = _screen(_att("stukken.zip", _zip({"brief.pdf": b"%PDF", "map/run.exe": b"MZ"})))
    assert not ok and ".exe" in why
    assert "zit een bestand van het type .exe in" in describe(why, "nl")


def test_a_program_inside_a_zip_inside_a_zip_is_refused() -> None:
    inner = _zip({"setup.msix": b"PK"})
    ok, _ = _screen(_att("archief.zip", _zip({"deel1.zip": inner})))
    assert not ok


def test_a_zip_of_documents_passes() -> None:
    ok, _ = _screen(_att("stukken.zip", _zip({"brief.pdf": b"%PDF", "foto.jpg": b"\xff\xd8"})))
    assert ok


def test_a_program_inside_an_attached_mail_is_refused() -> None:
    inner = EmailMessage()
    inner["From"] = "x@example.org"
    inner.set_content("zie bijlage")
    inner.add_attachment(b"MZ", maintype="application", subtype="octet-stream",
                         filename="invoice.scr")
    outer = EmailMessage()
    outer["From"] = "a@example.nl"
    outer.set_content("Dit kreeg ik binnen.")
    outer.add_attachment(inner)
    [att] = parse_mail(outer.as_bytes()).attachments
    ok, why = _screen(att)
    assert not ok and ".scr" in why


def test_an_attached_mail_with_a_document_passes() -> None:
    inner = EmailMessage()
    inner["From"] = "x@example.org"
    inner.set_content("zie bijlage")
    inner.add_attachment(b"%PDF-1.4", maintype="application", subtype="pdf", filename="brief.pdf")
    outer = EmailMessage()
    outer["From"] = "a@example.nl"
    outer.set_content("Dit kreeg ik binnen.")
    outer.add_attachment(inner)
    [att] = parse_mail(outer.as_bytes()).attachments
    assert _screen(att)[0]
