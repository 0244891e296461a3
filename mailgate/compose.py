"""Turn each Notice into one outgoing MIME message in the outbox, threaded for its recipient.

Threading, per recipient and per channel (the shared case, or one party's private line):
- RFC 5322 section 3.6.4: the first copy is the thread's root; every later copy has the root
  and the previous copy in ``References`` and ``In-Reply-To`` the mail it answers, or else the
  previous copy. Thunderbird and Apple Mail thread on these.
- Gmail also needs the same subject, so every copy in a thread carries ``[<ref>] <title>``
  (plus a private marker on private lines) and never stacked ``Re:``/``AW:`` prefixes.
- Outlook threads on ``Thread-Topic`` and the first 22 bytes of ``Thread-Index``
  ([MS-OXOMSG] 2.2.1.3), which we derive from the thread's root.

The mediator's mailbox sorts itself: what the service tells the mediator travels in lanes
(``LANES``), each its own thread with a subject that says what it is ("[2026-001] Ter
beoordeling: bericht 5 van Mark – Ik wil de kinderen …", "[2026-001] DRINGEND – Veiligheid:
…"), so a safety alert never drowns among forty copies titled alike. The discussion itself
(copies of what others wrote) stays one thread under the case title, as for every party.
"""

from __future__ import annotations

import base64
import hashlib
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.charset import QP, Charset
from email.header import Header
from email.message import Message
from email.mime.text import MIMEText
from email.utils import format_datetime, formataddr
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from sqlalchemy import insert
from sqlmodel import Session, col, select

from mailgate import imip
from mailgate.attachments import describe
from threads import attachments, video
from threads.addresses import (
    NO_REPLY_LOCAL,
    bounce_address,
    mediator_line,
    private_address,
    reply_address,
)
from threads.cases import mediator_of
from threads.commands import first_words
from threads.crypto import AtRestKey, seal
from threads.i18n import N_, install, translate
from threads.locales import DEFAULT_ZONE
from threads.locales import FILTERS as LOCALE_FILTERS
from threads.lookup import Kind, stored_digest
from threads.models import OutgoingMail, Participant, ThreadRoot, utcnow
from threads.notices import Notice
from threads.proposals import CHANNEL as PROPOSAL_THREAD  # each proposal: a thread of its own
from threads.settings import MediatorSettings

_PREFIX = re.compile(r"^\s*((re|aw|antw|fw|fwd|wg|doorst|sv|vs|tr)\s*(\[\d+\])?\s*:\s*)+", re.I)
_MAX_REFERENCES = 20
PRIVATE_LABEL = N_("private")  # in a private line's subject: "[2026-001] Title (private)"
# What the service tells the mediator, by kind of mail: each lane threads on its own.
LANES = {
    "review": "review", "review-held": "review", "reminder-review": "review",
    "withdrawn": "review", "cooling-released": "review",  # what became of a held message
    "safety-alert": "safety", "tone-alert": "safety",  # intake screening; a threat written
    "ready": "progress", "case-opened": "progress", "intake-to-mediator": "progress",
    "signed-to-mediator": "progress", "not-responding": "progress", "name-proposed": "progress",
    "delivery-failed": "progress", "mail-quarantined": "progress", "purge-warning": "progress",
    "command-reply": "answers", "costs": "answers", "status": "answers", "help": "answers",
    "export": "answers", "original": "answers", "mediator-unverified": "answers",
    "proposal-sent": "answers", "proposals": "answers", "proposal-answered": "progress",
    "settlement-draft": "review", "settlement-progress": "progress",
    "follow-up-answer": "progress", "evaluation-to-mediator": "progress",
}
LANE_LABEL = {
    "review": N_("For review"),
    "safety": N_("Safety"),
    "progress": N_("Progress"),
    "answers": N_("Answers to your commands"),
}
URGENT = N_("URGENT –")
_OPENING_WORDS = 8  # of a held message, in its review subject: enough to know it again
_UTF8_QP = Charset("utf-8")
_UTF8_QP.body_encoding = QP  # readable in the raw source, safe for any line length
_MAX_LINE = 78  # RFC 5322 section 2.1.1: lines SHOULD be at most 78 characters


