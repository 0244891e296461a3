"""The weighted threat scorer: many weak cues that together make a threat or a self-harm signal.

A pattern names one shape of threat; fresh messages find shapes no one wrote down ("you'd better
be careful, accidents happen"). Each cue in the ``[[cue]]`` tables of the tone files is a weak
sign with a weight: the reader addressed, their family or work named, words of harm in a wide
sense (regret, pay for it, know where), the writer's intent or a condition (I'll, unless,
anders), a menacing tone (think about that); and with a weight below 0 what speaks against a
threat: a lawful channel (lawyer, court, rechter), words someone else said, care for the reader
(drive carefully), a holiday or a move for the self-harm cues.

The score of a sentence is the sum of the cues found in it and in the sentence before it (a
threat often takes two: "I know where your mother lives. Think about that."), each cue counted
once, or half as much again when both sentences have it ("Saw you at the shop. I'm around more
than you think."). At or above the kind's threshold (``[score]``) the window is a signal; the
mediator sees its words and the names of the cues that fired, so the verdict can be checked in
a glance.

The cues are matched on the same text the patterns see: lower case, quoted passages and idiom
masked. Each cue is one regular expression searched once per sentence, so the time stays linear
in the length of the message.
"""

from __future__ import annotations

from dataclasses import dataclass

from threads.tone.lexicon import Cue, Language

_REPEATED = 1.5  # "Saw you at the shop. I'm around more than you think.": watched twice


@dataclass(frozen=True)
class Scored:
    """A window whose cues reached the threshold: where it is and what fired."""

    kind: str
    start: int
    end: int
    score: float
    cues: tuple[str, ...]  # names, strongest first: the signal's explanation


def _fired(cues: list[Cue], sentence: str) -> dict[str, tuple[str, float]]:
    """Cue name -> (kind, weight) for every cue found in one sentence."""
    found: dict[str, tuple[str, float]] = {}
    for cue in cues:
        if cue.name not in found and cue.may_match(sentence) and cue.regex.search(sentence):
            found[cue.name] = (cue.kind, cue.weight)
    return found


def fired_cues(lang: Language, sentences: list[tuple[int, int, str]]
               ) -> list[dict[str, tuple[str, float]]]:
    """Per sentence, cue name -> (kind, weight) for every cue found in it, whatever its kind or
    weight: what the scorer adds up, and (by name) what the learned tables read besides the
    words (threads.tone.learned)."""
    text = " ".join(s for _, _, s in sentences)
    cues = [cue for cue in lang.cues if cue.may_match(text)]
    return [_fired(cues, s) for _, _, s in sentences]


def against(lang: Language, sentences: list[tuple[int, int, str]], kind: str) -> list[float]:
    """Per sentence, the sum of the cues of ``kind`` that speak against it (0 when none): what
    lets a pattern-made threat be explained away by the same data ("... so we can go in
    together", "... to collect the boxes")."""
    cues = [cue for cue in lang.cues if cue.kind == kind and cue.weight < 0 and cue.explains_away]
    return [sum(cue.weight for cue in cues if cue.may_match(s) and cue.regex.search(s))
            for _, _, s in sentences]


def score_sentences(lang: Language, sentences: list[tuple[int, int, str]],
                    fired: list[dict[str, tuple[str, float]]] | None = None) -> list[Scored]:
    """The windows (a sentence, or it and the one before) that reach a kind's threshold.

    ``sentences`` holds (start, end, lower-cased text) in order. A window needs a cue of its
    kind in its own last sentence, so one strong sentence is reported once, where it is.
    """
    if not lang.cues or not lang.thresholds:
        return []
    if fired is None:
        fired = fired_cues(lang, sentences)
    results: list[Scored] = []
    for number, own in enumerate(fired):
        for kind, threshold in lang.thresholds.items():
            if not any(k == kind and w > 0 for k, w in own.values()):
                continue
            best: Scored | None = None
            for first in (number, number - 1):
                if first < 0:
                    continue
                window: dict[str, float] = {}
                for found in fired[first:number + 1]:
                    for name, (k, weight) in found.items():
                        if k == kind:  # said again in the next sentence, a cue weighs more
                            window[name] = weight * _REPEATED if name in window else weight
                total = sum(window.values())
                if total >= threshold and (best is None or total > best.score):
                    names = tuple(sorted((n for n, w in window.items() if w > 0),
                                         key=lambda n: -window[n]))
                    best = Scored(kind, sentences[first][0], sentences[number][1], total, names)
            if best is not None:
                results.append(best)
    return results
