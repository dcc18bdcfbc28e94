"""Probe set for the keyword lists and context data: short labelled texts written from domain
knowledge (REFERENCE.md §3-5, how sellers write on shop, short-video and chat platforms), not taken
from any eval set. Each probe runs through the real analysis (nlp.detect) and must give the expected
claim type in the expected field, overlapping the expected span; must-not-flag probes must give
nothing in their field, and a probe's `clean` spans must stay unflagged.

probes_batch3.jsonl is a later batch (unseen wordings and disguises: split characters, emoji,
homophones, pinyin, traditional and look-alike characters, English mixed in, euphemisms); its
b3-001..b3-206 were written before reading the keyword lists, as a blind first pass. probes_batch4.jsonl
(b4-*) is a blind batch weighted to the types weakest on unseen wordings (minors, ordinary-food
functions, guarantees, absolute terms) and to must-not-flag texts; b4-001..b4-179 were written
before reading the lists, b4-180 on after."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

import nlp
from nlp.lexicon import TYPES
from shian.models import Listing

PROBE_FILES = ("probes_lists.jsonl", "probes_batch3.jsonl", "probes_batch4.jsonl")
BATCHES = {name: [json.loads(line) for line in Path(__file__).with_name(name).read_text(encoding="utf-8").splitlines()
                  if line.strip()] for name in PROBE_FILES}
PROBES = [p for batch in BATCHES.values() for p in batch]
OCR_KEY = "img1"


def probe_listing(p: dict) -> tuple[Listing, str]:
    """A listing holding the probe text in its field; the name findings cite for that field."""
    where = p.get("field", "text")
    text, title, ocr = "", "", {}
    if where == "title":
        title = p["text"]
    elif where == "ocr":
        ocr = {OCR_KEY: p["text"]}
    else:
        text = p["text"]
    listing = Listing(platform="shop", item_id=p["id"], title=title, text=text, ocr=ocr,
                      category=p.get("category", "普通食品"))
    return listing, ("ocr:" + OCR_KEY if where == "ocr" else where)


def problems(p: dict) -> list[str]:
    """What is wrong with the analysis of one probe (empty when it passes)."""
    listing, field = probe_listing(p)
    found = [f for f in nlp.detect(listing, approved_functions=p.get("approved")).findings if f.field == field]
    got = [(f.type, f.text) for f in found]
    out = []
    if not p["expect"] and found:
        out.append(f"must not flag, got {got}")
    for want in p["expect"]:
        i = p["text"].index(want["span"])
        j = i + len(want["span"])
        if not any(f.type == want["type"] and f.start < j and i < f.end for f in found):
            out.append(f"missing {want['type']} {want['span']!r}, got {got}")
    for span in p.get("clean", []):
        i = p["text"].index(span)
        if any(f.start < i + len(span) and i < f.end for f in found):
            out.append(f"{span!r} must stay unflagged, got {got}")
    return out


@pytest.mark.parametrize("name", PROBE_FILES)
def test_probe_file_is_well_formed(name):
    batch = BATCHES[name]
    assert len(batch) >= 150
    assert sum(1 for p in batch if not p["expect"]) >= 50       # the must-not-flag side is tested too
    assert {w["type"] for p in batch for w in p["expect"]} == set(TYPES)    # every claim type is probed
    for p in batch:
        assert p.get("field", "text") in ("text", "title", "ocr"), p["id"]
        for want in p["expect"]:
            assert want["span"] in p["text"] and want["type"] in TYPES, p["id"]
        for span in p.get("clean", []):
            assert span in p["text"], p["id"]


def test_probe_ids_are_unique():
    ids = [p["id"] for p in PROBES]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("probe", PROBES, ids=[p["id"] for p in PROBES])
def test_probe(probe):
    assert not problems(probe), f"{probe['id']} {probe['text']!r}: {problems(probe)}"
