"""Crawls of the demo `shop` platform: evidence, politeness, faults, resume, re-crawl."""
from __future__ import annotations

import json
import os
import signal
import threading
from pathlib import Path

from crawler import run_crawl, start_crawl
from crawler.journal import DoneJournal
from shian.models import listing_id

from crawlcheck import by_kind, capture_record, evidence_ok, platform_ids, stored, warc_records


def test_crawl_stores_every_listing_once_with_verifiable_evidence(settings, dataset, site_factory, store):
    site = site_factory("shop")
    stats = run_crawl("shop", base_url=site.url, data_dir=settings.data_dir)
    assert stats["returncode"] == 0, stats
    expected = platform_ids(dataset, "shop")
    items = stored(store, "shop")
    assert {i.listing.item_id for i in items.values()} == expected
    assert stats["created"] == len(expected) and stats["requests"] > len(expected)
    assert set(items) == {listing_id("shop", x) for x in expected}

    some = items[listing_id("shop", sorted(expected)[0])].listing
    kinds = by_kind(some)
    assert {"body", "headers", "steps", "warc", "capture"} <= set(kinds)
    for ref in some.evidence:
        evidence_ok(settings, ref)
    body = evidence_ok(settings, kinds["body"][0])
    assert some.title.encode()[:12] in body or "&" in some.title        # the raw page as served
    records = warc_records(evidence_ok(settings, kinds["warc"][0]))
    types = [r[0] for r in records]
    assert types[0] == "warcinfo" and "request" in types and "response" in types
    assert any(r[0] == "response" and r[1] == some.url and r[2] == body for r in records)
    headers = json.loads(evidence_ok(settings, kinds["headers"][0]))
    page = headers["exchanges"][0]
    assert page["response"]["status"] == 200 and page["response"]["ip"] == "127.0.0.1"
    assert any(k.lower() == "user-agent" and "contact" in v for k, v in page["request"]["headers"].items())
    record = capture_record(settings, some)
    assert record["complete"] is True and record["url"] == some.url
    assert record["started_at"]["utc"].endswith("+00:00") and record["started_at"]["beijing"].endswith("+08:00")
    assert record["config_hash"] and record["tool"]["versions"]["scrapy"]

    # shops that show their licence only as an image: the image is evidence, OCR text is kept
    image_shops = {s.id for s in dataset.shops if s.licence_mode == "image"}
    with_image = [i.listing for i in items.values()
                  if dataset.listing(i.listing.item_id).shop_id in image_shops]
    assert with_image
    for listing in with_image:
        assert listing.shop.licence_images
        image = next(r for r in listing.evidence if r.kind == "image")
        assert evidence_ok(settings, image)[:8] == b"\x89PNG\r\n\x1a\n"
        assert image.sha256 in listing.ocr and "许可" in listing.ocr[image.sha256]

    run = store.get_meta(f"crawl_run:{stats['run_id']}")
    assert run["finish_reason"] == "finished" and run["items"] == len(expected) and run["errors"] == 0


def test_robots_txt_is_obeyed_even_when_links_point_there(settings, dataset, site_factory, config_copy):
    text = (config_copy / "platforms" / "shop.yaml").read_text(encoding="utf-8")
    # a careless platform file that follows every link, /cart/ and /admin/ included
    text = text.replace("name: shop", "name: greedy").replace(
        '    - "a.next[rel=next]::attr(href)"', '    - "a.next[rel=next]::attr(href)"\n    - "a::attr(href)"')
    (config_copy / "platforms" / "greedy.yaml").write_text(text, encoding="utf-8")
    site = site_factory("shop")
    stats = run_crawl("greedy", base_url=site.url, data_dir=settings.data_dir, max_items=20)
    assert stats["returncode"] == 0, stats
    assert site.hits("/robots.txt") >= 1
    assert stats["robots_forbidden"] > 0                 # links to /cart/ and /admin/ were seen...
    assert site.hits("/cart/") == 0 and site.hits("/admin/") == 0   # ...and never fetched


