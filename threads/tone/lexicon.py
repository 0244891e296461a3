"""The tone check's word lists and patterns, read from TOML files an administrator can extend.

Nothing about tone is hidden in code: every insult, swear word, idiom and sentence shape lives
in ``threads/tone/*.toml`` (one file per language, plus ``common.toml`` for what all languages
share, such as acronyms). ``[tone] extra_files`` in the configuration adds the administrator's
own files in the same format; they extend the shipped lists, never replace them.

The format, in short (see ``nl.toml`` for a full, commented example)::

    language = "nl"                 # "nl", "en", or "any" for every language

    [words]
    insult = ["leugenaar"]          # name-calling, counted in the writer's own words
    insult_shaped = ["prutser"]     # only after "is een", "je bent", "you", "what a", ...
    profanity = ["verdomme"]
    profanity_prefix = ["kut"]      # Dutch compounds: kutgedoe, klotezooi
    insult_prefix = ["zuip"]        # ... and zuipschuit, zeikerd: a first part that insults
    function = ["het", "niet"]      # common small words: language guess, shouting vs names
    first_person = ["ik", "mij"]    # the writer: self-directed words are not attacks
    first_subject = ["ik"]          # ... as the one speaking ("ik zei"), not spoken about
    shape = ["is", "bent", "jij"]   # what makes an insult_shaped word point at someone
    negation = ["niet", "geen"]
    reporting = ["zei", "noemde"]   # verbs that report what someone else said
    second_person = ["je", "jij"]   # the reader: swearing with no one addressed is venting
    target = ["jij", "hij", "zij"]  # someone else: "me" without these is about the writer
    acronyms = ["VvE", "CAO"]       # capitals that are never shouting

    [classes]                       # named alternatives a pattern uses as {name}
    you = ["je", "jij", "jou", "jouw", "u", "uw"]
    harm = ["sla", "schop", "steek"]

    [[pattern]]                     # matched on the text in lower case: write it so
    kind = "blame"                  # a signal kind, or a helper: idiom, apology, own_mistake,
                                    # farewell, menace, leverage (see HELPER_KINDS)
    match = '''\\bdoor {you}\\b'''     # {you} becomes (?:je|jij|jou|...)
    needs_other = false             # true: only counts next to another signal
    needs_target = false            # true: not in a sentence only about the writer
    scope = "sentence"              # or "message": matched across sentences

    [[cue]]                         # a weak sign for the scorer (threads/tone/scorer.py)
    name = "harm"                   # shown to the mediator as the explanation
    kind = "threat"                 # or "self_harm"
    weight = 3                      # below 0 speaks against (lawful steps, care, holidays)
    match = '''\\bspijt van\\b'''
    explains_away = true            # (weight below 0) also cancels a menace pattern's threat

    [score]                         # in common.toml: the sum a sentence and the one before
    threat = 5                      # it must reach to become a signal of that kind

A class is the shape's vocabulary, kept apart from the shape: "{i_will} {harm} {obj}" is
one rule for every verb of harm, and an administrator who adds a verb to ``harm`` (in any
file, for that language or for ``any``) teaches every pattern that uses it.

Dutch words match their plurals, diminutives, -er forms and (for words of five letters or
more) compounds: ``leugenaar`` also finds ``leugenaars`` and ``aartsleugenaar``.

Before a pattern is searched, a cheap test asks whether the text holds one of the plain strings
every match must contain (``needed_literals``); that keeps a few hundred patterns under
2 ms a message.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from re import _constants as sre  # type: ignore[attr-defined]
from re import _parser as sre_parse  # type: ignore[attr-defined]

SHIPPED = Path(__file__).resolve().parent
SIGNAL_KINDS = (
    "shouting", "insult", "profanity", "contempt", "absolute", "blame", "sarcasm", "ultimatum",
    "threat", "disclosure_threat", "self_harm",
)
# kinds that help the analysis without being signals themselves:
# idiom (masked before anything is matched), apology (the sentence looks back on the writer's
# own words, so its heat is not new heat), own_mistake (swearing in that sentence is at oneself:
# "shit, sorry, I forgot") and farewell (two or more make a quiet goodbye)
# menace and leverage: a menacing word ("you won't like it", "brandt lekker") is a threat only
# in a sentence aimed at someone (or right after one) that also carries leverage: a condition
# ("if you", "nog één keer"), or the writer's own next move ("I'll come round")
HELPER_KINDS = ("idiom", "apology", "own_mistake", "farewell", "menace", "leverage")
WORD_KEYS = (
    "insult", "insult_shaped", "profanity", "profanity_prefix", "insult_prefix", "function",
    "first_person", "first_subject", "shape", "negation", "reporting", "acronyms", "target",
    "second_person",
)
_CLASS_REF = re.compile(r"\{([a-z][a-z0-9_]*)\}")
_CUE_NAME = re.compile(r"[a-z][a-z0-9_]*")
# what the weighted cues can add up to: see threads/tone/scorer.py
SCORED_KINDS = ("threat", "self_harm")
LANGUAGES = ("nl", "en")

# Dutch plural and diminutive endings (Flemish -ke, -ken included); English plurals
# and -er, the Dutch agent noun (draaikonter)
_SUFFIXES = {"nl": ("'s", "tjes", "jes", "tje", "je", "ken", "ske", "ke", "en", "er", "s", "e",
                    "n"),
             "en": ("'s", "es", "s")}
_COMPOUND_MIN = 5  # shorter Dutch stems would match inside innocent words (aap in schaap)


class LexiconError(Exception):
    """A tone file is wrong; ``problems`` holds one line per mistake, naming the file."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Pattern:
    kind: str
    regex: re.Pattern[str]
    needs_other: bool = False
    scope: str = "sentence"
    source: str = ""
    needs_target: bool = False  # file name, so an administrator can find the rule behind a signal

    literals: tuple[str, ...] | None = None  # one of these is in every text it matches

    def may_match(self, text: str) -> bool:
        """A substring test first: "in" on a string is a hundred times cheaper than a search
        with a leading alternation, and most patterns have no chance in most messages."""
        return self.literals is None or any(word in text for word in self.literals)

    @property
    def anchored(self) -> bool:
        """Tied to the start or end of its sentence, so only a sentence can tell."""
        return "^" in self.regex.pattern.replace("[^", "") or "$" in self.regex.pattern


