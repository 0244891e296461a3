"""Reading ``intake_forms/*.toml`` into checked ``Form`` objects, or a list of what is wrong.

The file format, in short (see ``intake_forms/default.toml`` for a full example)::

    title = { nl = "...", en = "..." }
    intro = { nl = "...", en = "..." }

    [[section]]
    id = "situation"
    title = { nl = "...", en = "..." }

    [[section.question]]
    id = "children"
    type = "yesno"                # text longtext choice multichoice yesno date number scale
    required = true
    label = { nl = "...", en = "..." }
    help = { nl = "...", en = "..." }                     # optional
    options = [{ value = "a", nl = "...", en = "..." }]   # choice and multichoice
    show_if = { question = "earlier_id", any = ["yes"] }  # optional
    safety = true                 # a safety screening question ...
    alert_on = ["yes"]            # ... and the answers that alert the mediator at once
    roles = ["grandparent"]       # optional, on a question or a section: asked only of these

A form may name roles besides the default ``party`` (``--role grandparent`` when opening)::

    [roles]
    grandparent = { nl = "grootouder", en = "grandparent" }

Every problem names the file, the section or question, and what is wrong. Unknown keys are
problems too, so a misspelt ``requird`` never silently makes a question optional.
"""

from __future__ import annotations

import tomllib
from dataclasses import replace
from pathlib import Path
from typing import Any

from threads.intake import (
    DEFAULT_ROLE,
    ID_PATTERN,
    LANGUAGES,
    TYPES,
    Form,
    FormError,
    Option,
    Question,
    Section,
)

_FORM_KEYS = {"title", "intro", "section", "roles"}
_SECTION_KEYS = {"id", "title", "intro", "question", "roles"}
_QUESTION_KEYS = {
    "id", "type", "label", "help", "required", "options", "show_if", "min", "max",
    "max_length", "low", "high", "safety", "alert_on", "roles",
}


class _Checker:
    def __init__(self, where: str) -> None:
        self.where = where
        self.problems: list[str] = []

    def problem(self, place: str, text: str) -> None:
        self.problems.append(f"{self.where}: {place}{': ' if place else ''}{text}")

    def texts(self, place: str, key: str, value: Any, *, required: bool = True) -> dict[str, str]:
        if value is None:
            if required:
                self.problem(place, f"'{key}' is missing (give nl and en)")
            return {}
        if not isinstance(value, dict):
            self.problem(place, f"'{key}' must be a table with nl and en texts")
            return {}
        for lang in LANGUAGES:
            text = value.get(lang)
            if not isinstance(text, str) or not text.strip():
                self.problem(place, f"'{key}' has no {lang} text")
        for extra in set(value) - set(LANGUAGES):
            self.problem(place, f"'{key}' has an unknown language '{extra}'")
        return {lang: str(value.get(lang, "")).strip() for lang in LANGUAGES}

    def unknown(self, place: str, data: dict, allowed: set[str]) -> None:
        for key in sorted(set(data) - allowed):
            self.problem(place, f"unknown key '{key}'")


def _roles(check: _Checker, place: str, value: Any, declared: set[str]) -> tuple[str, ...]:
    """A ``roles`` list: every name declared in the form's [roles] table (or ``party``)."""
    if value is None:
        return ()
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        check.problem(place, "'roles' must be a list of role names")
        return ()
    for role in value:
        if role != DEFAULT_ROLE and role not in declared:
            check.problem(place, f"role '{role}' is not in the form's [roles] table")
    return tuple(value)


def _declared_roles(check: _Checker, value: Any) -> dict[str, dict[str, str]]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        check.problem("[roles]", "must be a table of role = { nl = ..., en = ... }")
        return {}
    roles = {}
    for name, label in value.items():
        if not ID_PATTERN.match(name) or name == DEFAULT_ROLE:
            check.problem("[roles]", f"'{name}' must be lower-case letters, digits and _ "
                          f"(and not '{DEFAULT_ROLE}', which every form has)")
            continue
        roles[name] = check.texts(f"role '{name}'", "label", label)
    return roles