def test_429_retry_after_500_and_truncated_bodies(settings, dataset, site_factory, store):
    faults = {"429": {"every": 10, "retry_after": 1}, "500": {"every": 7},
              "truncate": {"every": 9, "times": 0}}      # ids % 9 == 0: truncated on every try
    site = site_factory("shop", faults=faults)
    stats = run_crawl("shop", base_url=site.url, data_dir=settings.data_dir)
    assert stats["returncode"] == 0, stats
    expected = platform_ids(dataset, "shop")
    items = stored(store, "shop")
    assert {i.listing.item_id for i in items.values()} == expected      # nothing lost
    broken = [i.listing for i in items.values() if int(i.listing.item_id) % 9 == 0]
    whole = [i.listing for i in items.values() if int(i.listing.item_id) % 9 != 0]
    assert broken and whole
    # a page that never arrives whole is kept, marked incomplete, never passed off as complete
    assert all(not x.capture_complete and "truncated" in x.capture_problem for x in broken)
    assert capture_record(settings, broken[0])["complete"] is False
    assert all(x.capture_complete for x in whole)        # 429 and 500 were retried until whole
    hit_429 = sorted(x for x in expected if int(x) % 10 == 0)
    assert hit_429 and stats["http_status"]["429"] == len(hit_429)
    for item_id in hit_429:                              # 429 first, then the retry got the page
        statuses = [st for m, p, st in site.requests if p == f"/item/{item_id}"]
        assert statuses[0] == 429 and 200 in statuses[1:]
    assert stats["retry_after_waited_s"] >= len(hit_429) * 1.0          # Retry-After: 1 honoured
    assert stats["http_status"]["500"] >= 1 and stats["retries"] >= len(hit_429) + stats["http_status"]["500"]


def child_pids(pid: int) -> list[int]:
    out = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        out += [int(c) for c in (task / "children").read_text().split()]
    return out


def is_worker(pid: int) -> bool:
    """pid is (still) a live multiprocessing worker (an exited one is gone or a zombie)."""
    try:
        return b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def test_kill_9_and_resume_loses_nothing_and_stores_nothing_twice(settings, dataset, site_factory, store):
    site = site_factory("shop", faults={"slow": {"every": 2, "delay": 0.3}})
    crawl = start_crawl("shop", base_url=site.url, data_dir=settings.data_dir)
    journal = crawl.run_dir / "done.txt"
    ticker = threading.Event()
    for _ in range(600):                                 # bounded: at most ~60 s
        if journal.exists() and journal.read_text().count("\n") >= 10:
            break
        assert crawl.popen.poll() is None, "crawl ended before it could be killed"
        ticker.wait(0.1)
    workers = child_pids(crawl.popen.pid)               # analysis (and OCR) worker processes
    assert workers, "the analysis worker process is running"
    os.kill(crawl.popen.pid, signal.SIGKILL)
    crawl.popen.wait()
    for _ in range(300):                                 # bounded: at most ~30 s
        if not any(is_worker(pid) for pid in workers):
            break
        ticker.wait(0.1)
    else:
        raise AssertionError(f"worker processes outlived the killed crawl: {workers}")
    done_before = len(DoneJournal(journal).keys)
    expected = platform_ids(dataset, "shop")
    assert 10 <= done_before < len(expected)

    resumed = start_crawl("shop", base_url=site.url, data_dir=settings.data_dir, run_id=crawl.run_id).wait(300)
    assert resumed["returncode"] == 0, resumed
    assert resumed["resumed"] is True and resumed["skipped_done"] >= done_before
    items = stored(store, "shop")
    assert len(items) == len(expected)
    assert {i.listing.item_id for i in items.values()} == expected
    # the resumed run did not fetch again what was already stored before the kill
    assert resumed["created"] + resumed["unchanged"] + resumed["changed"] <= len(expected) - done_before + 8


def test_recrawl_detects_changed_and_removed_listings(settings, dataset, site_factory, store):
    site = site_factory("shop")
    first = run_crawl("shop", base_url=site.url, data_dir=settings.data_dir)
    assert first["returncode"] == 0, first
    ids = sorted(platform_ids(dataset, "shop"))
    changed, removed = ids[3], ids[5]
    before = store.get(listing_id("shop", changed))
    site.mutate(change=[changed], remove=[removed])

    second = run_crawl("shop", base_url=site.url, data_dir=settings.data_dir)
    assert second["returncode"] == 0, second
    assert second["run_id"] != first["run_id"]
    assert second["changed"] == 1 and second["taken_down"] == 1
    assert second["unchanged"] == len(ids) - 2
    after = store.get(listing_id("shop", changed))
    assert after.listing.content_hash != before.listing.content_hash
    assert before.listing.content_hash in [h["content_hash"] for h in after.history]
    gone = store.get(listing_id("shop", removed))
    assert gone.taken_down_at is not None
    assert store.get(listing_id("shop", ids[0])).taken_down_at is None
    assert store.count() == len(ids)                     # re-crawls never duplicate
