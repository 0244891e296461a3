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

from threads.tone.lexicon import (
    SIGNAL_KINDS,
    Language,
    Lexicon,
    LexiconError,
    WordList,
    cached_lexicon,
    load_lexicon,
)

__all__ = [
    "SIGNAL_KINDS", "Level", "Lexicon", "LexiconError", "Signal", "Tone", "analyse_tone",
    "load_lexicon",
]


class Level(StrEnum):
    CALM = "calm"
    HEATED = "heated"
    THREATENING = "threatening"


THREAT_KINDS = frozenset({"threat", "disclosure_threat", "self_harm"})
# signals a reported or negated context cancels; a self-harm signal is never explained away
_CANCELLABLE = frozenset(SIGNAL_KINDS) - {"self_harm"}
_EXCERPT_MAX = 80
_WINDOW = 3  # tokens before a word that decide who it points at


@dataclass(frozen=True)
class Signal:
    kind: str
    excerpt: str


@dataclass(frozen=True)
class Tone:
    level: Level
    signals: tuple[Signal, ...] = ()

    def as_dict(self) -> dict:
        return {"level": str(self.level),
                "signals": [{"kind": s.kind, "excerpt": s.excerpt} for s in self.signals]}


# Same-length rewrites, so every offset in the masked text is an offset in the original.
_TYPOGRAPHIC = str.maketrans({"’": "'", "‘": "'", "“": '"', "”": '"', "„": '"', "«": '"',
                              "»": '"', "\u00a0": " "})
_QUOTED = re.compile(
    r'"[^"\n]{1,300}"'
    # a single-quoted passage, not an apostrophe: 't, 's, 'n, 'k are Dutch elisions
    r"|(?<![\w'])'(?![tsnk]\b)[^'\n]{2,150}'(?![\w'])"
)
_SENTENCE = re.compile(r"[^.!?\n]+(?:[.!?]+|$)", re.MULTILINE)
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


def analyse_tone(text: str, lexicon: Lexicon | None = None) -> Tone:
    """The level of a party's new words and the signals that led there."""
    lexicon = lexicon or cached_lexicon()
    normal = text.translate(_TYPOGRAPHIC)
    masked = _mask(normal, _QUOTED, keep_ends=True)
    lang = _language(masked, lexicon)
    lowered = _lower(masked)
    for idiom in lang.of_kind("idiom"):
        lowered = _mask(lowered, idiom.regex, keep_ends=False)
    found: list[tuple[int, str, int, int, bool]] = []  # position, kind, start, end, needs_other
    farewells: list[tuple[int, int]] = []
    first_person = lang.word_set("first_person")
    negation = lang.word_set("negation")
    # a pattern that matches in no sentence matches nowhere in the text, so one search of the
    # whole text rules most patterns out at once; anchored ones (^, $) need their sentence
    sentence_patterns = [p for p in lang.patterns if p.scope == "sentence"
                         and p.kind not in ("idiom", "apology", "own_mistake")
                         and (p.anchored or p.regex.search(lowered))]

    for match in _SENTENCE.finditer(lowered):
        offset, s = match.start(), match.group()
        apology = any(p.regex.search(s) for p in lang.of_kind("apology"))

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
                pointed = _pointed(s, start, lang)
                if shaped and not pointed:
                    continue
                if pointed and not apology:
                    # "she's a liar": the writer's own words, whoever else is reported nearby
                    found.append((offset + start, "insult", offset + start, offset + end, False))
                    continue
                add("insult", start, end)
        if not any(p.regex.search(s) for p in lang.of_kind("own_mistake")):
            for start, end in _words(lang.profanity, s):
                add("profanity", start, end)
        for pattern in sentence_patterns:
            m = pattern.regex.search(s)
            if not m:
                continue
            start, end = (m.span("x") if "x" in pattern.regex.groupindex else m.span())
            if pattern.kind == "farewell":
                farewells.append((offset + start, offset + end))
                continue
            if pattern.kind in ("blame", "absolute", "contempt") and any(
                    t in negation for t in _tokens_before(s, start, 2)):
                continue  # "het is niet jouw schuld"
            add(pattern.kind, start, end, pattern.needs_other)

    for pattern in lang.patterns:
        if pattern.scope == "message" and (m := pattern.regex.search(lowered)):
            found.append((m.start(), pattern.kind, *m.span(), pattern.needs_other))
    if len(farewells) >= 2:
        found.append((farewells[0][0], "self_harm", *farewells[0], False))

    firm = {kind for _, kind, _, _, needs in found if not needs}
    signals: list[Signal] = []
    seen: set[tuple[str, str]] = set()
    for _, kind, start, end, needs_other in sorted(found):
        if needs_other and not firm - {kind}:
            continue
        signal = Signal(kind, _excerpt(normal, start, end))
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
