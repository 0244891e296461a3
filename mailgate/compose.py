"""Turn each Notice into one outgoing MIME message in the outbox, threaded for its recipient.

Threading, per recipient and per channel (the shared case, or one party's private line):
- RFC 5322 section 3.6.4: the first copy is the thread's root; every later copy has the root
  and the previous copy in ``References`` and ``In-Reply-To`` the mail it answers, or else the
  previous copy. Thunderbird and Apple Mail thread on these.
- Gmail also needs the same subject, so every copy in a thread carries ``[<ref>] <title>``
  (plus a private marker on private lines) and never stacked ``Re:``/``AW:`` prefixes.
- Outlook threads on ``Thread-Topic`` and the first 22 bytes of ``Thread-Index``
  ([MS-OXOMSG] 2.2.1.3), which we derive from the thread's root.
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
from sqlmodel import Session, col, select

from mailgate.attachments import describe
from threads import attachments
from threads.addresses import (
    NO_REPLY_LOCAL,
    bounce_address,
    mediator_line,
    private_address,
    reply_address,
)
from threads.cases import mediator_of
from threads.crypto import AtRestKey, seal
from threads.models import OutgoingMail, Participant, ThreadRoot
from threads.notices import Notice

_PREFIX = re.compile(r"^\s*((re|aw|antw|fw|fwd|wg|doorst|sv|vs|tr)\s*(\[\d+\])?\s*:\s*)+", re.I)
_MAX_REFERENCES = 20
PRIVATE_LABEL = {"nl": "vertrouwelijk", "en": "private"}
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
    head = "\r\n".join(_fold(name, value) for name, value in mail.items())
    body = _LINE_END.sub("\r\n", mail.get_payload())
    return f"{head}\r\n\r\n{body}".encode("ascii")


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
    every copy: a file relayed to 30 parties is read and encoded once, not 30 times."""

    def __init__(self, load: Callable[[str], bytes]) -> None:
        self.load = load
        self.parts: dict[tuple[str, str, str], bytes] = {}

    def part(self, item: dict) -> bytes:
        key = (item["sha256"], item["filename"], item["content_type"])
        if key not in self.parts:
            self.parts[key] = _file_part(self.load(item["sha256"]), item["content_type"],
                                         item["filename"])
        return self.parts[key]


def _file_part(data: bytes, content_type: str, filename: str) -> bytes:
    maintype, _, subtype = content_type.partition("/")
    if not subtype or not maintype:
        maintype, subtype = "application", "octet-stream"
    head = Message()
    if (maintype, subtype) == ("message", "rfc822"):  # the original mail, as a mail of its own
        head["Content-Type"] = "message/rfc822"
        head.add_header("Content-Disposition", "attachment", filename=_param(filename))
        head["Content-Transfer-Encoding"] = "7bit" if data.isascii() else "8bit"
        body = _LINE_END_BYTES.sub(b"\r\n", data)
    else:
        head.add_header("Content-Type", f"{maintype}/{subtype}", name=_param(filename))
        head.add_header("Content-Disposition", "attachment", filename=_param(filename))
        head["Content-Transfer-Encoding"] = "base64"
        body = bytearray()
        for start in range(0, len(data), 57 * 1024):  # 76-character lines, no full-size copy
            body += base64.encodebytes(data[start:start + 57 * 1024]).replace(b"\n", b"\r\n")
        body = bytes(body)
    return _head(head) + b"\r\n\r\n" + body


def _param(value: str) -> str | tuple[str, str, str]:
    """A header parameter: as it is when ASCII, else RFC 2231 encoded."""
    return value if value.isascii() else ("utf-8", "", value)


def _head(mail: Message) -> bytes:
    return "\r\n".join(_fold(name, value) for name, value in mail.items()).encode("ascii")


_CONTENT_HEADERS = (b"content-type:", b"content-transfer-encoding:", b"mime-version:")


def with_files(raw: bytes, files: list[dict], parts: FileParts) -> bytes:
    """Add the copy's files to its composed text just before sending: the text becomes the
    first part of a multipart/mixed mail, each file a part encoded once for all copies."""
    if not files:
        return raw
    head, _, text = raw.partition(b"\r\n\r\n")
    own, content = [], []
    for line in re.split(rb"\r\n(?![ \t])", head):
        (content if line.lower().startswith(_CONTENT_HEADERS) else own).append(line)
    boundary = f"=_mediate_{uuid.uuid4().hex}".encode()
    pieces = [b"\r\n".join(own), b"\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; "
              b'boundary="' + boundary + b'"\r\n\r\n',
              b"--" + boundary + b"\r\n",
              b"\r\n".join(f for f in content if not f.lower().startswith(b"mime-version:")),
              b"\r\n\r\n", text.rstrip(b"\r\n"), b"\r\n"]
    for item in files:
        pieces += [b"--" + boundary + b"\r\n", parts.part(item), b"\r\n"]
    pieces.append(b"--" + boundary + b"--\r\n")
    return b"".join(pieces)


def thread_index(root: str, depth: int) -> str:
    """An Outlook Thread-Index: a 22-byte header fixed by the root, one 5-byte block a level."""
    header = b"\x01" + hashlib.sha256(root.encode()).digest()[:21]
    blocks = b"".join(
        hashlib.sha256(f"{root}/{n}".encode()).digest()[:5] for n in range(min(depth, 40))
    )
    return base64.b64encode(header + blocks).decode()


