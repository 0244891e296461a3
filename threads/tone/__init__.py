"""Tone analysis: is a party's new text calm, heated or threatening, and why.

The question is the one a mediator asks before relaying a message: can this go to the other
parties as it is? A message takes the level of its worst sentence. ``threatening`` (violence,
stalking, children taken outside the law, exposure as leverage, damage to property, self-harm
signals) must never be relayed; ``heated`` (shouting, insults, profanity at someone, contempt,
sweeping absolutes, blame, sarcasm, ultimatums) is held for the mediator in open mode.

Every signal comes with the words that raised it, and every rule is data (``lexicon.py``
describes the files), so a mediator can see why and an administrator can teach it more.

What does not count, by design: words inside quotation marks and insults or threats the writer
reports having received ("he called me a liar"), harmless idiom (masked first), a sentence that
apologises for earlier words, swearing in a sentence that apologises for one's own mistake,
capitals that are acronyms, names or a single emphasised word, and lawful steps (asking a
lawyer or the court is never a threat; used as pressure it is an ultimatum, which is heated).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from threads.tone import learned
from threads.tone.lexicon import (
    SIGNAL_KINDS,
    Language,
    Lexicon,
    LexiconError,
    WordList,
    cached_lexicon,
    load_lexicon,
)
from threads.tone.scorer import against, fired_cues, score_sentences

__all__ = [
    "SIGNAL_KINDS", "Level", "Lexicon", "LexiconError", "Signal", "Tone", "analyse_tone",
    "load_lexicon",
]


class Level(StrEnum):
    CALM = "calm"
    HEATED = "heated"
    THREATENING = "threatening"


THREAT_KINDS = frozenset({"threat", "disclosure_threat", "self_harm"})
HEATED_GUESS = "heated"  # heated words no rule named, weighed so by the learned table
# signals a reported or negated context cancels; a self-harm signal is never explained away
_CANCELLABLE = frozenset(SIGNAL_KINDS) - {"self_harm"}
_EXCERPT_MAX = 80
# a menacing word in a sentence whose cues against a threat (a lawful step, an errand, care for
# the reader) add up to this or less is not a threat: "I'll wait for you outside the court"
_EXPLAINED_AWAY = -3
_WINDOW = 3  # tokens before a word that decide who it points at


@dataclass(frozen=True)
class Signal:
    kind: str
    excerpt: str
    cues: tuple[str, ...] = ()  # a scored signal: the names of the cues that added up to it


@dataclass(frozen=True)
class Tone:
    level: Level
    signals: tuple[Signal, ...] = ()

    def as_dict(self) -> dict:
        return {"level": str(self.level),
                "signals": [{"kind": s.kind, "excerpt": s.excerpt,
                             **({"cues": list(s.cues)} if s.cues else {})}
                            for s in self.signals]}


# Same-length rewrites, so every offset in the masked text is an offset in the original.
_TYPOGRAPHIC = str.maketrans({"’": "'", "‘": "'", "“": '"', "”": '"', "„": '"', "«": '"',
                              "»": '"', "\u00a0": " "})
_QUOTED = re.compile(
    r'"[^"\n]{1,300}"'
    # a single-quoted passage, not an apostrophe: 't, 's, 'n, 'k are Dutch elisions
    r"|(?<![\w'])'(?![tsnk]\b)[^'\n]{2,150}'(?![\w'])"
)
# a full stop inside a word or number ("6.40", "e.g.", "www.vve.nl") does not end a sentence
_SENTENCE = re.compile(r"(?:[^.!?\n]|\.(?=\w))+(?:[.!?]+|$)", re.MULTILINE)
_TOKEN = re.compile(r"[\w']+")
_WORD = re.compile(r"\w+(?:'\w+)?")
_CAPS_TOKEN = re.compile(r"\S+")
_CAPITALS = re.compile(r"[^\W\d_a-zß-ÿ]{2,}")
_MASK = "~"


def _mask(text: str, regex: re.Pattern[str], keep_ends: bool) -> str:
    def blank(match: re.Match[str]) -> str:
        inner = _MASK * (len(match.group()) - 2)
        return match.group()[0] + inner + match.group()[-1] if keep_ends else _MASK * len(
            match.group())
    return regex.sub(blank, text)


def _language(text: str, lexicon: Lexicon) -> Language:
    tokens = [t.lower() for t in _TOKEN.findall(text)]
    scores = {code: sum(t in lang.word_set("function") for t in tokens)
              for code, lang in lexicon.languages.items()}
    return lexicon.languages[max(scores, key=lambda code: scores[code])]


def _tokens_before(sentence: str, position: int, count: int) -> list[str]:
    return [t.lower() for t in _TOKEN.findall(sentence[:position])][-count:]


def _excerpt(original: str, start: int, end: int) -> str:
    text = " ".join(original[start:end].split()).strip(" ,;:")
    return text if len(text) <= _EXCERPT_MAX else text[: _EXCERPT_MAX - 1].rstrip() + "…"


def _trimmed(text: str, start: int, end: int) -> tuple[int, int]:
    """A window without the blanks and newlines around it, for a clean excerpt."""
    part = text[start:end]
    return start + len(part) - len(part.lstrip()), end - len(part) + len(part.rstrip())


class _Sentence:
    __slots__ = ("start", "text")

    def __init__(self, start: int, text: str) -> None:
        self.start, self.text = start, text


def _shouting(sentence: _Sentence, lang: Language, acronyms: frozenset[str]
              ) -> tuple[int, int] | None:
    """A run of three or more words in capitals that reads as a sentence, not as a name.

    Acronyms never count, and the run must hold a small word (the, niet, you): that is what
    tells "JOHANNA MARIA DE WIT" as a deed prints it from "WE ARE NOT PAYING".
    """
    if len(_CAPITALS.findall(sentence.text)) < 2:
        return None  # most sentences: no two words in capitals, nothing to look at
    function = lang.word_set("function")
    run: list[re.Match[str]] = []
    best: tuple[int, int] | None = None

    def close() -> None:
        nonlocal best
        words = [m.group().strip(".,!?:;()") for m in run]
        words = [w for w in words if any(c.isalpha() for c in w) and w not in acronyms]
        if len(words) >= 3 and any(w.lower() in function for w in words) and best is None:
            best = (run[0].start(), run[-1].end())

    for match in _CAPS_TOKEN.finditer(sentence.text):
        word = match.group()
        letters = [c for c in word if c.isalpha()]
        if not letters:
            continue  # numbers and dashes neither count nor break a run
        if all(c.isupper() for c in letters) and _MASK not in word:
            run.append(match)
        else:
            close()
            run = []
    close()
    return best


def _reported(text: str, position: int, lang: Language) -> bool:
    """Words someone else said about the writer: "he called me a liar", "hij riep dat ik een
    ... was", "heeft mij een leugenaar genoemd" (Dutch puts the verb last, so look both ways).
    """
    tokens = [t.lower() for t in _TOKEN.findall(text)]
    before = _tokens_before(text, position, 99)
    reporting, speaking = lang.word_set("reporting"), lang.word_set("first_subject")
    if not any(t in lang.word_set("first_person") for t in before):
        return False
    for index, token in enumerate(tokens):
        if token in reporting:
            neighbours = tokens[max(index - 1, 0):index] + tokens[index + 1:index + 2]
            if not any(n in speaking for n in neighbours):  # not "I said", "zei ik"
                return True
    return False


def _pointed(text: str, position: int, lang: Language) -> bool:
    """An insult_shaped word aimed at someone: "is a cowboy", "you lazy sod", "wat een ..."."""
    return any(t in lang.word_set("shape") for t in _tokens_before(text, position, 4))


_EXCLAMATION = frozenset({"what", "a", "an", "such", "total", "complete", "absolute", "proper",
                          "wat", "een", "ben", "ik", "'k", "echt", "zo'n", "toch"})


_SELF_TAIL = re.compile(r"\s*(?:(?:ben|am) (?:ik|i)(?: toch| ook| weer)?\s*)?(?:[,.!?;:)]|$)")


def _exclaimed_at_self(sentence: str, start: int, end: int, lang: Language) -> bool:
    """An insult the writer calls themselves in a sentence about their own slip: "what an
    idiot", "idiot me", "wat ben ik een sukkel". Nobody else is named between."""
    before = _tokens_before(sentence, start, 4)
    after = [t.lower() for t in _TOKEN.findall(sentence[end:])][:1]
    if after and after[0] in lang.word_set("first_person"):
        return True
    openers = [i for i, t in enumerate(before) if t in ("what", "wat", "such", "zo'n")]
    if not openers or not _SELF_TAIL.match(sentence[end:]):
        return False
    return all(t in _EXCLAMATION or t in lang.word_set("first_person")
               for t in before[openers[-1]:])


