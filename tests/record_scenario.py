"""A realistic case played out over real loopback SMTP, for the case-record tests.

Three parties in review mode. Each party's intake answers and signature are stored as the
signed-link pages store them. Anna's message (with a PDF) is released in an edited version,
Bram confides in the mediator on his private line and the mediator answers him privately,
Cees's message is rejected, the mediator logs time and closes the case as settled.
"""

from __future__ import annotations

import email.policy
import email.utils
from dataclasses import dataclass
from email.message import EmailMessage

from conftest import DOMAIN, MEDIATOR
from sqlmodel import Session, select
from support import compose, smtp_send

from mediate import casework
from threads import audit
from threads.addresses import mediator_line, private_address
from threads.agreement import sha256
from threads.db import session_scope
from threads.lookup import is_address
from threads.models import Case, IntakeAnswer, Participant, Signature

ANNA, BRAM, CEES = "anna@home.test", "bram@work.test", "cees@mail.test"
NAMES = {ANNA: "Anna Jansen", BRAM: "Bram de Boer", CEES: "Cees Ünal"}
PDF = b"%PDF-1.4\n% inventory of the house\n1 0 obj << >> endobj\n%%EOF\n"

ANNA_WROTE = "I would like to keep the sofa & the <old> lamp."
ANNA_RELEASED = "Anna would like to keep the sofa and the lamp."
BRAM_PRIVATE = "Between us: I cannot afford to buy Anna out of the house."
MEDIATOR_PRIVATE = "Thank you for telling me, Bram. Shall we look at the numbers together?"
CEES_WROTE = "Whatever, you two always get your way."
REJECT_REASON = "please say what you would like to happen"
AGREEMENT = "Mediation agreement\n\nWe take part voluntarily and keep what is said confidential.\n"
INTAKE = {ANNA: "We lived together for twelve years.", BRAM: "I want to stay in the house.",
          CEES: "I only own a share of the garden."}
MEDIATOR_SHARED = "Welcome all. Let us start with the furniture."


@dataclass
class PlayedCase:
    ref: str
    address: dict[str, str]  # party or MEDIATOR -> their reply address
    private: dict[str, str]  # party -> their private line

    def case(self, session: Session) -> Case:
        return session.exec(select(Case).where(Case.ref == self.ref)).one()

    def party(self, session: Session, email: str) -> Participant:
        return session.exec(select(Participant).where(
            is_address(session, Participant.email_hash, email))).one()


def with_attachment(sender: str, to: str, text: str, filename: str, data: bytes) -> bytes:
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = to
    mail["Subject"] = "Re: the house"
    mail["Date"] = email.utils.format_datetime(email.utils.localtime())
    mail["Message-ID"] = email.utils.make_msgid(domain="client.example")
    mail.set_content(text)
    mail.add_attachment(data, maintype="application", subtype="pdf", filename=filename)
    return mail.as_bytes(policy=email.policy.SMTP)


async def send(service, sender: str, to: str, raw: bytes) -> None:
    await smtp_send(service.smtp_port, sender, [to], raw)
    await service.settle()


async def play_case(service) -> PlayedCase:
    opened = casework.open_case(
        service.settings, title="Sharing the house", mediator_email=MEDIATOR,
        parties=[f"{NAMES[p]} <{p}>" for p in (ANNA, BRAM, CEES)], moderation="review",
        language="en", engine=service.engine,
    )
    await service.settle()
    names = dict(opened.party_addresses)
    address = {p: names[NAMES[p]] for p in (ANNA, BRAM, CEES)}
    address[MEDIATOR] = opened.mediator_address
    with Session(service.engine) as session:
        case = session.exec(select(Case).where(Case.ref == opened.ref)).one()
        private = {
            p: private_address(case, session.exec(
                select(Participant).where(
                    is_address(session, Participant.email_hash, p))).one(), DOMAIN)
            for p in (ANNA, BRAM, CEES)
        }
        # the mediator's own line to each party (a party's line never takes the mediator's mail)
        own_line = {
            p: mediator_line(case, session.exec(
                select(Participant).where(
                    is_address(session, Participant.email_hash, p))).one(), DOMAIN)
            for p in (ANNA, BRAM, CEES)
        }
    played = PlayedCase(opened.ref, address, private)
    with session_scope(service.engine) as session:
        case = played.case(session)
        for party in (ANNA, BRAM, CEES):
            person = played.party(session, party)
            session.add(IntakeAnswer(participant_id=person.id, form="default",
                                     question_id="background", value=INTAKE[party]))
            session.add(IntakeAnswer(participant_id=person.id, form="default",
                                     question_id="children", value=0))
            session.add(Signature(case_id=case.id, participant_id=person.id,
                                  sha256=sha256(AGREEMENT), text=AGREEMENT,
                                  typed_name=person.name, language="en", ip="192.0.2.7",
                                  user_agent="Firefox"))
            audit.record(session, case, "agreement-signed", actor=person.name,
                         participant=person.name, sha256=sha256(AGREEMENT))

    mediator = address[MEDIATOR]
    await send(service, MEDIATOR, mediator, compose(MEDIATOR, mediator, MEDIATOR_SHARED))
    await send(service, ANNA, address[ANNA],
               with_attachment(ANNA, address[ANNA], ANNA_WROTE, "inventory.pdf", PDF))
    await send(service, MEDIATOR, mediator,
               compose(MEDIATOR, mediator, f"#approve\n\n{ANNA_RELEASED}"))
    await send(service, BRAM, private[BRAM], compose(BRAM, private[BRAM], BRAM_PRIVATE))
    await send(service, MEDIATOR, own_line[BRAM],
               compose(MEDIATOR, own_line[BRAM], MEDIATOR_PRIVATE))
    await send(service, CEES, address[CEES], compose(CEES, address[CEES], CEES_WROTE))
    await send(service, MEDIATOR, mediator,
               compose(MEDIATOR, mediator, f"#reject {REJECT_REASON}"))
    await send(service, MEDIATOR, mediator,
               compose(MEDIATOR, mediator, "#time 1h30 reading the inventory"))
    await send(service, MEDIATOR, mediator, compose(MEDIATOR, mediator, "#close settled"))
    return played