@dataclass
class _Batch:
    """What one ``enqueue`` call looks up once for all its copies (a Composer is shared by
    threads, so this never lives on the Composer itself)."""

    mediators: dict[int, Participant] = field(default_factory=dict)
    files: dict[int, list] = field(default_factory=dict)
    roots: dict[tuple[int, str], ThreadRoot] = field(default_factory=dict)


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

    def __post_init__(self) -> None:
        self.env = Environment(
            loader=FileSystemLoader(str(self.templates_dir)),
            undefined=StrictUndefined,
            keep_trailing_newline=True,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.filters["file_reason"] = describe  # why a file stayed behind, in nl or en

    def render(self, kind: str, lang: str, context: dict) -> tuple[str, str]:
        """Render ``mail/<lang>/<kind>.txt``: the first line is ``Subject: ...``."""
        text = self.env.get_template(f"mail/{lang}/{kind}.txt").render(**context)
        head, _, body = text.partition("\n")
        if not head.lower().startswith("subject:"):
            raise ValueError(f"template mail/{lang}/{kind}.txt must start with 'Subject:'")
        return head.split(":", 1)[1].strip(), body.strip("\n") + "\n"

    def enqueue(self, session: Session, notices: list[Notice]) -> list[OutgoingMail]:
        batch = _Batch()
        # Every recipient's thread in one query, not one per copy (each query would also
        # flush the copies composed so far: 30 round trips for one relayed reply).
        ids = {n.recipient.id for n in notices if n.recipient is not None and n.recipient.id}
        if ids:
            batch.roots = {
                (root.participant_id, root.channel): root
                for root in session.exec(select(ThreadRoot).where(
                    col(ThreadRoot.participant_id).in_(sorted(ids))))
            }
        return [self.enqueue_one(session, notice, batch) for notice in notices]

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

    def enqueue_one(self, session: Session, notice: Notice, batch: _Batch) -> OutgoingMail:
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
        if notice.kind == "export":
            made = self.exporter(session, notice) if self.exporter else {}
            if "file" in made:
                extra_files.append(made["file"])
            context.update(export_link=made.get("link"), export_days=made.get("days", 7),
                           export_filename=made.get("file", {}).get("filename"))
        topic, body = self.render(notice.kind, notice.lang, context)
        message_id = f"<{uuid.uuid4().hex}@{self.domain}>"
        # compat32 headers set as finished values: policy.default's header registry parses
        # every value it is given again, which was a quarter of the cost of a copy.
        mail = MIMEText(body, "plain", _UTF8_QP)
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
        mail["Date"] = format_datetime(datetime.now(UTC))
        mail["Message-ID"] = message_id
        channel = self._channel_key(notice)
        self._thread(session, batch, mail, notice, channel, message_id)
        if case is not None:
            mail["Thread-Topic"] = _text_header(subject.removeprefix(f"[{case.ref}] "),
                                                "Thread-Topic")
        mail["X-Loop"] = f"mediate@{self.domain}"
        if notice.automatic:
            mail["Auto-Submitted"] = "auto-replied" if notice.answers else "auto-generated"
            mail["X-Auto-Response-Suppress"] = "All"
        mail["Content-Language"] = notice.lang
        row = OutgoingMail(
            case_id=case.id if case else None,
            participant_id=recipient.id if recipient else None,
            message_ref_id=notice.message.id if notice.message else None,
            kind=notice.kind, channel=channel, message_id=message_id,
            envelope_from=bounce_address(message_id, self.domain), rcpt_to=rcpt,
            raw=seal(serialise(mail), self.at_rest),
            attachments=[
                {"sha256": a.sha256, "filename": a.filename, "content_type": a.content_type}
                for a in self._attachments(session, notice.message, batch) if a.passed
            ] if notice.kind in attachments.CARRIES_FILES else extra_files,
        )
        session.add(row)
        return row

    def _subject(self, notice: Notice, topic: str) -> str:
        case = notice.case
        if case is None:
            return topic
        if notice.recipient is None:  # outsiders: their own subject, no thread to keep
            return f"[{case.ref}] {clean_subject(topic, case.ref) or case.title}"
        # Gmail only threads mails whose subjects match: every copy carries the case title.
        if notice.channel == "private":
            label = PRIVATE_LABEL.get(notice.lang, "private")
            if notice.recipient.role == "mediator" and notice.counterpart is not None:
                return f"[{case.ref}] {case.title} ({label}: {notice.counterpart.name})"
            return f"[{case.ref}] {case.title} ({label})"
        return f"[{case.ref}] {case.title}"

    @staticmethod
    def _channel_key(notice: Notice) -> str:
        if notice.channel == "private" and notice.counterpart is not None:
            return f"private:{notice.counterpart.id}"
        return "shared"

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
                known = batch.roots[(recipient.id, channel)] = ThreadRoot(
                    participant_id=recipient.id, channel=channel, message_id=message_id)
            else:
                root = known.message_id
                references.append(root)
                last, depth = known.last_message_id or root, known.depth
            known.last_message_id, known.depth = message_id, depth + 1
            session.add(known)
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
