"""The demo `spa` platform: lists read from its JSON API, item pages rendered in real Chromium."""
from __future__ import annotations

import io
import json

import pytest
import yaml
from PIL import Image

from crawler import run_crawl
from shian.models import listing_id

from crawlcheck import by_kind, capture_record, evidence_ok, platform_ids, stored, warc_records

pytestmark = pytest.mark.browser


def platform_file(config_copy, name):
    path = config_copy / "platforms" / f"{name}.yaml"
    return path, yaml.safe_load(path.read_text(encoding="utf-8"))


def test_spa_crawled_through_chromium_with_screenshots(settings, dataset, site_factory, store, config_copy):
    path, spa = platform_file(config_copy, "spa")
    spa["start_urls"] = ["{base_url}/api/items?limit=10"]   # several list pages in this small dataset
    path.write_text(yaml.safe_dump(spa, allow_unicode=True), encoding="utf-8")
    site = site_factory("spa")
    settings.crawl.context_max_pages = 7                 # rotate contexts several times in this crawl
    stats = run_crawl("spa", base_url=site.url, data_dir=settings.data_dir)
    assert stats["returncode"] == 0, stats
    expected = platform_ids(dataset, "spa")
    # lists: one API request per cursor, no browser list page
    assert site.hits("/api/items?") == -(-len(expected) // 10) and site.hits("/category/") == 0
    items = stored(store, "spa")
    assert {i.listing.item_id for i in items.values()} == expected       # the JSON list reached its end
    assert all("screenshot" in by_kind(i.listing) for i in items.values())   # every item page rendered
    assert stats["browser_contexts"] >= len(expected) // 7               # contexts were rotated

    some = items[listing_id("spa", sorted(expected)[0])].listing
    truth = dataset.listing(some.item_id)
    assert some.title == truth.title and some.shop.operator_name
    kinds = by_kind(some)
    assert {"body", "html", "screenshot", "headers", "steps", "warc", "capture"} <= set(kinds)
    png = evidence_ok(settings, kinds["screenshot"][0])
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000
    heights = []
    for item in items.values():
        shot = Image.open(io.BytesIO(evidence_ok(settings, by_kind(item.listing)["screenshot"][0])))
        shot.load()                                                      # whole, decodable PNGs
        heights.append(shot.height)
    assert min(heights) >= 720 and max(heights) > 720                   # full pages, not the 720 px viewport
    html = evidence_ok(settings, kinds["html"][0]).decode()
    raw = evidence_ok(settings, kinds["body"][0]).decode()
    assert 'class="product"' in html and 'class="product"' not in raw     # rendered vs. the raw shell
    records = warc_records(evidence_ok(settings, kinds["warc"][0]))
    types = {r[0] for r in records}
    assert {"warcinfo", "request", "response", "resource", "conversion"} <= types
    assert any(r[0] == "response" and f"/api/items/{some.item_id}" in r[1] for r in records)
    steps = [s["action"] for s in json.loads(evidence_ok(settings, kinds["steps"][0]))]
    assert steps[0] == "navigate" and "screenshot" in steps
    record = capture_record(settings, some)
    assert record["browser_version"] and record["complete"] is True
    # the browser itself identifies the crawler, to the site and to the page's scripts
    assert record["user_agent"] == settings.crawl.user_agent
    sent = json.loads(evidence_ok(settings, kinds["headers"][0]))["exchanges"]
    assert sent and all(e["request"]["headers"].get("user-agent") == settings.crawl.user_agent for e in sent)


def test_browser_list_pages_scrolled_to_the_end(settings, dataset, site_factory, store, config_copy):
    """A platform whose list pages need a browser (infinite scroll) is still read to its end."""
    path, spa = platform_file(config_copy, "spa")
    spa.update(name="spa_scroll", start_urls=["{base_url}/"])
    spa["browser"].update(lists=True, scroll_until="#app[data-end='1']", max_scrolls=200, screenshot=False)
    spa["lists"] = {"items": ["ul#items li.item-card a.item-link::attr(href)"]}
    (path.parent / "spa_scroll.yaml").write_text(yaml.safe_dump(spa, allow_unicode=True), encoding="utf-8")
    site = site_factory("spa")
    stats = run_crawl("spa_scroll", base_url=site.url, data_dir=settings.data_dir)
    assert stats["returncode"] == 0, stats
    items = stored(store, "spa_scroll")
    assert {i.listing.item_id for i in items.values()} == platform_ids(dataset, "spa")
    assert site.hits("/api/items?") >= 3                   # the page itself fetched the list, 20 a scroll
