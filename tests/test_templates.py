"""Every mail template exists in Dutch and English and renders with a subject and a body."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from mailgate.compose import Composer

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
KINDS = sorted({p.stem for p in (TEMPLATES / "mail" / "en").glob("*.txt")
                if not p.stem.startswith("_")})


def test_dutch_and_english_have_the_same_mail_templates():
    dutch = sorted({p.stem for p in (TEMPLATES / "mail" / "nl").glob("*.txt")
                    if not p.stem.startswith("_")})
    assert dutch == KINDS


@pytest.mark.parametrize("lang", ["nl", "en"])
@pytest.mark.parametrize("kind", KINDS)
def test_template_starts_with_a_subject_line(kind, lang):
    first = (TEMPLATES / "mail" / lang / f"{kind}.txt").read_text().splitlines()[0]
    assert first.startswith("Subject: ") and "{%" not in first, first


def test_a_relay_renders_the_message_and_the_way_to_answer():
    composer = Composer(domain="mediation.test", templates_dir=TEMPLATES)
    person = SimpleNamespace(name="Anna", role="party", email="a@x.test")
    mediator = SimpleNamespace(name="Maria", role="mediator", email="m@x.test")
    case = SimpleNamespace(title="House", ref="2026-001", moderation="review")
    message = SimpleNamespace(seq=1, text="Hello", released_text="Hello")
    for lang, expected in (("en", "goes to the mediator first"), ("nl", "eerst naar de mediator")):
        subject, body = composer.render("relay", lang, {
            "case": case, "recipient": person, "author": person, "message": message,
            "mediator": mediator,
        })
        assert subject == "House"
        assert body.startswith("Hello\n") and expected in body
