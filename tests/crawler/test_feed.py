"""`shian ingest FILE`: a platform feed through the one pipeline; bad rows reported, the rest kept."""
from __future__ import annotations

import csv
import hashlib
import json

from click.testing import CliRunner

from shian.cli import main
from shian.evidence.files import EvidenceFiles
from shian.models import listing_id
from shian.store import open_store

GOOD_CLAIM = {"id": "feed-001", "platform": "shop", "kind": "listing", "title": "新郑红枣降糖茶 30包",
              "shop_name": "好味食品旗舰店", "operator_name": "新郑市好味食品有限公司", "category": "代用茶",
              "text": "每天一杯，降血糖，三天见效，无效退款。", "licence_text": "", "health_food_reg": "",
              "price": 39.9, "labels": {"claims": [{"span": "降血糖", "type": "disease_claim"}]}}
GOOD_CLEAN = {"id": "feed-002", "platform": "shop", "title": "新郑灰枣 500g", "shop_name": "枣乡人家",
              "operator_name": "新郑市枣乡人家食品店", "text": "新郑灰枣，个大肉厚，开袋即食。", "price": "29.80"}


def ingest(data_dir, path, *extra):
    return CliRunner().invoke(main, ["--data-dir", str(data_dir), "ingest", str(path), *extra])


def test_jsonl_feed_keeps_good_rows_and_reports_bad_ones(tmp_path):
    lines = [
        json.dumps(GOOD_CLAIM, ensure_ascii=False),
        "{not json",                                                          # line 2
        json.dumps(GOOD_CLEAN, ensure_ascii=False),
        "",                                                                   # blank lines are skipped
        json.dumps(["a", "list"]),                                            # line 5
        json.dumps({"platform": "shop", "title": "无编号商品", "text": "x"}),   # line 6: nothing identifies it
        json.dumps({"id": "feed-007", "title": "", "text": "  "}),           # line 7: empty
        json.dumps({"id": "feed-008", "title": "价格错", "price": "三十元"}, ensure_ascii=False),  # line 8
        json.dumps({"id": "feed-009", "title": "类型错", "kind": "video"}, ensure_ascii=False),    # line 9
        json.dumps({"id": "feed-010", "title": 12345}),                       # line 10
    ]
    feed = tmp_path / "feed.jsonl"
    feed.write_text("\n".join(lines) + "\n", encoding="utf-8")
    data_dir = tmp_path / "data"

    result = ingest(data_dir, feed)

    assert result.exit_code == 1, result.output
    errors = {int(line.split(":")[1]): line for line in result.stderr.splitlines() if "skipped" in line}
    assert sorted(errors) == [2, 5, 6, 7, 8, 9, 10]
    assert "invalid JSON" in errors[2] and "JSON object" in errors[5]
    assert "no id" in errors[6] and "empty listing" in errors[7]
    assert "price" in errors[8] and "kind" in errors[9] and "title" in errors[10]
    assert "2 stored" in result.stdout and "7 bad" in result.stdout

    store = open_store()
    try:
        flagged = store.get("feed-001")
        clean = store.get("feed-002")
    finally:
        store.close()
    # the same analysis as a crawled listing: the disease claim is found, the clean one is not flagged
    assert any("降血糖" in f.text for f in flagged.analysis.findings)
    assert flagged.listing.price == 39.9 and clean.listing.price == 29.8
    assert clean.listing.shop.operator_name == "新郑市枣乡人家食品店"
    # evidence: the feed row itself and a capture record, each matching its hash
    files = EvidenceFiles(data_dir / "evidence")
    kinds = {ref.kind: ref for ref in flagged.listing.evidence}
    assert set(kinds) == {"body", "capture"}
    assert json.loads(files.read(kinds["body"].sha256))["id"] == "feed-001"
    record = json.loads(files.read(kinds["capture"].sha256))
    assert record["line"] == 1 and record["file_sha256"] == hashlib.sha256(feed.read_bytes()).hexdigest()
    assert all(files.verify(ref.sha256) for ref in flagged.listing.evidence)


def test_ingesting_the_same_feed_twice_does_not_duplicate(tmp_path):
    feed = tmp_path / "feed.jsonl"
    feed.write_text(json.dumps(GOOD_CLAIM, ensure_ascii=False) + "\n", encoding="utf-8")
    first = ingest(tmp_path / "data", feed, "--json")
    second = ingest(tmp_path / "data", feed, "--json")
    assert first.exit_code == 0 and second.exit_code == 0, second.output
    assert json.loads(first.stdout)["created"] == 1
    assert json.loads(second.stdout)["unchanged"] == 1
    store = open_store()
    try:
        assert store.count() == 1
    finally:
        store.close()


def test_csv_feed_with_multiline_text_and_bad_rows(tmp_path):
    feed = tmp_path / "feed.csv"
    with feed.open("w", encoding="utf-8-sig", newline="") as fh:      # Excel writes a BOM
        writer = csv.writer(fh)
        writer.writerow(["item_id", "platform", "title", "shop_name", "text", "price", "licence_text"])
        writer.writerow(["A1", "shop", "蜂蜜 500g", "蜂场直营", "第一行\n第二行：调节血糖，治疗糖尿病", "45", ""])  # lines 2-3
        writer.writerow(["A2", "shop", "坏价格", "蜂场直营", "文字", "abc", ""])                               # line 4
        writer.writerow(["A3", "shop", "多一列", "蜂场直营", "文字", "1", "", "extra"])                         # line 5
        writer.writerow(["A4", "shop", "枣片", "蜂场直营", "香甜可口", "12.5", "JY14101840012345"])            # line 6
    result = ingest(tmp_path / "data", feed)
    assert result.exit_code == 1
    skipped = [line for line in result.stderr.splitlines() if "skipped" in line]
    assert [int(line.split(":")[1]) for line in skipped] == [4, 5]
    assert "price is not a number" in skipped[0] and "cells" in skipped[1]
    store = open_store()
    try:
        honey = store.get(listing_id("shop", "A1"))
        dates = store.get(listing_id("shop", "A4"))
    finally:
        store.close()
    assert "治疗糖尿病" in honey.listing.text and honey.analysis.findings
    assert dates.listing.shop.licence_text == "JY14101840012345" and dates.listing.price == 12.5


def test_a_file_that_is_not_a_feed_is_refused_clearly(tmp_path):
    odd = tmp_path / "feed.txt"
    odd.write_text("hello", encoding="utf-8")
    result = ingest(tmp_path / "data", odd)
    assert result.exit_code == 2 and "--format" in result.output
    bad_csv = tmp_path / "feed.csv"
    bad_csv.write_text("a,b\n1,2\n", encoding="utf-8")
    result = ingest(tmp_path / "data", bad_csv)
    assert result.exit_code == 1 and "neither a title nor a text column" in result.output
