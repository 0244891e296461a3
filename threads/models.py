"""The persistent shape of a mediation: cases, participants, mail in and out, and the record.

Every table a decision touches is here so that one transaction can hold a decision and the
outgoing copies it causes (DESIGN.md, "One reply, end to end").
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON as SAJSON
from sqlalchemy import Column, Index, LargeBinary, UniqueConstraint, event, inspect
from sqlmodel import Field, SQLModel

from threads.lookup import Kind, stored_digest
from threads.sealed import SealedJSON, SealedText


def utcnow() -> datetime:
    return datetime.now(UTC)


# The model agreement's current version: templates/agreements/<lang>.txt. Before changing
# that text, copy it to templates/agreements/v<N>/ and add one here (threads.agreement).
AGREEMENT_VERSION = 2


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
    vat_percent: float = 0.0  # fees.vat_percent when the case opened
    # The case's own clock and voice; None: the service's (service.timezone, cases.address).
    timezone: str | None = Field(default=None, max_length=60)
    address: str | None = Field(default=None, max_length=2)  # "je" | "u" (Dutch form)
    # The model agreement (templates/agreements/) the case was opened with: its parties sign
    # that text, so a newer model never changes what they were sent. None: opened before
    # versions were kept, the first model (templates/agreements/v1/).
    agreement_version: int | None = Field(default=AGREEMENT_VERSION)
    # What becomes of a heated message in open mode (threads.cooling): None holds it for the
    # mediator; N lets it go out by itself N minutes after it arrived, unless stopped first.
    cooling_off_minutes: int | None = None


def _sealed(nullable: bool = False) -> Any:
    return Field(default=None, sa_column=Column(SealedText(), nullable=nullable))


def _lookup(unique: bool = False, nullable: bool = False, index: bool = True) -> Any:
    """The keyed hash a sealed address or token is found by (threads.lookup); filled in from
    the value on every insert and update (``keep_hashes`` below), never set by hand."""
    return Field(default=None, index=index, unique=unique or None, max_length=64,
                 nullable=nullable)


class Participant(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("case_id", "email_hash"),)

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="case.id", index=True)
    role: str = Field(max_length=10)  # mediator | party
    # What a party is to the case when the intake form asks some parties other questions
    # (threads.intake: a grandparent is not asked about a separation); None: a plain party.
    relation: str | None = Field(default=None, max_length=40)
    name: str = Field(sa_column=Column(SealedText(), nullable=False))
    email: str = _sealed()
    email_hash: str = _lookup()
    language: str = Field(default="nl", max_length=5)
    token: str = _sealed()
    token_hash: str = _lookup(unique=True)
    # A party's private line to the mediator: mail from the mediator to this address reaches
    # only this party, and the party's private messages reach the mediator from it.
    private_token: str | None = _sealed(nullable=True)
    private_token_hash: str | None = _lookup(unique=True, nullable=True)
    # The mediator's own line to this party: only ever in mail sent to the mediator, so mail
    # arriving there can be the mediator's (threads.rules); the party's line never can.
    mediator_token: str | None = _sealed(nullable=True)
    mediator_token_hash: str | None = _lookup(unique=True, nullable=True)
    active: bool = True
    created_at: datetime = Field(default_factory=utcnow)
    registered_at: datetime | None = None
    intake_submitted_at: datetime | None = None
    signed_at: datetime | None = None
    # Percent of the costs this party bears (#split); None everywhere: an equal split.
    cost_share: float | None = None
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
    mail_from: str = Field(default="", sa_column=Column(SealedText(), nullable=False))
    # our own addresses, with the reply tokens that act as credentials: sealed as well
    rcpt_tos: list[str] = Field(default_factory=list,
                                sa_column=Column(SealedJSON(), nullable=False))
    raw: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    size: int = 0
    sha256: str = Field(max_length=64, index=True)
    message_id: str | None = Field(default=None, max_length=500)
    source: str = Field(default="smtp", max_length=10)  # smtp | lmtp | imap | cli
    status: str = Field(default=InboundStatus.PENDING, max_length=20, index=True)
    classification: str | None = Field(default=None, max_length=30)
    # why it was held or refused: often names the sender's address (sealed)
    reason: str | None = _sealed(nullable=True)
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
    SUPERSEDED = "superseded"  # the author rewrote it (after #suggest, or while cooling off)
    WITHDRAWN = "withdrawn"  # its author said "stop" before it went out (threads.cooling)


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
    # what the tone check noticed (threads.heat): {"level", "signals", "written_at"}
    tone: dict | None = Field(default=None, sa_column=Column(SealedJSON(), nullable=True))
    # when the mediator acknowledged the safety alert of a threatening message (#ack)
    tone_ack_at: datetime | None = None
    # a heated message cooling off (threads.cooling): it goes out by itself at this moment
    # unless its author or the mediator decides otherwise first
    release_at: datetime | None = None


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
    rcpt_to: str = _sealed()
    rcpt_hash: str = _lookup()
    raw: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    # pending | sent | failed | withdrawn (threads.night: taken back before the morning)
    status: str = Field(default="pending", max_length=20, index=True)
    attempts: int = 0
    claimed_until: datetime | None = None
    claimed_by: str | None = Field(default=None, max_length=200)  # threads.claims
    next_attempt_at: datetime = Field(default_factory=utcnow, index=True)
    # what the relay said: a refusal names the recipient's address (sealed)
    last_error: str | None = _sealed(nullable=True)
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

    __table_args__ = (UniqueConstraint("participant_id", "email_hash"),)

    id: int | None = Field(default=None, primary_key=True)
    participant_id: int = Field(foreign_key="participant.id", index=True)
    email: str = _sealed()
    email_hash: str = _lookup(index=False)  # found with its participant: the unique key
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

    __table_args__ = (UniqueConstraint("mediator_hash", "period"),)

    id: int | None = Field(default=None, primary_key=True)
    mediator_email: str = _sealed()
    mediator_hash: str = _lookup(index=False)  # the unique key leads with it
    period: str = Field(max_length=20)  # 2026-03-02 (daily) or 2026-W10 (weekly)
    fingerprint: str = Field(max_length=64)
    sent: bool = False
    created_at: datetime = Field(default_factory=utcnow)


# (model, ((sealed column, its lookup hash column, what it holds), ...))
HASHED: tuple[tuple[type[SQLModel], tuple[tuple[str, str, Kind], ...]], ...] = (
    (Participant, (("email", "email_hash", Kind.ADDRESS), ("token", "token_hash", Kind.TOKEN),
                   ("private_token", "private_token_hash", Kind.TOKEN),
                   ("mediator_token", "mediator_token_hash", Kind.TOKEN))),
    (ParticipantAlias, (("email", "email_hash", Kind.ADDRESS),)),
    (OutgoingMail, (("rcpt_to", "rcpt_hash", Kind.ADDRESS),)),
    (DigestRecord, (("mediator_email", "mediator_hash", Kind.ADDRESS),)),
)


def keep_hashes(model: type[SQLModel], pairs: tuple[tuple[str, str, Kind], ...]) -> None:
    """Recompute a row's lookup hashes from its values whenever it is written, with the key
    of the engine writing it: in the same statement as the sealed value (``mediate db
    rotate-key`` re-seals a row and re-hashes it at once)."""
    def fill(connection: Any, row: Any, columns: list[tuple[str, str, Kind]]) -> None:
        for column, hash_column, kind in columns:
            value = getattr(row, column)
            setattr(row, hash_column,
                    None if value is None else stored_digest(connection.dialect, value, kind))

    def inserted(_mapper: Any, connection: Any, row: Any) -> None:
        fill(connection, row, list(pairs))

    def updated(_mapper: Any, connection: Any, row: Any) -> None:  # only what was written
        state = inspect(row)
        fill(connection, row, [p for p in pairs if state.attrs[p[0]].history.has_changes()])

    event.listen(model, "before_insert", inserted)
    event.listen(model, "before_update", updated)


for _model, _pairs in HASHED:
    keep_hashes(_model, _pairs)


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
# the cooling-off release asks only about messages that wait for a moment (threads.cooling)
Index("ix_message_release_at", Message.__table__.c.release_at,
      **{f"{dialect}_where": Message.__table__.c.release_at.is_not(None)
         for dialect in ("sqlite", "postgresql")})


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



class Proposal(SQLModel, table=True):
    """A proposal the mediator put to some or all parties (``#voorstel``), numbered per case;
    each party answers it by mail in its own thread (threads.proposals)."""

    __table_args__ = (UniqueConstraint("case_id", "number"),)

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="case.id", index=True)
    number: int
    text: str = Field(default="", sa_column=Column(SealedText(), nullable=False))
    created_at: datetime = Field(default_factory=utcnow)
    withdrawn_at: datetime | None = None


class ProposalParty(SQLModel, table=True):
    """One party a proposal was put to, and their latest answer (None: no answer yet)."""

    __table_args__ = (UniqueConstraint("proposal_id", "participant_id"),)

    id: int | None = Field(default=None, primary_key=True)
    proposal_id: int = Field(foreign_key="proposal.id", index=True)
    participant_id: int = Field(foreign_key="participant.id", index=True)
    answer: str | None = Field(default=None, max_length=20)  # agreed | not-agreed
    comment: str = Field(default="", sa_column=Column(SealedText(), nullable=False))
    answered_at: datetime | None = None


class Settlement(SQLModel, table=True):
    """The settlement of a case, drafted from the proposals everyone agreed to (``#settlement``):
    the exact text the parties sign, and where it stands (threads.settlement)."""

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="case.id", unique=True)
    kind: str = Field(max_length=40)  # the template: vaststellingsovereenkomst, settlement, ...
    language: str = Field(default="nl", max_length=5)
    status: str = Field(default="draft", max_length=20)  # draft | signing | signed
    text: str = Field(default="", sa_column=Column(SealedText(), nullable=False))
    sha256: str = Field(max_length=64)
    proposals: list[int] = Field(default_factory=list, sa_column=Column(SAJSON, nullable=False))
    # the mediator's own template for this case (``#settlement`` with a .txt attached)
    template: str = Field(default="", sa_column=Column(SealedText(), nullable=False))
    drafted_at: datetime = Field(default_factory=utcnow)
    sent_at: datetime | None = None
    completed_at: datetime | None = None
    # the final PDF, stored once; a foreign key, so that purging the case purges the PDF too
    pdf_sha256: str | None = Field(default=None, foreign_key="blob.sha256", max_length=64)


class SettlementSignature(SQLModel, table=True):
    """A signature under the exact settlement text (its SHA-256): a party's on the signing page,
    the mediator's countersignature by mail. One whose hash is not the text's now is void."""

    __table_args__ = (UniqueConstraint("participant_id", "sha256"),)

    id: int | None = Field(default=None, primary_key=True)
    settlement_id: int = Field(foreign_key="settlement.id", index=True)
    participant_id: int = Field(foreign_key="participant.id", index=True)
    sha256: str = Field(max_length=64)
    typed_name: str = Field(sa_column=Column(SealedText(), nullable=False))
    signed_at: datetime = Field(default_factory=utcnow)
    ip: str = Field(default="", sa_column=Column(SealedText(), nullable=False))
    user_agent: str = Field(default="", sa_column=Column(SealedText(), nullable=False))
