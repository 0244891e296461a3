"""Every mail template exists in Dutch and English and renders with a subject and a body."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from mailgate.compose import Composer

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
KINDS = sorted({p.stem for p in (TEMPLATES / "mail" / "en").glob("*.txt")
                if not p.stem.startswith("_")})


def test_dutch_and_english_have_the_same_mail_templates():
    dutch = sorted({p.stem for p in (TEMPLATES / "mail" / "nl").glob("*.txt")
                    if not p.stem.startswith("_")})
    assert dutch == KINDS


@pytest.mark.parametrize("lang", ["nl", "en"])
@pytest.mark.parametrize("kind", KINDS)
def test_template_starts_with_a_subject_line(kind, lang):
    first = (TEMPLATES / "mail" / lang / f"{kind}.txt").read_text().splitlines()[0]
    assert first.startswith("Subject: ") and "{%" not in first, first


def test_a_relay_renders_the_message_and_the_way_to_answer():
    composer = Composer(domain="mediation.test", templates_dir=TEMPLATES)
    person = SimpleNamespace(name="Anna", role="party", email="a@x.test", moderation=None)
    mediator = SimpleNamespace(name="Maria", role="mediator", email="m@x.test")
    case = SimpleNamespace(title="House", ref="2026-001", moderation="review")
    message = SimpleNamespace(seq=1, text="Hello", released_text="Hello")
    for lang, expected in (("en", "goes to the mediator first"), ("nl", "eerst naar de mediator")):
        subject, body = composer.render("relay", lang, {
            "case": case, "recipient": person, "author": person, "message": message,
            "mediator": mediator,
        })
        assert subject == "House"
        assert body.startswith("Hello\n") and expected in body


def test_composed_headers_fold_to_78_characters_and_keep_names_and_titles_intact():
    import email
    import email.policy
    from email.mime.text import MIMEText
    from email.utils import formataddr

    from mailgate.compose import _UTF8_QP, _text_header, serialise

    mail = MIMEText("Hallo Geëlle,\n\n" + "lang " * 40 + "\n", "plain", _UTF8_QP)
    mail["From"] = formataddr(("Geëlle Ünal", "2026-001+abc@mediation.example.org"),
                              charset="utf-8")
    mail["To"] = formataddr(("Evil\r\nBcc: spy@example.com", "p@example.com"), charset="utf-8")
    title = "[2026-001] Verdeling van het huis — Geëlle en Bram, een lange titel die doorgaat"
    mail["Subject"] = _text_header(title, "Subject")
    mail["Thread-Topic"] = _text_header("Sharing the house " * 8, "Thread-Topic")
    mail["References"] = " ".join(f"<{n:032x}@mediation.example.org>" for n in range(6))
    raw = serialise(mail)

    assert all(len(line) <= 78 for line in raw.split(b"\r\n"))
    assert b"\n" not in raw.replace(b"\r\n", b"")
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert parsed["Subject"] == title
    assert parsed["From"].addresses[0].display_name == "Geëlle Ünal"
    assert parsed["Bcc"] is None  # a line break in a name cannot add a header
    assert parsed["Thread-Topic"] == ("Sharing the house " * 8).strip()
    assert len(parsed["References"].split()) == 6
    assert parsed.get_content().replace("\r\n", "\n") == "Hallo Geëlle,\n\n" + "lang " * 40 + "\n"


def test_files_are_added_as_parts_encoded_once_for_every_copy():
    import email
    import email.policy
    from email.mime.text import MIMEText

    from mailgate.compose import _UTF8_QP, FileParts, serialise, with_files

    pdf = bytes(range(256)) * 500
    original = b"From: anna@example.com\nSubject: Taxatie\n\nZie bijlage.\n"
    blobs = {"a" * 64: pdf, "b" * 64: original}
    loaded = []
    parts = FileParts(lambda sha: loaded.append(sha) or blobs[sha])
    files = [{"sha256": "a" * 64, "filename": "taxatie Geëlle.pdf",
              "content_type": "application/pdf"},
             {"sha256": "b" * 64, "filename": "original.eml", "content_type": "message/rfc822"}]
    for n in range(3):
        text = MIMEText(f"Copy {n}: the valuation is attached.\n", "plain", _UTF8_QP)
        text["Subject"] = "[2026-001] Sharing the house"
        text["Message-ID"] = f"<copy{n}@mediation.example.org>"
        raw = with_files(serialise(text), files, parts)
        mail = email.message_from_bytes(raw, policy=email.policy.default)
        assert mail.get_content_type() == "multipart/mixed"
        assert mail["Message-ID"] == f"<copy{n}@mediation.example.org>"
        body, pdf_part, mail_part = mail.iter_parts()
        assert body.get_content().strip() == f"Copy {n}: the valuation is attached."
        assert pdf_part.get_filename() == "taxatie Geëlle.pdf"
        assert pdf_part.get_content() == pdf
        assert mail_part.get_content_type() == "message/rfc822"
        assert mail_part.get_content()["Subject"] == "Taxatie"
        assert all(len(line) <= 998 for line in raw.split(b"\r\n"))
    assert loaded == ["a" * 64, "b" * 64]  # read and encoded once, not once per copy


def test_problems_opening_a_case_by_mail_are_worded_in_the_mediators_own_language():
    from threads.cases import CaseError, validate_parties
    from threads.opening import read_request
    from threads.settings import CaseSettings

    request = read_request("Het huis", "Anna <anna@home.test>\nBram <bram@@work.test>\n"
                                       "Cees <ANNA@home.test>")
    try:
        validate_parties(request.parties, "mediator@office.test", CaseSettings())
    except CaseError as error:
        request.problems += [{"key": "open-problem", "problem": p} for p in error.phrases]
    composer = Composer(domain="mediation.test", templates_dir=TEMPLATES)
    context = {"errors": request.problems, "title": "Het huis"}
    _, dutch = composer.render("open-problems", "nl", context)
    _, english = composer.render("open-problems", "en", context)
    assert "'bram@@work.test' is geen geldig e-mailadres" in dutch
    assert "Het adres anna@home.test staat er twee keer in." in dutch
    assert "valid" not in dutch and "given" not in dutch
    assert "'bram@@work.test' is not a valid e-mail address" in english
    assert "The address anna@home.test is given twice." in english


def test_why_a_file_stayed_behind_is_told_in_the_readers_language():
    from mailgate.attachments import AttachmentPolicy, describe, screen_attachments
    from mailgate.parse import Attachment

    files = [Attachment(filename=name, content_type="application/octet-stream", data=data,
                        sha256="0" * 64, inline=False)
             for name, data in (("tool.exe", b"MZ"), ("big.pdf", b"x" * 3_000_000))]
    reasons = [reason for _, _, reason in
               screen_attachments(files, AttachmentPolicy(max_file_bytes=2 * 1024 * 1024))]
    assert [describe(r, "nl") for r in reasons] == [
        "bestanden van het type .exe worden niet doorgestuurd",
        "groter dan 2 MB, het maximum per bestand"]
    assert reasons == ["type:.exe", "file:2 MB"]  # a key and its value, worded when read
    assert [describe(r, "en") for r in reasons] == [
        "files of type .exe are not passed on", "larger than 2 MB, the limit per file"]
    assert describe("a reason of someone else's", "nl") == "a reason of someone else's"
    composer = Composer(domain="mediation.test", templates_dir=TEMPLATES)
    text = composer.env.from_string('{{ r|file_reason("nl") }}').render(r=reasons[0])
    assert text == "bestanden van het type .exe worden niet doorgestuurd"
