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


@pytest.mark.parametrize("name", ["evil.exe . .", "evil.exe.", "evil.exe   ", "factuur.pdf.exe. ",
                                  "evil.exe:Zone.Identifier"])
def test_trailing_dots_and_spaces_do_not_hide_a_program(name: str) -> None:
    ok, why = _screen(_att(name))
    assert not ok and ".exe" in why


def _mail(filename: str, data: bytes, subtype: str = "octet-stream") -> EmailMessage:
    mail = EmailMessage()
    mail["From"] = "x@example.org"
    mail.set_content("Zie bijlage.")
    mail.add_attachment(data, maintype="application", subtype=subtype, filename=filename)
    return mail


def _forwarded(inner: EmailMessage) -> Attachment:
    """The attachment a party's mail carries when it forwards `inner` as a mail of its own."""
    outer = EmailMessage()
    outer["From"] = "a@example.nl"
    outer.set_content("Dit kreeg ik binnen.")
    outer.add_attachment(inner)
    [att] = parse_mail(outer.as_bytes()).attachments
    return att


def test_a_name_with_trailing_dots_is_cleaned_when_parsed() -> None:
    [att] = parse_mail(_mail("evil.exe . .", b"MZ").as_bytes()).attachments
    assert att.filename == "evil.exe"


def test_a_right_to_left_override_in_a_name_is_refused() -> None:
    att = _att("photo\u202egpj.html")
    ok, why = _screen(att)
    assert not ok and "right-to-left" in describe(why, "en")
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
    ok, why = _screen(_forwarded(_mail("invoice.scr", b"MZ")))
    assert not ok and ".scr" in why


def test_an_attached_mail_with_a_document_passes() -> None:
    assert _screen(_forwarded(_mail("brief.pdf", b"%PDF-1.4", "pdf")))[0]


def test_a_time_in_a_documents_name_is_not_taken_for_a_stream() -> None:
    assert _screen(_att("Notulen 10:30.pdf"))[0]


def test_reasons_stored_as_sentences_before_are_read_back_as_keys_by_the_migration() -> None:
    import importlib.util
    from pathlib import Path

    path = (Path(__file__).resolve().parents[1] / "threads" / "migrations" / "versions"
            / "0012_i18n_attachment_reason_keys.py")
    spec = importlib.util.spec_from_file_location("reason_keys", path)
    assert spec is not None and spec.loader is not None
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)
    policy = AttachmentPolicy(max_file_bytes=1024, max_message_bytes=1536)
    files = [_att("a.exe"), _att("stukken.zip", _zip({"run.exe": b"MZ"})),
             _att("photo\u202egpj.html"), _att("big.pdf", b"x" * 2000),
             _att("one.pdf", b"x" * 1000), _att("two.pdf", b"x" * 1000)]
    keys = [why for _, ok, why in screen_attachments(files, policy) if not ok]
    assert keys[:3] == ["type:.exe", "inside:.exe", "bidi"]
    assert [key.partition(":")[0] for key in keys[3:]] == ["file", "message"]
    for key in keys:
        old = migration._sentence(key)  # the English sentence stored before
        assert old == describe(key, "en")
        assert migration._key(old) == key
    assert migration._key("a reason of someone else's") is None
