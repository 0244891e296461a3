"""The persistent shape of a mediation: cases, participants, mail in and out, and the record.

Every table a decision touches is here so that one transaction can hold a decision and the
outgoing copies it causes (DESIGN.md, "One reply, end to end").
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON as SAJSON
from sqlalchemy import Column, Index, LargeBinary, UniqueConstraint
from sqlmodel import Field, SQLModel

from threads.sealed import SealedJSON, SealedText


def utcnow() -> datetime:
    return datetime.now(UTC)


class Case(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    ref: str = Field(index=True, unique=True, max_length=40)
    title: str = Field(max_length=300)
    moderation: str = Field(default="review", max_length=10)  # review | open
    language: str = Field(default="nl", max_length=5)
    status: str = Field(default="open", max_length=20)  # open | closed
    intake_form: str = Field(default="default", max_length=60)
    created_at: datetime = Field(default_factory=utcnow)
    closed_at: datetime | None = None
    outcome: str | None = Field(default=None, max_length=40)
    close_note: str | None = Field(default=None, max_length=1000)
    message_seq: int = 0  # last per-case message number handed out
    hourly_rate: float = 0.0  # fixed when the case opens, as in the mediation agreement
    platform_fee: float = 0.0


class Participant(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("case_id", "email"),)

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="case.id", index=True)
    role: str = Field(max_length=10)  # mediator | party
    # What a party is to the case when the intake form asks some parties other questions
    # (threads.intake: a grandparent is not asked about a separation); None: a plain party.
    relation: str | None = Field(default=None, max_length=40)
    name: str = Field(sa_column=Column(SealedText(), nullable=False))
    email: str = Field(max_length=320)
    language: str = Field(default="nl", max_length=5)
    token: str = Field(index=True, unique=True, max_length=40)
    # A party's private line to the mediator: mail from the mediator to this address reaches
    # only this party, and the party's private messages reach the mediator from it.
    private_token: str | None = Field(default=None, index=True, unique=True, max_length=40)
    # The mediator's own line to this party: only ever in mail sent to the mediator, so mail
    # arriving there can be the mediator's (threads.rules); the party's line never can.
    mediator_token: str | None = Field(default=None, index=True, unique=True, max_length=40)
    active: bool = True
    created_at: datetime = Field(default_factory=utcnow)
    registered_at: datetime | None = None
    intake_submitted_at: datetime | None = None
    signed_at: datetime | None = None
    last_message_at: datetime | None = None
    bouncing: bool = False
    # set when a copy to them could not be delivered; cleared by the next one that could
    delivery_failed_at: datetime | None = None
    # set when a bounce came back in this episode: the relay accepting a later copy proves
    # nothing then, so the episode ends only when the participant's own mail arrives
    bounce_seen_at: datetime | None = None
    away_note: str | None = Field(default=None, max_length=300)
    # a name the party asked for on the registration page, until the mediator agrees
    proposed_name: str | None = Field(default=None, max_length=200)
    # None: the case's moderation; "review" or "open" for this party alone (#review, #open Name)
    moderation: str | None = Field(default=None, max_length=10)
    # Raised to revoke every signed link this participant was given (threads/links.py).
    link_version: int = Field(default=0, sa_column_kwargs={"server_default": "0"})


class InboundStatus(StrEnum):
    """What became of an inbound mail. A StrEnum: stored and compared as the plain string."""

    PENDING = "pending"  # stored, not yet decided
    PROCESSED = "processed"  # decided: something was stored, held, sent or answered
    DUPLICATE = "duplicate"  # the same mail (Message-ID and body) was decided before
    QUARANTINED = "quarantined"  # could not be processed: kept, listed, retried by hand
    IGNORED = "ignored"  # read and deliberately left (bounce of nothing, stranger, ...)


class InboundMail(SQLModel, table=True):
    """Raw mail exactly as received, stored before the SMTP server answers 250."""

    id: int | None = Field(default=None, primary_key=True)
    received_at: datetime = Field(default_factory=utcnow, index=True)
    mail_from: str = Field(default="", max_length=500)
    rcpt_tos: list[str] = Field(default_factory=list, sa_column=Column(SAJSON, nullable=False))
    raw: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    size: int = 0
    sha256: str = Field(max_length=64, index=True)
    message_id: str | None = Field(default=None, max_length=500)
    source: str = Field(default="smtp", max_length=10)  # smtp | lmtp | imap | cli
    status: str = Field(default=InboundStatus.PENDING, max_length=20, index=True)
    classification: str | None = Field(default=None, max_length=30)
    reason: str | None = Field(default=None, max_length=2000)
    case_id: int | None = Field(default=None, foreign_key="case.id", index=True)
    attempts: int = 0
    claimed_until: datetime | None = None
    claimed_by: str | None = Field(default=None, max_length=200)  # threads.claims
    processed_at: datetime | None = None


class MessageStatus(StrEnum):
    """Where a message stands (a StrEnum: stored and compared as the plain string)."""

    HELD = "held"  # waiting for the mediator's decision
    RELEASED = "released"  # passed on to the parties
    REJECTED = "rejected"  # returned to its author
    DELIVERED = "delivered"  # the mediator's own, or a private line's: sent as it was
    DISMISSED = "dismissed"  # set aside by #dismiss, or when the case was closed by force
    SUPERSEDED = "superseded"  # the author rewrote it after the mediator's #suggest


class Message(SQLModel, table=True):
    """One contribution to a case: what a party or the mediator said, and what became of it."""

    __table_args__ = (
        UniqueConstraint("case_id", "seq"),
        UniqueConstraint("author_id", "dedupe_key"),
    )

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="case.id", index=True)
    seq: int
    author_id: int = Field(foreign_key="participant.id", index=True)
    inbound_id: int | None = Field(default=None, foreign_key="inboundmail.id")
    dedupe_key: str = Field(max_length=64)
    channel: str = Field(default="shared", max_length=10)  # shared | private
    # for a private message: the party the mediator is talking with
    counterpart_id: int | None = Field(default=None, foreign_key="participant.id")
    status: str = Field(default=MessageStatus.HELD, max_length=20)  # MessageStatus
    hold_reason: str | None = Field(default=None, max_length=500)
    subject: str = Field(default="", sa_column=Column(SealedText(), nullable=False))
    text: str = Field(default="", sa_column=Column(SealedText(), nullable=False))
    released_text: str | None = Field(default=None, sa_column=Column(SealedText(), nullable=True))
    # the mediator's wording offered to the author (#suggest); released only with their "yes"
    suggested_text: str | None = Field(default=None, sa_column=Column(SealedText(), nullable=True))
    message_id: str | None = Field(default=None, max_length=500)
    created_at: datetime = Field(default_factory=utcnow)
    decided_at: datetime | None = None


class OutgoingMail(SQLModel, table=True):
    """The durable outbox: one row per composed copy, written with the decision that caused it."""

    id: int | None = Field(default=None, primary_key=True)
    case_id: int | None = Field(default=None, foreign_key="case.id", index=True)
    participant_id: int | None = Field(default=None, foreign_key="participant.id", index=True)
    message_ref_id: int | None = Field(default=None, foreign_key="message.id", index=True)
    kind: str = Field(max_length=40)
    channel: str = Field(default="shared", max_length=60)  # "shared" or "private:<party id>"
    # Blobs added to this copy when it is sent ([{"sha256", "filename", "content_type"}]):
    # a large file relayed to 30 parties is stored once, not 30 times.
    attachments: list[dict] = Field(default_factory=list, sa_column=Column(SAJSON, nullable=False))
    message_id: str = Field(max_length=250, index=True, unique=True)
    envelope_from: str = Field(max_length=320)
    rcpt_to: str = Field(max_length=320)
    raw: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    status: str = Field(default="pending", max_length=20, index=True)  # pending | sent | failed
    attempts: int = 0
    claimed_until: datetime | None = None
    claimed_by: str | None = Field(default=None, max_length=200)  # threads.claims
    next_attempt_at: datetime = Field(default_factory=utcnow, index=True)
    last_error: str | None = Field(default=None, max_length=2000)
    created_at: datetime = Field(default_factory=utcnow)
    sent_at: datetime | None = None


class MailDecision(SQLModel, table=True):
    """One mail decided for one case (or for the open address): the key is a hash of its
    Message-ID, its body and the case. Inserted with the decision, so a redelivered mail, or
    the same mail to several of a case's addresses, is carried out once."""

    key: str = Field(primary_key=True, max_length=64)
    inbound_id: int | None = Field(default=None, foreign_key="inboundmail.id")
    created_at: datetime = Field(default_factory=utcnow)


