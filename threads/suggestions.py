"""``#suggest``: the mediator offers their own wording of a held message to its author first.

An edit with consent: the author answers "yes" (or "ja") on the first line and the message
goes out in the mediator's words, every copy saying the mediator edited it; or the author
writes a new version, held for review like any message. The answer is read in
``threads.relay`` (``answer_suggestion``), where every party's mail is decided.
"""

from __future__ import annotations

import re

from sqlmodel import Session

from threads import audit
from threads.commands import Command, Context, Plan, held_target, phrase
from threads.models import Case, Participant
from threads.notices import Notice

KIND = "suggestion"
# A first line that says only this lets the suggested wording go out.
_CONSENT = {"ja", "yes", "ja graag", "yes please", "akkoord", "agreed", "ok", "oke", "okay",
            "prima", "ja prima", "ja akkoord", "ja hoor", "yes ok", "ja goed", "goed", "fine"}


def consents(text: str) -> bool:
    """Whether the answer's first line agrees to the suggested wording."""
    first = next((line for line in text.splitlines() if line.strip()), "")
    words = re.sub(r"[^\w\s]", " ", first.lower().replace("é", "e"))
    return " ".join(words.split()) in _CONSENT


def suggest(session: Session, case: Case, mediator: Participant, command: Command,
            ctx: Context) -> Plan | None:
    """'#suggest [n]' + the mediator's wording: sent to the author for their consent."""
    message = held_target(session, case, command, ctx)
    if message is None:
        return None
    wording = ctx.rest.strip()
    if not wording:
        ctx.errors.append(phrase("suggest-text-missing", line=command.line))
        return None

    def run():  # noqa: ANN202
        author = session.get(Participant, message.author_id)
        message.suggested_text = wording
        message.release_at = None  # cooling off: it now waits for the author's answer
        session.add(message)
        audit.record(session, case, "suggested", actor=mediator.name, message=message.seq)
        # On the author's private line: their answer reaches the mediator alone.
        notice = Notice(KIND, case, author, author=mediator, message=message, automatic=False,
                        channel="private", counterpart=author)
        return [notice], [phrase("suggested", seq=message.seq, name=author.name)]

    return run
