"""Write the evasion-styled subset of a labelled listings file for score.py --subset.

A labelled claim is evasion-styled when its span is not in plain form: the
normaliser records a disguise in it (full-width letters or digits, traditional
characters, separators between characters, homophones), or it is written in
pinyin.

    python bench/evasion_subset.py GOLD.jsonl > subset.json
    python ../shared/eval/score.py GOLD.jsonl PRED.jsonl --subset subset.json
"""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

LATIN = re.compile(r"[A-Za-z]{2,}")
UNITS = {"cm", "mm", "kg", "mg", "ml", "no", "top", "dha", "epa", "vc", "ve"}


def evasion_subset(records) -> list[dict]:
    from nlp.lexicon import CONFIG_DIR_DEFAULT, load_normalizer
    normalizer, _ = load_normalizer(CONFIG_DIR_DEFAULT / "normalisation.yaml")
    out = []
    for rec in records:
        for claim in rec.get("labels", {}).get("claims", []):
            span = claim["span"]
            norm = normalizer(span)
            if norm.evasions(0, len(norm.text)) or any(w.lower() not in UNITS for w in LATIN.findall(span)):
                out.append({"id": rec["id"], "span": span})
    return out


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    with open(argv[1], encoding="utf-8") as fh:
        records = [json.loads(line) for line in fh if line.strip()]
    json.dump(evasion_subset(records), sys.stdout, ensure_ascii=False, indent=1)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
