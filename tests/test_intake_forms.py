"""Intake forms as data: the shipped forms are complete and bilingual with a safety question;
a broken form is reported with its file, question and problem; answers are checked per type;
conditional questions count only when their condition holds."""

from __future__ import annotations

from pathlib import Path

import pytest

from mediate.config import ConfigError, Settings
from mediate.web.server import intake_forms
from threads.intake import check_page, missing, parse_answer, visible, worrying
from threads.intake_loader import load_form, load_forms

FORMS = Path(__file__).resolve().parent.parent / "intake_forms"
SHIPPED = ("default", "family", "workplace", "homeowners", "neighbours")


def test_the_shipped_forms_load_and_each_screens_for_safety():
    forms = load_forms(FORMS)
    assert set(SHIPPED) <= set(forms)
    for name in SHIPPED:
        form = forms[name]
        questions = form.questions.values()
        assert len(form.sections) >= 4 and len(form.questions) >= 15, name
        assert any(q.safety and q.alert_on for q in questions), name
        assert any(q.show_if for q in questions), name
        for question in questions:
            assert question.label["nl"] and question.label["en"]
            assert question.label["nl"] != question.label["en"], (name, question.id)


def test_the_shipped_forms_use_every_question_type():
    used = {q.type for form in load_forms(FORMS).values() for q in form.questions.values()}
    assert used == {"text", "longtext", "tel", "choice", "multichoice", "yesno", "date",
                    "number", "scale"}


BROKEN = '''
title = { nl = "Test", en = "Test" }

[[section]]
id = "one"
title = { nl = "Een", en = "One" }

[[section.question]]
id = "later_ref"
type = "text"
label = { nl = "Vraag", en = "Question" }
show_if = { question = "kids", any = ["yes"] }

[[section.question]]
id = "kids"
type = "yesno"
label = { nl = "Kinderen?" }
requird = true

[[section.question]]
id = "colour"
type = "colour"
label = { nl = "Kleur", en = "Colour" }

[[section.question]]
id = "pick"
type = "choice"
label = { nl = "Kies", en = "Pick" }
options = [{ value = "a", nl = "A", en = "A" }]

[[section.question]]
id = "when_pick"
type = "text"
label = { nl = "x", en = "x" }
show_if = { question = "kids", any = ["maybe"] }

[[section.question]]
id = "fear"
type = "scale"
min = 5
max = 1
label = { nl = "Angst", en = "Fear" }
alert_on = ["5"]
'''


def test_a_broken_form_names_the_file_the_question_and_every_problem(tmp_path):
    (tmp_path / "broken.toml").write_text(BROKEN)
    with pytest.raises(Exception) as raised:
        load_form(tmp_path / "broken.toml")
    problems = raised.value.problems
    expected = [
        "question 'later_ref': show_if refers to 'kids', which is not an earlier question",
        "question 'kids': unknown key 'requird'",
        "question 'kids': 'label' has no en text",
        "question 'colour': type 'colour' is not one of",
        "question 'pick': a choice question needs at least two options",
        "question 'when_pick': show_if: 'maybe' is not a possible answer of 'kids'",
        "question 'fear': a scale needs whole numbers min < max",
        "question 'fear': alert_on is only for safety questions",
        "no safety screening question",
    ]
    for text in expected:
        assert any(text in p for p in problems), (text, problems)
    assert all(p.startswith(f"{tmp_path.name}/broken.toml: ") for p in problems)


def test_invalid_toml_is_reported_with_its_file(tmp_path):
    (tmp_path / "default.toml").write_text("title = {")
    with pytest.raises(Exception) as raised:
        load_forms(tmp_path)
    assert "default.toml: not valid TOML" in raised.value.problems[0]


def test_check_config_and_serve_refuse_a_broken_form(tmp_path, monkeypatch, settings, capsys):
    forms = tmp_path / "forms"
    forms.mkdir()
    (forms / "default.toml").write_text(BROKEN)
    monkeypatch.setattr(Settings, "intake_forms_dir", property(lambda self: forms))
    with pytest.raises(ConfigError) as refused:
        intake_forms(settings)
    assert any("default.toml: question 'colour'" in p for p in refused.value.problems)
    from mediate.cli import main

    config = tmp_path / "config.toml"
    config.write_text('[service]\nsecret_key = "test-secret-key-0123456789-abcdefghij"\n'
                      '[[mediators]]\nemail = "m@office.test"\nname = "M"\n')
    assert main(["check-config", "--config", str(config)]) == 1
    assert "forms/default.toml: question 'colour'" in capsys.readouterr().err


@pytest.fixture(scope="module")
def default():
    return load_forms(FORMS)["default"]


@pytest.mark.parametrize(("qid", "raw", "value", "code"), [
    ("phone", ["  06 1234 5678 "], "06 1234 5678", None),
    ("phone", ["x" * 41], "x" * 41, "not-a-phone"),
    ("mediated_before", ["yes"], "yes", None),
    ("mediated_before", ["perhaps"], None, "unknown-option"),
    ("availability", ["evening", "morning"], ["morning", "evening"], None),
    ("availability", ["night"], None, "unknown-option"),
    ("deadline", ["2026-03-15"], "2026-03-15", None),
    ("deadline", ["15-3-2026"], "2026-03-15", None),
    ("deadline", ["31-02-2026"], "31-02-2026", "not-a-date"),
    ("readiness", ["4"], 4, None),
    ("readiness", ["9"], "9", "out-of-range"),
    ("readiness", ["2.5"], "2.5", "unknown-option"),
    ("phone", [], None, None),
])
def test_answers_are_checked_by_type(default, qid, raw, value, code):
    answer, problem = parse_answer(default.questions[qid], raw)
    assert answer == value
    assert (problem.code if problem else None) == code


def test_numbers_accept_a_decimal_comma_and_respect_their_bounds():
    form = load_forms(FORMS)["homeowners"]
    amount = form.questions["amount"]
    assert parse_answer(amount, ["1250,50"]) == (1250.5, None)
    assert parse_answer(amount, ["-3"])[1].code == "at-least"
    assert parse_answer(amount, ["lots"])[1].code == "not-a-number"


def test_conditional_questions_follow_their_condition_and_chain(default):
    family = load_forms(FORMS)["family"]
    ages = family.questions["children_ages"]
    assert not visible(family, ages, {})
    assert visible(family, ages, {"has_children": "yes"})
    safety_kids = family.questions["safety_children"]
    assert not visible(family, safety_kids, {"has_children": "no"})
    section = default.sections[1]
    values, problems = check_page(default, section, {
        "summary": ["s"], "since": ["weeks"], "court_pending": ["no"],
        "court_details": ["hearing"]}, {}, require=True)
    assert values["court_details"] is None and problems == {}
    values, problems = check_page(default, section, {
        "summary": ["s"], "since": ["weeks"], "court_pending": ["yes"]}, {}, require=True)
    assert problems["court_details"].code == "required"


def test_required_questions_are_listed_with_their_page(default):
    gaps = missing(default, {"mediated_before": "no"})
    assert (0, default.questions["adviser"]) in gaps
    assert all(q.id != "mediated_before_how" for _, q in gaps)


def test_only_worrying_safety_answers_alert(default):
    assert worrying(default, {"safety_concern": "no"}) == []
    assert [q.id for q in worrying(default, {"safety_concern": "sometimes"})] == [
        "safety_concern"]
    family = load_forms(FORMS)["family"]
    hits = worrying(family, {"safety_violence": "recent", "safety_fear": "yes",
                             "has_children": "no", "safety_children": "yes"})
    assert [q.id for q in hits] == ["safety_violence", "safety_fear"]
