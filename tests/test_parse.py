"""parse_mail: decoding that never shows mojibake or raw MIME, and only MalformedMail on failure."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailgate.parse import MalformedMail, decode_header, parse_mail, sanitise_filename
from mailgate.reply_text import extract_reply


def _mail(headers: str, body: str = "Hallo.\n") -> bytes:
    return (headers.strip("\n") + "\n\n" + body).encode("utf-8")


def test_ids_keep_their_angle_brackets() -> None:
    mail = parse_mail(_mail("From: a@example.com\nMessage-ID: <abc@x>\n"
                            "In-Reply-To: <p1@m>\nReferences: <r1@m>\n <r2@m>"))
    assert mail.message_id == "<abc@x>"
    assert mail.in_reply_to == ["<p1@m>"]
    assert mail.references == ["<r1@m>", "<r2@m>"]


def test_from_address_is_lower_cased_and_name_decoded() -> None:
    mail = parse_mail(_mail("From: =?utf-8?b?w5xuYWwgR2Vww6tsbGU=?= <Unal.G@Example.COM>"))
    assert mail.from_address == "unal.g@example.com"
    assert mail.from_name == "Ünal Gepëlle"


def test_raw_utf8_header_is_not_mojibake() -> None:  # RFC 6532
    mail = parse_mail("From: Geëlle <g@example.com>\nSubject: Één vraag\n\nx\n".encode())
    assert mail.from_name == "Geëlle"
    assert mail.subject == "Één vraag"


def test_missing_or_unparseable_from_gives_none() -> None:
    assert parse_mail(_mail("Subject: x")).from_address is None
    assert parse_mail(_mail("From: undisclosed")).from_address is None


def test_adjacent_encoded_words_join_without_space() -> None:
    assert decode_header("=?utf-8?q?Ge=C3=AB?= =?utf-8?q?lle?=") == "Geëlle"


def test_unknown_charset_falls_back_instead_of_failing() -> None:
    raw = _mail("From: a@example.com\nContent-Type: text/plain; charset=x-klingon",
                "caf\u00e9\n")
    assert parse_mail(raw).text == "café"


def test_base64_body_is_decoded() -> None:
    body = base64.encodebytes(b"Dag allemaal,\nIk kom.\n").decode()
    raw = _mail("From: a@example.com\nContent-Type: text/plain; charset=utf-8\n"
                "Content-Transfer-Encoding: base64", body)
    assert parse_mail(raw).text == "Dag allemaal,\nIk kom."


def test_html_only_mail_becomes_text_with_lists_and_links() -> None:
    html = ('<p>Punten:</p><ol><li>huis</li><li>auto</li></ol>'
            '<p>Zie <a href="https://example.com/x">het rapport</a>.<br>Groet</p>'
            '<script>alert(1)</script>')
    mail = parse_mail(_mail("From: a@example.com\nContent-Type: text/html; charset=utf-8", html))
    assert mail.text == "Punten:\n\n1. huis\n2. auto\n\nZie het rapport (https://example.com/x).\nGroet"
    assert mail.html is not None and "<script>" not in mail.html


@pytest.mark.parametrize(("given_name", "expected"), [
    ("../../etc/passwd", "passwd"),
    ("C:\\Users\\jan\\rapport.pdf", "rapport.pdf"),
    ("a\x00b\x1fc.txt", "abc.txt"),
    ("", "attachment.pdf"),
    ("=?utf-8?q?Vonnis_rechtbank.pdf?=", "Vonnis rechtbank.pdf"),
])
def test_attachment_names_are_sanitised(given_name: str, expected: str) -> None:
    assert sanitise_filename(given_name, "application/pdf") == expected


def test_long_attachment_names_keep_their_extension() -> None:
    name = sanitise_filename("x" * 400 + ".docx", "application/octet-stream")
    assert len(name) <= 150 and name.endswith(".docx")


@pytest.mark.parametrize(("raw", "reason"), [
    (b"", "empty"),
    (b"   \r\n", "empty"),
    (b"just some words\nno headers here\n", "header"),
])
def test_non_mail_raises_malformed_with_reason(raw: bytes, reason: str) -> None:
    with pytest.raises(MalformedMail) as info:
        parse_mail(raw)
    assert reason in info.value.reason


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=600))
def test_parse_mail_raises_only_malformed_mail_on_random_bytes(raw: bytes) -> None:
    try:
        mail = parse_mail(b"From: a@example.com\nContent-Type: multipart/mixed; boundary=b\n\n"
                          + raw)
    except MalformedMail:
        return
    assert isinstance(mail.text, str)


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=300))
def test_parse_mail_survives_arbitrary_headers(header_text: str) -> None:
    try:
        parse_mail(("From: " + header_text + "\nSubject: " + header_text + "\n\nx").encode(
            "utf-8", "surrogatepass"))
    except MalformedMail:
        pass


def test_large_files_are_decoded_whole_also_inside_a_forwarded_mail_and_a_text_part():
    """Long base64 runs skip the stdlib parser (mailgate.parse._Spool); what every part
    yields must be exactly what the stdlib would have given."""
    import hashlib
    import os
    from email.message import EmailMessage

    from mailgate.parse import parse_mail

    big = os.urandom(700_000)
    inner = EmailMessage()
    inner["From"], inner["Subject"] = "anna@example.com", "Taxatie"
    inner.set_content("Zie bijlage.")
    inner.add_attachment(big, maintype="application", subtype="pdf", filename="taxatie.pdf")
    pasted = "\n".join(["QUJDRA" * 12] * 5000)  # a base64-looking block pasted into a text
    outer = EmailMessage()
    outer["From"], outer["To"], outer["Subject"] = "bram@example.net", "x@y.test", "Fwd"
    outer["Message-ID"] = "<fwd@example.net>"
    outer.set_content("Here it is.")
    outer.add_attachment(big[::-1], maintype="application", subtype="pdf", filename="copy.pdf")
    outer.add_attachment(inner, filename="original.eml")
    outer.add_attachment(pasted, subtype="plain", filename="pasted.txt")
    parsed = parse_mail(outer.as_bytes())

    files = {a.filename: a for a in parsed.attachments}
    assert parsed.text.strip() == "Here it is."
    assert files["copy.pdf"].data == big[::-1]
    assert files["copy.pdf"].sha256 == hashlib.sha256(big[::-1]).hexdigest()
    forwarded = parse_mail(files["original.eml"].data)
    assert [a.data for a in forwarded.attachments] == [big]
    assert files["pasted.txt"].data.decode().replace("\r\n", "\n").strip() == pasted
    assert b"@@mediate-spool" not in files["original.eml"].data


@pytest.mark.parametrize("label", ["big5", "iso-8859-1", "windows-1252", "gb2312", "koi8-r"])
def test_utf8_bytes_under_a_wrong_label_are_read_as_utf8(label: str) -> None:
    body = "Goedemiddag, één vraag over de café-rekening: ça va?".encode()
    raw = (f"From: a@example.nl\nContent-Type: text/plain; charset={label}\n"
           "Content-Transfer-Encoding: 8bit\n\n").encode() + body
    assert parse_mail(raw).text == body.decode()


def test_text_in_its_labelled_charset_is_still_read_as_labelled() -> None:
    raw = (b"From: a@example.nl\nContent-Type: text/plain; charset=iso-8859-1\n\n"
           + "Café één".encode("latin-1"))
    assert parse_mail(raw).text == "Café één"


def test_gmails_signature_block_in_html_mail_is_a_signature() -> None:
    html = ('<div dir="ltr">Dat is goed.<br><br>Groet,<br>Sanne<br>'
            '<div class="gmail_signature"><div>Sanne Bakker, notaris</div>'
            '<div>06-12345678</div></div></div>')
    raw = ("From: s@example.nl\nContent-Type: text/html; charset=utf-8\n\n" + html).encode()
    assert extract_reply(parse_mail(raw).text) == "Dat is goed.\n\nGroet,\nSanne"