def _text_header(value: str, name: str) -> str | Header:
    """An unstructured header: as it is when ASCII, else RFC 2047 encoded words."""
    return value if value.isascii() else Header(value, "utf-8", header_name=name)


def _fold(name: str, value: str | Header) -> str:
    """One header field, folded at spaces to lines of at most 78 characters where it can be.
    Every value here is ASCII already: encoded words, addresses, ids."""
    if isinstance(value, Header):
        return f"{name}: " + value.encode(linesep="\r\n")
    lines, line = [], f"{name}:"
    for word in value.split():  # any CR or LF in a name or title goes too: no header injection
        if len(line) + 1 + len(word) > _MAX_LINE and line.strip() and line != f"{name}:":
            lines.append(line)
            line = ""
        line += f" {word}"
    lines.append(line)
    return "\r\n".join(lines)


# Every line ends in CRLF on the wire, in every copy and in the original passed on with
# #original: a bare CR or LF ("\r.\r\n") can end the DATA of a lax relay early and smuggle a
# second mail behind ours (SMTP smuggling).
_LINE_END = re.compile(r"\r\n|\r|\n")
_LINE_END_BYTES = re.compile(rb"\r\n|\r|\n")


def serialise(mail: Message) -> bytes:
    """The copy as it goes on the wire (CRLF). Equivalent to ``mail.as_bytes()`` under
    compat32 for the single text part the composer builds, at a fraction of its cost (the
    stdlib generator re-folds every header through email.header, 30 times per reply)."""
    if mail.is_multipart():  # only #video's invitations: rare, so the generator may do it
        return re.sub(rb"\r?\n", b"\r\n", mail.as_bytes())
    head = "\r\n".join(_fold(name, value) for name, value in mail.items())
    body = _LINE_END.sub("\r\n", mail.get_payload())
    return f"{head}\r\n\r\n{body}".encode("ascii")


_TEXT_HEADERS = (("Content-Type", 'text/plain; charset="utf-8"'), ("MIME-Version", "1.0"),
                 ("Content-Transfer-Encoding", "quoted-printable"))


def text_part(body: str, encoded: dict[str, str]) -> Message:
    """The copy's single text part, as ``MIMEText(body, "plain", _UTF8_QP)`` builds it. Copies
    with the same words (a reply relayed to 29 parties) share their quoted-printable
    encoding, done once per batch in ``encoded``: it was a fifth of the cost of a copy."""
    if body not in encoded:
        mail = MIMEText(body, "plain", _UTF8_QP)
        encoded[body] = mail.get_payload()
        return mail
    mail = Message()
    for name, value in _TEXT_HEADERS:
        mail[name] = value
    mail.set_payload(encoded[body])
    return mail


def clean_subject(subject: str, ref: str) -> str:
    """Remove stacked reply prefixes and case tags: 'Re: RE: [x] [x] Foo' -> 'Foo'."""
    tag = re.compile(rf"\s*\[{re.escape(ref)}\]\s*", re.I)
    previous = None
    subject = " ".join(subject.split())
    while previous != subject:
        previous = subject
        subject = tag.sub(" ", _PREFIX.sub("", subject)).strip()
    return subject


class FileParts:
    """Stored files as finished MIME parts (headers and base64), encoded once and reused for
    every copy: a file relayed to 30 parties is read and encoded once, not 30 times, and its
    pieces are the same objects in all 30 copies (``copy_pieces``)."""

    def __init__(self, load: Callable[[str], bytes]) -> None:
        self.load = load
        self.parts: dict[tuple[str, str, str], tuple[bytes, ...]] = {}

    def part(self, item: dict) -> tuple[bytes, ...]:
        key = (item["sha256"], item["filename"], item["content_type"])
        if key not in self.parts:
            self.parts[key] = _file_part(self.load(item["sha256"]), item["content_type"],
                                         item["filename"])
        return self.parts[key]


