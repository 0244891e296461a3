"""Every hand-written mail in tests/fixtures/mail goes through `analyse` and must reach the
outcome in its side file `<name>.expected.json` (classification, relay, new text, bounced
addresses, attachment decisions, reason)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mailgate.classify import ClassifyContext
from mailgate.inspect import analyse, inspect_mail

FIXTURES = Path(__file__).parent / "fixtures" / "mail"
CASES = sorted(p.stem for p in FIXTURES.glob("*.eml"))


def _expected(name: str) -> dict:
    return json.loads((FIXTURES / f"{name}.expected.json").read_text(encoding="utf-8"))


def test_there_are_fixtures_and_each_has_an_expectation() -> None:
    assert len(CASES) >= 160
    missing = [n for n in CASES if not (FIXTURES / f"{n}.expected.json").is_file()]
    assert missing == []


@pytest.mark.parametrize("name", CASES)
def test_fixture_reaches_expected_outcome(name: str) -> None:
    raw = (FIXTURES / f"{name}.eml").read_bytes()
    want = _expected(name)
    result = analyse(raw, ClassifyContext())

    assert result.verdict.kind == want["classification"], result.reasons
    assert result.relay is want["relay"], result.reasons
    if want["relay"]:
        assert result.text == want["text"]
    else:
        assert result.text == ""
    if "reason_contains" in want:
        assert want["reason_contains"].lower() in " ".join(result.reasons).lower()
    if "bounced" in want:
        got = {(b.address, b.permanent) for b in result.verdict.bounced}
        assert got == {(b["address"], b["permanent"]) for b in want["bounced"]}
    if "attachments" in want:
        got_atts = [(a.filename, ok) for a, ok, _ in result.attachments]
        assert got_atts == [(a["filename"], a["passed"]) for a in want["attachments"]]
    if "from_name" in want:
        assert result.parsed is not None and result.parsed.from_name == want["from_name"]
    if "subject" in want:
        assert result.parsed is not None and result.parsed.subject == want["subject"]


@pytest.mark.parametrize("name", CASES)
def test_inspect_json_contract(name: str) -> None:
    out = inspect_mail((FIXTURES / f"{name}.eml").read_bytes())
    assert set(out) == {"classification", "relay", "text", "attachments", "bounced", "reasons"}
    json.dumps(out)
    assert all(set(b) == {"address", "permanent"} for b in out["bounced"])
    assert all({"filename", "content_type", "size", "passed", "reason"} <= set(a)
               for a in out["attachments"])


def test_a_reply_from_another_address_is_held() -> None:
    raw = (FIXTURES / "apple_mail_en_top_posted.eml").read_bytes()
    out = inspect_mail(raw, as_reply_from="someone.else@example.com")
    assert out["classification"] == "reply"
    assert out["relay"] is False and out["text"] == ""
    assert any("sender does not match" in r for r in out["reasons"])


def test_the_registered_sender_is_compared_case_insensitively() -> None:
    raw = (FIXTURES / "outlook_nl_top_posted.eml").read_bytes()
    out = inspect_mail(raw, as_reply_from="M.Jansen@Ziggo.example.nl")
    assert out["relay"] is True