@dataclass(frozen=True)
class Cue:
    """One weak sign for (or, with a weight below 0, against) a threat or a self-harm signal;
    the cues found in a sentence and the one before it add up to the score (``scorer.py``)."""

    name: str
    kind: str
    weight: float
    regex: re.Pattern[str]
    literals: tuple[str, ...] | None = None
    explains_away: bool = False  # also cancels a menace pattern's threat (weight below 0 only)

    def may_match(self, text: str) -> bool:
        return self.literals is None or any(word in text for word in self.literals)


@dataclass(frozen=True)
class WordList:
    """Words matched against tokens: a set lookup per word, not one regex per message (a big
    alternation costs milliseconds a message, a set costs microseconds)."""

    words: frozenset[str] = frozenset()
    stems: tuple[str, ...] = ()      # Dutch compounds: any word ending in one of these
    prefixes: tuple[str, ...] = ()   # Dutch compounds: any word starting with one of these
    phrases: re.Pattern[str] | None = None  # entries of more than one word
    suffixes: tuple[str, ...] = ()
    # answers so far: most tokens of a mail are common words seen many times before
    known: dict[str, bool] = field(default_factory=dict, compare=False, repr=False)

    def match(self, token: str) -> bool:
        answer = self.known.get(token)
        if answer is None:
            if len(self.known) > 50_000:
                self.known.clear()
            answer = self.known[token] = self._match(token)
        return answer

    def _match(self, token: str) -> bool:
        if token in self.words:
            return True
        if self.prefixes and token.startswith(self.prefixes) and len(token) > 6:
            return True
        for suffix in self.suffixes:
            if token.endswith(suffix) and token[: -len(suffix)] in self.words:
                return True
        if self.stems:
            if token.endswith(self.stems):
                return True
            return any(token.endswith(suffix) and token[: -len(suffix)].endswith(self.stems)
                       for suffix in self.suffixes)
        return False