class AuditEvent(SQLModel, table=True):
    """Append-only record of every decision, chained by hash per case."""

    id: int | None = Field(default=None, primary_key=True)
    case_id: int | None = Field(default=None, foreign_key="case.id", index=True)
    at: datetime = Field(default_factory=utcnow)
    kind: str = Field(max_length=40)
    actor: str = Field(default="system", max_length=200)
    detail: dict = Field(default_factory=dict, sa_column=Column(SAJSON, nullable=False))
    prev_hash: str = Field(default="", max_length=64)
    hash: str = Field(default="", max_length=64)


class ParticipantAlias(SQLModel, table=True):
    """A further address the mediator accepted for a participant (``#alias``)."""

    __table_args__ = (UniqueConstraint("participant_id", "email"),)

    id: int | None = Field(default=None, primary_key=True)
    participant_id: int = Field(foreign_key="participant.id", index=True)
    email: str = Field(max_length=320)
    created_at: datetime = Field(default_factory=utcnow)


class TimeEntry(SQLModel, table=True):
    """Time the mediator logged on a case (``#time 1h30 note``), for the cost overview."""

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="case.id", index=True)
    minutes: int
    note: str = Field(default="", max_length=500)
    at: datetime = Field(default_factory=utcnow)


class ThreadRoot(SQLModel, table=True):
    """The first copy a participant received on one channel: what their later copies hang off."""

    __table_args__ = (UniqueConstraint("participant_id", "channel"),)

    id: int | None = Field(default=None, primary_key=True)
    participant_id: int = Field(foreign_key="participant.id", index=True)
    channel: str = Field(max_length=60)  # "shared", or "private:<party id>"
    message_id: str = Field(max_length=250)
    last_message_id: str | None = Field(default=None, max_length=250)  # newest copy in it
    depth: int = 0  # copies in this thread so far


