"""Intake questionnaires as data: forms, conditional questions, safety screening, answer checks.

A form is a list of sections (one page each) holding questions of eight types: ``text``,
``longtext``, ``choice``, ``multichoice``, ``yesno``, ``date`` (ISO 8601, as an HTML date input
sends it), ``number`` and ``scale``. Every text exists in Dutch and English. A question may be
shown only when an earlier question has one of some answers (``show_if``), and safety screening
questions (``safety = true``) name the answers that must alert the mediator at once
(``alert_on``). Forms are checked when the service starts; every problem names the file, the
question and what is wrong, so an administrator can fix a form without reading code
(the loading and checking of files lives in ``threads.intake_loader``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

TYPES = ("text", "longtext", "tel", "choice", "multichoice", "yesno", "date", "number", "scale")
# A party opened without a role has this one; a form may ask some roles other questions.
DEFAULT_ROLE = "party"
_PHONE = re.compile(r"^\+?[0-9 ()./-]{6,30}$")
LANGUAGES = ("nl", "en")
YES_NO = ("yes", "no")
ID_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,59}$")
Answer = str | int | float | list[str] | None


class FormError(ValueError):
    """One or more intake forms are broken; ``problems`` holds one line per problem."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Problem:
    """Why one answer was not accepted: a message key under ``errors`` plus its parameters."""

    code: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Option:
    value: str
    label: dict[str, str]


@dataclass(frozen=True)
class Question:
    id: str
    type: str
    label: dict[str, str]
    help: dict[str, str] = field(default_factory=dict)
    required: bool = False
    options: tuple[Option, ...] = ()
    show_if: tuple[str, tuple[str, ...]] | None = None  # (question id, any of these answers)
    min: float | None = None
    max: float | None = None
    max_length: int = 0
    low: dict[str, str] = field(default_factory=dict)  # scale: what the lowest number means
    high: dict[str, str] = field(default_factory=dict)
    safety: bool = False
    alert_on: tuple[str, ...] = ()
    roles: tuple[str, ...] = ()  # asked only of parties with one of these roles; () = all

    def values(self) -> tuple[str, ...]:
        if self.type == "yesno":
            return YES_NO
        if self.type == "scale":
            return tuple(str(n) for n in range(int(self.min or 0), int(self.max or 0) + 1))
        return tuple(option.value for option in self.options)

    def option_label(self, value: str, lang: str) -> str:
        for option in self.options:
            if option.value == value:
                return option.label[lang]
        return value


@dataclass(frozen=True)
class Section:
    id: str
    title: dict[str, str]
    intro: dict[str, str]
    questions: tuple[Question, ...]
    roles: tuple[str, ...] = ()  # shown only to parties with one of these roles; () = all


@dataclass(frozen=True)
class Form:
    name: str
    title: dict[str, str]
    intro: dict[str, str]
    sections: tuple[Section, ...]
    roles: dict[str, dict[str, str]] = field(default_factory=dict)  # name -> nl/en label

    @property
    def questions(self) -> dict[str, Question]:
        return {q.id: q for section in self.sections for q in section.questions}

    def for_role(self, role: str | None) -> Form:
        """The form as one party sees it: the sections and questions for their role (a
        grandparent is not asked about a separation). A question whose ``show_if`` depends
        on a question this role is not asked is not asked either."""
        role = role or DEFAULT_ROLE
        kept: set[str] = set()
        sections = []
        for section in self.sections:
            if section.roles and role not in section.roles:
                continue
            questions = []
            for question in section.questions:
                if question.roles and role not in question.roles:
                    continue
                if question.show_if is not None and question.show_if[0] not in kept:
                    continue
                kept.add(question.id)
                questions.append(question)
            if questions:
                sections.append(replace(section, questions=tuple(questions)))
        return replace(self, sections=tuple(sections))

    def section(self, index: int) -> Section:
        return self.sections[index]


def visible(form: Form, question: Question, answers: Mapping[str, Answer]) -> bool:
    """Is the question asked, given the answers so far? Conditions chain: a question that
    depends on a hidden question is hidden too."""
    if question.show_if is None:
        return True
    source_id, wanted = question.show_if
    source = form.questions[source_id]
    if not visible(form, source, answers):
        return False
    given = answers.get(source_id)
    chosen = {str(v) for v in given} if isinstance(given, list) else {str(given)}
    return bool(chosen & set(wanted))


