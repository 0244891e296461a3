"""Opening a case by e-mail: a configured mediator writes to the open address.

The subject is the title; the body lists the parties one per line as ``Name <email>``, with
optional ``moderation: open|review``, ``language: nl|en``, ``intake: NAME`` and
``cooling-off: hold|delay 30`` lines (Dutch keys work too: ``afkoelen: 30``). Greetings and
signatures are ignored; a line that looks like a party or an option but is malformed is
reported, together with every other problem, and nothing is opened.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from sqlmodel import Session

from threads import cooling
from threads.cases import (
    CaseError,
    PartySpec,
    find_mediator,
    open_case,
    parse_party,
    resolve_roles,
)
from threads.commands import phrase
from threads.intake import Form
from threads.models import Case
from threads.notices import Notice
from threads.settings import CaseSettings, MediatorSettings

_OPTION = re.compile(r"^\s*(?P<key>[a-zA-Z-]+)\s*:\s*(?P<value>.*?)\s*$")
_KEYS = {"moderation": "moderation", "moderatie": "moderation", "language": "language",
         "taal": "language", "intake": "intake", "formulier": "intake",
         "cooling-off": "cooling_off", "afkoelen": "cooling_off", "afkoeling": "cooling_off"}
_VALUES = {
    "moderation": {"open": "open", "review": "review", "controle": "review"},
    "language": {"nl": "nl", "en": "en", "nederlands": "nl", "dutch": "nl", "engels": "en",
                 "english": "en"},
}
_RE_PREFIX = re.compile(r"^\s*((re|fw|fwd|aw|antw|wg|doorst)\s*:\s*)+", re.I)


@dataclass
class Request:
    title: str
    parties: list[PartySpec] = field(default_factory=list)
    moderation: str | None = None
    language: str | None = None
    intake: str | None = None
    cooling_off: int | None = None  # minutes; None holds heated words (threads.cooling)
    problems: list[dict] = field(default_factory=list)


def read_request(subject: str, text: str, intake_forms: set[str] | None = None) -> Request:
    request = Request(title=" ".join(_RE_PREFIX.sub("", subject or "").split()))
    if not request.title:
        request.problems.append(phrase("open-no-title"))
    for line in text.splitlines():
        line = line.strip()
        option = _OPTION.match(line)
        if option and option["key"].lower() in _KEYS and "<" not in line:
            key = _KEYS[option["key"].lower()]
            value = option["value"].lower()
            if key == "intake":
                if intake_forms is not None and value not in intake_forms:
                    request.problems.append(phrase("open-bad-intake", value=value,
                                                   known=sorted(intake_forms)))
                request.intake = value
                continue
            if key == "cooling_off":
                try:
                    request.cooling_off = cooling.parse_setting(value)
                except ValueError:
                    request.problems.append(phrase("open-bad-option", line=line))
                continue
            chosen = _VALUES[key].get(value)
            if chosen is None:
                request.problems.append(phrase("open-bad-option", line=line))
            setattr(request, key, chosen)
        elif "@" in line or "<" in line:
            try:
                request.parties.append(parse_party(line))
            except CaseError as error:
                request.problems.append(phrase("open-bad-party", line=line,
                                               problem=error.phrases[0]))
    return request


def open_by_mail(
    session: Session,
    *,
    sender: str | None,
    subject: str,
    text: str,
    mediators: list[MediatorSettings],
    settings: CaseSettings,
    platform_fee: float = 0.0,
    vat_percent: float = 0.0,
    intake_forms: Mapping[str, Form] | None = None,
    answers: str | None = None,
    default_language: str = "nl",
) -> tuple[Case | None, list[Notice]]:
    """Open the case the mail asks for, or explain every problem; mail from a non-mediator
    is refused politely and changes nothing."""
    mediator = find_mediator(mediators, sender or "")
    if mediator is None:
        return None, [Notice("open-refused", None, None, to_address=sender,
                             language=default_language, answers=answers)]
    request = read_request(subject, text, set(intake_forms) if intake_forms else None)
    problems = list(request.problems)
    if not problems:
        try:
            form = (intake_forms or {}).get(request.intake or "default")
            parties = resolve_roles(request.parties, form.roles if form else {})
            case, notices = open_case(
                session, title=request.title, mediator=mediator, parties=parties,
                settings=settings, moderation=request.moderation, language=request.language,
                intake_form=request.intake or "default", platform_fee=platform_fee,
                vat_percent=vat_percent, cooling_off_minutes=request.cooling_off,
            )
            notices[-1].answers = answers  # the confirmation answers the mediator's mail
            return case, notices
        except CaseError as error:
            problems += [phrase("open-problem", problem=p) for p in error.phrases]
    return None, [Notice("open-problems", None, None, to_address=mediator.email,
                         language=mediator.language, answers=answers,
                         context={"errors": problems, "title": request.title})]
