"""The members of a case archive, each built from the database by one small function.

- ``messages.mbox``: mboxrd (lines starting with ``>*From `` get one more ``>``), LF line
  endings, in the order mail arrived or was written; read by Thunderbird, mutt and Python's
  ``mailbox``.
- ``attachments/<message>-<n>-<name>``: the files kept with each message (``Blob``), or for
  messages stored before those existed, parsed out of the raw inbound mail (RFC 2045/2183).
  A file that was not passed on (a program, a macro document, too large) is left out and
  named in the transcript with its reason: an archive must not carry what the service
  refused. A file a browser would run as a page (``.html``, ``.svg``, ...) gets ``.txt``
  added to its name, so that opening it from the transcript shows its text, never runs it.
- ``intake/<n>-<name>.json``: each party's answers by question id, as saved.
- ``agreement/signed-<sha256>.txt`` (each text exactly as signed, once) and
  ``agreement/signatures.json`` (who signed which text, when, typed name, from where).
  Either folder holds a README line when nothing was recorded.
- ``costs.csv``: the mediator's logged time at the case's rate, the platform fee, VAT, the
  total and each party's share.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from sqlmodel import Session, col, select

from mailgate.attachments import describe
from mailgate.parse import MalformedMail, parse_mail
from mediate import settlement_pdf
from threads.costs import cents, plain
from threads.costs import overview as cost_overview
from threads.crypto import AtRestKey, unseal
from threads.i18n import install
from threads.locales import DEFAULT_ZONE
from threads.locales import FILTERS as LOCALE_FILTERS
from threads.models import (
    Blob,
    Case,
    InboundMail,
    IntakeAnswer,
    Message,
    MessageAttachment,
    OutgoingMail,
    Participant,
    SettlementSignature,
    Signature,
)
from threads.record import Entry, Transcript

_FROM_LINE = re.compile(rb"^>*From ")
NO_INTAKE = b"no intake recorded\n"
NO_AGREEMENT = b"no agreement recorded\n"
NO_ATTACHMENTS = b"no attachments\n"


@lru_cache(maxsize=4)
def _environment(templates_dir: Path) -> Environment:
    """The case file's environment, built once per templates folder (not once per export)."""
    env = install(Environment(  # texts in the reader's ``lang`` (threads.i18n)
        loader=FileSystemLoader(str(templates_dir)), undefined=StrictUndefined,
        autoescape=select_autoescape(["html"]), trim_blocks=True, lstrip_blocks=True,
    ))
    env.filters.update(LOCALE_FILTERS)
    return env


def render_transcript(templates_dir: Path, record: Transcript, made_at: datetime,
                      files: dict[str, bytes] | None = None,
                      left_out: dict[int, list[tuple[str, str]]] | None = None,
                      zone: str | None = None) -> bytes:
    """The transcript page; ``files`` (attachment members) are linked from their message,
    ``left_out`` (by message: file name, reason) named without a link. A person reads it:
    times in the case's zone (``zone``: the service's), not UTC as the audit trail."""
    lang = (record.party.language if record.party else record.case.language) or "en"
    html = _environment(templates_dir).get_template("export/transcript.html").render(
        lang=lang if lang in ("nl", "en") else "en", case=record.case,
        participants=record.participants, entries=record.entries, party=record.party,
        made_at=made_at, files=_by_message(files or {}),
        zone=record.case.timezone or zone or DEFAULT_ZONE,
        left_out={seq: [(name, describe(reason, lang)) for name, reason in found]
                  for seq, found in (left_out or {}).items()},
    )
    return html.encode("utf-8")


def _by_message(files: dict[str, bytes]) -> dict[int, list[str]]:
    linked: dict[int, list[str]] = {}
    for path in files:
        seq = path.removeprefix("attachments/").split("-", 1)[0]
        if seq.isdigit():
            linked.setdefault(int(seq), []).append(path)
    return linked


def _mbox_entry(raw: bytes, sender: str, at: datetime) -> bytes:
    if at.tzinfo is not None:
        at = at.astimezone(UTC)
    sender = re.sub(r"\s", "", sender) or "MAILER-DAEMON"
    lines = raw.replace(b"\r\n", b"\n").split(b"\n")
    body = b"\n".join(b">" + line if _FROM_LINE.match(line) else line for line in lines)
    if not body.endswith(b"\n"):
        body += b"\n"
    return f"From {sender} {at:%a %b %d %H:%M:%S %Y}\n".encode() + body + b"\n"


