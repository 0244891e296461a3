"""Mediator commands: ``#``-lines at the top of a mediator's mail.

Each command is a small function registered in ``COMMANDS`` (with Dutch aliases). Parsing never
raises: a line that is not understood becomes an error the mediator is told about, and when any
line is wrong nothing at all is carried out, so nothing half-happens.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlmodel import Session, col, select

from threads import audit
from threads.models import Case, Message, OutgoingMail, Participant, utcnow
from threads.notices import Notice

_LINE = re.compile(r"^#(?P<name>[a-z][a-z-]*)\b\s*(?P<args>.*)$", re.IGNORECASE)


@dataclass
class Command:
    name: str
    args: str
    line: str


@dataclass
class Parsed:
    commands: list[Command] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    rest: str = ""  # the text after the command lines


ALIASES = {
    "approve": "approve", "goedkeuren": "approve", "release": "approve", "vrijgeven": "approve",
    "reject": "reject", "afwijzen": "reject",
    "status": "status",
    "moderation": "moderation", "moderatie": "moderation",
    "help": "help", "hulp": "help",
}


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
            parsed.errors.append(f"'{line}' is not a command I know; send #help for the list")
        else:
            parsed.commands.append(Command(name, match["args"].strip(), line))
        index += 1
    parsed.rest = "\n".join(lines[index:]).strip()
    return parsed


Handler = Callable[[Session, Case, Participant, Command, list[str], list[str]], list[Notice]]


def execute(
    session: Session, case: Case, mediator: Participant, parsed: Parsed, contribution  # noqa: ANN001
) -> list[Notice]:
    """Check every command first, then carry them all out, then answer the mediator once."""
    errors = list(parsed.errors)
    plans: list[Callable[[], list[Notice]]] = []
    lines: list[str] = []
    if not errors:
        for command in parsed.commands:
            handler = COMMANDS[command.name]
            plan = handler(session, case, mediator, command, contribution, errors)
            if plan is not None:
                plans.append(plan)
    notices: list[Notice] = []
    if not errors:
        for plan in plans:
            produced, said = plan()
            notices += produced
            lines += said
    for command in parsed.commands:
        audit.record(
            session, case, "command", actor=mediator.name, command=command.line[:200],
            accepted=not errors,
        )
    if errors or lines or not notices:
        notices.append(
            Notice(
                "command-reply", case, mediator, author=mediator,
                answers=contribution.message_id, context={"lines": lines, "errors": errors},
            )
        )
    return notices


def _target(
    session: Session, case: Case, command: Command, refs: list[str], errors: list[str]
) -> Message | None:
    """The held message meant: by number, by the review copy answered, or the only one."""
    number = command.args.split(maxsplit=1)[0] if command.args else ""
    if number.isdigit():
        message = session.exec(
            select(Message).where(Message.case_id == case.id, Message.seq == int(number))
        ).first()
        if message is None:
            errors.append(f"{command.line}: there is no message {number} in this case")
        return message
    if refs:
        answered = session.exec(
            select(OutgoingMail.message_ref_id).where(
                col(OutgoingMail.message_id).in_(refs),
                OutgoingMail.case_id == case.id,
                col(OutgoingMail.message_ref_id).is_not(None),
                col(OutgoingMail.kind).startswith("review"),
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
        errors.append(f"{command.line}: no message is waiting for review")
    else:
        numbers = ", ".join(str(m.seq) for m in held)
        errors.append(
            f"{command.line}: several messages are waiting ({numbers}); "
            f"reply to the review mail of the one you mean, or add its number"
        )
    return None


def _strip_number(args: str) -> str:
    first, _, rest = args.partition(" ")
    return rest.strip() if first.isdigit() else args


def approve(session, case, mediator, command, contribution, errors):  # noqa: ANN001,ANN201
    from threads.relay import relay_to_parties

    message = _target(session, case, command, contribution.refs, errors)
    if message is None:
        return None
    if message.status != "held":
        errors.append(f"{command.line}: message {message.seq} was already {message.status}")
        return None

    def run() -> tuple[list[Notice], list[str]]:
        author = session.get(Participant, message.author_id)
        message.status = "released"
        message.released_text = message.text
        message.decided_at = utcnow()
        session.add(message)
        audit.record(session, case, "released", actor=mediator.name, message=message.seq)
        notices = relay_to_parties(session, case, message, author, exclude=author)
        notices.append(Notice("released", case, author, author=mediator, message=message))
        return notices, [f"Message {message.seq} from {author.name} was passed on."]

    return run


def reject(session, case, mediator, command, contribution, errors):  # noqa: ANN001,ANN201
    message = _target(session, case, command, contribution.refs, errors)
    reason = _strip_number(command.args)
    if message is None:
        return None
    if message.status != "held":
        errors.append(f"{command.line}: message {message.seq} was already {message.status}")
        return None
    if not reason:
        errors.append(f"{command.line}: please add a reason, e.g. '#reject please keep it factual'")
        return None

    def run() -> tuple[list[Notice], list[str]]:
        author = session.get(Participant, message.author_id)
        message.status = "rejected"
        message.decided_at = utcnow()
        session.add(message)
        audit.record(
            session, case, "rejected", actor=mediator.name, message=message.seq, reason=reason
        )
        notice = Notice(
            "rejected", case, author, author=mediator, message=message, context={"reason": reason}
        )
        return [notice], [f"Message {message.seq} from {author.name} was returned to them."]

    return run


def status(session, case, mediator, command, contribution, errors):  # noqa: ANN001,ANN201
    def run() -> tuple[list[Notice], list[str]]:
        context = overview(session, case)
        return [Notice("status", case, mediator, author=mediator, context=context)], []

    return run


def moderation(session, case, mediator, command, contribution, errors):  # noqa: ANN001,ANN201
    mode = command.args.lower().strip()
    mode = {"open": "open", "review": "review", "controle": "review"}.get(mode, "")
    if not mode:
        errors.append(f"{command.line}: say '#moderation open' or '#moderation review'")
        return None

    def run() -> tuple[list[Notice], list[str]]:
        case.moderation = mode
        session.add(case)
        audit.record(session, case, "moderation", actor=mediator.name, mode=mode)
        return [], [f"Moderation is now '{mode}'."]

    return run


def help_(session, case, mediator, command, contribution, errors):  # noqa: ANN001,ANN201
    def run() -> tuple[list[Notice], list[str]]:
        return [Notice("help", case, mediator, author=mediator)], []

    return run


def overview(session: Session, case: Case) -> dict:
    """What #status shows: every participant's state and the messages waiting for review."""
    people = session.exec(
        select(Participant).where(Participant.case_id == case.id).order_by(col(Participant.id))
    ).all()
    held = session.exec(
        select(Message).where(Message.case_id == case.id, Message.status == "held")
        .order_by(col(Message.seq))
    ).all()
    names = {p.id: p.name for p in people}
    return {
        "people": [p for p in people if p.role == "party"],
        "held": [{"seq": m.seq, "author": names.get(m.author_id, "?"), "reason": m.hold_reason}
                 for m in held],
    }


COMMANDS = {
    "approve": approve,
    "reject": reject,
    "status": status,
    "moderation": moderation,
    "help": help_,
}