def _options(check: _Checker, place: str, data: dict) -> tuple[Option, ...]:
    raw = data.get("options", [])
    if not isinstance(raw, list):
        check.problem(place, "'options' must be a list")
        return ()
    options, seen = [], set()
    for number, item in enumerate(raw, 1):
        if not isinstance(item, dict) or not isinstance(item.get("value"), str):
            check.problem(place, f"option {number} needs a value and nl and en texts")
            continue
        value = item["value"]
        if value in seen:
            check.problem(place, f"option '{value}' is listed twice")
        seen.add(value)
        texts = check.texts(f"{place}, option '{value}'", "label",
                            {k: v for k, v in item.items() if k != "value"})
        options.append(Option(value=value, label=texts))
    return tuple(options)


def _question(check: _Checker, data: dict, known: dict[str, Question],
              declared: set[str]) -> Question | None:
    qid = data.get("id")
    if not isinstance(qid, str) or not ID_PATTERN.match(qid):
        check.problem("question", f"id {qid!r} must be lower-case letters, digits and _")
        return None
    place = f"question '{qid}'"
    if qid in known:
        check.problem(place, "this id is used twice")
    check.unknown(place, data, _QUESTION_KEYS)
    kind = data.get("type")
    if kind not in TYPES:
        check.problem(place, f"type {kind!r} is not one of {', '.join(TYPES)}")
        return None
    options = _options(check, place, data)
    if kind in ("choice", "multichoice") and len(options) < 2:
        check.problem(place, f"a {kind} question needs at least two options")
    if kind not in ("choice", "multichoice") and options:
        check.problem(place, f"a {kind} question has no options")
    low, high = data.get("min"), data.get("max")
    for key, value in (("min", low), ("max", high)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            check.problem(place, f"'{key}' must be a number")
    if kind == "scale":
        if not (isinstance(low, int) and isinstance(high, int) and 0 <= high - low <= 10
                and low < high):
            check.problem(place, "a scale needs whole numbers min < max, at most 10 apart")
            low, high = 1, 5
    elif (low is not None or high is not None) and kind != "number":
        check.problem(place, "'min' and 'max' are only for number and scale questions")
    elif isinstance(low, int | float) and isinstance(high, int | float) and low > high:
        check.problem(place, "'min' is larger than 'max'")
    max_length = data.get("max_length", 0)
    if not isinstance(max_length, int) or max_length < 0:
        check.problem(place, "'max_length' must be a positive whole number")
        max_length = 0
    question = Question(
        id=qid, type=kind, label=check.texts(place, "label", data.get("label")),
        help=check.texts(place, "help", data.get("help"), required=False),
        required=bool(data.get("required", False)), options=options,
        min=low, max=high, max_length=max_length,
        low=check.texts(place, "low", data.get("low"), required=False),
        high=check.texts(place, "high", data.get("high"), required=False),
        safety=bool(data.get("safety", False)),
        roles=_roles(check, place, data.get("roles"), declared),
    )
    show_if = data.get("show_if")
    if show_if is not None:
        question = _condition(check, place, question, show_if, known)
    return _alerts(check, place, question, data.get("alert_on"))


def _condition(check: _Checker, place: str, question: Question, show_if: Any,
               known: dict[str, Question]) -> Question:
    source_id = show_if.get("question") if isinstance(show_if, dict) else None
    wanted = show_if.get("any") if isinstance(show_if, dict) else None
    if not isinstance(source_id, str) or not isinstance(wanted, list) or not wanted:
        check.problem(place, "show_if needs question = \"id\" and any = [answers]")
        return question
    source = known.get(source_id)
    if source is None:
        check.problem(place, f"show_if refers to '{source_id}', which is not an earlier question")
        return question
    for value in wanted:
        if str(value) not in source.values():
            check.problem(place, f"show_if: '{value}' is not a possible answer of '{source_id}'")
    return _replace(question, show_if=(source_id, tuple(str(v) for v in wanted)))


def _alerts(check: _Checker, place: str, question: Question, alert_on: Any) -> Question:
    if alert_on is None:
        if question.safety:
            check.problem(place, "a safety question needs alert_on = [answers that alert]")
        return question
    if not question.safety:
        check.problem(place, "alert_on is only for safety questions (add safety = true)")
    if not isinstance(alert_on, list) or not alert_on:
        check.problem(place, "alert_on must be a list of answers")
        return question
    if question.type not in ("yesno", "choice", "multichoice", "scale"):
        check.problem(place, "a safety question must be yesno, choice, multichoice or scale")
    for value in alert_on:
        if str(value) not in question.values():
            check.problem(place, f"alert_on: '{value}' is not a possible answer")
    return _replace(question, alert_on=tuple(str(v) for v in alert_on))


def _replace(question: Question, **changes: Any) -> Question:
    return replace(question, **changes)


def parse_form(name: str, data: dict, where: str) -> tuple[Form | None, list[str]]:
    check = _Checker(where)
    check.unknown("", data, _FORM_KEYS)
    title = check.texts("", "title", data.get("title"))
    intro = check.texts("", "intro", data.get("intro"), required=False)
    roles = _declared_roles(check, data.get("roles"))
    known: dict[str, Question] = {}
    sections: list[Section] = []
    raw_sections = data.get("section")
    if not isinstance(raw_sections, list) or not raw_sections:
        check.problem("", "no [[section]] (a form needs at least one page)")
        raw_sections = []
    section_ids: set[str] = set()
    for number, raw in enumerate(raw_sections, 1):
        sid = raw.get("id") if isinstance(raw, dict) else None
        place = f"section '{sid}'" if sid else f"section {number}"
        if not isinstance(sid, str) or not ID_PATTERN.match(sid):
            check.problem(place, "needs an id of lower-case letters, digits and _")
        elif sid in section_ids:
            check.problem(place, "this id is used twice")
        section_ids.add(str(sid))
        if not isinstance(raw, dict):
            continue
        check.unknown(place, raw, _SECTION_KEYS)
        questions = []
        for item in raw.get("question", []):
            question = (_question(check, item, known, set(roles))
                        if isinstance(item, dict) else None)
            if question is not None:
                known.setdefault(question.id, question)
                questions.append(question)
        if not raw.get("question"):
            check.problem(place, "has no questions")
        sections.append(Section(
            id=str(sid), title=check.texts(place, "title", raw.get("title")),
            intro=check.texts(place, "intro", raw.get("intro"), required=False),
            questions=tuple(questions),
            roles=_roles(check, place, raw.get("roles"), set(roles)),
        ))
    if raw_sections and not any(q.safety for q in known.values()):
        check.problem("", "no safety screening question (a question with safety = true)")
    if check.problems:
        return None, check.problems
    return Form(name=name, title=title, intro=intro, sections=tuple(sections), roles=roles), []


def load_form(path: Path) -> Form:
    """Load one form file; raise FormError listing every problem."""
    where = f"{path.parent.name}/{path.name}"
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FormError([f"{where}: no such file"]) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise FormError([f"{where}: not valid TOML: {error}"]) from None
    form, problems = parse_form(path.stem, data, where)
    if form is None:
        raise FormError(problems)
    return form


def load_forms(folder: Path) -> dict[str, Form]:
    """Load every ``*.toml`` in the folder; raise FormError listing every problem in all."""
    forms: dict[str, Form] = {}
    problems: list[str] = []
    files = sorted(folder.glob("*.toml"))
    if not files:
        raise FormError([f"{folder}: no intake forms (*.toml) found"])
    for path in files:
        try:
            forms[path.stem] = load_form(path)
        except FormError as error:
            problems += error.problems
    if "default" not in forms and not problems:
        problems.append(f"{folder.name}/default.toml: missing (cases use it unless told)")
    if problems:
        raise FormError(problems)
    return forms