_OPENING = re.compile(r"[\s\"'(~-]*((?:[\w']+ ?){1,3})[,!]")
_FILLERS = frozenset({"oh", "ah", "o", "och", "ach", "ag", "nou", "well", "aw", "god"})


def _interjection_end(sentence: str, profanity: WordList) -> int:
    """Where an opening exclamation of swear words ends ("Bloody hell, the train ..."),
    set off by a comma or an exclamation mark: words about the situation, at no one; 0 if none.
    """
    match = _OPENING.match(sentence)
    if not match:
        return 0
    words = match.group(1).split()
    if all(profanity.match(w) or w in _FILLERS for w in words) and any(
            profanity.match(w) for w in words):
        return match.end(1)
    return 0


def _lower(text: str) -> str:
    """Lower case with every offset kept (a few letters, such as İ, grow when lowered)."""
    lowered = text.lower()
    if len(lowered) == len(text):
        return lowered
    return "".join(c.lower() if len(c.lower()) == 1 else c for c in text)


def _words(words: WordList, sentence: str) -> list[tuple[int, int]]:
    """Where a word list matches in a lower-cased sentence: tokens, then multi-word entries."""
    spans = [m.span() for m in _WORD.finditer(sentence) if words.match(m.group())]
    if words.phrases:
        spans += [m.span() for m in words.phrases.finditer(sentence)]
    return sorted(spans)


