"""What a failed or recovered delivery means for the case: who is marked, who is told.

When a copy cannot be delivered for good (the relay refused it with 5xx, or temporary failures
went on past ``outbound.max_retry_hours``) the recipient is marked ``bouncing`` and the mediator
is told, once per participant and failure episode: further failures while the participant is
still marked add nothing. The next copy to them that is delivered ends the episode.

Loops are avoided: a failed ``delivery-failed`` notice never causes another one, and when the
mediator's own copy fails the mediator is marked but not written to (that mail would fail too).
Mail to outsiders (no participant) is only recorded on the outbox row.
"""

from __future__ import annotations

from sqlmodel import Session

from threads import audit
from threads.cases import lock_case, mediator_of
from threads.models import OutgoingMail, Participant, utcnow
from threads.notices import Notice

NOTICE_KIND = "delivery-failed"


def copy_failed(session: Session, copy: OutgoingMail, *, permanent: bool) -> list[Notice]:
    """Record that ``copy`` will not be delivered; return the notice for the mediator, if any."""
    if copy.participant_id is None or copy.case_id is None:
        return []
    case = lock_case(session, copy.case_id)  # one decision per case at a time, on any machine
    participant = session.get(Participant, copy.participant_id, populate_existing=True)
    if participant is None:
        return []
    audit.record(
        session, case, "delivery-failed", actor="outbox", participant=participant.name,
        copy=copy.id, copy_kind=copy.kind, permanent=permanent,
        reason=(copy.last_error or "")[:300],
    )
    if participant.delivery_failed_at is not None:
        return []  # the same episode: the mediator already knows
    participant.delivery_failed_at = utcnow()
    participant.bouncing = True
    session.add(participant)
    if copy.kind == NOTICE_KIND or participant.role == "mediator":
        return []
    mediator = mediator_of(session, case)
    return [Notice(
        NOTICE_KIND, case, mediator,
        context={
            "party": participant, "permanent": permanent, "what": copy.kind,
            "error": _short(copy.last_error or ""),
        },
    )]


def needs_case_lock(session: Session, copy: OutgoingMail, ok: bool) -> bool:
    """Whether recording this outcome may change the case (take its lock before anything)."""
    if copy.participant_id is None:
        return False
    if not ok:
        return True
    participant = session.get(Participant, copy.participant_id)
    return participant is not None and participant.delivery_failed_at is not None


def copy_delivered(session: Session, copy: OutgoingMail) -> None:
    """A copy reached the relay: a failure episode of its recipient, if any, is over."""
    if copy.participant_id is None:
        return
    participant = session.get(Participant, copy.participant_id)
    if participant is None or participant.delivery_failed_at is None:
        return
    case = lock_case(session, participant.case_id)
    session.refresh(participant)
    if participant.delivery_failed_at is None:
        return  # another worker ended the episode first
    participant.delivery_failed_at = None
    participant.bouncing = False
    session.add(participant)
    audit.record(session, case, "delivery-recovered", actor="outbox",
                 participant=participant.name, copy=copy.id)


def _short(error: str) -> str:
    """The relay's answer in one line, short enough for a notice."""
    line = " ".join(error.split())
    return line[:300]
