"""A second opinion on threats, learned from labelled examples: a table of words and word pairs,
each with the weight its examples gave it (``learned.tsv``, next to this file).

The rules and cues know the shapes someone wrote down; on sets written blind they caught a third
to three quarters of the threats, because a fresh writer finds fresh words. This table is
learned from the labelled messages in ``examples/`` (the held-out format: ``--- <level> <lang>``,
then the text) by logistic regression, threatening against everything else. Its features are
the words and the pairs of neighbouring words of the text as the rules read it (quotes and
harmless idiom masked, lower case); words in more than one message in twenty (``je``, ``the``,
``that``) are style rather than meaning and only count inside a pair. Besides the words, it
reads which of the rules' weak cues (the ``[[cue]]`` tables of the tone files) are found, even
where they add up to less than a signal: ``@watching`` weighs what a fresh writer's words
for being watched have in common, so the table learns concepts as well as words.

A second table (``learned-heated.tsv``) weighs heated against calm, and is asked only when the
rules found nothing at all: at ``HEATED_THRESHOLD`` it names heated words the same way.

A message whose weights add up to ``THRESHOLD`` or more is a threat the rules did not name:
``threads.tone`` reports its heaviest sentence or two, with the three words that weighed most,
so the mediator sees why. The table is a plain file of words and numbers an administrator can
read; it is rebuilt, after adding labelled examples, with ``python -m threads.tone.rebuild``
(a test fails when the shipped table is not what the shipped examples give). Reading a message
is one pass over its words, linear in its length.
"""

from __future__ import annotations

import math
import random
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from threads.tone.heldout import Labelled

HERE = Path(__file__).parent
EXAMPLES = HERE / "examples"
TABLE = HERE / "learned.tsv"
# the sum of weights (log odds) from which the table names a threat: chosen on sets it was not
# trained on, so that calm mail stays calm; measure with `python -m bench.tone_sets`
THRESHOLD = 0.0
# the second table: heated against calm (threats left out: a quiet goodbye is not heated),
# asked when the rules found nothing at all; its threshold was chosen the same way
HEATED_TABLE = HERE / "learned-heated.tsv"
HEATED_THRESHOLD = 1.5
_COMMON = 0.05  # a word in more than this share of the examples counts only inside a pair
_MIN_COUNT = 2  # a feature in fewer examples is left out: it says more about one message
_EPOCHS = 30
_RATE = 0.1
_L2 = 3e-3
_SEED = 1
MARK = "@"  # a feature that is a cue of the rules, not a word: "@watching"
_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?")


def words(text: str) -> list[str]:
    return _WORD.findall(text)


@dataclass(frozen=True)
class Table:
    bias: float
    weights: dict[str, float]
    common: frozenset[str]

    def features(self, text: str, marks: Iterable[str] = ()) -> set[str]:
        """The words (but common ones) and the pairs of neighbouring words of read text, and
        the names of the rules' cues found in it (``@watching``)."""
        found = words(text)
        return {*(w for w in found if w not in self.common),
                *(f"{a} {b}" for a, b in zip(found, found[1:], strict=False)),
                *(MARK + m for m in marks)}

    def score(self, text: str, marks: Iterable[str] = ()) -> float:
        """The sum of the weights of read text's features, and the bias: the log odds."""
        return self.bias + sum(self.weights.get(f, 0.0) for f in self.features(text, marks))

    def weigh(self, text: str, marks: Iterable[str] = ()) -> tuple[float, list[tuple[str, float]]]:
        """The score of read text and the features that raised it, heaviest first."""
        found = sorted(((f, self.weights[f]) for f in self.features(text, marks)
                        if f in self.weights), key=lambda item: (-item[1], item[0]))
        return self.bias + sum(w for _, w in found), found


def train(examples: Iterable[Labelled], read: Callable[[str], tuple[str, frozenset[str]]],
          level: str = "threatening", against: frozenset[str] | None = None) -> Table:
    """Logistic regression by stochastic gradient descent, ``level`` against the other levels
    (or only those in ``against``), in a fixed order: the same examples always give the same
    table. ``read`` gives a message's text as the rules read it and the cues found in it."""
    texts = [(*read(m.text), m.level == level) for m in examples
             if m.level == level or against is None or m.level in against]
    seen = Counter(w for text, _, _ in texts for w in set(words(text)))
    common = frozenset(w for w, n in seen.items() if n > _COMMON * len(texts))
    blank = Table(0.0, {}, common)
    rows = [(blank.features(text, marks), threat) for text, marks, threat in texts]
    counts = Counter(f for features, _ in rows for f in features)
    rows = [(sorted(f for f in features if counts[f] >= _MIN_COUNT), float(threat))
            for features, threat in rows]
    weights: dict[str, float] = defaultdict(float)
    bias = 0.0
    order = random.Random(_SEED)
    for _ in range(_EPOCHS):
        order.shuffle(rows)
        for features, wanted in rows:
            z = max(-30.0, min(30.0, bias + sum(weights[f] for f in features)))
            error = 1.0 / (1.0 + math.exp(-z)) - wanted
            bias -= _RATE * error
            for f in features:
                weights[f] -= _RATE * (error + _L2 * weights[f])
    kept = {f: round(w, 4) for f, w in weights.items() if abs(w) >= 0.005}
    return Table(round(bias, 4), kept, common)


def example_files() -> list[Path]:
    return sorted(EXAMPLES.glob("*.txt"))


def dump(table: Table) -> str:
    lines = ["# The learned tone table (threads/tone/learned.py): rebuilt with",
             "# `python -m threads.tone.rebuild` from threads/tone/examples; do not edit by hand.",
             f"bias\t{table.bias}",
             "common\t" + " ".join(sorted(table.common))]
    lines += [f"{f}\t{w}" for f, w in sorted(table.weights.items(), key=lambda i: (-i[1], i[0]))]
    return "\n".join(lines) + "\n"


def parse(text: str) -> Table:
    """A table as ``dump`` writes it: the bias and the common words head the file, every line
    after them is a weight, also of a word that happens to be "bias" or "common"."""
    bias, common, weights = 0.0, frozenset(), {}
    header = {"bias", "common"}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        key, _, value = line.partition("\t")
        if key in header:
            header.discard(key)
            if key == "bias":
                bias = float(value)
            else:
                common = frozenset(value.split())
        else:
            header.clear()
            weights[key] = float(value)
    return Table(bias, weights, common)


@cache
def shipped(path: Path = TABLE) -> Table:
    """A table shipped with the package; its absence is a broken install, not a calm world."""
    return parse(path.read_text(encoding="utf-8"))


# what rebuild writes, and what the test that it is current checks: (file, level, against)
TABLES = ((TABLE, "threatening", None), (HEATED_TABLE, "heated", frozenset({"calm"})))
