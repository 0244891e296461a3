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
    function = ["het", "niet"]      # common small words: language guess, shouting vs names
    first_person = ["ik", "mij"]    # the writer: self-directed words are not attacks
    first_subject = ["ik"]          # ... as the one speaking ("ik zei"), not spoken about
    shape = ["is", "bent", "jij"]   # what makes an insult_shaped word point at someone
    negation = ["niet", "geen"]
    reporting = ["zei", "noemde"]   # verbs that report what someone else said
    acronyms = ["VvE", "CAO"]       # capitals that are never shouting

    [[pattern]]                     # matched on the text in lower case: write it so
    kind = "blame"                  # a signal kind, or idiom / apology / own_mistake / farewell
    match = '''\\bdoor (jou|jullie)\\b'''
    needs_other = false             # true: only counts next to another signal
    scope = "sentence"              # or "message": matched across sentences

Dutch words match their plurals, diminutives and (for words of five letters or more)
compounds: ``leugenaar`` also finds ``leugenaars`` and ``aartsleugenaar``.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

SHIPPED = Path(__file__).resolve().parent
SIGNAL_KINDS = (
    "shouting", "insult", "profanity", "contempt", "absolute", "blame", "sarcasm", "ultimatum",
    "threat", "disclosure_threat", "self_harm",
)
# kinds that help the analysis without being signals themselves:
# idiom (masked before anything is matched), apology (the sentence looks back on the writer's
# own words, so its heat is not new heat), own_mistake (swearing in that sentence is at oneself:
# "shit, sorry, I forgot") and farewell (two or more make a quiet goodbye)
HELPER_KINDS = ("idiom", "apology", "own_mistake", "farewell")
WORD_KEYS = (
    "insult", "insult_shaped", "profanity", "profanity_prefix", "function", "first_person",
    "first_subject", "shape", "negation", "reporting", "acronyms",
)
LANGUAGES = ("nl", "en")

# Dutch plural and diminutive endings (Flemish -ke, -ken included); English plurals
_SUFFIXES = {"nl": ("'s", "tjes", "jes", "tje", "je", "ken", "ske", "ke", "en", "s", "e", "n"),
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
    source: str = ""  # file name, so an administrator can find the rule behind a signal

    @property
    def anchored(self) -> bool:
        """Tied to the start or end of its sentence, so only a sentence can tell."""
        return "^" in self.regex.pattern.replace("[^", "") or "$" in self.regex.pattern


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
    for key in sorted(set(data) - {"language", "words", "pattern"}):
        problems.append(f"{name}: unknown key '{key}'")
    language = data.get("language")
    if language not in (*LANGUAGES, "any"):
        problems.append(f"{name}: 'language' must be one of nl, en, any (not {language!r})")
        return
    target = raw.setdefault(language, {"words": {}, "patterns": []})
    words = data.get("words", {})
    for key, values in words.items():
        if key not in WORD_KEYS:
            problems.append(f"{name}: words: unknown list '{key}'")
        elif not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            problems.append(f"{name}: words.{key}: must be a list of strings")
        else:
            target["words"].setdefault(key, set()).update(values)
    for index, pattern in enumerate(data.get("pattern", [])):
        where = f"{name}: pattern[{index}]"
        for key in sorted(set(pattern) - {"kind", "match", "needs_other", "scope", "note"}):
            problems.append(f"{where}: unknown key '{key}'")
        kind = pattern.get("kind")
        if kind not in SIGNAL_KINDS + HELPER_KINDS:
            problems.append(f"{where}: unknown kind {kind!r}")
            continue
        scope = pattern.get("scope", "sentence")
        if scope not in ("sentence", "message"):
            problems.append(f"{where}: scope must be 'sentence' or 'message'")
            continue
        try:
            # matched against lower-cased text: without IGNORECASE a search is several times
            # faster, which is what keeps the check under 2 ms a message
            regex = re.compile(str(pattern.get("match", "")))
        except re.error as error:
            problems.append(f"{where}: match is not a valid regular expression ({error})")
            continue
        if not regex.pattern:
            problems.append(f"{where}: match is empty")
            continue
        target["patterns"].append(
            Pattern(kind, regex, bool(pattern.get("needs_other", False)), scope, name))


def load_lexicon(extra_files: Sequence[Path] = ()) -> Lexicon:
    """The shipped files, then the administrator's, checked; raises LexiconError."""
    problems: list[str] = []
    raw: dict[str, dict] = {}
    for path in [*sorted(SHIPPED.glob("*.toml")), *extra_files]:
        data = _read(Path(path), problems)
        if data is not None:
            _merge(Path(path), data, raw, problems)
    if problems:
        raise LexiconError(problems)
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
            patterns=[*shared["patterns"], *own["patterns"]],
            insult=word_list(words.get("insult", ()), code),
            insult_shaped=word_list(words.get("insult_shaped", ()), code),
            profanity=word_list(words.get("profanity", ()), code,
                                words.get("profanity_prefix", ())),
        )
    acronyms = {a for lang in raw.values() for a in lang["words"].get("acronyms", ())}
    return Lexicon(languages, frozenset(a.upper() for a in acronyms))


@lru_cache(maxsize=8)
def cached_lexicon(extra_files: tuple[Path, ...] = ()) -> Lexicon:
    """One compiled lexicon per set of files for the life of the process."""
    return load_lexicon(extra_files)