# Base64 of this many bytes is 1.3 MB in 76-character lines: a piece the transport hands to
# the socket whole (mailgate.transports), and small enough that no piece is worth a copy.
_PIECE_BYTES = 57 * 1024 * 16


def _file_part(data: bytes, content_type: str, filename: str) -> tuple[bytes, ...]:
    """The part's head and body as pieces to send one after the other, never joined: the
    encoded file is held once, without the transient copies a join would make."""
    maintype, _, subtype = content_type.partition("/")
    if not subtype or not maintype:
        maintype, subtype = "application", "octet-stream"
    head = Message()
    if (maintype, subtype) == ("message", "rfc822"):  # the original mail, as a mail of its own
        head["Content-Type"] = "message/rfc822"
        head.add_header("Content-Disposition", "attachment", filename=_param(filename))
        head["Content-Transfer-Encoding"] = "7bit" if data.isascii() else "8bit"
        return _head(head) + b"\r\n\r\n", _LINE_END_BYTES.sub(b"\r\n", data)
    head.add_header("Content-Type", f"{maintype}/{subtype}", name=_param(filename))
    head.add_header("Content-Disposition", "attachment", filename=_param(filename))
    head["Content-Transfer-Encoding"] = "base64"
    view = memoryview(data)
    return _head(head) + b"\r\n\r\n", *(
        base64.encodebytes(view[start:start + _PIECE_BYTES]).replace(b"\n", b"\r\n")
        for start in range(0, len(data), _PIECE_BYTES))  # 76-character lines


def _param(value: str) -> str | tuple[str, str, str]:
    """A header parameter: as it is when ASCII, else RFC 2231 encoded."""
    return value if value.isascii() else ("utf-8", "", value)


def _head(mail: Message) -> bytes:
    return "\r\n".join(_fold(name, value) for name, value in mail.items()).encode("ascii")


_CONTENT_HEADERS = (b"content-type:", b"content-transfer-encoding:", b"mime-version:")


def with_files(raw: bytes, files: list[dict], parts: FileParts) -> bytes:
    """The copy with its files as one bytes object (a Maildir file, the tests)."""
    return b"".join(copy_pieces(raw, files, parts))


def copy_pieces(raw: bytes, files: list[dict], parts: FileParts) -> list[bytes]:
    """Add the copy's files to its composed text just before sending: the text becomes the
    first part of a multipart/mixed mail, each file a part encoded once for all copies. The
    copy is a list of pieces to send in order; the files' pieces are shared with every other
    copy of the batch, so 30 copies of a 25 MB file hold its 34 MB of base64 once."""
    if not files:
        return [raw]
    head, _, text = raw.partition(b"\r\n\r\n")
    own, content = [], []
    for line in re.split(rb"\r\n(?![ \t])", head):
        (content if line.lower().startswith(_CONTENT_HEADERS) else own).append(line)
    boundary = f"=_mediate_{uuid.uuid4().hex}".encode()
    opening = [b"\r\n".join(own), b"\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; "
               b'boundary="' + boundary + b'"\r\n\r\n',
               b"--" + boundary + b"\r\n",
               b"\r\n".join(f for f in content if not f.lower().startswith(b"mime-version:")),
               b"\r\n\r\n", text.rstrip(b"\r\n"), b"\r\n"]
    pieces = [b"".join(opening)]
    for item in files:
        pieces += [b"--" + boundary + b"\r\n", *parts.part(item), b"\r\n"]
    pieces.append(b"--" + boundary + b"--\r\n")
    return pieces


def thread_index(root: str, depth: int) -> str:
    """An Outlook Thread-Index: a 22-byte header fixed by the root, one 5-byte block a level."""
    header = b"\x01" + hashlib.sha256(root.encode()).digest()[:21]
    blocks = b"".join(
        hashlib.sha256(f"{root}/{n}".encode()).digest()[:5] for n in range(min(depth, 40))
    )
    return base64.b64encode(header + blocks).decode()