class Reminder(SQLModel, table=True):
    """One reminder or notice the scheduler sent: the exactly-once claim record.

    The row is inserted in the same transaction as the outgoing mail; a second sweep (late,
    repeated, or on another machine) that tries the same participant, kind, subject and round
    hits the unique key and sends nothing.
    """

    __table_args__ = (UniqueConstraint("participant_id", "kind", "about", "round"),)

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="case.id", index=True)
    # the party reminded or reported on; the mediator for case-wide notices (readiness)
    participant_id: int = Field(foreign_key="participant.id")
    kind: str = Field(max_length=40)  # register | intake | sign | reply | review | silent-* | ready
    about: int = 0  # the awaited request or held message it concerns; 0 when none
    round: int = 1
    sent_at: datetime = Field(default_factory=utcnow)


class Awaiting(SQLModel, table=True):
    """The mediator waits for a party's answer (``#awaiting Name``, ``#reply-by <date>``)."""

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="case.id", index=True)
    participant_id: int = Field(foreign_key="participant.id", index=True)
    asked_at: datetime = Field(default_factory=utcnow)
    reply_by: datetime | None = None
    closed_at: datetime | None = Field(default=None, index=True)  # withdrawn or superseded


class DigestRecord(SQLModel, table=True):
    """One digest period per mediator, claimed once; ``sent`` is false when nothing changed."""

    __table_args__ = (UniqueConstraint("mediator_email", "period"),)

    id: int | None = Field(default=None, primary_key=True)
    mediator_email: str = Field(max_length=320)
    period: str = Field(max_length=20)  # 2026-03-02 (daily) or 2026-W10 (weekly)
    fingerprint: str = Field(max_length=64)
    sent: bool = False
    created_at: datetime = Field(default_factory=utcnow)


# The scheduler's "what is due" questions stay fast however many cases are closed or complete:
# open cases by status, and per step only the participants still missing it (partial indexes).
def _missing(table, column: str) -> dict:  # noqa: ANN001
    condition = table.c[column].is_(None)
    return {"sqlite_where": condition, "postgresql_where": condition}


Index("ix_case_status", Case.__table__.c.status)
Index("ix_participant_unregistered", Participant.__table__.c.case_id,
      **_missing(Participant.__table__, "registered_at"))
Index("ix_participant_no_intake", Participant.__table__.c.case_id,
      **_missing(Participant.__table__, "intake_submitted_at"))
