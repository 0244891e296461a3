"""`mediate db rotate-key`: everything stored sealed again with the newest key.

With ``privacy.encryption_key = "NEW,OLD"`` every sealed value is opened (with whichever key
sealed it) and sealed again with NEW; values stored before any key was set are sealed for the
first time. The lookup hashes of addresses and tokens (threads.lookup) are recomputed with NEW
in the same UPDATE as the value they belong to, so a row is never sealed with one key and found
by another; lookups meanwhile match a hash under any configured key, so mail keeps being routed
while the rotation runs. Afterwards OLD may be dropped from the setting. Each table is done in
batches, one transaction each, so a large database neither holds one long lock nor all its mail
in memory; running it again after an interruption simply continues (every value opens with NEW
or OLD).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm.attributes import flag_modified
from sqlmodel import Session, col, select

from threads.crypto import AtRestKey, seal, unseal
from threads.db import session_scope
from threads.models import (
    Blob,
    CaseExport,
    DigestRecord,
    InboundMail,
    IntakeAnswer,
    Message,
    OutgoingMail,
    Participant,
    ParticipantAlias,
    Proposal,
    ProposalParty,
    Settlement,
    SettlementSignature,
    Signature,
)

BATCH = 200
# bytes sealed by hand (threads.crypto): (model, primary key, column)
SEALED_BYTES: list[tuple[Any, Any, str]] = [
    (InboundMail, InboundMail.id, "raw"), (OutgoingMail, OutgoingMail.id, "raw"),
    (Blob, Blob.sha256, "data"), (CaseExport, CaseExport.id, "archive"),
]
# columns sealed by their type (threads.sealed): writing the value again seals it anew, and
# writing a row recomputes its lookup hashes (threads.models.keep_hashes)
SEALED_COLUMNS: list[tuple[Any, Any, tuple[str, ...]]] = [
    (Participant, Participant.id, ("name", "email", "token", "private_token", "mediator_token")),
    (ParticipantAlias, ParticipantAlias.id, ("email",)),
    (InboundMail, InboundMail.id, ("mail_from", "rcpt_tos", "reason")),
    (OutgoingMail, OutgoingMail.id, ("rcpt_to", "last_error")),
    (DigestRecord, DigestRecord.id, ("mediator_email",)),
    (Message, Message.id, ("subject", "text", "released_text", "suggested_text", "tone")),
    (IntakeAnswer, IntakeAnswer.id, ("value",)),
    (Signature, Signature.id, ("text", "typed_name", "ip", "user_agent")),
    (Proposal, Proposal.id, ("text",)),
    (ProposalParty, ProposalParty.id, ("comment",)),
    (Settlement, Settlement.id, ("text", "template")),
    (SettlementSignature, SettlementSignature.id, ("typed_name", "ip", "user_agent")),
]


def _batches(engine: Engine, key_column: Any) -> Iterator[list[Any]]:
    with Session(engine) as session:
        keys = list(session.exec(select(key_column).order_by(key_column)))
    for start in range(0, len(keys), BATCH):
        yield keys[start:start + BATCH]


def rotate(engine: Engine, key: AtRestKey) -> dict[str, int]:
    """Seal every stored value with the first of ``key``'s keys; rows per table."""
    done: dict[str, int] = {}
    for model, key_column, column in SEALED_BYTES:
        for keys in _batches(engine, key_column):
            with session_scope(engine) as session:
                for row in session.exec(select(model).where(col(key_column).in_(keys))):
                    value = getattr(row, column)
                    if value is not None:
                        setattr(row, column, seal(unseal(value, key), key))
                        session.add(row)
            done[model.__tablename__] = done.get(model.__tablename__, 0) + len(keys)
    for model, key_column, columns in SEALED_COLUMNS:
        for keys in _batches(engine, key_column):
            with session_scope(engine) as session:
                for row in session.exec(select(model).where(col(key_column).in_(keys))):
                    for column in columns:  # read open, written sealed with the newest key
                        flag_modified(row, column)
                    session.add(row)
            done[model.__tablename__] = done.get(model.__tablename__, 0) + len(keys)
    return done
