"""The seed dataset: deterministic, sized, self-consistent, and loadable as a registry."""
from __future__ import annotations

import csv
import json
import re
import unicodedata
from collections import Counter

import pytest

from demo.seed import HEALTH_HEADER, LICENCE_HEADER, generate

CLAIM_TYPES = {"disease_claim", "health_function_on_ordinary_food", "unapproved_function", "absolute_term",
               "efficacy_guarantee", "medical_endorsement", "illegal_additive", "minors_targeting"}
LICENCE_LABELS = {"ok", "missing", "malformed", "not_in_registry", "holder_mismatch", "expired",
                  "scope_mismatch", "obsolete_format"}
HEALTH_LABELS = {"ok", "missing_for_health_claims", "not_in_registry", "functions_exceeded", "n/a"}
EVAL_DIR = "/work/shared/eval/dev"


def _snapshot(ds) -> str:
    return json.dumps([ds.records(), ds.licences, ds.health_foods, [r.script for r in ds.rooms],
                       [s.licence_image_text for s in ds.shops]], ensure_ascii=False, sort_keys=True)


def test_same_seed_gives_the_same_dataset_and_another_seed_does_not():
    assert _snapshot(generate(300, seed=5)) == _snapshot(generate(300, seed=5))
    assert _snapshot(generate(300, seed=5)) != _snapshot(generate(300, seed=6))


@pytest.mark.parametrize("n", [100, 1000])
def test_size_parameter_sets_the_listing_count_split_over_platforms(n):
    ds = generate(n, seed=1)
    assert len(ds.listings) == n
    assert len({x.id for x in ds.listings}) == n
    by = Counter(x.platform for x in ds.listings)
    assert set(by) == {"shop", "spa", "live"}
    assert by["shop"] > by["spa"] > by["live"] > 0
    # every live listing sits on the shelf of exactly one room of its own shop
    shelved = [i for r in ds.rooms for i in r.shelf]
    assert sorted(shelved) == sorted(x.id for x in ds.listings if x.platform == "live")
    for room in ds.rooms:
        assert all(ds.listing(i).shop_id == room.shop_id for i in room.shelf)


def test_bad_size_is_refused():
    with pytest.raises(ValueError, match="between"):
        generate(0, seed=1)


def test_truth_is_consistent_with_the_text(dataset):
    truth = dataset.expected()
    assert set(truth) == {x.id for x in dataset.listings} | {r.id for r in dataset.rooms}
    for rec in dataset.records():
        t = truth[rec["id"]]
        assert t["licence_expected"] in LICENCE_LABELS
        assert t["health_reg_expected"] in HEALTH_LABELS
        assert t["violating"] == bool(t["claims"])
        for claim in t["claims"]:
            assert claim["type"] in CLAIM_TYPES
            assert claim["span"] in rec["text"], (rec["id"], claim)


def test_dataset_covers_every_label_and_clean_listings(dataset):
    truth = dataset.expected()
    assert {t["licence_expected"] for t in truth.values()} == LICENCE_LABELS
    assert {t["health_reg_expected"] for t in truth.values()} == HEALTH_LABELS
    assert {c["type"] for t in truth.values() for c in t["claims"]} == CLAIM_TYPES
    clean = [t for t in truth.values() if not t["violating"] and t["licence_expected"] == "ok"]
    assert len(clean) > len(truth) // 5
    assert sum(t["hostile"] for t in truth.values()) >= 3
    # disguised claims are there: traditional characters, split characters, pinyin
    spans = [c["span"] for t in truth.values() for c in t["claims"]]
    big = generate(3000, seed=2)
    spans += [c["span"] for t in big.expected().values() for c in t["claims"]]
    assert any(re.search(r"[a-z]", s) for s in spans)
    assert any(" " in s for s in spans)
    assert any(ch in s for s in spans for ch in "療壓預")