Index("ix_participant_unsigned", Participant.__table__.c.case_id,
      **_missing(Participant.__table__, "signed_at"))
Index("ix_message_held", Message.__table__.c.case_id, Message.__table__.c.created_at,
      sqlite_where=Message.__table__.c.status == "held",
      postgresql_where=Message.__table__.c.status == "held")


class CaseExport(SQLModel, table=True):
    """An archive of a case (or of one party's own data) that was handed out, and its hashes.

    Retention purges a closed case only after an export of the whole case exists. ``archive``
    keeps the (sealed) zip only while it waits to be fetched through a signed download link.
    """

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="case.id", index=True)
    kind: str = Field(default="case", max_length=20)  # case | participant
    participant_name: str | None = Field(default=None, max_length=200)
    actor: str = Field(default="system", max_length=200)
    created_at: datetime = Field(default_factory=utcnow)
    sha256: str = Field(max_length=64)  # of the zip file
    manifest_sha256: str = Field(max_length=64)
    size: int = 0
    audit_hash: str = Field(default="", max_length=64)  # the chain's last hash it contains
    archive: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))


class Tombstone(SQLModel, table=True):
    """What is left of a purged case: its reference, dates, outcome and the audit chain's end."""

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="case.id", unique=True)
    ref: str = Field(max_length=40, index=True)
    opened_at: datetime
    closed_at: datetime | None = None
    outcome: str | None = Field(default=None, max_length=40)
    purged_at: datetime = Field(default_factory=utcnow)
    final_hash: str = Field(max_length=64)  # the last audit hash before the purge
    events: int = 0  # how many audit events the purged chain held
    export_sha256: str | None = Field(default=None, max_length=64)


class IntakeAnswer(SQLModel, table=True):
    """One party's answer to one intake question, saved per page so the intake can resume."""

    __table_args__ = (UniqueConstraint("participant_id", "question_id"),)

    id: int | None = Field(default=None, primary_key=True)
    participant_id: int = Field(foreign_key="participant.id", index=True)
    form: str = Field(max_length=60)
    question_id: str = Field(max_length=60)
    value: Any = Field(default=None, sa_column=Column(SealedJSON(), nullable=True))
    updated_at: datetime = Field(default_factory=utcnow)


class Signature(SQLModel, table=True):
    """A party's signature under the exact agreement text they were shown (its SHA-256)."""

    __table_args__ = (UniqueConstraint("participant_id", "sha256"),)

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="case.id", index=True)
    participant_id: int = Field(foreign_key="participant.id", index=True)
    sha256: str = Field(max_length=64)
    text: str = Field(default="", sa_column=Column(SealedText(), nullable=False))
    typed_name: str = Field(sa_column=Column(SealedText(), nullable=False))
    language: str = Field(default="nl", max_length=5)
    signed_at: datetime = Field(default_factory=utcnow)
    ip: str = Field(default="", sa_column=Column(SealedText(), nullable=False))
    user_agent: str = Field(default="", sa_column=Column(SealedText(), nullable=False))


class CaseAgreement(SQLModel, table=True):
    """The mediator's own agreement template for one case (``case open --agreement FILE``)."""

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="case.id", unique=True)
    filename: str = Field(default="", max_length=200)
    source: str = ""


class SafetyAlert(SQLModel, table=True):
    """The mediator was alerted about one party's answer to one safety screening question;
    claimed by its unique key in the same transaction as the alert mail, so it goes out once."""

    __table_args__ = (UniqueConstraint("participant_id", "question_id"),)

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="case.id", index=True)
    participant_id: int = Field(foreign_key="participant.id", index=True)
    question_id: str = Field(max_length=60)
    at: datetime = Field(default_factory=utcnow)


class Blob(SQLModel, table=True):
    """An attachment's bytes, stored once by SHA-256 however often it is passed on."""

    sha256: str = Field(primary_key=True, max_length=64)
    size: int
    data: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)


class MessageAttachment(SQLModel, table=True):
    """A file that came with a message, and whether it may be passed on (and if not, why)."""

    id: int | None = Field(default=None, primary_key=True)
    message_id: int = Field(foreign_key="message.id", index=True)
    sha256: str = Field(foreign_key="blob.sha256", max_length=64)
    filename: str = Field(max_length=255)
    content_type: str = Field(max_length=255)
    size: int
    passed: bool
    reason: str = Field(default="", max_length=300)

