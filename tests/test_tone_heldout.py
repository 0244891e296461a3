"""The tone check on labelled sets: tests/data/tone (never trained or tuned on) and
threads/tone/examples (the learned table's examples, once held-out sets themselves).

Each set was written fresh, as parties write, and measured before any rule changed for it (the
figures at that moment are next to its floor, so the gap between "first seen" and "now" stays
visible). The floors guard against a change that helps one phrase and breaks many; only the
sets in tests/data/tone say how the check does on phrasing it has never seen.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from threads.tone import analyse_tone, learned, read_as_rules
from threads.tone.heldout import Labelled, read_set, score
from threads.tone.lexicon import LexiconError, cached_lexicon, load_lexicon, needed_literals

BLIND = Path(__file__).parent / "data" / "tone"
EXAMPLES = learned.EXAMPLES
# (file, levels right %, threats caught %, calm left calm %): the targets are 90/90/90
FLOORS = [
    (EXAMPLES / "set-1.txt", 95.0, 95.0, 95.0),  # first seen: 65 % / 20 % / 96 %
    (EXAMPLES / "set-2.txt", 95.0, 95.0, 95.0),  # first seen: 65 % / 38 % / 97.5 %
    (EXAMPLES / "set-3.txt", 95.0, 95.0, 95.0),  # first seen: 63 % / 29 % / 97 %
    (EXAMPLES / "set-4.txt", 95.0, 95.0, 95.0),  # first seen: 67.5 % / 30 % / 97 %
    (EXAMPLES / "set-5.txt", 86.0, 95.0, 95.0),  # first seen: 61 % / 20 % / 90 %
    (EXAMPLES / "set-6.txt", 92.0, 95.0, 95.0),  # first seen: 77.6 % / 46.4 % / 96.9 %
    # written blind by helpers on 2026-12-05; 7 to 10 then taught the cue families (watching,
    # children taken abroad, exposure to an audience, damage as a pity, quiet goodbyes)
    (EXAMPLES / "set-7.txt", 88.0, 95.0, 95.0),  # first seen: 84.1 % / 77.3 % / 97.4 %
    (EXAMPLES / "set-8.txt", 85.0, 95.0, 95.0),  # first seen: 69.5 % / 40.9 % / 97.4 %
    (EXAMPLES / "set-9.txt", 85.0, 95.0, 97.0),  # first seen: 80.5 % / 68.2 % / 100 %
    (EXAMPLES / "set-10.txt", 86.0, 95.0, 97.0),  # first seen: 74.4 % / 40.9 % / 100 %
    # 11 and 12 chose the learned table's threshold while it had not seen them, then joined it
    (EXAMPLES / "set-11.txt", 85.0, 95.0, 97.0),  # first seen: 76.1 % / 33.3 % / 100 %
    (EXAMPLES / "set-12.txt", 85.0, 95.0, 95.0),  # first seen: 72.9 % / 33.3 % / 96.8 %
    # measured once with the first table (rules alone: 40.9 % and 22.7 % of threats, 96.2 % of
    # hard calm mail), then joined its examples
    (EXAMPLES / "set-13.txt", 90.0, 95.0, 97.0),  # first seen: 88.2 % / 77.3 % / 100 %
    (EXAMPLES / "set-14.txt", 90.0, 95.0, 97.0),  # first seen: 80.3 % / 54.5 % / 100 %
    (EXAMPLES / "set-15-calm.txt", 95.0, 100.0, 95.0),  # hard calm mail only: 92.5 %
    # measured once with the second table (rules alone: 54.5 % and 40.9 % of threats), then
    # joined its examples
    (EXAMPLES / "set-16.txt", 90.0, 95.0, 95.0),  # first seen: 88.0 % / 81.8 % / 97.1 %
    (EXAMPLES / "set-17.txt", 90.0, 95.0, 97.0),  # first seen: 82.7 % / 63.6 % / 100 %
    # measured once (18: 90.7 % / 95.5 % / 97.1 %; 19: 85.3 % / 77.3 % / 100 %), then joined
    (EXAMPLES / "set-18.txt", 94.0, 95.0, 95.0),
    (EXAMPLES / "set-19.txt", 90.0, 90.0, 95.0),
    # never trained or tuned on, written blind on 5 December by two helpers who saw neither the
    # rules nor the examples. Measured once with the tables of that morning (88 % / 77.1 % /
    # 100 % and 84 % / 71.4 % / 91.4 %); the tables then gained the cue marks, 1,200 examples
    # and thresholds chosen by leave-one-file-out over the examples (threats 90.4 %, calm
    # 91.1 %), and were measured on these sets once more: the honest figure for unseen phrasing
    # (then: 96 % / 94.3 % / 100 % and 93 % / 91.4 % / 91.4 %). The threshold then moved from
    # -0.5 to 0 (even odds) after a calm "I never told anyone about the debts." was read as
    # self-harm; set 20 paid four veiled threats for it, set 21 nothing
    (BLIND / "heldout-20.txt", 92.0, 85.0, 97.0),  # now: 93 % / 85.7 % / 100 %
    (BLIND / "heldout-21.txt", 91.0, 90.0, 90.0),  # now: 93 % / 91.4 % / 91.4 %
    # written blind on 5 December by a helper who saw neither rules, examples nor sets; a third
    # of its calm mail is heavy (grief, debts, illness). Measured once with the tables trained
    # before sets N and O (calm mail with heavy words, quiet goodbyes) were added: 85 % / 96 % /
    # 88.8 %; then with them and the threshold at 0
    (BLIND / "heldout-22.txt", 86.0, 96.0, 94.0),  # now: 87.5 % / 98 % / 95 %
]


def level(text: str) -> str:
    return str(analyse_tone(text).level)


@pytest.mark.parametrize(("path", "right", "caught", "kept"), FLOORS,
                         ids=[f[0].name for f in FLOORS])
def test_each_held_out_set_stays_above_its_floor(path: Path, right: float, caught: float,
                                                 kept: float) -> None:
    result = score(read_set(path), level)
    misses = "\n".join(f"#{m.number} want {m.level}, got {got}: {m.text[:90]}"
                       for m, got in result.misses)
    assert result.accuracy >= right, f"{result.summary()}\n{misses}"
    assert result.threat_recall >= caught, f"{result.summary()}\n{misses}"
    assert result.calm_kept_pct >= kept, f"{result.summary()}\n{misses}"


def test_the_sets_are_big_enough_and_balanced() -> None:
    first = read_set(EXAMPLES / "set-1.txt")
    assert len(first) >= 150
    for path, *_ in FLOORS:
        if "calm" in path.name:
            continue  # a set of hard calm mail only
        messages = read_set(path)
        for wanted in ("calm", "heated", "threatening"):
            for lang in ("nl", "en"):
                assert any(m.level == wanted and m.lang == lang for m in messages), (path,
                                                                                    wanted, lang)
        assert {m.level for m in messages} == {"calm", "heated", "threatening"}


def test_a_set_file_reads_as_blocks_with_comments_before_the_first(tmp_path: Path) -> None:
    path = tmp_path / "set.txt"
    path.write_text("# a comment\n\n--- calm nl\nHoi,\ntot morgen.\n\n--- threatening en\n"
                    "I know where you park.\n", encoding="utf-8")
    assert read_set(path) == [Labelled(1, "calm", "nl", "Hoi,\ntot morgen."),
                              Labelled(2, "threatening", "en", "I know where you park.")]
    result = score(read_set(path), lambda text: "calm")
    assert (result.right, result.threats_caught, result.calm_kept) == (1, 0, 1)


def test_the_substring_prefilter_never_hides_a_match() -> None:
    """Every shipped pattern that matches a message of the sets also passes its prefilter."""
    texts = [m.text.lower() for path, *_ in FLOORS for m in read_set(path)]
    for language in cached_lexicon().languages.values():
        for pattern in language.patterns:
            for text in texts:
                if pattern.regex.search(text):
                    assert pattern.may_match(text), (pattern.regex.pattern[:80], text[:80])


@pytest.mark.parametrize(("regex", "literals"), [
    (r"\bkill (you|him)\b", ("kill ",)),
    (r"\b(sla|trap) (je|jou)\b", ("sla", "trap")),  # the longer of two certain parts
    (r"\bfoo\b|\bbar baz\b", ("bar baz", "foo")),
    (r"(a|b)c", None),              # nothing of two letters or more is certain
    (r"\b(\w+ )?(x|yz)\b", None),   # an optional part promises nothing
])
def test_needed_literals_are_only_what_every_match_contains(regex: str,
                                                            literals: tuple | None) -> None:
    assert needed_literals(re.compile(regex)) == literals


@pytest.mark.parametrize(("text", "cues"), [
    ("You'd better be careful, people like you have accidents.", {"warning", "menacing_tone"}),
    ("Je baas gaat horen wat voor iemand jij bent, als je niet tekent.", {"exposure"}),
])
def test_weak_cues_add_up_to_a_threat_named_by_its_cues(text: str, cues: set[str]) -> None:
    tone = analyse_tone(text)
    assert str(tone.level) == "threatening"
    scored = [s for s in tone.signals if s.cues]
    assert scored and cues <= set(scored[0].cues), tone


@pytest.mark.parametrize("text", [
    "If you haven't paid by Friday, I'll ask the court to decide; I'd rather we agree here.",
    "Als je vrijdag niet betaald hebt, vraag ik de rechter om een beslissing.",
    "Please be careful on the drive home, the roads are icy.",
    "I know where you'll be on Saturday, so I'll drop the kit at the club.",
    "We gaan drie weken op vakantie, dan ben ik er niet.",
])
def test_cues_against_keep_firm_fair_and_caring_mail_from_being_a_threat(text: str) -> None:
    assert str(analyse_tone(text).level) != "threatening"  # a court as pressure stays heated


def test_a_wrong_cue_or_threshold_is_named_with_its_file(tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text('language = "en"\n[score]\nthreat = 0\n[[cue]]\nname = "x"\n'
                    'kind = "threat"\nweight = "high"\nmatch = "a"\n', encoding="utf-8")
    with pytest.raises(LexiconError) as error:
        load_lexicon([path])
    assert any("score.threat" in p for p in error.value.problems)
    assert any("cue[0]: weight" in p for p in error.value.problems)


@pytest.mark.parametrize(("path", "level", "against"), learned.TABLES,
                         ids=[t[0].name for t in learned.TABLES])
def test_the_shipped_learned_tables_are_what_the_shipped_examples_give(path, level,
                                                                        against) -> None:
    """The tables are rebuilt (python -m threads.tone.rebuild) whenever an example changes."""
    examples = [m for file in learned.example_files() for m in read_set(file)]
    assert learned.dump(learned.train(examples, read_as_rules, level, against)) == \
        path.read_text(encoding="utf-8")


def test_a_table_reads_back_as_written_even_with_words_named_like_its_header() -> None:
    """A word "common" or "bias" in the examples is a weight like any other; read as the header
    it once replaced the common words with one number."""
    table = learned.Table(-1.5, {"common": 0.05, "bias": -0.2, "schuur": 1.25},
                          frozenset({"de", "the"}))
    assert learned.parse(learned.dump(table)) == table
    shipped = learned.shipped()
    assert {"de", "the"} <= shipped.common and shipped.bias < 0


@pytest.mark.parametrize("text", [
    "Typisch weer, ik regel alles en meneer komt gewoon niet opdagen.",
    "Wat een vertoning weer, je denkt echt dat de hele wereld om jou draait.",
])
def test_heated_words_no_rule_names_are_a_guess_with_its_words(text: str) -> None:
    threshold = learned.HEATED_THRESHOLD
    try:
        learned.HEATED_THRESHOLD = float("inf")
        assert str(analyse_tone(text).level) == "calm"  # the rules alone see nothing
    finally:
        learned.HEATED_THRESHOLD = threshold
    tone = analyse_tone(text)
    assert str(tone.level) == "heated"
    [signal] = tone.signals
    assert signal.kind == "heated" and signal.excerpt == text
    assert signal.cues and all(cue.startswith("learned: ") for cue in signal.cues)


@pytest.mark.parametrize(("text", "kind"), [
    # no rule or cue knows these words; the examples taught the table their weight
    ("You had better keep an eye on that old dog of yours when it gets dark.", "threat"),
    ("I wonder how your new boss would feel about those weekends in Spain.", "threat"),
    ("Ik heb het gereedschap al aan mijn broer gegeven. Jullie zijn straks van me verlost.",
     "self_harm"),
])
def test_the_learned_table_names_what_the_rules_miss_and_says_which_words(text: str,
                                                                          kind: str) -> None:
    threshold = learned.THRESHOLD
    try:
        learned.THRESHOLD = float("inf")
        assert str(analyse_tone(text).level) != "threatening"  # the rules alone miss it
    finally:
        learned.THRESHOLD = threshold
    tone = analyse_tone(text)
    [signal] = [s for s in tone.signals if s.kind in ("threat", "self_harm")]
    assert signal.kind == kind
    assert signal.cues and all(cue.startswith("learned: ") for cue in signal.cues), signal


def test_the_learned_table_leaves_a_long_calm_mail_calm() -> None:
    calm = ("Dear both, the surveyor came round this morning and the report is attached. "
            "The roof needs work before winter; I have asked two firms for a quote. ") * 20
    assert str(analyse_tone(calm).level) == "calm"
