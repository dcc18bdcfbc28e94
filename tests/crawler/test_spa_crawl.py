"""The demo `spa` platform is useless without a browser: crawled through real Chromium."""
from __future__ import annotations

import pytest

from crawler import run_crawl
from shian.models import listing_id

from crawlcheck import by_kind, capture_record, evidence_ok, platform_ids, stored, warc_records

pytestmark = pytest.mark.browser


def test_spa_crawled_through_chromium_with_screenshots(settings, dataset, site_factory, store):
    site = site_factory("spa")
    settings.crawl.context_max_pages = 7                 # rotate contexts several times in this crawl
    stats = run_crawl("spa", base_url=site.url, data_dir=settings.data_dir)
    assert stats["returncode"] == 0, stats
    expected = platform_ids(dataset, "spa")
    items = stored(store, "spa")
    assert {i.listing.item_id for i in items.values()} == expected       # infinite scroll reached the end
    assert stats["browser_pages"] >= len(expected)
    assert stats["browser_contexts"] >= len(expected) // 7               # contexts were rotated

    some = items[listing_id("spa", sorted(expected)[0])].listing
    truth = dataset.listing(some.item_id)
    assert some.title == truth.title and some.shop.operator_name
    kinds = by_kind(some)
    assert {"body", "html", "screenshot", "headers", "steps", "warc", "capture"} <= set(kinds)
    png = evidence_ok(settings, kinds["screenshot"][0])
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000
    html = evidence_ok(settings, kinds["html"][0]).decode()
    raw = evidence_ok(settings, kinds["body"][0]).decode()
    assert 'class="product"' in html and 'class="product"' not in raw     # rendered vs. the raw shell
    records = warc_records(evidence_ok(settings, kinds["warc"][0]))
    types = {r[0] for r in records}
    assert {"warcinfo", "request", "response", "resource", "conversion"} <= types
    assert any(r[0] == "response" and f"/api/items/{some.item_id}" in r[1] for r in records)
    steps = [s["action"] for s in __import__("json").loads(evidence_ok(settings, kinds["steps"][0]))]
    assert steps[0] == "navigate" and "screenshot" in steps
    record = capture_record(settings, some)
    assert record["browser_version"] and record["complete"] is True
