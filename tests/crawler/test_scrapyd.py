"""Crawls on a real Scrapyd on 127.0.0.1: the egg is deployed, the job scheduled, polled, its stats stored."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml
from crawler.scheduler import load_schedules, run_once
from crawler.scrapyd import PROJECT, Scrapyd, ScrapydError, build_egg
from demo.seed import generate
from demo.sites import start_site
from shian.store import open_store


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def scrapyd(tmp_path, settings):
    """A Scrapyd daemon whose jobs write into this test's data dir."""
    home = tmp_path / "scrapyd"
    home.mkdir()
    port = free_port()
    (home / "scrapyd.conf").write_text(
        "[scrapyd]\nbind_address = 127.0.0.1\n"
        f"http_port = {port}\neggs_dir = {home / 'eggs'}\nlogs_dir = {home / 'logs'}\n"
        f"dbs_dir = {home / 'dbs'}\npoll_interval = 0.2\nmax_proc = 2\n", encoding="utf-8")
    env = {**os.environ, "SHIAN_DATA_DIR": str(settings.data_dir), "SHIAN_STORE": "sqlite"}
    scrapyd_bin = Path(sys.executable).with_name("scrapyd")
    log = (home / "scrapyd.log").open("wb")
    proc = subprocess.Popen([str(scrapyd_bin)], cwd=home, env=env, stdout=log, stderr=subprocess.STDOUT)
    client = Scrapyd(f"http://127.0.0.1:{port}", timeout_s=10)
    pause = threading.Event()
    deadline = time.monotonic() + 60
    try:
        while True:
            try:
                client.daemon_status()
                break
            except ScrapydError:
                assert proc.poll() is None and time.monotonic() < deadline, (home / "scrapyd.log").read_text()
                pause.wait(0.2)
        yield client
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def test_the_egg_is_reproducible_and_names_the_scrapy_settings():
    egg, version = build_egg()
    again, same = build_egg()
    assert egg == again and version == same
    import io
    import zipfile
    names = zipfile.ZipFile(io.BytesIO(egg)).namelist()
    assert "crawler/spiders/live.py" in names and "crawler/scrapyd_spiders.py" in names
    entry = zipfile.ZipFile(io.BytesIO(egg)).read("EGG-INFO/entry_points.txt").decode()
    assert "settings = crawler.scrapyd_settings" in entry


def test_scheduled_crawl_runs_as_a_scrapyd_job(scrapyd, settings, tmp_path):
    settings.crawl.scrapyd_url = f"http://127.0.0.1:1,{scrapyd.url}"     # an unreachable one is passed over
    ds = generate(200, 5)
    with start_site("shop", ds) as site:
        config = tmp_path / "schedules.yaml"
        config.write_text(yaml.safe_dump({"jobs": {"shop": {"cron": "0 0 1 1 *", "base_url": site.url,
                                                            "max_items": 5}}}), encoding="utf-8")
        [answer] = run_once(load_schedules(config, settings), settings)
        # the crawl really went through Scrapyd: its site saw requests, Scrapyd knows the job
        assert site.hits("/item/") >= 5
    assert answer["backend"] == "scrapyd" and answer["scrapyd_state"] == "finished"
    assert answer["scrapyd_url"] == scrapyd.url
    job = scrapyd.job(answer["run_id"])
    assert job["state"] == "finished" and job["spider"] == "listing"
    assert answer["egg_version"] in scrapyd.versions(PROJECT)
    assert {"listing", "live"} <= set(scrapyd.spiders(PROJECT))
    store = open_store()
    try:
        run = store.get_meta(f"crawl_run:{answer['run_id']}")
        assert run["items"] >= 5 and run["outcome"] == "finished" and run["backend"] == "scrapyd"
        assert sum(1 for _ in store.ids("shop")) >= 5
    finally:
        store.close()
