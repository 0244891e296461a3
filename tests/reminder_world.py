"""A small world for reminder tests: a database, a Composer as the mailer, cases opened at a
chosen moment, and questions about the outbox. The clock is moved with time-machine."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from conftest import MEDIATOR, make_settings
from sqlalchemy import Engine, func
from sqlmodel import Session, col, select

from mediate import casework
from mediate.config import Settings
from mediate.scheduler import run_sweep
from mediate.service import make_composer, prepare_database
from threads.db import session_scope
from threads.lookup import is_address
from threads.models import Case, Message, OutgoingMail, Participant

AMS = ZoneInfo("Europe/Amsterdam")


def local(*args: int) -> datetime:
    """A moment given in Amsterdam local time, as an aware datetime."""
    return datetime(*args, tzinfo=AMS)


@dataclass
class World:
    settings: Settings
    engine: Engine

    @classmethod
    def make(cls, tmp_path, database_url: str, **reminders) -> World:  # noqa: ANN001
        settings = make_settings(tmp_path, database_url, reminders=reminders)
        return cls(settings, prepare_database(settings))

    def open_case(self, *names: str, title: str = "Sharing the house") -> int:
        parties = [f"{name} <{name.lower()}@home.test>" for name in names]
        opened = casework.open_case(
            self.settings, title=title, mediator_email=MEDIATOR, parties=parties,
            language="en", engine=self.engine,
        )
        with Session(self.engine) as session:
            return session.exec(select(Case.id).where(Case.ref == opened.ref)).one()

    def sweep(self, now: datetime | None = None):  # noqa: ANN201
        return run_sweep(self.engine, make_composer(self.settings), self.settings, now)

    def party(self, case_id: int, name: str) -> Participant:
        with Session(self.engine) as session:
            return session.exec(select(Participant).where(
                Participant.case_id == case_id, Participant.name == name)).one()

    def update(self, case_id: int, name: str, **values) -> None:
        with session_scope(self.engine) as session:
            person = session.exec(select(Participant).where(
                Participant.case_id == case_id, Participant.name == name)).one()
            for key, value in values.items():
                setattr(person, key, value)
            session.add(person)

    def close(self, case_id: int) -> None:
        with session_scope(self.engine) as session:
            case = session.get(Case, case_id)
            case.status, case.closed_at = "closed", datetime.now(UTC)
            session.add(case)

    def hold_message(self, case_id: int, name: str, text: str = "Please read this.") -> int:
        with session_scope(self.engine) as session:
            case = session.get(Case, case_id)
            author = session.exec(select(Participant).where(
                Participant.case_id == case_id, Participant.name == name)).one()
            case.message_seq += 1
            message = Message(case_id=case_id, seq=case.message_seq, author_id=author.id,
                              dedupe_key=f"k{case.message_seq}", status="held", text=text)
            session.add_all([case, message])
            session.flush()
            return message.id

    def mails(self, kind: str | None = None, to: str | None = None) -> list[OutgoingMail]:
        with Session(self.engine) as session:
            query = select(OutgoingMail).order_by(col(OutgoingMail.id))
            if kind:
                query = query.where(OutgoingMail.kind == kind)
            if to:
                query = query.where(is_address(session, OutgoingMail.rcpt_hash, to))
            return list(session.exec(query))

    def count(self, kind: str) -> int:
        with Session(self.engine) as session:
            return session.exec(select(func.count()).select_from(OutgoingMail)
                                .where(OutgoingMail.kind == kind)).one()


def days(n: float) -> timedelta:
    return timedelta(days=n)
