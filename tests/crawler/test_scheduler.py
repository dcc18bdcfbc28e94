"""`shian scheduler`: due jobs run once in their own process, stats stored, no overlapping runs."""
from __future__ import annotations

import json
import select
import signal
import subprocess
import sys
import time

import yaml
from click.testing import CliRunner

from crawler.scheduler import PlatformLock
from demo.seed import generate
from demo.sites import start_site
from shian.cli import main
from shian.store import open_store


def write_schedule(path, **jobs):
    path.write_text(yaml.safe_dump({"jitter_s": 0, "max_parallel": 2, "jobs": jobs}), encoding="utf-8")
    return path


def scheduler_once(settings, config):
    return CliRunner().invoke(main, ["--data-dir", str(settings.data_dir), "scheduler", "--once",
                                     "--config", str(config)])


def meta(prefix):
    store = open_store()
    try:
        return dict(store.list_meta(prefix))
    finally:
        store.close()


def test_once_runs_due_jobs_records_stats_and_then_waits_for_the_next_cron_time(settings, tmp_path):
    ds = generate(200, 5)
    with start_site("shop", ds) as site:
        # yearly: due now because it never ran, not due again right after
        config = write_schedule(tmp_path / "schedules.yaml",
                                shop={"cron": "0 0 1 1 *", "base_url": site.url, "max_items": 5})
        first = scheduler_once(settings, config)
        assert first.exit_code == 0, first.output
        result = json.loads(first.stdout.strip().splitlines()[-1])
        assert result["outcome"] == "finished" and result["platform"] == "shop"
        runs = meta("crawl_run:")
        run = runs[f"crawl_run:{result['run_id']}"]
        assert run["items"] >= 5 and run["pages"] > 0 and run["trigger"] == "once"
        assert run["backend"] == "local" and run["finish_reason"] in ("finished", "closespider_itemcount")
        assert meta("schedule:")["schedule:shop"]["last_outcome"] == "finished"
        served = len(site.requests)

        second = scheduler_once(settings, config)
        assert second.exit_code == 0 and "nothing due" in second.stderr
        assert len(meta("crawl_run:")) == 1 and len(site.requests) == served


def test_a_running_crawl_of_the_same_platform_is_not_overlapped(settings, tmp_path):
    ds = generate(200, 5)
    with start_site("shop", ds) as site:
        config = write_schedule(tmp_path / "schedules.yaml",
                                shop={"cron": "*/5 * * * *", "base_url": site.url, "max_items": 5})
        with PlatformLock(settings.data_dir, "shop"):          # e.g. a slow crawl still running
            result = scheduler_once(settings, config)
        assert result.exit_code == 0, result.output
        answer = json.loads(result.stdout.strip().splitlines()[-1])
        assert answer["outcome"] == "skipped" and "already running" in answer["reason"]
        assert site.requests == [] and meta("crawl_run:") == {}


def test_a_bad_schedule_is_refused_with_its_place(settings, tmp_path):
    config = write_schedule(tmp_path / "schedules.yaml", shop={"cron": "61 * * * *"})
    result = scheduler_once(settings, config)
    assert result.exit_code == 1 and "jobs.shop" in result.output and "bad cron" in result.output
    config = write_schedule(tmp_path / "schedules.yaml", nosuchplatform={"cron": "0 * * * *"})
    result = scheduler_once(settings, config)
    assert result.exit_code == 1 and "no platform config" in result.output


def test_the_scheduler_runs_until_sigterm(settings, tmp_path):
    config = write_schedule(tmp_path / "schedules.yaml", shop={"cron": "0 3 * * *", "base_url": "http://127.0.0.1:9"})
    proc = subprocess.Popen([sys.executable, "-m", "shian", "--data-dir", str(settings.data_dir), "scheduler",
                             "--config", str(config)], stderr=subprocess.PIPE, bufsize=0)
    # unbuffered: a buffered readline could take several lines at once and leave select() waiting
    try:
        seen = ""
        deadline = time.monotonic() + 60
        while "next run" not in seen and time.monotonic() < deadline and proc.poll() is None:
            ready, _, _ = select.select([proc.stderr], [], [], 1.0)
            if ready:
                seen += proc.stderr.readline().decode()
        assert "scheduled crawl shop: next run" in seen and "03:00:00+08:00" in seen
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
