"""Outbox delivery over real SMTP into a sink that answers 4xx/5xx on demand: retries with
backoff, permanent failures, the participant's state and the mediator told once per episode."""

from __future__ import annotations

from datetime import timedelta

from conftest import MEDIATOR
from sqlmodel import Session, select
from support import compose, smtp_send

from mailgate.outbox import backoff
from mediate import casework
from threads.lookup import is_address
from threads.models import OutgoingMail, Participant, utcnow

ANNA, BRAM = "anna@home.test", "bram@work.test"
LATER = "450 4.2.1 Mailbox busy, try again later"
NO_SUCH_USER = "550 5.1.1 No such user here"


async def open_case(service, moderation="review"):
    opened = casework.open_case(
        service.settings, title="Sharing the house", mediator_email=MEDIATOR,
        parties=[f"Anna Jansen <{ANNA}>", f"Bram de Boer <{BRAM}>"], moderation=moderation,
        language="en", engine=service.engine,
    )
    await service.settle()
    return opened


async def mediator_writes(service, opened, text):
    raw = compose(MEDIATOR, opened.mediator_address, text)
    await smtp_send(service.smtp_port, MEDIATOR, [opened.mediator_address], raw)
    await service.settle()


def copies(service, rcpt, kind=None) -> list[OutgoingMail]:
    with Session(service.engine) as session:
        query = select(OutgoingMail).where(is_address(session, OutgoingMail.rcpt_hash, rcpt))
        if kind:
            query = query.where(OutgoingMail.kind == kind)
        return list(session.exec(query.order_by(OutgoingMail.id)))


def participant(service, email) -> Participant:
    with Session(service.engine) as session:
        return session.exec(select(Participant).where(
            is_address(session, Participant.email_hash, email))).one()


def make_due(service, copy_id, **changes) -> None:
    """The clock moves on: the deferred copy is due again (and may be older than it was)."""
    with Session(service.engine) as session:
        row = session.get(OutgoingMail, copy_id)
        row.next_attempt_at = utcnow() - timedelta(seconds=1)
        for name, value in changes.items():
            setattr(row, name, value)
        session.add(row)
        session.commit()


def failure_notices(sink):
    return [d for d in sink.to(MEDIATOR) if "could not be delivered" in d.text]


def test_backoff_doubles_from_a_minute_to_an_hour_with_jitter():
    for attempts, ceiling in ((1, 60), (2, 120), (3, 240), (7, 3600), (30, 3600)):
        waits = {backoff(attempts).total_seconds() for _ in range(20)}
        assert all(ceiling / 2 <= w <= ceiling for w in waits), (attempts, waits)
        assert len(waits) > 1  # jittered: copies deferred together do not return together


async def test_temporary_failure_is_retried_later_and_then_delivered(service, sink):
    sink.answers[ANNA] = LATER
    await open_case(service)
    [invitation] = copies(service, ANNA)
    assert invitation.status == "pending" and invitation.attempts == 1
    assert "450" in invitation.last_error
    wait = invitation.next_attempt_at.replace(tzinfo=None) - utcnow().replace(tzinfo=None)
    assert timedelta(seconds=20) < wait <= timedelta(seconds=60)
    assert sink.to(ANNA) == [] and failure_notices(sink) == []

    del sink.answers[ANNA]
    make_due(service, invitation.id)
    await service.settle()
    [invitation] = copies(service, ANNA)
    assert invitation.status == "sent" and invitation.attempts == 2
    [delivered] = sink.to(ANNA)
    assert delivered.message["Message-ID"] == invitation.message_id
    assert not participant(service, ANNA).bouncing
    assert failure_notices(sink) == []


async def test_temporary_failures_stop_after_max_retry_hours_and_the_mediator_is_told(
    service, sink
):
    sink.answers[ANNA] = LATER
    await open_case(service)
    [invitation] = copies(service, ANNA)
    hours = service.settings.outbound.max_retry_hours
    make_due(service, invitation.id, created_at=utcnow() - timedelta(hours=hours, minutes=1))
    await service.settle()
    [invitation] = copies(service, ANNA)
    assert invitation.status == "failed" and invitation.attempts == 2
    assert participant(service, ANNA).bouncing
    [notice] = failure_notices(sink)
    assert "to Anna Jansen" in notice.text
    assert "try later" in notice.text and "450" in notice.text


async def test_permanent_failure_stops_at_once_and_the_mediator_is_told_once(service, sink):
    sink.answers[ANNA] = NO_SUCH_USER
    opened = await open_case(service)
    [invitation] = copies(service, ANNA)
    assert invitation.status == "failed" and invitation.attempts == 1
    assert "550 5.1.1" in invitation.last_error
    anna = participant(service, ANNA)
    assert anna.bouncing and anna.delivery_failed_at is not None
    [notice] = failure_notices(sink)
    assert "Anna Jansen" in notice.text and "refused" in notice.text
    assert ANNA not in notice.message["To"]

    # Further failures in the same episode: marked on the copy, the mediator is not told again.
    await mediator_writes(service, opened, "Welcome both. Shall we start with the house?")
    assert [c.status for c in copies(service, ANNA)] == ["failed", "failed"]
    assert len(failure_notices(sink)) == 1
    assert len(sink.to(BRAM)) == 2

    # Her address works again: the episode ends, and a later failure is a new one.
    del sink.answers[ANNA]
    await mediator_writes(service, opened, "Anna, are you with us?")
    assert not participant(service, ANNA).bouncing
    sink.answers[ANNA] = NO_SUCH_USER
    await mediator_writes(service, opened, "One more thing.")
    assert len(failure_notices(sink)) == 2


async def test_a_failure_of_the_mediators_own_copy_sends_no_notice_anywhere(service, sink):
    sink.answers[MEDIATOR] = NO_SUCH_USER
    await open_case(service)
    [confirmation] = copies(service, MEDIATOR)
    assert confirmation.status == "failed"
    assert participant(service, MEDIATOR).bouncing
    assert copies(service, MEDIATOR, kind="delivery-failed") == []


async def test_a_failed_failure_notice_does_not_cause_another(service, sink):
    sink.answers[ANNA] = NO_SUCH_USER
    sink.answers[MEDIATOR] = NO_SUCH_USER
    opened = await open_case(service)
    [notice] = copies(service, MEDIATOR, kind="delivery-failed")
    assert notice.status == "failed"
    sink.answers.pop(MEDIATOR)
    await mediator_writes(service, opened, "Hello all.")
    assert len(copies(service, MEDIATOR, kind="delivery-failed")) == 1


async def test_connections_to_the_relay_are_reused_across_copies(service, sink):
    opened = await open_case(service, moderation="open")
    for n in range(5):
        await mediator_writes(service, opened, f"Message {n}.")
    sent = sum(1 for d in sink.delivered)
    assert sent >= 13
    assert service.transport.connects <= 2 * service.settings.outbound.connections < sent
