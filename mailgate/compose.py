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
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, formataddr
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from sqlalchemy import func
from sqlmodel import Session, col, select

from threads.addresses import NO_REPLY_LOCAL, bounce_address, private_address, reply_address
from threads.cases import mediator_of
from threads.models import OutgoingMail, Participant, ThreadRoot
from threads.notices import Notice

_PREFIX = re.compile(r"^\s*((re|aw|antw|fw|fwd|wg|doorst|sv|vs|tr)\s*(\[\d+\])?\s*:\s*)+", re.I)
_MAX_REFERENCES = 20
PRIVATE_LABEL = {"nl": "vertrouwelijk", "en": "private"}


def clean_subject(subject: str, ref: str) -> str:
    """Remove stacked reply prefixes and case tags: 'Re: RE: [x] [x] Foo' -> 'Foo'."""
    tag = re.compile(rf"\s*\[{re.escape(ref)}\]\s*", re.I)
    previous = None
    subject = " ".join(subject.split())
    while previous != subject:
        previous = subject
        subject = tag.sub(" ", _PREFIX.sub("", subject)).strip()
    return subject


def thread_index(root: str, depth: int) -> str:
    """An Outlook Thread-Index: a 22-byte header fixed by the root, one 5-byte block a level."""
    header = b"\x01" + hashlib.sha256(root.encode()).digest()[:21]
    blocks = b"".join(
        hashlib.sha256(f"{root}/{n}".encode()).digest()[:5] for n in range(min(depth, 40))
    )
    return base64.b64encode(header + blocks).decode()


@dataclass
class Composer:
    domain: str
    templates_dir: Path
    service_name: str = "Mediate"
    base_url: str = ""
    secret: str = ""

    def __post_init__(self) -> None:
        self.env = Environment(
            loader=FileSystemLoader(str(self.templates_dir)),
            undefined=StrictUndefined,
            keep_trailing_newline=True,
            trim_blocks=True,
            lstrip_blocks=True,
        )

    def render(self, kind: str, lang: str, context: dict) -> tuple[str, str]:
        """Render ``mail/<lang>/<kind>.txt``: the first line is ``Subject: ...``."""
        text = self.env.get_template(f"mail/{lang}/{kind}.txt").render(**context)
        head, _, body = text.partition("\n")
        if not head.lower().startswith("subject:"):
            raise ValueError(f"template mail/{lang}/{kind}.txt must start with 'Subject:'")
        return head.split(":", 1)[1].strip(), body.strip("\n") + "\n"

    def enqueue(self, session: Session, notices: list[Notice]) -> list[OutgoingMail]:
        return [self.enqueue_one(session, notice) for notice in notices]

    def _addresses(self, session: Session, notice: Notice) -> tuple[str, Participant | None]:
        """The address this copy comes from (and replies go to), and the case's mediator."""
        case, recipient = notice.case, notice.recipient
        if case is None:
            return f"{NO_REPLY_LOCAL}@{self.domain}", None
        mediator = mediator_of(session, case)
        if recipient is None:  # an outsider never learns a reply token
            return f"{NO_REPLY_LOCAL}@{self.domain}", mediator
        if notice.channel == "private" and notice.counterpart is not None:
            return private_address(case, notice.counterpart, self.domain), mediator
        return reply_address(case, recipient, self.domain), mediator

    def enqueue_one(self, session: Session, notice: Notice) -> OutgoingMail:
        case, recipient = notice.case, notice.recipient
        own, mediator = self._addresses(session, notice)
        context = {
            **notice.context,
            "case": case, "recipient": recipient, "author": notice.author,
            "message": notice.message, "mediator": mediator, "reply_address": own,
            "private_address": (private_address(case, recipient, self.domain)
                                if case is not None and recipient is not None
                                and recipient.private_token else None),
            "channel": notice.channel, "counterpart": notice.counterpart,
            "service_name": self.service_name, "base_url": self.base_url,
            "domain": self.domain,
        }
        topic, body = self.render(notice.kind, notice.lang, context)
        message_id = f"<{uuid.uuid4().hex}@{self.domain}>"
        mail = EmailMessage()
        mail["From"] = formataddr((notice.author.name if notice.author else self.service_name,
                                   own))
        mail["Reply-To"] = own
        if recipient is not None:
            mail["To"] = formataddr((recipient.name, recipient.email))
            rcpt = recipient.email
        else:
            mail["To"] = notice.to_address
            rcpt = notice.to_address or ""
        mail["Subject"] = self._subject(notice, topic)
        mail["Date"] = format_datetime(datetime.now(UTC))
        mail["Message-ID"] = message_id
        channel = self._channel_key(notice)
        self._thread(session, mail, notice, channel, message_id)
        if case is not None:
            mail["Thread-Topic"] = mail["Subject"].removeprefix(f"[{case.ref}] ")
        mail["X-Loop"] = f"mediate@{self.domain}"
        if notice.automatic:
            mail["Auto-Submitted"] = "auto-replied" if notice.answers else "auto-generated"
            mail["X-Auto-Response-Suppress"] = "All"
        mail["Content-Language"] = notice.lang
        mail.set_content(body, charset="utf-8", cte="quoted-printable")
        row = OutgoingMail(
            case_id=case.id if case else None,
            participant_id=recipient.id if recipient else None,
            message_ref_id=notice.message.id if notice.message else None,
            kind=notice.kind, channel=channel, message_id=message_id, envelope_from="",
            rcpt_to=rcpt, raw=b"",
        )
        session.add(row)
        session.flush()
        row.envelope_from = bounce_address(row.id, self.secret, self.domain)
        row.raw = mail.as_bytes(policy=mail.policy.clone(linesep="\r\n"))
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
        self, session: Session, mail: EmailMessage, notice: Notice, channel: str,
        message_id: str,
    ) -> None:
        recipient = notice.recipient
        references: list[str] = []
        last: str | None = None
        depth = 0
        root = message_id
        if recipient is not None and recipient.id is not None:
            known = session.exec(select(ThreadRoot).where(
                ThreadRoot.participant_id == recipient.id, ThreadRoot.channel == channel
            )).first()
            if known is None:
                session.add(ThreadRoot(participant_id=recipient.id, channel=channel,
                                       message_id=message_id))
            else:
                root = known.message_id
                references.append(root)
                mine = (OutgoingMail.participant_id == recipient.id,
                        OutgoingMail.channel == channel)
                last = session.exec(
                    select(OutgoingMail.message_id).where(*mine)
                    .order_by(col(OutgoingMail.id).desc()).limit(1)
                ).first()
                depth = session.exec(select(func.count()).select_from(OutgoingMail)
                                     .where(*mine)).one()
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
