"""`shian capture URL`: one tip-off page in Chromium, full evidence, the same pipeline."""
from __future__ import annotations

import json
import traceback

import pytest
from click.testing import CliRunner

from crawler.tipoff import TipoffError, capture_url
from demo.seed import generate
from demo.sites import start_site
from shian.cli import main
from shian.evidence.files import EvidenceFiles
from shian.store import open_store

pytestmark = pytest.mark.browser

KINDS = {"body", "html", "screenshot", "headers", "steps", "warc", "capture"}


def violating(ds, platform):
    truth = ds.expected()
    return next(x for x in ds.by_platform(platform)
                if truth[x.id]["violating"] and truth[x.id]["claims"] and not truth[x.id]["hostile"])


def test_capture_of_a_shop_page_with_the_platform_selectors(settings):
    ds = generate(200, 11)
    target = violating(ds, "shop")
    with start_site("shop", ds) as site:
        url = f"{site.url}/item/{target.id}"
        result = CliRunner().invoke(main, ["--data-dir", str(settings.data_dir), "capture", url,
                                           "--platform", "shop", "--json"])
    assert result.exit_code == 0, "".join(traceback.format_exception(*result.exc_info))
    summary = json.loads(result.stdout)
    assert summary["complete"] and summary["findings"] > 0 and summary["flagged"]
    store = open_store()
    try:
        item = store.get(summary["id"])
    finally:
        store.close()
    listing = item.listing
    assert listing.title == target.title and listing.item_id == target.id
    assert listing.shop.operator_name == ds.shop(target.shop_id).operator_name
    files = EvidenceFiles(settings.evidence_dir)
    assert KINDS <= {ref.kind for ref in listing.evidence}
    assert all(files.verify(ref.sha256) for ref in listing.evidence)
    record = json.loads(files.read(next(r.sha256 for r in listing.evidence if r.kind == "capture")))
    assert record["url"] == url and record["complete"] and record["browser_version"]
    steps = [s["action"] for s in json.loads(files.read(next(r.sha256 for r in listing.evidence
                                                             if r.kind == "steps")))]
    assert steps[0] == "navigate" and "screenshot" in steps
    assert files.read(next(r.sha256 for r in listing.evidence if r.kind == "screenshot"))[:4] == b"\x89PNG"


def test_capture_of_a_javascript_page_reads_what_the_browser_rendered(settings):
    ds = generate(200, 11)
    target = violating(ds, "spa")
    with start_site("spa", ds) as site:
        result = capture_url(f"{site.url}/item/{target.id}")
    listing = result.item.listing
    # the HTML shell holds no listing data: the text can only come from the rendered page
    first_line = target.text.strip().splitlines()[0].strip()
    assert first_line and first_line in listing.text
    assert listing.platform == "tipoff" and listing.capture_complete
    assert result.item.analysis.findings


def test_a_removed_listing_is_captured_but_marked_incomplete(settings):
    ds = generate(200, 11)
    target = ds.by_platform("shop")[0]
    with start_site("shop", ds) as site:
        site.mutate(remove=[target.id])
        result = capture_url(f"{site.url}/item/{target.id}")
    listing = result.item.listing
    assert not listing.capture_complete and listing.capture_problem == "HTTP 404"
    assert "该商品已下架" in listing.text
    assert {r.kind for r in listing.evidence} >= {"body", "screenshot", "capture"}


def test_only_web_pages_are_captured(settings):
    with pytest.raises(TipoffError):
        capture_url("file:///etc/passwd")
    result = CliRunner().invoke(main, ["--data-dir", str(settings.data_dir), "capture", "javascript:alert(1)"])
    assert result.exit_code == 1 and "http(s)" in result.output
    store = open_store()
    try:
        assert store.count() == 0
    finally:
        store.close()