def mbox(session: Session, case: Case, key: AtRestKey | None,
         party: Participant | None = None) -> bytes:
    """Every mail of the case (or to and from one party), raw, in time order."""
    mails: list[tuple[datetime, int, bytes]] = []
    inbound = select(InboundMail).where(InboundMail.case_id == case.id)
    outgoing = select(OutgoingMail).where(OutgoingMail.case_id == case.id)
    if party is not None:
        own = select(Message.inbound_id).where(
            Message.author_id == party.id, col(Message.inbound_id).is_not(None))
        inbound = inbound.where(col(InboundMail.id).in_(own))
        outgoing = outgoing.where(OutgoingMail.participant_id == party.id)
    for row in session.exec(inbound):
        mails.append((_utc(row.received_at), 0,
                      _mbox_entry(unseal(row.raw, key), row.mail_from, row.received_at)))
    for copy in session.exec(outgoing):
        mails.append((_utc(copy.created_at), 1,
                      _mbox_entry(unseal(copy.raw, key), copy.envelope_from, copy.created_at)))
    mails.sort(key=lambda m: (m[0], m[1]))
    return b"".join(m[2] for m in mails)


def _utc(at: datetime) -> datetime:
    return at.astimezone(UTC) if at.tzinfo is not None else at.replace(tzinfo=UTC)


def _stored_files(session: Session, entry: Entry) -> list[MessageAttachment]:
    if entry.message_id is None:
        return []
    return list(session.exec(select(MessageAttachment).where(
        MessageAttachment.message_id == entry.message_id).order_by(col(MessageAttachment.id))))


def left_out(session: Session, entries: list[Entry]) -> dict[int, list[tuple[str, str]]]:
    """The files that were not passed on, by message: (file name, stored reason)."""
    found: dict[int, list[tuple[str, str]]] = {}
    for entry in entries:
        for att in _stored_files(session, entry):
            if not att.passed:
                found.setdefault(entry.seq, []).append((att.filename, att.reason))
    return found


def attachments(session: Session, entries: list[Entry], key: AtRestKey | None) -> dict[str, bytes]:
    """The files that came with the messages and were passed on, named
    ``attachments/<seq>-<n>-<filename>``."""
    found: dict[str, bytes] = {}
    for entry in entries:
        stored = _stored_files(session, entry)
        if stored:  # kept once by hash when the message came in
            for number, att in enumerate(stored, start=1):
                if not att.passed:
                    continue
                blob = session.get(Blob, att.sha256)
                if blob is not None:
                    found[_attachment_name(entry.seq, number, att.filename)] = \
                        unseal(blob.data, key)
            continue
        if entry.inbound_id is None:
            continue
        row = session.get(InboundMail, entry.inbound_id)
        if row is None:
            continue
        try:
            parsed = parse_mail(unseal(row.raw, key))
        except MalformedMail:
            continue
        files = [a for a in parsed.attachments if not a.inline]
        for number, att in enumerate(files, start=1):
            found[_attachment_name(entry.seq, number, att.filename)] = att.data
    return found or {"attachments/README.txt": NO_ATTACHMENTS}


# What a browser opens as a page (and would run scripts in) when linked from transcript.html.
ACTIVE_EXTENSIONS = ("html", "htm", "xhtml", "shtml", "svg", "xml", "xht", "mht", "mhtml", "js")


def _attachment_name(seq: int, number: int, filename: str) -> str:
    name = re.sub(r"[^\w.\- ]", "_", filename).strip() or "attachment"
    if name.lower().rsplit(".", 1)[-1] in ACTIVE_EXTENSIONS:
        name += ".txt"
    return f"attachments/{seq:04d}-{number}-{name}"


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in name.lower()).strip("-") or "participant"


def _json(value: object) -> bytes:
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True, default=str).encode() \
        + b"\n"


def _parties(session: Session, case: Case, party: Participant | None) -> list[Participant]:
    if party is not None:
        return [party]
    return list(session.exec(select(Participant).where(
        Participant.case_id == case.id, Participant.role == "party").order_by(col(Participant.id))))


