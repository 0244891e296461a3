"""What waits for the mediator first: safety alerts from the intake and messages held for
review. The readiness mail, ``#status`` and the digest open with it, so the one thing that
matters never sits below a page of overview.

A safety alert stays on the list for as long as the case is open: nothing in the service can
tell whether the mediator has since spoken with the party, and a reminder too many is safer
than one too few.
"""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, select

from threads.models import Case, Message, Participant, SafetyAlert


def first(session: Session, case: Case) -> dict[str, list[dict[str, Any]]]:
    """``alerts`` (who, when) and ``held`` (message number, author, since), oldest first."""
    names = dict(session.exec(
        select(Participant.id, Participant.name).where(Participant.case_id == case.id)).all())
    alerts = session.exec(
        select(SafetyAlert).where(SafetyAlert.case_id == case.id).order_by(col(SafetyAlert.at))
    ).all()
    held = session.exec(
        select(Message).where(Message.case_id == case.id, Message.status == "held")
        .order_by(col(Message.seq))
    ).all()
    worried: dict[int, dict[str, Any]] = {}
    for alert in alerts:  # one line per party, however many worrying answers they gave
        worried.setdefault(alert.participant_id,
                           {"name": names.get(alert.participant_id, "?"), "at": alert.at})
    return {
        "alerts": list(worried.values()),
        "held": [{"seq": m.seq, "name": names.get(m.author_id, "?"), "since": m.created_at}
                 for m in held],
    }
