"""The signed settlement as a PDF (fpdf2, pure Python, with DejaVu Sans for every accent).

The document is the exact text everyone signed, unchanged (only wrapped to the page), then a
page with each signature (typed name, time, IP address, browser) and the text's SHA-256. The
exact UTF-8 text is also embedded as a file in the PDF (``settlement.txt``), so that anyone can
recompute its SHA-256 without retyping a page.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from fpdf import FPDF
from sqlmodel import Session

from mediate.data import FONT
from threads import settlement
from threads.crypto import AtRestKey, seal
from threads.locales import date_and_time
from threads.models import Blob, Case, Participant, Settlement

WORDS = {
    "nl": {"signatures": "Handtekeningen", "signed": "Ondertekend als", "at": "Op",
           "ip": "IP-adres", "browser": "Browser", "sha": "SHA-256 van de tekst",
           "mediator": "mediator", "party": "partij", "check": (
               "De tekst hierboven is precies de tekst die is ondertekend; hij zit ook als "
               "bestand settlement.txt in deze pdf, zodat ieder de SHA-256 kan nagaan.")},
    "en": {"signatures": "Signatures", "signed": "Signed as", "at": "At",
           "ip": "IP address", "browser": "Browser", "sha": "SHA-256 of the text",
           "mediator": "mediator", "party": "party", "check": (
               "The text above is exactly the text that was signed; it is also embedded in "
               "this PDF as the file settlement.txt, so that anyone can check its SHA-256.")},
}


@dataclass
class Signed:
    name: str
    role: str  # party | mediator
    typed_name: str
    at: datetime
    ip: str
    user_agent: str


def render(title: str, text: str, sha256: str, signed: list[Signed], lang: str,
           zone: str | None = None) -> bytes:
    words = WORDS.get(lang, WORDS["en"])
    pdf = FPDF(format="A4")
    pdf.set_title(title)
    pdf.set_creator("Mediate")
    pdf.set_margins(22, 20, 22)
    pdf.set_auto_page_break(True, margin=20)
    pdf.add_font("DejaVu", fname=str(FONT))
    pdf.set_font("DejaVu", size=10.5)
    pdf.add_page()
    pdf.multi_cell(0, 5.4, text, new_x="LMARGIN", new_y="NEXT")
    pdf.add_page()
    pdf.set_font("DejaVu", size=13)
    pdf.cell(0, 8, words["signatures"], new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("DejaVu", size=10)
    for item in signed:
        pdf.ln(3)
        lines = [f"{item.name} ({words[item.role]})",
                 f"{words['signed']}: {item.typed_name}",
                 f"{words['at']}: {date_and_time(item.at, lang, zone)}"]
        if item.ip:
            lines.append(f"{words['ip']}: {item.ip}")
        lines.append(f"{words['browser']}: {item.user_agent}")
        pdf.multi_cell(0, 5, "\n".join(lines), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(6)
    pdf.multi_cell(0, 5, f"{words['sha']}:\n{sha256}", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    pdf.set_font("DejaVu", size=8.5)
    pdf.multi_cell(0, 4.5, words["check"], new_x="LMARGIN", new_y="NEXT")
    pdf.embed_file(bytes=text.encode("utf-8"), basename="settlement.txt",
                   desc=words["sha"] + ": " + sha256)
    return bytes(pdf.output())


def of_case(session: Session, case: Case) -> tuple[Settlement, bytes] | None:
    """The settlement of a case as its PDF, with the signatures that count now."""
    document = settlement.of(session, case)
    if document is None:
        return None
    signed = []
    for signature in settlement.signatures(session, document):
        person = session.get(Participant, signature.participant_id)
        signed.append(Signed(person.name, person.role, signature.typed_name,
                             signature.signed_at, signature.ip, signature.user_agent))
    title = f"{case.ref} {case.title}"
    return document, render(title, document.text, document.sha256, signed, document.language,
                            case.timezone)


def stored(session: Session, case: Case, key: AtRestKey | None) -> dict | None:
    """The final PDF as a stored file for the mail composer: built and stored (sealed) once,
    when the last signature is in, and attached to every party's copy from there."""
    made = of_case(session, case)
    if made is None:
        return None
    document, data = made
    digest = hashlib.sha256(data).hexdigest()
    if document.pdf_sha256 is None or session.get(Blob, document.pdf_sha256) is None:
        if session.get(Blob, digest) is None:
            session.add(Blob(sha256=digest, size=len(data), data=seal(data, key)))
        document.pdf_sha256 = digest
        session.add(document)
        session.flush()
    return {"sha256": document.pdf_sha256, "filename": filename(case, document),
            "content_type": "application/pdf"}


def filename(case: Case, document: Settlement) -> str:
    return f"{document.kind}-{case.ref}.pdf"