def _prepared(text: str, lexicon: Lexicon) -> tuple[str, str, Language, str]:
    """The text with typographic quotes made plain, with quoted passages masked, its language,
    and the masked text lower-cased with harmless idiom blanked: what every rule reads."""
    normal = text.translate(_TYPOGRAPHIC)
    masked = _mask(normal, _QUOTED, keep_ends=True)
    lang = _language(masked, lexicon)
    lowered = _lower(masked)
    for idiom in lang.of_kind("idiom"):
        if idiom.may_match(lowered):
            lowered = _mask(lowered, idiom.regex, keep_ends=False)
    return normal, masked, lang, lowered


def read_as_rules(text: str) -> tuple[str, frozenset[str]]:
    """The text as the shipped rules read it, and the names of the cues found in it: what the
    learned tables are trained on."""
    _, _, lang, lowered = _prepared(text, cached_lexicon())
    sentences = _sentences(lowered)
    return lowered, frozenset().union(*fired_cues(lang, sentences))


def _sentences(lowered: str) -> list[tuple[int, int, str]]:
    return [(m.start(), m.end(), m.group()) for m in _SENTENCE.finditer(lowered)]


class _Reading:
    """A message as the learned tables read it: its text and, per sentence, the cues found."""

    def __init__(self, lowered: str, sentences: list[tuple[int, int, str]],
                 fired: list[frozenset[str]]) -> None:
        self.lowered, self.sentences, self.fired = lowered, sentences, fired

    def marks(self, first: int = 0, last: int | None = None) -> frozenset[str]:
        return frozenset().union(*self.fired[first:last])

    def heaviest(self, table: learned.Table) -> tuple[int, int, tuple[str, ...]]:
        """The sentence or two that weigh most in ``table``, and their three heaviest words."""
        sentences, lowered = self.sentences, self.lowered
        windows = [(max(0, n - 1), n) for n in range(len(sentences))]
        _, first, last = max((table.score(lowered[sentences[a][0]:sentences[b][1]],
                                          self.marks(a, b + 1)), a, b) for a, b in windows)
        start, end = sentences[first][0], sentences[last][1]
        weighed = table.weigh(lowered[start:end], self.marks(first, last + 1))[1]
        return start, end, tuple(f for f, w in weighed if w > 0
                                 and not f.startswith(learned.MARK))[:3]


def _heated_guess(reading: _Reading) -> tuple[int, int, tuple[str, ...]] | None:
    """Heated words the rules found none of, weighed so by the second learned table."""
    table = learned.shipped(learned.HEATED_TABLE)
    if not reading.sentences or table.score(reading.lowered,
                                            reading.marks()) < learned.HEATED_THRESHOLD:
        return None
    return reading.heaviest(table)


