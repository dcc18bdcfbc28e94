"""`shian capture URL`: one tip-off page in Chromium, full evidence, the same pipeline."""
from __future__ import annotations

import json
import traceback

import pytest
from click.testing import CliRunner

from crawler.tipoff import HostGuard, TipoffError, capture_url
from demo.seed import generate
from demo.sites import start_site
from shian.cli import main
from shian.evidence.files import EvidenceFiles
from shian.store import open_store
from tests.ui.server import serving_pages

pytestmark = pytest.mark.browser

KINDS = {"body", "html", "screenshot", "headers", "steps", "warc", "capture"}
PAGE = "<html><body><h1>降糖神茶</h1><p>喝一个月根治糖尿病，无效退款，店铺：好味食品商行</p></body></html>"
# the demo sites run on 127.0.0.1, which tip-offs refuse unless allowed (as the demo does)
LOCAL = {"SHIAN_CRAWL__TIPOFF_ALLOW": '["127.0.0.1"]'}


@pytest.fixture
def local_allowed(settings):
    settings.crawl.tipoff_allow = ["127.0.0.1"]
    return settings


def stored_count() -> int:
    store = open_store()
    try:
        return store.count()
    finally:
        store.close()


def violating(ds, platform):
    truth = ds.expected()
    return next(x for x in ds.by_platform(platform)
                if truth[x.id]["violating"] and truth[x.id]["claims"] and not truth[x.id]["hostile"])


def test_capture_of_a_shop_page_with_the_platform_selectors(settings):
    # the CLI builds its own settings: the allow list comes from the environment here
    ds = generate(200, 11)
    target = violating(ds, "shop")
    with start_site("shop", ds) as site:
        url = f"{site.url}/item/{target.id}"
        result = CliRunner(env=LOCAL).invoke(main, ["--data-dir", str(settings.data_dir), "capture", url,
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


def test_capture_of_a_javascript_page_reads_what_the_browser_rendered(local_allowed):
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


def test_a_removed_listing_is_captured_but_marked_incomplete(local_allowed):
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


def test_internal_addresses_are_refused_by_default(settings):
    with serving_pages({"/item/1": (200, {}, PAGE.encode())}) as (base, hits):
        with pytest.raises(TipoffError, match="拒绝取证.*127.0.0.1.*内部网络"):
            capture_url(f"{base}/item/1")
        result = CliRunner().invoke(main, ["--data-dir", str(settings.data_dir), "capture",
                                           base.replace("127.0.0.1", "localhost") + "/item/1"])
        assert result.exit_code == 1 and "拒绝取证" in result.output and "tipoff_allow" in result.output
        for url in ("http://169.254.169.254/latest/meta-data/", "http://10.0.0.1/", "http://[::1]:8080/"):
            with pytest.raises(TipoffError, match="拒绝取证"):
                capture_url(url)
        assert hits == []                                  # the page was never fetched
    assert stored_count() == 0


def test_allow_and_deny_rules():
    guard = HostGuard(deny=["non-public", ".blocked.example", "203.0.113.0/24"], allow=["127.0.0.1", "10.1.0.0/16"])
    assert guard.refusal("http://127.0.0.1:8080/x") == ""
    assert guard.refusal("http://10.1.2.3/") == "" and guard.refusal("http://10.2.0.1/")
    assert guard.refusal("http://shop.blocked.example/") and guard.refusal("http://203.0.113.9/")
    assert guard.refusal("http://[::ffff:192.168.1.1]/")   # an IPv4-mapped private address is still private
    assert guard.refusal("https://100.64.0.1/") and guard.refusal("http://0.0.0.0/")
    assert HostGuard(deny=[], allow=[]).refusal("http://127.0.0.1/") == ""   # an operator may switch it off


def test_a_page_cannot_pull_internal_hosts_in_through_requests_or_redirects(settings):
    with serving_pages({"/secret": (200, {}, b"internal admin page")}) as (internal, internal_hits):
        page = PAGE.replace("</body>", f"<img src='{internal}/secret'><script>fetch('{internal}/secret')</script></body>")
        pages = {"/item/1": (200, {}, page.encode()),
                 "/jump": (302, {"Location": f"{internal}/secret"}, b"")}
        with serving_pages(pages) as (outside, _):
            # the seller site is allowed by name; 127.0.0.1 itself is not
            settings.crawl.tipoff_allow = ["localhost"]
            seller = outside.replace("127.0.0.1", "localhost")
            result = capture_url(f"{seller}/item/1")
            assert internal_hits == []                     # image and fetch() were blocked
            assert "根治糖尿病" in result.item.listing.text
            steps = json.loads(EvidenceFiles(settings.evidence_dir).read(
                next(r.sha256 for r in result.item.listing.evidence if r.kind == "steps")))
            assert any(s["action"] == "blocked" and "/secret" in s["detail"] for s in steps)

            with pytest.raises(TipoffError, match="拒绝取证.*127.0.0.1"):
                capture_url(f"{seller}/jump")               # a redirect into the internal network
            assert internal_hits == []                     # refused before it was fetched (the proxy)
    assert stored_count() == 1                             # only the first capture was stored


def live_children() -> set[int]:
    """Pids of this process's children that are still running (zombies excluded)."""
    import os
    from pathlib import Path

    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue                                       # it ended while we looked
        if fields[0] != "Z" and int(fields[1]) == os.getpid():
            found.add(int(stat.parent.name))
    return found


def test_each_capture_leaves_no_browser_driver_or_proxy_behind(settings):
    # the review UI runs tip-offs for months in one process: each capture must clean up after
    # itself, also when it is refused half-way
    import threading

    before = live_children()
    pages = {"/item/1": (200, {}, PAGE.encode())}
    with serving_pages(pages) as (base, _):
        pages["/jump"] = (302, {"Location": f"{base}/item/1"}, b"")   # to 127.0.0.1, which is refused
        settings.crawl.tipoff_allow = ["localhost"]
        seller = base.replace("127.0.0.1", "localhost")
        assert capture_url(f"{seller}/item/1").item.listing.capture_complete
        with pytest.raises(TipoffError, match="拒绝取证"):
            capture_url(f"{seller}/jump")
    assert live_children() <= before                       # no Playwright driver, no Chromium left
    assert not [t for t in threading.enumerate() if t.name == "tipoff-proxy"]
