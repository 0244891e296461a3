"""Score the tone check on the labelled sets: ``python -m bench.tone_sets``.

The sets in threads/tone/examples train the learned table (threads/tone/learned.py), so their
figures say little; the sets in tests/data/tone were never trained or tuned on: theirs is the
figure for unseen phrasing. Prints the three figures per set and, with ``-v``, every message it
gets wrong.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from threads.tone import analyse_tone
from threads.tone.heldout import read_set, score

ROOT = Path(__file__).resolve().parent.parent
SETS = (ROOT / "threads" / "tone" / "examples", ROOT / "tests" / "data" / "tone")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true")
    parser.add_argument("files", nargs="*", type=Path)
    args = parser.parse_args()
    for path in args.files or [p for folder in SETS for p in sorted(folder.glob("*.txt"))]:
        result = score(read_set(path), lambda text: str(analyse_tone(text).level))
        print(f"{path.parent.name}/{path.name}: {result.summary()}")
        if args.verbose:
            for message, level in result.misses:
                tone = analyse_tone(message.text)
                kinds = ", ".join(f"{s.kind}: {s.excerpt}" for s in tone.signals)
                print(f"  #{message.number} {message.lang} want {message.level}, got {level}"
                      f" [{kinds}]\n    {message.text[:150]!r}")


if __name__ == "__main__":
    main()
