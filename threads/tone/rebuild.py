"""Rebuild the learned tone table from the labelled examples: ``python -m threads.tone.rebuild``.

Run it after adding or correcting examples in threads/tone/examples; commit learned.tsv with them.
"""

from __future__ import annotations

import sys

from threads.tone import learned, read_as_rules
from threads.tone.heldout import read_set


def main() -> None:
    files = learned.example_files()
    examples = [m for path in files for m in read_set(path)]
    for path, level, against in learned.TABLES:
        table = learned.train(examples, read_as_rules, level, against)
        path.write_text(learned.dump(table), encoding="utf-8")
        print(f"{path}: {len(table.weights)} weights from {len(files)} files", file=sys.stderr)


if __name__ == "__main__":
    main()
