"""`shian analyze` is the evaluation contract: its output scores above the agreed floors on the dev set."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

EVAL = Path(__file__).resolve().parents[3] / "shared" / "eval"
DEV = EVAL / "dev"


def shian(data_dir, *args):
    return subprocess.run([sys.executable, "-m", "shian", "--data-dir", str(data_dir), *args],
                          capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def predictions(tmp_path_factory):
    assert DEV.is_dir(), f"the shared eval set is missing at {DEV}"
    data_dir = tmp_path_factory.mktemp("eval")
    imported = shian(data_dir, "registry", "import", "--licences", DEV / "licences.csv",
                     "--health-foods", DEV / "health_foods.csv", "--no-progress")
    assert imported.returncode == 0, imported.stderr[-2000:]
    ran = shian(data_dir, "analyze", "--as-of", "2026-01-15", DEV / "listings.jsonl")
    assert ran.returncode == 0, ran.stderr[-2000:]
    out = data_dir / "pred.jsonl"
    out.write_text(ran.stdout, encoding="utf-8")
    return out


def test_every_listing_gets_one_prediction_with_offsets_into_the_original_text(predictions):
    gold = {json.loads(line)["id"]: json.loads(line) for line in (DEV / "listings.jsonl").open(encoding="utf-8")}
    preds = [json.loads(line) for line in predictions.open(encoding="utf-8")]
    assert sorted(p["id"] for p in preds) == sorted(gold)
    for p in preds:
        for claim in p["claims"]:
            field = gold[p["id"]].get(claim["field"], "")
            assert field[claim["start"]:claim["end"]] == claim["text"]
            assert claim["rule_id"] and claim["list_version"] and claim["legal_basis"]


def test_dev_scores_stay_above_the_issue_floors(predictions):
    scored = subprocess.run([sys.executable, str(EVAL / "score.py"), str(DEV / "listings.jsonl"),
                             str(predictions), "--min", "claim_f1=0.90", "--min", "claim_precision=0.90",
                             "--min", "licence_accuracy=0.95", "--min", "health_reg_accuracy=0.95"],
                            capture_output=True, text=True)
    assert scored.returncode == 0, scored.stdout
