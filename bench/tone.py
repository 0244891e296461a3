"""How long the tone check takes per message: ``python -m bench.tone`` (seconds, not minutes).

The target is under 2 ms per message (median). Messages are built from the sentences below,
1 to 10 per message like real replies, in Dutch and English; the baseline is mailgate's own
reply-text extraction of the same text, measured in the same run, because this machine is
shared and noisy. The lexicon is compiled once before timing, as serve does.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

from mailgate.reply_text import extract_reply
from threads.tone import analyse_tone
from threads.tone.lexicon import cached_lexicon

SENTENCES = (
    "Dank voor het verslag van de sessie, ik kan me vinden in de afspraken.",
    "De aannemer komt volgende week dinsdag om de dakgoot te vervangen.",
    "Ik stel voor dat we de kosten naar rato van het breukdeel verdelen.",
    "Als het bedrag er vrijdag niet staat, schakel ik een incassobureau in.",
    "Jij bent ook nooit op tijd bij de overdracht, dat is gewoon zo.",
    "Ik weet dat je het druk hebt, dus een avond is ook goed.",
    "Met vriendelijke groet, Joke",
    "Thanks for the minutes, they look right to me.",
    "The roofer can start on the 12th if the board agrees tonight.",
    "I am NOT trying to keep the children from you, I just want a proper bedroom for them.",
    "Either the deposit is returned by Friday or I'm going to the small claims court.",
    "Frankly the managing agent is a cowboy and everyone in the block knows it.",
    "I'll bring the van logs and the stock count to Tuesday's session.",
    "Kind regards, Sam",
)


def messages(count: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(rng.choice(SENTENCES) for _ in range(rng.randint(1, 10)))
            for _ in range(count)]


def per_message_ms(function, texts: list[str]) -> list[float]:
    timings = []
    for text in texts:
        start = time.perf_counter()
        function(text)
        timings.append((time.perf_counter() - start) * 1000)
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=2000)
    args = parser.parse_args()
    cached_lexicon()  # compiled once, as in serve
    texts = messages(args.count)
    analyse_tone(texts[0])
    tone = per_message_ms(analyse_tone, texts)
    baseline = per_message_ms(extract_reply, texts)
    median, base = statistics.median(tone), statistics.median(baseline)
    p99 = statistics.quantiles(tone, n=100)[98]
    print(f"tone check: median {median:.3f} ms, p99 {p99:.3f} ms per message "
          f"({args.count} messages, 1-10 sentences); target < 2 ms")
    print(f"baseline (reply-text extraction of the same text): median {base:.3f} ms; "
          f"ratio {median / base if base else float('inf'):.1f}")


if __name__ == "__main__":
    main()
