"""Mediator commands: ``#``-lines at the top of a mediator's mail.

Parsing never raises: a line that is not understood becomes an error the mediator is told
about. Every command is first checked, and only when all of them are valid are they carried
out, so nothing half-happens. Results and errors are phrases (a key and its values) that the
mail templates word in the mediator's language.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlmodel import Session, col, select

from threads.models import Case, Message, OutgoingMail, Participant
from threads.notices import Notice

_LINE = re.compile(r"^#(?P<name>[a-z][a-z-]*)\b[:]?\s*(?P<args>.*)$", re.IGNORECASE)

ALIASES = {
    "approve": "approve", "goedkeuren": "approve", "release": "approve", "vrijgeven": "approve",
    "doorsturen": "approve", "akkoord": "approve",
    "reject": "reject", "afwijzen": "reject", "terug": "reject",
    "private": "private", "prive": "private", "privé": "private", "vertrouwelijk": "private",
    "status": "status", "stand": "status",
    "add": "add", "toevoegen": "add",
    "remove": "remove", "verwijderen": "remove",
    "moderation": "moderation", "moderatie": "moderation",
    "review": "review", "beoordelen": "review", "beoordeling": "review", "open": "open",
    "remind": "remind", "herinner": "remind", "herinnering": "remind",
    "time": "time", "tijd": "time", "uren": "time",
    "costs": "costs", "kosten": "costs",
    "split": "split", "verdeling": "split", "verdeel": "split",
    "close": "close", "sluiten": "close", "afsluiten": "close",
    "reopen": "reopen", "heropenen": "reopen",
    "dismiss": "dismiss", "negeren": "dismiss",
    "suggest": "suggest", "voorstel-tekst": "suggest", "suggestie": "suggest",
    "alias": "alias",
    "accept-name": "accept-name", "naam-akkoord": "accept-name",
    "link": "link", "links": "link",
    "awaiting": "awaiting", "wacht": "awaiting", "wachtop": "awaiting",
    "reply-by": "reply-by", "antwoord-voor": "reply-by", "reageer-voor": "reply-by",
    "export": "export", "exporteer": "export", "dossier": "export",
    "original": "original", "origineel": "original",
    "help": "help", "hulp": "help",
    "ack": "ack", "gezien": "ack",
    "video": "video", "beeldbellen": "video",
    "pause": "pause", "pauze": "pause", "resume": "resume", "hervat": "resume",
    "hervatten": "resume",
    "cooling-off": "cooling-off", "cooling": "cooling-off", "afkoelen": "cooling-off",
    "afkoeling": "cooling-off", "afkoeltijd": "cooling-off",
    "hold": "hold", "vasthouden": "hold", "tegenhouden": "hold",
    "voorstel": "propose", "propose": "propose", "proposal": "propose",
    "voorstellen": "proposals", "proposals": "proposals",
    "intrekken": "withdraw", "withdraw": "withdraw", "trek-in": "withdraw",
    "vaststellingsovereenkomst": "settlement", "settlement": "settlement", "vso": "settlement",
    "ondertekenen": "countersign", "countersign": "countersign",
    "medeondertekenen": "countersign",
}
# Commands whose text below the command lines is theirs (an edited release, a private note,
# a message the parties are asked to answer by a date, a wording offered to the author, the
# reason for a pause, a proposal).
TAKES_TEXT = {"approve", "private", "reply-by", "suggest", "pause", "propose"}


def phrase(key: str, **values: Any) -> dict[str, Any]:
    return {"key": key, **values}


@dataclass
class Command:
    name: str
    args: str
    line: str


@dataclass
class Parsed:
    commands: list[Command] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    rest: str = ""  # the text after the command lines


@dataclass
class Context:
    """What a command handler needs besides the session, case and mediator."""

    refs: list[str]
    rest: str
    answers: str | None
    private_with: Participant | None = None  # set when the mail came in on a private line
    max_participants: int = 30
    errors: list[dict[str, Any]] = field(default_factory=list)
    # the text below the commands with the mediator's closing kept: for their own messages
    # (#private, #reply-by); an edited party message (#approve, #suggest) uses ``rest``
    signed_rest: str = ""
    mail_key: str = ""  # the mail's dedupe key (Message-ID and body hash)
    inbound_id: int | None = None
    made: int = 0  # messages this mail's commands have stored so far

    def message_key(self) -> str:
        """A dedupe key for the next message a command of this mail stores, derived from the
        mail's own key and the message's place in it: ``UNIQUE (author, dedupe_key)`` must
        hold for three #private lines in one case (an empty key was refused the second time),
        and the same mail decided again derives the same keys."""
        self.made += 1
        if not self.mail_key:
            return uuid.uuid4().hex
        return hashlib.sha256(f"{self.mail_key}#{self.made}".encode()).hexdigest()
    video_url_template: str = ""  # [video] url_template, for #video
    timezone: str = "Europe/Amsterdam"  # service.timezone: the case's local time
    night_hold: str = ""  # quiet hours open-mode copies wait out (threads.night); "": never
    files: list[Any] = field(default_factory=list)  # the mail's attachments (IncomingFile)
    templates_dir: Path = Path("templates")  # for the settlement's templates


Plan = Callable[[], tuple[list[Notice], list[dict[str, Any]]]]
Handler = Callable[[Session, Case, Participant, Command, Context], Plan | None]


def parse(text: str) -> Parsed:
    """Read the command lines at the top of ``text`` (blank lines between them allowed)."""
    parsed = Parsed()
    lines = text.splitlines()
    index = 0
    while index < len(lines):
        line = lines[index].strip()
        if not line:
            index += 1
            continue
        if not line.startswith("#"):
            break
        match = _LINE.match(line)
        name = ALIASES.get(match["name"].lower()) if match else None
        if match is None or name is None:
            parsed.errors.append(phrase("unknown-command", line=line))
        else:
            parsed.commands.append(Command(name, match["args"].strip(), line))
        index += 1
    parsed.rest = "\n".join(lines[index:]).strip()
    return parsed


def target_message(
    session: Session, case: Case, command: Command, ctx: Context
) -> Message | None:
    """The message meant: by number, by the review copy answered, or the only one held."""
    number = command.args.split(maxsplit=1)[0] if command.args else ""
    if number.isdigit():
        message = session.exec(
            select(Message).where(Message.case_id == case.id, Message.seq == int(number))
        ).first()
        if message is None:
            ctx.errors.append(phrase("no-such-message", line=command.line, seq=int(number)))
        return message
    if ctx.refs:
        answered = session.exec(
            select(OutgoingMail.message_ref_id).where(
                col(OutgoingMail.message_id).in_(ctx.refs),
                OutgoingMail.case_id == case.id,
                col(OutgoingMail.message_ref_id).is_not(None),
            ).order_by(col(OutgoingMail.id).desc())
        ).first()
        if answered is not None:
            return session.get(Message, answered)
    held = session.exec(
        select(Message).where(Message.case_id == case.id, Message.status == "held")
    ).all()
    if len(held) == 1:
        return held[0]
    if not held:
        ctx.errors.append(phrase("nothing-held", line=command.line))
    else:
        ctx.errors.append(
            phrase("which-message", line=command.line, numbers=[m.seq for m in held])
        )
    return None


def held_target(session: Session, case: Case, command: Command, ctx: Context,
                also: Callable[[Message], bool] | None = None) -> Message | None:
    """The message meant, when it still waits for the mediator's decision (or ``also``
    accepts it: a released message whose copies wait for the morning, threads.night)."""
    message = target_message(session, case, command, ctx)
    if message is not None and message.status != "held" and not (also and also(message)):
        ctx.errors.append(phrase("already-decided", line=command.line, seq=message.seq,
                                 status=message.status))
        return None
    return message


def first_words(text: str, count: int = 8) -> str:
    """The opening of a message, to recognise it by in a list."""
    words = text.split()
    return " ".join(words[:count]) + (" …" if len(words) > count else "")


def held_messages(session: Session, case: Case) -> list[Message]:
    return list(session.exec(
        select(Message).where(Message.case_id == case.id, Message.status == "held")
        .order_by(col(Message.seq))
    ).all())


def find_party(
    session: Session, case: Case, name: str, ctx: Context, line: str, active_only: bool = True
) -> Participant | None:
    """A party by full name, first name or unique beginning, case-insensitive."""
    wanted = " ".join(name.split()).casefold()
    if not wanted:
        ctx.errors.append(phrase("name-missing", line=line))
        return None
    query = select(Participant).where(Participant.case_id == case.id, Participant.role == "party")
    if active_only:
        query = query.where(Participant.active == True)  # noqa: E712
    people = session.exec(query).all()
    for rule in (
        lambda p: p.name.casefold() == wanted,
        lambda p: p.name.casefold().split()[0] == wanted,
        lambda p: p.name.casefold().startswith(wanted),
    ):
        found = [p for p in people if rule(p)]
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            ctx.errors.append(phrase("name-ambiguous", line=line, name=name,
                                     names=[p.name for p in found]))
            return None
    ctx.errors.append(phrase("name-unknown", line=line, name=name))
    return None