def intake(session: Session, case: Case, party: Participant | None) -> dict[str, bytes]:
    """Each party's answers to the questionnaire (or only ``party``'s), one JSON file each."""
    found: dict[str, bytes] = {}
    for person in _parties(session, case, party):
        answers = session.exec(select(IntakeAnswer).where(
            IntakeAnswer.participant_id == person.id).order_by(col(IntakeAnswer.id))).all()
        if not answers:
            continue
        found[f"intake/{person.id:04d}-{_slug(person.name)}.json"] = _json({
            "participant": person.name, "form": answers[0].form,
            "submitted_at": person.intake_submitted_at,
            "answers": [{"question": a.question_id, "value": a.value, "updated_at": a.updated_at}
                        for a in answers],
        })
    return found or {"intake/README.txt": NO_INTAKE}


def agreement(session: Session, case: Case,
              party: Participant | None = None) -> dict[str, bytes]:
    """The signed agreement texts (once each, by SHA-256) and the signature records."""
    query = select(Signature).where(Signature.case_id == case.id)
    if party is not None:
        query = query.where(Signature.participant_id == party.id)
    signatures = session.exec(query.order_by(col(Signature.id))).all()
    if not signatures:
        return {"agreement/README.txt": NO_AGREEMENT}
    names = {p.id: p.name for p in _parties(session, case, party)}
    found: dict[str, bytes] = {}
    records = []
    for sig in signatures:
        text_name = f"agreement/signed-{sig.sha256[:16]}.txt"
        found[text_name] = sig.text.encode("utf-8")
        records.append({
            "participant": names.get(sig.participant_id, "?"), "typed_name": sig.typed_name,
            "signed_at": sig.signed_at, "language": sig.language, "text": text_name,
            "text_sha256": sig.sha256,
            "text_matches": hashlib.sha256(sig.text.encode("utf-8")).hexdigest() == sig.sha256,
            "ip": sig.ip, "user_agent": sig.user_agent,
        })
    found["agreement/signatures.json"] = _json(records)
    return found


def costs(session: Session, case: Case) -> bytes:
    """Machine-readable: ISO dates (UTC), plain decimal amounts, one row per time entry, then
    the platform fee, VAT, the total and each party's share."""
    found = cost_overview(session, case)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["date", "item", "minutes", "rate_per_hour", "amount"])
    rate = found["rate"]
    for entry in sorted(found["entries"], key=lambda e: e.at):
        writer.writerow([f"{entry.at:%Y-%m-%d}", entry.note or "time", entry.minutes,
                         f"{rate}", f"{cents(entry.minutes * rate / 60)}"])
    writer.writerow(["", "platform fee", "", "", f"{found['platform_fee']}"])
    writer.writerow(["", f"vat {plain(found['vat_percent'])}%", "", "", f"{found['vat']}"])
    writer.writerow(["", "total", found["minutes"], f"{rate}", f"{found['total']}"])
    for share in found["shares"]:
        writer.writerow(["", f"share {share.party.name} {plain(share.percent)}%", "", "",
                         f"{share.amount}"])
    return out.getvalue().encode("utf-8")


def settlement(session: Session, case: Case) -> dict[str, bytes]:
    """The settlement: its exact text, the signatures that count and those voided, the PDF."""
    made = settlement_pdf.of_case(session, case)
    if made is None:
        return {}
    document, pdf = made
    names = {p.id: p.name for p in session.exec(
        select(Participant).where(Participant.case_id == case.id))}
    records = [{
        "participant": names.get(sig.participant_id, "?"), "typed_name": sig.typed_name,
        "signed_at": sig.signed_at, "text_sha256": sig.sha256,
        "counts": sig.sha256 == document.sha256, "ip": sig.ip, "user_agent": sig.user_agent,
    } for sig in session.exec(select(SettlementSignature).where(
        SettlementSignature.settlement_id == document.id).order_by(col(SettlementSignature.id)))]
    return {
        f"settlement/{document.kind}.txt": document.text.encode("utf-8"),
        "settlement/signatures.json": _json({"status": document.status,
                                             "sha256": document.sha256,
                                             "signatures": records}),
        f"settlement/{settlement_pdf.filename(case, document)}": pdf,
    }
