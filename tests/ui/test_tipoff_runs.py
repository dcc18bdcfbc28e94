"""The tip-off form (one URL captured in real Chromium through the pipeline) and the crawl-run page."""
from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

import pytest

from tests.ui.server import serving_page

PAGE = ("<html><head><meta charset='utf-8'><title>降糖神茶</title></head><body><h1>苦瓜降糖神茶</h1>"
        "<p>本品纯天然，喝一个月根治糖尿病，无效退款。店铺：好味食品商行</p></body></html>").encode("utf-8")


@pytest.fixture
def tip_site():
    with serving_page(PAGE) as served:
        yield served


def _wait_for(job, seconds: float = 90) -> None:
    tick = threading.Event()
    for _ in range(int(seconds * 5)):
        if job.state in ("done", "failed"):
            return
        tick.wait(0.2)
    raise AssertionError(f"tip-off job still {job.state}")


def test_a_private_host_is_refused_when_the_tipoff_is_submitted(app, login, tip_site):
    base, hits = tip_site
    response = login("li").post("/tipoff/", data={"url": base + "/item/77"})
    assert response.status_code == 400 and "拒绝取证" in response.get_data(as_text=True)
    assert "/item/77" not in hits


def test_a_reviewer_captures_a_tipoff_url_and_reaches_the_item(app, store, login, tip_site, settings):
    base, hits = tip_site
    settings.crawl.tipoff_allow = ["127.0.0.1"]      # the demo site is local; real tip-offs are public hosts
    li = login("li")
    assert "开始取证" in li.get("/tipoff/").get_data(as_text=True)
    response = li.post("/tipoff/", data={"url": base + "/item/77"})
    assert response.status_code == 302
    job_id = response.headers["Location"].rstrip("/").rsplit("/", 1)[1]
    job = app.extensions["shian"].jobs.get(job_id)
    _wait_for(job)
    assert job.state == "done", job.error
    assert "/item/77" in hits

    page = li.get(f"/tipoff/jobs/{job_id}").get_data(as_text=True)
    item_id = job.result["item_id"]
    assert f"/items/{item_id}" in page and "取证完成" in page
    item = store.get(item_id)
    assert item.listing.url == base + "/item/77" and "根治糖尿病" in item.listing.text
    assert {"screenshot", "warc", "html"} <= {e.kind for e in item.listing.evidence}
    assert any("糖尿病" in f.text for f in item.analysis.findings)
    assert "根治糖尿病" in li.get(f"/items/{item_id}").get_data(as_text=True)
    actions = [e.action for e in app.extensions["shian"].audit.events(limit=50)]
    assert "tipoff_submit" in actions and "tipoff_capture" in actions


@pytest.mark.parametrize("url", ["javascript:alert(1)", "file:///etc/passwd", "ftp://127.0.0.1/x", "127.0.0.1/x", ""])
def test_only_http_urls_are_taken(app, login, url):
    li = login("li")
    response = li.post("/tipoff/", data={"url": url})
    assert response.status_code == 400
    assert "只能提交以 http:// 或 https:// 开头的网址" in response.get_data(as_text=True)
    assert app.extensions["shian"].jobs.recent("tipoff") == []


def test_crawl_runs_are_listed_newest_first_for_leads(app, store, login):
    now = datetime.now(timezone.utc)
    store.put_meta("crawl_run:old", {"run_id": "old", "platform": "shop", "started_at": (now - timedelta(days=1)).isoformat(),
                                     "duration_s": 125.0, "pages": 311, "items": 200, "errors": 0,
                                     "finish_reason": "finished", "outcome": "finished", "trigger": "schedule"})
    store.put_meta("crawl_run:new", {"run_id": "new", "platform": "live", "started_at": now.isoformat(),
                                     "duration_s": 9.5, "pages": 4, "items": 1, "errors": 3,
                                     "finish_reason": "closespider_timeout", "outcome": "failed",
                                     "error": "crawl process exited 1", "trigger": "once"})
    page = login("zhang").get("/runs/").get_data(as_text=True)
    assert page.index('data-run="new"') < page.index('data-run="old"')
    for shown in ("311", "200", "2 分 5 秒", "正常结束", "达到时长上限", "crawl process exited 1", "9.5 秒"):
        assert shown in page
    assert login("li").get("/runs/").status_code == 403
    assert "还没有采集运行记录" not in page
