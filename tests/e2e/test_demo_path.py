"""The whole path: demo platforms -> crawl -> nlp + matcher -> store -> queue page in Chromium."""
from __future__ import annotations

import json
import subprocess
import sys
import threading

import pytest
from werkzeug.serving import make_server

from review_ui import create_app
from shian.users import Users

def shian(data_dir, *args, timeout=600):
    return subprocess.run([sys.executable, "-m", "shian", "--data-dir", str(data_dir), *args],
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def crawled(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("e2e")
    done = shian(data_dir, "demo", "--once", "--listings", "100", "--seed", "3")
    assert done.returncode == 0, done.stderr[-3000:]
    listed = shian(data_dir, "items", "list", "--json")
    assert listed.returncode == 0, listed.stderr[-3000:]
    rows = [json.loads(line) for line in listed.stdout.splitlines() if line.strip()]
    return data_dir, rows


def test_every_demo_platform_yields_flagged_items(crawled):
    _, rows = crawled
    flagged = [r for r in rows if r["findings"] or r["licence_verdict"] not in (None, "ok")]
    assert {r["platform"] for r in flagged} == {"shop", "spa", "live"}
    required = {"id", "platform", "kind", "url", "status", "findings", "licence_verdict", "evidence_files"}
    assert all(required <= set(r) for r in rows)
    assert any(r["kind"] == "live" for r in rows)
    # every crawled page keeps its evidence
    assert all(r["evidence_files"] > 0 for r in rows)


def test_crawled_items_are_not_duplicated_by_a_second_crawl(crawled):
    data_dir, rows = crawled
    assert len({r["id"] for r in rows}) == len(rows)


def test_queue_page_in_chromium_shows_a_flagged_item(crawled, settings, browser):
    data_dir, rows = crawled
    settings.data_dir = data_dir
    Users(data_dir).add("wang", role="reviewer", password="s3cret-pass")
    app = create_app(settings)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_port}"
    top = max((r for r in rows if r["findings"]), key=lambda r: r["risk"])
    try:
        context = browser.new_context()
        page = context.new_page()
        page.goto(base + "/")
        assert "/login" in page.url          # the queue needs a login
        page.fill("input[name=username]", "wang")
        page.fill("input[name=password]", "s3cret-pass")
        page.click("button[type=submit]")
        page.wait_for_selector("text=审核队列")
        body = page.inner_text("body")
        assert top["findings"][0]["text"] in body
        context.close()
    finally:
        server.shutdown()
