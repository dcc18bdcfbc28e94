"""Throughput of claim detection beside two baselines, same process, same texts.

    python bench/analyze.py [LISTINGS.jsonl] [--repeat N]

- full:  nlp.detect (normalisation, Aho-Corasick + RE2 scan, spaCy/jieba context, typing) per listing
- regex: one compiled `re` alternation of the same phrases over the raw title + text
- aho:   a raw pyahocorasick scan of the same phrases over the raw title + text
Prints listings/s for each and the full/regex ratio (target >= 0.5).
"""
from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path

# bench/ itself must not shadow stdlib modules (bench/queue.py vs queue)
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

DEFAULT = Path(__file__).resolve().parent.parent.parent / "shared" / "eval" / "dev" / "listings.jsonl"


def timed(fn, items) -> float:
    t = time.perf_counter()
    for item in items:
        fn(item)
    return len(items) / (time.perf_counter() - t)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("listings", nargs="?", default=str(DEFAULT))
    ap.add_argument("--repeat", type=int, default=5, help="pass over the listings this many times")
    args = ap.parse_args()

    import ahocorasick
    import nlp
    from nlp.claims import get_nlp
    from shian.models import Listing

    with open(args.listings, encoding="utf-8") as fh:
        records = [json.loads(line) for line in fh if line.strip()]
    listings = [Listing.from_record(r) for r in records] * args.repeat
    texts = [lst.title + "\n" + lst.text for lst in listings]

    bundle = nlp.lexicon_holder().get()
    phrases = sorted({p for e in bundle.entries for p in e.raw_phrases}, key=len, reverse=True)
    regex = re.compile("|".join(map(re.escape, phrases)))
    aho = ahocorasick.Automaton()
    for p in phrases:
        aho.add_word(p, p)
    aho.make_automaton()
    get_nlp()                                   # build once, outside the timing
    nlp.detect(listings[0])

    full = timed(nlp.detect, listings)
    rx = timed(lambda t: regex.findall(t), texts)
    ac = timed(lambda t: list(aho.iter(t)), texts)
    chars = sum(map(len, texts)) / len(texts)
    print(f"{len(listings)} listings, {chars:.0f} chars each on average, {len(phrases)} phrases, "
          f"{sum(1 for e in bundle.entries if e.regex is not None)} RE2 patterns")
    print(f"full analysis (nlp.detect)  {full:10.0f} listings/s")
    print(f"regex alternation baseline  {rx:10.0f} listings/s")
    print(f"raw Aho-Corasick baseline   {ac:10.0f} listings/s")
    print(f"full / regex = {full / rx:.2f}x (target >= 0.5x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