def _second_opinion(reading: _Reading, lang: Language
                    ) -> tuple[str, int, int, tuple[str, ...]] | None:
    """A threat the rules did not name but the learned table (threads.tone.learned) weighs at
    its threshold or above: the heaviest sentence or two, its kind, and the words that did."""
    table = learned.shipped()
    if not reading.sentences or table.score(reading.lowered, reading.marks()) < learned.THRESHOLD:
        return None
    start, end, heaviest = reading.heaviest(table)
    window = reading.lowered[start:end]
    tokens = [t.lower() for t in _TOKEN.findall(window)]
    writer = sum(t in lang.word_set("first_person") for t in tokens)
    reader = sum(t in lang.word_set("second_person") for t in tokens)
    # of the writer: a self-harm cue there, or more "I" than "you" ("jullie zijn van me af")
    about_self = any(cue.kind == "self_harm" and cue.weight > 1 and cue.regex.search(window)
                     for cue in lang.cues) or writer > reader
    return ("self_harm" if about_self else "threat"), start, end, heaviest


def analyse_tone(text: str, lexicon: Lexicon | None = None) -> Tone:
    """The level of a party's new words and the signals that led there."""
    lexicon = lexicon or cached_lexicon()
    normal, masked, lang, lowered = _prepared(text, lexicon)
    found: list[tuple[int, str, int, int, bool]] = []  # position, kind, start, end, needs_other
    farewells: list[tuple[int, int]] = []
    menaces: list[tuple[int, int, int]] = []  # sentence number, start, end
    aimed: set[int] = set()  # sentences that name the reader or someone else
    leverage: set[int] = set()  # sentences with a condition or the writer's next move
    first_person = lang.word_set("first_person")
    negation = lang.word_set("negation")
    # a pattern that matches in no sentence matches nowhere in the text, so one search of the
    # whole text rules most patterns out at once; anchored ones (^, $) need their sentence
    sentence_patterns = [p for p in lang.patterns if p.scope == "sentence"
                         and p.kind not in ("idiom", "apology", "own_mistake")
                         and p.may_match(lowered) and (p.anchored or p.regex.search(lowered))]

    sentences: list[tuple[int, int, str]] = []
    for number, match in enumerate(_SENTENCE.finditer(lowered)):
        offset, s = match.start(), match.group()
        sentences.append((offset, match.end(), s))
        apology = any(p.may_match(s) and p.regex.search(s) for p in lang.of_kind("apology"))
        own_mistake = any(p.may_match(s) and p.regex.search(s) for p in lang.of_kind("own_mistake"))

        def add(kind: str, start: int, end: int, needs_other: bool = False,
                s: str = s, apology: bool = apology, offset: int = offset) -> None:
            if kind in _CANCELLABLE and (apology or _reported(s, start, lang)):
                return
            found.append((offset + start, kind, offset + start, offset + end, needs_other))

        shout = _shouting(_Sentence(offset, masked[offset:match.end()]), lang, lexicon.acronyms)
        if shout:
            add("shouting", *shout)
        for words, shaped in ((lang.insult, False), (lang.insult_shaped, True)):
            for start, end in _words(words, s):
                before = _tokens_before(s, start, _WINDOW)
                if any(t in first_person or t in negation for t in before):
                    continue  # "ik ben een sukkel", "you're not an idiot"
                if own_mistake and _exclaimed_at_self(s, start, end, lang):
                    continue  # "locked myself out again, what an idiot", "idiot me"
                pointed = _pointed(s, start, lang)
                if shaped and not pointed:
                    continue
                if pointed and not apology:
                    # "she's a liar": the writer's own words, whoever else is reported nearby
                    found.append((offset + start, "insult", offset + start, offset + end, False))
                    continue
                add("insult", start, end)
        tokens = {t.lower() for t in _TOKEN.findall(s)}
        addressed = bool(tokens & lang.word_set("second_person"))
        about_writer = bool(tokens & (first_person | lang.word_set("first_subject"))) and not (
            tokens & lang.word_set("target"))
        if tokens & lang.word_set("target"):
            aimed.add(number)
        if not own_mistake:
            opening = 0 if addressed else _interjection_end(s, lang.profanity)
            for start, end in _words(lang.profanity, s):
                if end <= opening:
                    continue  # "Bloody hell, the train was late": venting, at no one
                add("profanity", start, end)
        for pattern in sentence_patterns:
            m = pattern.regex.search(s)
            if not m:
                continue
            start, end = (m.span("x") if "x" in pattern.regex.groupindex else m.span())
            if pattern.needs_target and about_writer:
                continue  # "kills me every single morning": said of no one but the writer
            if pattern.kind == "farewell":
                farewells.append((offset + start, offset + end))
                continue
            if pattern.kind == "leverage":
                leverage.add(number)
                continue
            if pattern.kind == "menace":
                if not (apology or _reported(s, start, lang)):
                    menaces.append((number, offset + start, offset + end))
                continue
            if pattern.kind in ("blame", "absolute", "contempt") and any(
                    t in negation for t in _tokens_before(s, start, 2)):
                continue  # "het is niet jouw schuld"
            add(pattern.kind, start, end, pattern.needs_other)

    for pattern in lang.patterns:
        if pattern.scope == "message" and pattern.may_match(lowered) and (
                m := pattern.regex.search(lowered)):
            found.append((m.start(), pattern.kind, *m.span(), pattern.needs_other))
    contrary = against(lang, sentences, "threat") if menaces else []
    for number, start, end in menaces:
        near = {number, number - 1}
        if near & aimed and near & leverage and contrary[number] > _EXPLAINED_AWAY:
            found.append((start, "threat", start, end, False))
    separate: list[tuple[int, int]] = []  # two rules on the same words are one goodbye
    for start, end in sorted(farewells):
        if not separate or start >= separate[-1][1]:
            separate.append((start, end))
    if len(separate) >= 2:
        found.append((farewells[0][0], "self_harm", *farewells[0], False))

    explained: dict[tuple[int, int], tuple[str, ...]] = {}
    fired = fired_cues(lang, sentences)
    for scored in score_sentences(lang, sentences, fired):
        # a pattern that already named a threat here says it more precisely
        if not any(kind in THREAT_KINDS and start < scored.end and scored.start < end
                   for _, kind, start, end, _ in found):
            start, end = _trimmed(masked, scored.start, scored.end)
            found.append((start, scored.kind, start, end, False))
            explained[(start, end)] = scored.cues

    reading = _Reading(lowered, sentences, [frozenset(f) for f in fired])
    if not any(kind in THREAT_KINDS for _, kind, _, _, _ in found) and (
            opinion := _second_opinion(reading, lang)):
        kind, start, end, heaviest = opinion
        start, end = _trimmed(masked, start, end)
        found.append((start, kind, start, end, False))
        explained[(start, end)] = tuple(f"learned: {w}" for w in heaviest)
    elif not found and (guess := _heated_guess(reading)):
        start, end = _trimmed(masked, guess[0], guess[1])
        found.append((start, HEATED_GUESS, start, end, False))
        explained[(start, end)] = tuple(f"learned: {w}" for w in guess[2])

    firm = {kind for _, kind, _, _, needs in found if not needs}
    signals: list[Signal] = []
    seen: set[tuple[str, str]] = set()
    spans: dict[str, list[tuple[int, int]]] = {}  # two rules on the same words: one signal,
    for _, kind, start, end, _ in sorted(found, key=lambda f: f[2] - f[3]):  # the longest
        if not any(start < other_end and other_start < end
                   for other_start, other_end in spans.get(kind, ())):
            spans.setdefault(kind, []).append((start, end))
    for _, kind, start, end, needs_other in sorted(found):
        if needs_other and not firm - {kind}:
            continue
        if (start, end) not in spans[kind]:
            continue
        signal = Signal(kind, _excerpt(normal, start, end),
                        explained.get((start, end), ())
                        if kind in THREAT_KINDS or kind == HEATED_GUESS else ())
        if (signal.kind, signal.excerpt.lower()) not in seen:
            seen.add((signal.kind, signal.excerpt.lower()))
            signals.append(signal)
    kinds = {s.kind for s in signals}
    level = (Level.THREATENING if kinds & THREAT_KINDS
             else Level.HEATED if kinds else Level.CALM)
    return Tone(level, tuple(signals))


def lexicon_for(extra_files: tuple[Path, ...] = ()) -> Lexicon:
    """The shipped lexicon plus an administrator's files (``[tone] extra_files``), cached."""
    return cached_lexicon(tuple(extra_files))
