"""Moderation, for the whole case and per party: whose messages the mediator reads first.

``#moderation open|review`` sets the case's mode; ``#review Name`` and ``#open Name`` set one
party's own (``Participant.moderation``; None follows the case). Every party whose way of
writing changes is told, in their own language: a party should never find out by surprise
that their words went out at once, or that they now wait for the mediator.
"""

from __future__ import annotations

from sqlmodel import Session

from threads import audit
from threads.cases import parties_of
from threads.commands import Command, Context, Plan, find_party, phrase
from threads.models import Case, Participant
from threads.notices import Notice

# Arguments in Dutch and English alike, whatever the mediator's language.
MODES = {"open": "open", "review": "review", "controle": "review", "beoordelen": "review",
         "beoordeling": "review"}
NOTICE = "moderation-changed"


def effective(case: Case, party: Participant) -> str:
    return party.moderation or case.moderation


def _told(case: Case, mediator: Participant, party: Participant, mode: str,
          personal: bool) -> Notice:
    return Notice(NOTICE, case, party, author=mediator, automatic=False,
                  context={"mode": mode, "personal": personal})


def moderation(session: Session, case: Case, mediator: Participant, command: Command,
               ctx: Context) -> Plan | None:
    """'#moderation open|review': the case's mode; parties with their own mode keep it."""
    mode = MODES.get(command.args.lower().strip(), "")
    if not mode:
        ctx.errors.append(phrase("moderation-value", line=command.line))
        return None

    def run():  # noqa: ANN202
        parties = parties_of(session, case)
        before = {p.id: effective(case, p) for p in parties}
        case.moderation = mode
        session.add(case)
        audit.record(session, case, "moderation", actor=mediator.name, mode=mode)
        notices = [_told(case, mediator, p, mode, False)
                   for p in parties if effective(case, p) != before[p.id]]
        own = [{"name": p.name, "mode": p.moderation} for p in parties
               if p.moderation and p.moderation != mode]
        return notices, [phrase("moderation-set", mode=mode, own=own,
                                told=[n.recipient.name for n in notices])]

    return run


def _for_party(mode: str):  # noqa: ANN202
    def handler(session: Session, case: Case, mediator: Participant, command: Command,
                ctx: Context) -> Plan | None:
        party = find_party(session, case, command.args, ctx, command.line)
        if party is None:
            return None

        def run():  # noqa: ANN202
            changed = effective(case, party) != mode
            party.moderation = mode
            session.add(party)
            audit.record(session, case, "moderation", actor=mediator.name, mode=mode,
                         name=party.name)
            notices = [_told(case, mediator, party, mode, True)] if changed else []
            return notices, [phrase("party-moderation-set", name=party.name, mode=mode,
                                    changed=changed)]

        return run

    handler.__doc__ = f"'#{mode} Name': this party's messages {mode} from now on."
    return handler


review_party = _for_party("review")
open_party = _for_party("open")