def word_list(entries: Iterable[str], language: str, prefixes: Iterable[str] = ()) -> WordList:
    single, phrases = set(), []
    for entry in {e.strip().lower() for e in entries if e.strip()}:
        if " " in entry:
            phrases.append(r"\s+".join(re.escape(part) for part in entry.split()))
        else:
            single.add(entry)
    stems = tuple(sorted(w for w in single if len(w) >= _COMPOUND_MIN)) if language == "nl" else ()
    return WordList(
        words=frozenset(single), stems=stems,
        prefixes=tuple(sorted({p.strip().lower() for p in prefixes if p.strip()})),
        phrases=re.compile(r"(?<!\w)(?:" + "|".join(sorted(phrases, key=len, reverse=True))
                           + r")(?!\w)") if phrases else None,
        suffixes=_SUFFIXES.get(language, _SUFFIXES["en"]),
    )


@dataclass
class Language:
    """Everything the analysis knows about one language, compiled once."""

    code: str
    words: dict[str, set[str]] = field(default_factory=dict)
    patterns: list[Pattern] = field(default_factory=list)
    insult: WordList = WordList()
    insult_shaped: WordList = WordList()
    profanity: WordList = WordList()
    by_kind: dict[str, list[Pattern]] = field(default_factory=dict)
    cues: list[Cue] = field(default_factory=list)
    thresholds: dict[str, float] = field(default_factory=dict)

    def word_set(self, key: str) -> set[str]:
        return self.words.get(key, set())

    def of_kind(self, kind: str) -> list[Pattern]:
        if not self.by_kind:
            for pattern in self.patterns:
                self.by_kind.setdefault(pattern.kind, []).append(pattern)
        return self.by_kind.get(kind, [])


@dataclass
class Lexicon:
    languages: dict[str, Language]
    acronyms: frozenset[str]


def _read(path: Path, problems: list[str]) -> dict | None:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        problems.append(f"{path}: cannot read ({error.strerror})")
    except tomllib.TOMLDecodeError as error:
        problems.append(f"{path}: not valid TOML: {error}")
    return None