def test_hard_negatives_appear_in_clean_listings():
    ds = generate(2000, seed=3)
    clean_text = "\n".join(x.text for x in ds.listings if not x.claims)
    for phrase in ("糖醋排骨", "降价", "不含蔗糖", "保健食品不是药物，不能代替药物治疗疾病"):
        assert phrase in clean_text


def _credit_code_ok(code: str) -> bool:
    chars = "0123456789ABCDEFGHJKLMNPQRTUWXY"
    total = sum(chars.index(c) * pow(3, i, 31) for i, c in enumerate(code[:17]))
    if chars[(31 - total % 31) % 31] != code[17]:
        return False
    org = code[8:17]
    s = sum(int(c, 36) * w for c, w in zip(org[:8], [3, 7, 9, 10, 5, 8, 4, 2]))
    c9 = 11 - s % 11
    return org[8] == ("X" if c9 == 10 else "0" if c9 == 11 else str(c9))


def test_registry_files_match_the_eval_schema_and_the_truth(dataset, tmp_path):
    lic_path, hf_path = dataset.write_registry(tmp_path / "reg")
    with open(f"{EVAL_DIR}/licences.csv", encoding="utf-8") as f:
        assert next(csv.reader(f)) == LICENCE_HEADER
    with open(f"{EVAL_DIR}/health_foods.csv", encoding="utf-8") as f:
        assert next(csv.reader(f)) == HEALTH_HEADER
    with lic_path.open(encoding="utf-8") as f:
        licences = list(csv.DictReader(f))
    with hf_path.open(encoding="utf-8") as f:
        health = list(csv.DictReader(f))
    assert list(licences[0]) == LICENCE_HEADER and list(health[0]) == HEALTH_HEADER
    assert len({r["licence_no"] for r in licences}) == len(licences)
    assert all(_credit_code_ok(r["credit_code"]) for r in licences)
    by_no = {r["licence_no"]: r for r in licences}
    regs = {r["reg_no"]: r for r in health}
    for x in dataset.listings:
        shop = dataset.shop(x.shop_id)
        shown = re.sub(r"\s", "", unicodedata.normalize("NFKC", shop.licence_display))
        numbers = re.findall(r"(?:JY|YB)\d{14}", shown)
        if x.licence_expected == "ok":
            assert numbers and by_no[numbers[0]]["holder_name"] == shop.operator_name
            assert by_no[numbers[0]]["status"] == "有效" and by_no[numbers[0]]["valid_until"] > "2027"
        elif x.licence_expected == "holder_mismatch":
            assert by_no[numbers[0]]["holder_name"] != shop.operator_name
        elif x.licence_expected == "not_in_registry":
            assert numbers and numbers[0] not in by_no
        elif x.licence_expected == "malformed":
            assert not numbers
        if x.health_reg_expected == "ok":
            assert regs[x.health_food_reg]["product_name"] in x.title


def test_records_and_feed_use_the_eval_listing_schema(dataset, tmp_path):
    path = dataset.write_feed(tmp_path / "feed.jsonl", platform="live")
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    keys = {"id", "platform", "kind", "title", "shop_name", "operator_name", "category", "text",
            "licence_text", "health_food_reg", "labels"}
    assert rows and all(keys <= set(r) for r in rows)
    rooms = [r for r in rows if r["kind"] == "live"]
    assert len(rooms) == len(dataset.rooms)
    assert all(re.search(r"^\[\d\d:\d\d:\d\d\] 主播：", r["text"], re.M) for r in rooms)


def test_dataset_is_the_same_in_another_process_with_another_hash_seed(dataset):
    import hashlib
    import os
    import subprocess
    import sys

    code = ("import hashlib, sys; sys.path.insert(0, 'tests/demo'); from test_demo_seed import _snapshot; "
            "from demo.seed import generate; "
            "print(hashlib.sha256(_snapshot(generate(400, seed=11)).encode()).hexdigest())")
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120,
                         check=True)
    assert out.stdout.strip() == hashlib.sha256(_snapshot(dataset).encode()).hexdigest()
