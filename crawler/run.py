"""Run one crawl in its own process (the Twisted reactor cannot be restarted in a process).

Parent side: run_crawl() / start_crawl(). Child side: `python -m crawler.run ...`.
"""
from __future__ import annotations

import argparse
import json
import secrets
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from shian.models import utcnow
from shian.settings import configure, get_settings


def new_run_id(platform: str) -> str:
    return f"{platform}-{utcnow():%Y%m%dT%H%M%S}-{secrets.token_hex(3)}"


def run_dir_of(data_dir: Path, platform: str, run_id: str) -> Path:
    return Path(data_dir) / "crawl" / platform / run_id


@dataclass
class CrawlProcess:
    """A crawl running in a child process."""
    popen: subprocess.Popen
    run_id: str
    run_dir: Path
    platform: str

    def wait(self, timeout: float | None = None) -> dict:
        try:
            self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait()
        return self.stats()

    def stats(self) -> dict:
        path = self.run_dir / "stats.json"
        stats = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {
            "run_id": self.run_id, "platform": self.platform, "finish_reason": "no stats (process died)"}
        stats["returncode"] = self.popen.returncode
        stats["run_dir"] = str(self.run_dir)
        if self.popen.returncode:
            log = self.run_dir / "crawl.log"
            stats["log_tail"] = log.read_text(encoding="utf-8", errors="replace")[-3000:] if log.exists() else ""
        return stats


def start_crawl(platform: str, base_url: str | None = None, run_id: str | None = None,
                data_dir: Path | str | None = None, max_items: int | None = None,
                **scrapy_settings) -> CrawlProcess:
    """Start a crawl in a child process and return at once. Same run_id = resume that run."""
    from crawler.platforms import load_platform
    load_platform(platform, base_url)          # fail here, clearly, on a bad platform or missing URL
    settings = get_settings()
    data_dir = Path(data_dir or settings.data_dir)
    run_id = run_id or new_run_id(platform)
    run_dir = run_dir_of(data_dir, platform, run_id)
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "stats.json").unlink(missing_ok=True)
    child_settings = settings.model_dump(mode="json")
    child_settings["data_dir"] = str(data_dir)
    cmd = [sys.executable, "-m", "crawler.run", "--platform", platform, "--run-id", run_id,
           "--settings-json", json.dumps(child_settings)]
    if base_url:
        cmd += ["--base-url", base_url]
    if max_items:
        cmd += ["--max-items", str(max_items)]
    for key, value in scrapy_settings.items():
        cmd += ["--set", f"{key}={json.dumps(value)}"]
    err = (run_dir / "stderr.log").open("ab")
    popen = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err, cwd=str(Path.cwd()))
    err.close()
    return CrawlProcess(popen, run_id, run_dir, platform)


def run_crawl(platform: str, base_url: str | None = None, run_id: str | None = None,
              data_dir: Path | str | None = None, max_items: int | None = None,
              timeout: float | None = None, **scrapy_settings) -> dict:
    """Crawl a platform in a child process; returns the run's stats when it is done."""
    return start_crawl(platform, base_url=base_url, run_id=run_id, data_dir=data_dir, max_items=max_items,
                       **scrapy_settings).wait(timeout)


def spider_class(name: str):
    """The spider class `name` from module crawler.spiders.<name> (one family per module)."""
    import importlib
    import inspect

    import scrapy

    module = importlib.import_module(f"crawler.spiders.{name}")
    for _, obj in inspect.getmembers(module, inspect.isclass):
        if issubclass(obj, scrapy.Spider) and getattr(obj, "name", None) == name:
            return obj
    raise LookupError(f"no spider named {name!r} in crawler.spiders.{name}")


# -- child side ---------------------------------------------------------------------------------
def _clean_stale_queue(job_dir: Path) -> None:
    """After a SIGKILL the disk queue has no state file and cannot be trusted: drop it.
    Nothing is lost: list pages are fetched again and the done journal skips stored items."""
    queue = job_dir / "requests.queue"
    if queue.exists() and not (queue / "active.json").exists():
        shutil.rmtree(queue)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m crawler.run")
    parser.add_argument("--platform", required=True)
    parser.add_argument("--run-id", required=True)
    parser.add_argument("--base-url")
    parser.add_argument("--max-items", type=int)
    parser.add_argument("--settings-json", default="{}")
    parser.add_argument("--set", action="append", default=[], help="SCRAPY_SETTING=<json>")
    args = parser.parse_args(argv)

    settings = configure(**json.loads(args.settings_json))
    from scrapy.crawler import CrawlerProcess

    from crawler.platforms import load_platform
    from crawler.settings import build_settings

    platform = load_platform(args.platform, args.base_url)
    run_dir = run_dir_of(settings.data_dir, platform.name, args.run_id)
    run_dir.mkdir(parents=True, exist_ok=True)
    _clean_stale_queue(run_dir / "job")
    overrides = {}
    for item in args.set:
        key, _, value = item.partition("=")
        overrides[key] = json.loads(value)
    scrapy_settings = build_settings(platform, run_dir, max_items=args.max_items, settings=settings, **overrides)
    scrapy_settings.setdefault("LOG_FILE", str(run_dir / "crawl.log"))
    process = CrawlerProcess(scrapy_settings)
    process.crawl(spider_class(platform.spider), platform=platform.name, run_id=args.run_id, base_url=platform.base_url)
    process.start()
    stats_path = run_dir / "stats.json"
    if not stats_path.exists():
        return 3
    stats = json.loads(stats_path.read_text(encoding="utf-8"))
    if stats["requests"] == 0:
        return 2                     # a crawl that made no request is a failure, not a success
    return 0 if stats["finish_reason"] in ("finished", "closespider_itemcount") else 1


if __name__ == "__main__":
    sys.exit(main())
