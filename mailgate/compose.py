"""Turn each Notice into one outgoing MIME message in the outbox, threaded for its recipient.

Threading (RFC 5322 section 3.6.4): every participant's copies hang off their first copy (the
invitation), which is the root of ``References``; ``In-Reply-To`` names the mail being answered,
or the last copy that participant received. Gmail additionally needs a stable subject, so the
subject is always ``[<ref>] <title or topic>`` with any ``Re:``/``AW:``/``[ref]`` stacking
removed. Outlook threads on ``Thread-Topic``.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, formataddr
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from sqlmodel import Session, col, select

from threads.addresses import NO_REPLY_LOCAL, bounce_address, reply_address
from threads.cases import mediator_of
from threads.models import OutgoingMail, Participant
from threads.notices import Notice

_PREFIX = re.compile(r"^\s*((re|aw|antw|fw|fwd|wg|doorst|sv|vs|tr)\s*(\[\d+\])?\s*:\s*)+", re.I)
_MAX_REFERENCES = 20


def clean_subject(subject: str, ref: str) -> str:
    """Remove stacked reply prefixes and case tags: 'Re: RE: [x] [x] Foo' -> 'Foo'."""
    tag = re.compile(rf"\s*\[{re.escape(ref)}\]\s*", re.I)
    previous = None
    subject = " ".join(subject.split())
    while previous != subject:
        previous = subject
        subject = tag.sub(" ", _PREFIX.sub("", subject)).strip()
    return subject


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

    def enqueue_one(self, session: Session, notice: Notice) -> OutgoingMail:
        case, recipient = notice.case, notice.recipient
        mediator = mediator_of(session, case)
        own = reply_address(case, recipient, self.domain) if recipient else None
        context = {
            **notice.context,
            "case": case,
            "recipient": recipient,
            "author": notice.author,
            "message": notice.message,
            "mediator": mediator,
            "reply_address": own or f"{NO_REPLY_LOCAL}@{self.domain}",
            "service_name": self.service_name,
            "base_url": self.base_url,
            "domain": self.domain,
        }
        topic, body = self.render(notice.kind, notice.lang, context)
        # Gmail only threads mails whose subjects match, so every mail to a participant carries
        # the case title; the template's own subject is used for outsiders only.
        headline = case.title if recipient is not None else clean_subject(topic, case.ref)
        subject = f"[{case.ref}] {headline or case.title}"
        message_id = f"<{uuid.uuid4().hex}@{self.domain}>"
        mail = EmailMessage()
        sender_name = notice.author.name if notice.author else self.service_name
        # Outsiders (a wrong sender) get mail from the no-reply address: never a reply token.
        from_address = own or f"{NO_REPLY_LOCAL}@{self.domain}"
        mail["From"] = formataddr((sender_name, from_address))
        mail["Reply-To"] = from_address
        if recipient is not None:
            mail["To"] = formataddr((recipient.name, recipient.email))
            rcpt = recipient.email
        else:
            mail["To"] = notice.to_address
            rcpt = notice.to_address or ""
        mail["Subject"] = subject
        mail["Date"] = format_datetime(datetime.now(UTC))
        mail["Message-ID"] = message_id
        self._thread(session, mail, recipient, notice, message_id)
        mail["Thread-Topic"] = f"[{case.ref}] {case.title}"
        mail["X-Loop"] = f"mediate@{self.domain}"
        if notice.automatic:
            mail["Auto-Submitted"] = "auto-replied" if notice.answers else "auto-generated"
            mail["X-Auto-Response-Suppress"] = "All"
        mail["Content-Language"] = notice.lang
        mail.set_content(body, charset="utf-8", cte="quoted-printable")
        row = OutgoingMail(
            case_id=case.id,
            participant_id=recipient.id if recipient else None,
            message_ref_id=notice.message.id if notice.message else None,
            kind=notice.kind, message_id=message_id, envelope_from="", rcpt_to=rcpt,
            raw=b"",
        )
        session.add(row)
        session.flush()
        row.envelope_from = bounce_address(row.id, self.secret, self.domain)
        row.raw = mail.as_bytes(policy=mail.policy.clone(linesep="\r\n"))
        session.add(row)
        return row

    def _thread(
        self,
        session: Session,
        mail: EmailMessage,
        recipient: Participant | None,
        notice: Notice,
        message_id: str,
    ) -> None:
        references: list[str] = []
        last: str | None = None
        if recipient is not None:
            if recipient.thread_root is None:
                recipient.thread_root = message_id
                session.add(recipient)
            else:
                references.append(recipient.thread_root)
                last = session.exec(
                    select(OutgoingMail.message_id)
                    .where(OutgoingMail.participant_id == recipient.id)
                    .order_by(col(OutgoingMail.id).desc())
                    .limit(1)
                ).first()
        if last and last not in references:
            references.append(last)
        parent = notice.answers or last
        if notice.answers and notice.answers not in references:
            references.append(notice.answers)
        if parent:
            mail["In-Reply-To"] = parent
        if references:
            mail["References"] = " ".join(references[-_MAX_REFERENCES:])