def _merge(path: Path, data: dict, raw: dict[str, dict], problems: list[str]) -> None:
    name = path.name
    for key in sorted(set(data) - {"language", "words", "pattern", "classes", "cue", "score"}):
        problems.append(f"{name}: unknown key '{key}'")
    language = data.get("language")
    if language not in (*LANGUAGES, "any"):
        problems.append(f"{name}: 'language' must be one of nl, en, any (not {language!r})")
        return
    target = raw.setdefault(language, {"words": {}, "patterns": [], "classes": {}, "cues": [],
                                       "score": {}})
    for kind, threshold in data.get("score", {}).items():
        if kind not in SCORED_KINDS:
            problems.append(f"{name}: score: unknown kind {kind!r} (one of {SCORED_KINDS})")
        elif not isinstance(threshold, int | float) or threshold <= 0:
            problems.append(f"{name}: score.{kind}: must be a number above 0")
        else:
            target["score"][kind] = float(threshold)
    for index, cue in enumerate(data.get("cue", [])):
        where = f"{name}: cue[{index}]"
        for key in sorted(set(cue) - {"name", "kind", "weight", "match", "note",
                                      "explains_away"}):
            problems.append(f"{where}: unknown key '{key}'")
        if cue.get("kind") not in SCORED_KINDS:
            problems.append(f"{where}: kind must be one of {SCORED_KINDS}")
        elif not _CUE_NAME.fullmatch(str(cue.get("name", ""))):
            problems.append(f"{where}: name must be lower case letters, digits, _")
        elif not isinstance(cue.get("weight"), int | float) or isinstance(cue["weight"], bool):
            problems.append(f"{where}: weight must be a number (below 0 speaks against)")
        elif not str(cue.get("match", "")):
            problems.append(f"{where}: match is empty")
        else:
            target["cues"].append((where, name, cue))
    for table in ("words", "classes"):
        for key, values in data.get(table, {}).items():
            if table == "words" and key not in WORD_KEYS:
                problems.append(f"{name}: words: unknown list '{key}'")
            elif table == "classes" and not _CLASS_REF.fullmatch("{" + key + "}"):
                problems.append(f"{name}: classes: '{key}' must be lower case letters, digits, _")
            elif not isinstance(values, list) or not all(isinstance(v, str) for v in values):
                problems.append(f"{name}: {table}.{key}: must be a list of strings")
            else:
                target[table].setdefault(key, set()).update(values)
    for index, pattern in enumerate(data.get("pattern", [])):
        where = f"{name}: pattern[{index}]"
        for key in sorted(set(pattern) - {"kind", "match", "needs_other", "needs_target",
                                          "scope", "note"}):
            problems.append(f"{where}: unknown key '{key}'")
        kind = pattern.get("kind")
        if kind not in SIGNAL_KINDS + HELPER_KINDS:
            problems.append(f"{where}: unknown kind {kind!r}")
            continue
        scope = pattern.get("scope", "sentence")
        if scope not in ("sentence", "message"):
            problems.append(f"{where}: scope must be 'sentence' or 'message'")
            continue
        if not str(pattern.get("match", "")):
            problems.append(f"{where}: match is empty")
            continue
        target["patterns"].append((where, name, pattern))


def _expand(match: str, classes: dict[str, set[str]], where: str, problems: list[str]) -> str:
    """``{name}`` becomes the class's alternatives, longest first; classes may use classes."""
    for _ in range(4):
        names = _CLASS_REF.findall(match)
        if not names:
            return match
        for unknown in sorted(set(names) - set(classes)):
            problems.append(f"{where}: unknown class {{{unknown}}}")
            return ""
        match = _CLASS_REF.sub(lambda m: "(?:" + "|".join(
            sorted(classes[m.group(1)], key=len, reverse=True)) + ")", match)
    problems.append(f"{where}: classes nest too deep")
    return ""


def _sequence_literals(items: list) -> tuple[str, ...] | None:
    """Of the parts every match must contain, the most selective: a run of plain characters,
    or a group whose every alternative has such a part. None when there is none to rely on."""
    best: tuple[str, ...] | None = None
    run = ""

    def consider(found: tuple[str, ...] | None) -> None:
        nonlocal best
        if found and (best is None or min(map(len, found)) > min(map(len, best))):
            best = found

    for op, value in items:
        if op is sre.LITERAL:
            run += chr(value)
            continue
        consider((run,) if run else None)
        run = ""
        if op is sre.SUBPATTERN:
            consider(_sequence_literals(list(value[-1])))
        elif op is sre.BRANCH:
            consider(_branch_literals(value[1]))
        elif op in (sre.MAX_REPEAT, sre.MIN_REPEAT) and value[0] >= 1:
            consider(_sequence_literals(list(value[2])))
    consider((run,) if run else None)
    return best


def _branch_literals(branches: list) -> tuple[str, ...] | None:
    found: list[str] = []
    for branch in branches:
        literals = _sequence_literals(list(branch))
        if not literals:
            return None
        found.extend(literals)
    return tuple(sorted(set(found)))


def needed_literals(regex: re.Pattern[str]) -> tuple[str, ...] | None:
    """Strings one of which is in every text the pattern matches (None: no such promise)."""
    try:
        literals = _sequence_literals(list(sre_parse.parse(regex.pattern)))
    except (re.error, RecursionError):  # pragma: no cover - the pattern compiled already
        return None
    if literals and min(map(len, literals)) >= 2:
        return tuple(word.lower() for word in literals)  # the text it meets is lower case
    return None


