"""What a failed or recovered delivery means for the case: who is marked, who is told.

When a copy cannot be delivered for good (the relay refused it with 5xx, or temporary failures
went on past ``outbound.max_retry_hours``) the recipient is marked ``bouncing`` and the mediator
is told, once per participant and failure episode: further failures while the participant is
still marked add nothing. The next copy to them that is delivered ends the episode.

A bounce that comes back later (to the copy's VERP address) is told the same way, once; after
one, the relay accepting further copies proves nothing, so the episode ends only when mail
from the participant arrives.

Loops are avoided: a failed ``delivery-failed`` notice never causes another one, and when the
mediator's own copy fails the mediator is marked but not written to (that mail would fail too).
Mail to outsiders (no participant) is only recorded on the outbox row.
"""

from __future__ import annotations

from sqlmodel import Session

from threads import audit
from threads.cases import lock_case, mediator_of
from threads.models import Case, OutgoingMail, Participant, utcnow
from threads.notices import Notice

NOTICE_KIND = "delivery-failed"


def copy_failed(
    session: Session, copy: OutgoingMail, *, permanent: bool, bounced: bool = False
) -> list[Notice]:
    """Record that ``copy`` will not be delivered; return the notice for the mediator, if any.
    ``bounced``: a bounce mail came back for it (the relay had accepted it)."""
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
    if bounced:
        participant.bounce_seen_at = utcnow()
        session.add(participant)
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
            "bounced": bounced,
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
    if participant.bounce_seen_at is not None:
        return  # their server accepted copies before and bounced them later: proves nothing
    case = lock_case(session, participant.case_id)
    session.refresh(participant)
    if participant.delivery_failed_at is None:
        return  # another worker ended the episode first
    _recovered(session, case, participant, actor="outbox", copy=copy.id)


def participant_wrote(session: Session, case: Case, participant: Participant) -> None:
    """Mail from the participant's own address arrived: their mailbox works, the episode ends."""
    if participant.delivery_failed_at is not None:
        _recovered(session, case, participant, actor=participant.name, by="their own mail")


def _recovered(session: Session, case: Case, participant: Participant, actor: str,
               **detail: object) -> None:
    participant.delivery_failed_at = participant.bounce_seen_at = None
    participant.bouncing = False
    session.add(participant)
    audit.record(session, case, "delivery-recovered", actor=actor,
                 participant=participant.name, **detail)


def _short(error: str) -> str:
    """The relay's answer in one line, short enough for a notice."""
    line = " ".join(error.split())
    return line[:300]