@dataclass
class _Root:
    """A recipient's thread on one channel as this batch leaves it; ``row``: the stored
    ThreadRoot, or None for a thread this batch starts (inserted with the batch's copies)."""

    message_id: str
    last_message_id: str | None = None
    depth: int = 0
    row: ThreadRoot | None = None
    used: bool = False


@dataclass
class _Batch:
    """What one ``enqueue`` call looks up once for all its copies (a Composer is shared by
    threads, so this never lives on the Composer itself)."""

    mediators: dict[int, Participant] = field(default_factory=dict)
    files: dict[int, list] = field(default_factory=dict)
    roots: dict[tuple[int, str], _Root] = field(default_factory=dict)
    bodies: dict[str, str] = field(default_factory=dict)  # text -> its encoding (text_part)


@dataclass
class Composer:
    domain: str
    templates_dir: Path
    service_name: str = "Mediate"
    base_url: str = ""
    secret: str = ""
    at_rest: AtRestKey | None = None  # privacy.encryption_key: outbox rows stored sealed
    # links(participant, purpose) -> the participant's signed page link (threads.links)
    links: Callable[[Participant, str], str] | None = None
    # exporter(session, notice) -> {"file": {sha256, filename, content_type}} or {"link": url}:
    # the application builds the case file for #export (mailgate cannot).
    exporter: Callable[[Session, Notice], dict] | None = None
    # service.timezone: every time a reader sees, unless the case has its own
    timezone: str = DEFAULT_ZONE
    # [[mediators]]: each one's own closing and phone, under and in what goes out in their name
    mediators: list[MediatorSettings] = field(default_factory=list)
    address: str = "u"  # cases.address: a case opened before it had its own form of address

    def __post_init__(self) -> None:
        # whole mails per language (mail/<lang>/: long prose reads best written whole), their
        # shared phrases from the catalog (jinja2.ext.i18n, in the context's ``lang``)
        self.env = install(Environment(
            loader=FileSystemLoader(str(self.templates_dir)),
            undefined=StrictUndefined,
            keep_trailing_newline=True,
            trim_blocks=True,
            lstrip_blocks=True,
        ))
        self.env.filters["file_reason"] = describe  # why a file stayed behind, in nl or en
        # date, datetime, time, money, number: as the reader's language writes them, in the
        # case's time zone (both read ``lang`` and ``zone`` from the context)
        self.env.filters.update(LOCALE_FILTERS)
        self.by_email = {m.email: m for m in self.mediators}
        # Dutch mail to a case that says "je": its own wording where one exists (mail/nl-je/)
        familiar = self.templates_dir / "mail" / "nl-je"
        self.familiar = {p.stem for p in familiar.glob("*.txt")} if familiar.is_dir() else set()

    def zone(self, case) -> str:  # noqa: ANN001
        return getattr(case, "timezone", None) or self.timezone

    def voice(self, case, recipient, mediator, lang: str) -> dict:  # noqa: ANN001
        """How this mail speaks: the form of address, the greeting's name, and the mediator's
        own closing and phone (``[[mediators]]``)."""
        address = getattr(case, "address", None) or self.address
        je = address == "je"
        name = getattr(recipient, "name", "")
        own = self.by_email.get(getattr(mediator, "email", ""))
        mediator_name = getattr(mediator, "name", self.service_name)
        closing = translate(lang, "Kind regards,")
        return {
            "je": je,
            # the mediator is greeted as a colleague would: by first name
            "dear": (name.split()[0] if name.split() and (
                je or getattr(recipient, "role", "") == "mediator") else name),
            "sign_off": (own.signature.strip() if own is not None and own.signature.strip()
                          else f"{closing}\n{mediator_name}"),
            "phone": own.phone.strip() if own is not None else "",
        }

    def render(self, kind: str, lang: str, context: dict) -> tuple[str, str]:
        """Render ``mail/<lang>/<kind>.txt``: the first line is ``Subject: ...``."""
        case, recipient = context.get("case"), context.get("recipient")
        # lang and zone for the date and money filters; a relayed message was read by the
        # mediator first unless the decision says otherwise (open mode)
        context = {"lang": lang, "zone": self.zone(case), "travelled": "read",
                   **self.voice(case, recipient, context.get("mediator"), lang), **context}
        if lang == "nl" and context.get("je") and kind in self.familiar:
            lang = "nl-je"
        text = self.env.get_template(f"mail/{lang}/{kind}.txt").render(**context)
        head, _, body = text.partition("\n")
        if not head.lower().startswith("subject:"):
            raise ValueError(f"template mail/{lang}/{kind}.txt must start with 'Subject:'")
        return head.split(":", 1)[1].strip(), body.strip("\n") + "\n"

    def enqueue(self, session: Session, notices: list[Notice]) -> list[dict]:
        """One outbox row per notice, in the caller's transaction; the rows as written."""
        batch = _Batch()
        # Every recipient's thread in one query, not one per copy (each query would also
        # flush the copies composed so far: 30 round trips for one relayed reply).
        ids = {n.recipient.id for n in notices if n.recipient is not None and n.recipient.id}
        if ids:
            batch.roots = {
                (root.participant_id, root.channel): _Root(
                    root.message_id, root.last_message_id, root.depth, root)
                for root in session.exec(select(ThreadRoot).where(
                    col(ThreadRoot.participant_id).in_(sorted(ids))))
            }
        rows = [self.enqueue_one(session, notice, batch) for notice in notices]
        self._store(session, rows, batch)
        return rows

    @staticmethod
    def _store(session: Session, rows: list[dict], batch: _Batch) -> None:
        """Write the batch's copies and new threads in one INSERT each. Through the ORM, every
        row whose id SQLite generates is an INSERT of its own (SQLite cannot say which id went
        to which row of a multi-row INSERT): 2 statements per copy, 7,000 in a sweep."""
        if not rows:
            return
        dialect = session.get_bind().dialect
        for row in rows:  # what models.keep_hashes does for a row written through the ORM
            row["rcpt_hash"] = stored_digest(dialect, row["rcpt_to"], Kind.ADDRESS)
        started = []
        for (participant_id, channel), root in batch.roots.items():
            if not root.used:
                continue
            if root.row is None:
                started.append({"participant_id": participant_id, "channel": channel,
                                "message_id": root.message_id,
                                "last_message_id": root.last_message_id, "depth": root.depth})
            else:
                root.row.last_message_id, root.row.depth = root.last_message_id, root.depth
                session.add(root.row)
        session.flush()  # what the session holds goes first: the copies may refer to it
        session.execute(insert(OutgoingMail.__table__), rows)
        if started:
            session.execute(insert(ThreadRoot.__table__), started)

    @staticmethod
    def _mediator(session: Session, case, batch: _Batch,  # noqa: ANN001
                  author: Participant | None = None) -> Participant:
        # One decision fans out to up to 30 copies: look the mediator up once, not per copy;
        # a notice written in the mediator's name (reminders, answers) already carries them.
        if (case.id not in batch.mediators and author is not None
                and author.role == "mediator" and author.case_id == case.id):
            batch.mediators[case.id] = author
        if case.id not in batch.mediators:
            batch.mediators[case.id] = mediator_of(session, case)
        return batch.mediators[case.id]

    @staticmethod
    def _attachments(session: Session, message, batch: _Batch) -> list:  # noqa: ANN001
        if message is None:
            return []
        if message.id not in batch.files:
            batch.files[message.id] = attachments.of(session, message)
        return batch.files[message.id]

    def _addresses(self, session: Session, notice: Notice,
                   batch: _Batch) -> tuple[str, Participant | None]:
        """The address this copy comes from (and replies go to), and the case's mediator."""
        case, recipient = notice.case, notice.recipient
        if case is None:
            return f"{NO_REPLY_LOCAL}@{self.domain}", None
        mediator = self._mediator(session, case, batch, notice.author)
        if recipient is None:  # an outsider never learns a reply token
            return f"{NO_REPLY_LOCAL}@{self.domain}", mediator
        if notice.channel == "private" and notice.counterpart is not None:
            if recipient.role == "mediator":  # the mediator's own line, never the party's
                return mediator_line(case, notice.counterpart, self.domain), mediator
            return private_address(case, notice.counterpart, self.domain), mediator
        return reply_address(case, recipient, self.domain), mediator

    def enqueue_one(self, session: Session, notice: Notice, batch: _Batch) -> dict:
        """The outbox row of one notice (written by ``enqueue`` with the others)."""
        case, recipient = notice.case, notice.recipient
        own, mediator = self._addresses(session, notice, batch)
        context = {
            **notice.context,
            "case": case, "recipient": recipient, "author": notice.author,
            "message": notice.message, "mediator": mediator, "reply_address": own,
            "private_address": (private_address(case, recipient, self.domain)
                                if case is not None and recipient is not None
                                and recipient.private_token else None),
            "channel": notice.channel, "counterpart": notice.counterpart,
            "service_name": self.service_name, "base_url": self.base_url,
            "domain": self.domain, "links": self.links,
            "attachments": self._attachments(session, notice.message, batch),
        }
        extra_files: list[dict] = []
        if notice.kind in ("original", "postmaster") and notice.context.get("original"):
            extra_files.append(notice.context["original"])
        if notice.kind in ("export", "settlement-final"):  # the case file; the signed PDF
            made = self.exporter(session, notice) if self.exporter else {}
            if "file" in made:
                extra_files.append(made["file"])
            context.update(export_link=made.get("link"), export_days=made.get("days", 7),
                           export_filename=made.get("file", {}).get("filename"))
        topic, body = self.render(notice.kind, notice.lang, context)
        message_id = f"<{uuid.uuid4().hex}@{self.domain}>"
        # compat32 headers set as finished values: policy.default's header registry parses
        # every value it is given again, which was a quarter of the cost of a copy.
        event = notice.context.get("calendar")
        mail = MIMEText(body, "plain", _UTF8_QP) if event else text_part(body, batch.bodies)
        if event and case is not None and recipient is not None:  # #video: an invitation
            # The organizer is the address this copy comes from, so an RSVP reaches the
            # mediator alone on the party's private line; the mediator organises their own.
            organizer = recipient.email if recipient.role == "mediator" else own
            ics = video.calendar(case, **event, organizer=mediator, organizer_address=organizer,
                                 attendee=recipient)
            mail = imip.invitation(mail, body, ics, event["method"])
        mail["From"] = formataddr((notice.author.name if notice.author else self.service_name,
                                   own), charset="utf-8")
        mail["Reply-To"] = own
        if recipient is not None:
            mail["To"] = formataddr((recipient.name, recipient.email), charset="utf-8")
            rcpt = recipient.email
        else:
            mail["To"] = notice.to_address
            rcpt = notice.to_address or ""
        subject = self._subject(notice, topic)
        mail["Subject"] = _text_header(subject, "Subject")
        # a copy that waits for the morning (threads.night) is dated when it goes out
        mail["Date"] = format_datetime(notice.not_before or datetime.now(UTC))
        mail["Message-ID"] = message_id
        channel = self._channel_key(notice)
        self._thread(session, batch, mail, notice, channel, message_id)
        if case is not None:
            lane = self._lane(notice)
            topic = (f"{case.title}: {translate(notice.lang, LANE_LABEL[lane])}"
                     if lane else subject.removeprefix(f"[{case.ref}] "))
            mail["Thread-Topic"] = _text_header(topic, "Thread-Topic")
        mail["X-Loop"] = f"mediate@{self.domain}"
        if notice.automatic:
            mail["Auto-Submitted"] = "auto-replied" if notice.answers else "auto-generated"
            mail["X-Auto-Response-Suppress"] = "All"
        mail["Content-Language"] = notice.lang
        return {
            "case_id": case.id if case else None,
            "participant_id": recipient.id if recipient else None,
            "message_ref_id": notice.message.id if notice.message else None,
            "kind": notice.kind, "channel": channel, "message_id": message_id,
            "envelope_from": bounce_address(message_id, self.domain), "rcpt_to": rcpt,
            "raw": seal(serialise(mail), self.at_rest),
            # a copy that waits for the morning starts its delivery window (and its retry
            # time, outbound.max_retry_hours) then, as `mediate outbox retry` restarts one
            "next_attempt_at": notice.not_before or utcnow(),
            "created_at": notice.not_before or utcnow(),
            "attachments": [
                {"sha256": a.sha256, "filename": a.filename, "content_type": a.content_type}
                for a in self._attachments(session, notice.message, batch) if a.passed
            ] if notice.kind in attachments.CARRIES_FILES else extra_files,
        }

    def _subject(self, notice: Notice, topic: str) -> str:
        case = notice.case
        if case is None:
            return topic
        if notice.recipient is None:  # outsiders: their own subject, no thread to keep
            return f"[{case.ref}] {clean_subject(topic, case.ref) or case.title}"
        lane = self._lane(notice)
        if lane == "review" and notice.kind == "review" and notice.message is not None:
            opening = first_words(notice.message.text or "", _OPENING_WORDS)
            return f"[{case.ref}] {topic}" + (f" – {opening}" if opening else "")
        if lane == "safety":
            return f"[{case.ref}] {translate(notice.lang, URGENT)} {topic}"
        if lane or notice.channel.startswith(PROPOSAL_THREAD):  # a proposal: its own thread
            return f"[{case.ref}] {topic}"
        # Gmail only threads mails whose subjects match: every copy carries the case title.
        if notice.channel == "private":
            label = translate(notice.lang, PRIVATE_LABEL)
            if notice.recipient.role == "mediator" and notice.counterpart is not None:
                return f"[{case.ref}] {case.title} ({label}: {notice.counterpart.name})"
            return f"[{case.ref}] {case.title} ({label})"
        return f"[{case.ref}] {case.title}"

    @staticmethod
    def _lane(notice: Notice) -> str | None:
        """The mediator's lane this mail travels in; None: the discussion or a private line."""
        if (notice.recipient is None or notice.recipient.role != "mediator"
                or notice.channel != "shared"):
            return None
        return LANES.get(notice.kind)

    @classmethod
    def _channel_key(cls, notice: Notice) -> str:
        if notice.channel == "private" and notice.counterpart is not None:
            return f"private:{notice.counterpart.id}"
        if notice.channel.startswith(PROPOSAL_THREAD):
            return notice.channel
        lane = cls._lane(notice)
        return f"lane:{lane}" if lane else "shared"

    def _thread(
        self, session: Session, batch: _Batch, mail: Message, notice: Notice, channel: str,
        message_id: str,
    ) -> None:
        recipient = notice.recipient
        references: list[str] = []
        last: str | None = None
        depth = 0
        root = message_id
        if recipient is not None and recipient.id is not None:
            known = batch.roots.get((recipient.id, channel))
            if known is None:
                known = batch.roots[(recipient.id, channel)] = _Root(message_id)
            else:
                root = known.message_id
                references.append(root)
                last, depth = known.last_message_id or root, known.depth
            known.last_message_id, known.depth, known.used = message_id, depth + 1, True
        if last and last not in references:
            references.append(last)
        if notice.answers and notice.answers not in references:
            references.append(notice.answers)
        parent = notice.answers or last
        if parent:
            mail["In-Reply-To"] = parent
        if references:
            mail["References"] = " ".join(references[-_MAX_REFERENCES:])
        if notice.case is not None:
            mail["Thread-Index"] = thread_index(root, depth)