def _classes(language: str, raw: dict[str, dict]) -> dict[str, set[str]]:
    """The classes a language's patterns and cues may use: its own and those of ``any``."""
    classes: dict[str, set[str]] = {}
    for source in (raw.get("any", {}), raw.get(language, {})):
        for key, values in source.get("classes", {}).items():
            classes.setdefault(key, set()).update(v.lower() for v in values)
    return classes


def _compiled(language: str, raw: dict[str, dict], table: str, problems: list[str]
              ) -> Iterator[tuple[str, dict, re.Pattern[str]]]:
    """Each entry of ``table`` (``patterns`` or ``cues``) for a language, its own and those of
    ``any``, with its match expanded and compiled; a mistake is a problem naming its place."""
    classes = _classes(language, raw)
    for source in (raw.get("any", {}), raw.get(language, {})):
        for where, name, entry in source.get(table, []):
            expanded = _expand(str(entry["match"]), classes, where, problems)
            if not expanded:
                continue
            try:
                # matched against lower-cased text: without IGNORECASE a search is several
                # times faster, which is what keeps the check under 2 ms a message
                regex = re.compile(expanded)
            except re.error as error:
                problems.append(f"{where}: match is not a valid regular expression ({error})")
                continue
            yield name, entry, regex


def _compile(language: str, raw: dict[str, dict], problems: list[str]) -> list[Pattern]:
    return [Pattern(pattern["kind"], regex, bool(pattern.get("needs_other", False)),
                    pattern.get("scope", "sentence"), name,
                    bool(pattern.get("needs_target", False)), needed_literals(regex))
            for name, pattern, regex in _compiled(language, raw, "patterns", problems)]


def _compile_cues(language: str, raw: dict[str, dict], problems: list[str]) -> list[Cue]:
    return [Cue(cue["name"], cue["kind"], float(cue["weight"]), regex, needed_literals(regex),
                bool(cue.get("explains_away", cue["weight"] < 0)))
            for _, cue, regex in _compiled(language, raw, "cues", problems)]


def load_lexicon(extra_files: Sequence[Path] = ()) -> Lexicon:
    """The shipped files, then the administrator's, checked; raises LexiconError."""
    problems: list[str] = []
    raw: dict[str, dict] = {}
    for path in [*sorted(SHIPPED.glob("*.toml")), *extra_files]:
        data = _read(Path(path), problems)
        if data is not None:
            _merge(Path(path), data, raw, problems)
    patterns = {code: _compile(code, raw, problems) for code in LANGUAGES}
    cues = {code: _compile_cues(code, raw, problems) for code in LANGUAGES}
    if problems:
        raise LexiconError(list(dict.fromkeys(problems)))  # a shared file's mistake, once
    shared = raw.get("any", {"words": {}, "patterns": []})
    languages = {}
    for code in LANGUAGES:
        own = raw.get(code, {"words": {}, "patterns": []})
        words: dict[str, set[str]] = {}
        for source in (shared["words"], own["words"]):
            for key, values in source.items():
                words.setdefault(key, set()).update(values)
        lowered = {k: {v.lower() for v in vs} for k, vs in words.items() if k != "acronyms"}
        languages[code] = Language(
            code=code,
            words=lowered,
            patterns=patterns[code],
            insult=word_list(words.get("insult", ()), code, words.get("insult_prefix", ())),
            insult_shaped=word_list(words.get("insult_shaped", ()), code),
            profanity=word_list(words.get("profanity", ()), code,
                                words.get("profanity_prefix", ())),
            cues=cues[code],
            thresholds={**shared.get("score", {}), **own.get("score", {})},
        )
    acronyms = {a for lang in raw.values() for a in lang["words"].get("acronyms", ())}
    return Lexicon(languages, frozenset(a.upper() for a in acronyms))


@lru_cache(maxsize=8)
def cached_lexicon(extra_files: tuple[Path, ...] = ()) -> Lexicon:
    """One compiled lexicon per set of files for the life of the process."""
    return load_lexicon(extra_files)