def parse_answer(question: Question, raw: list[str]) -> tuple[Answer, Problem | None]:
    """Turn what the browser sent for one question into a stored value, or a Problem."""
    raw = [item.strip() for item in raw if item.strip()]
    if not raw:
        return None, None
    kind, first = question.type, raw[0]
    if kind == "tel":
        if not _PHONE.match(first) or sum(c.isdigit() for c in first) < 6:
            return first, Problem("not-a-phone")
        return first, None
    if kind in ("text", "longtext"):
        limit = question.max_length or (200 if kind == "text" else 5000)
        if len(first) > limit:
            return first, Problem("too-long", {"limit": limit})
        return first, None
    if kind in ("choice", "yesno"):
        if first not in question.values():
            return None, Problem("unknown-option")
        return first, None
    if kind == "multichoice":
        if any(item not in question.values() for item in raw):
            return None, Problem("unknown-option")
        return [v for v in question.values() if v in raw], None
    if kind == "date":
        return _date(first)
    try:
        number = float(first.replace(",", "."))
    except ValueError:
        return first, Problem("not-a-number")
    if number != number or number in (float("inf"), float("-inf")):
        return first, Problem("not-a-number")
    value: int | float = int(number) if number.is_integer() else number
    if kind == "scale" and not isinstance(value, int):
        return first, Problem("unknown-option")
    low, high = question.min, question.max
    if (low is not None and value < low) or (high is not None and value > high):
        if high is None:
            return first, Problem("at-least", {"min": _show(low)})
        if low is None:
            return first, Problem("at-most", {"max": _show(high)})
        return first, Problem("out-of-range", {"min": _show(low), "max": _show(high)})
    return value, None


_DUTCH_DATE = re.compile(r"^(\d{1,2})[-/.](\d{1,2})[-/.](\d{4})$")


def _date(text: str) -> tuple[Answer, Problem | None]:
    """ISO 8601 from a date input; day-month-year where a browser shows a plain text box."""
    try:
        match = _DUTCH_DATE.match(text)
        if match:
            day, month, year = (int(part) for part in match.groups())
            return date(year, month, day).isoformat(), None
        return date.fromisoformat(text).isoformat(), None
    except ValueError:
        return text, Problem("not-a-date")


def _show(number: float | None) -> str:
    if number is None:
        return ""
    return str(int(number)) if float(number).is_integer() else str(number)


def check_page(
    form: Form, section: Section, raw: Mapping[str, list[str]],
    previous: Mapping[str, Answer], *, require: bool,
) -> tuple[dict[str, Answer], dict[str, Problem]]:
    """Check one page of answers. Returns the values to store (None: clear the answer, e.g.
    for a question a new answer hid) and the problems, per question id. Required questions
    are only enforced when ``require`` (moving on or submitting, not 'save and stop')."""
    values: dict[str, Answer] = {}
    problems: dict[str, Problem] = {}
    for question in section.questions:
        value, problem = parse_answer(question, raw.get(question.id, []))
        values[question.id] = value
        if problem is not None:
            problems[question.id] = problem
    merged = {**previous, **values}
    for question in section.questions:
        if not visible(form, question, merged):
            values[question.id] = None
            problems.pop(question.id, None)
        elif require and values[question.id] is None and question.id not in problems:
            if question.required:
                problems[question.id] = Problem("required")
    return values, problems


def missing(form: Form, answers: Mapping[str, Answer]) -> list[tuple[int, Question]]:
    """Required questions that are asked but not answered, with their page index."""
    return [
        (index, question)
        for index, section in enumerate(form.sections)
        for question in section.questions
        if question.required and answers.get(question.id) in (None, "", [])
        and visible(form, question, answers)
    ]


def worrying(form: Form, answers: Mapping[str, Answer]) -> list[Question]:
    """Safety questions whose answer must alert the mediator."""
    hits = []
    for question in form.questions.values():
        if not question.safety or not visible(form, question, answers):
            continue
        given = answers.get(question.id)
        chosen = {str(v) for v in given} if isinstance(given, list) else {str(given)}
        if chosen & set(question.alert_on):
            hits.append(question)
    return hits


def display(question: Question, value: Answer, lang: str, words: Mapping[str, str]) -> str:
    """A stored answer as a person reads it; ``words`` translates yes/no."""
    if value in (None, "", []):
        return words.get("unanswered", "-")
    if question.type == "yesno":
        return words.get(str(value), str(value))
    if question.type == "choice":
        return question.option_label(str(value), lang)
    if question.type == "multichoice" and isinstance(value, list):
        return ", ".join(question.option_label(v, lang) for v in value)
    if question.type == "scale":
        ends = f" ({_show(question.min)} = {question.low[lang]}, " \
            f"{_show(question.max)} = {question.high[lang]})" if question.low else ""
        return f"{value} / {_show(question.max)}{ends}"
    return str(value)

