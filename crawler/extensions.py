"""RunStats: each run's pages, items, errors, duration and finish reason, kept in the store."""
from __future__ import annotations

import json
import resource
from pathlib import Path

from scrapy import signals

from shian.models import utcnow


def run_meta_key(run_id: str) -> str:
    return f"crawl_run:{run_id}"


def cpu_seconds() -> dict[str, float]:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return {"crawler": round(own.ru_utime + own.ru_stime, 2),
            "workers": round(children.ru_utime + children.ru_stime, 2)}


class RunStats:
    def __init__(self, crawler):
        self.crawler = crawler
        self.started = utcnow()
        self.cpu_at_open = 0.0
        crawler.signals.connect(self.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def spider_opened(self, spider):
        self.started = utcnow()
        self.cpu_at_open = cpu_seconds()["crawler"]

    def spider_closed(self, spider, reason):
        s = self.crawler.stats.get_stats()
        ended = utcnow()
        stats = {
            "run_id": spider.run_id, "platform": spider.platform.name, "base_url": spider.platform.base_url,
            "started_at": self.started.isoformat(), "ended_at": ended.isoformat(),
            "duration_s": round((ended - self.started).total_seconds(), 3),
            "finish_reason": reason,
            "pages": s.get("response_received_count", 0),
            "requests": s.get("downloader/request_count", 0),
            "items": s.get("item_scraped_count", 0),
            "created": s.get("shian/items/created", 0),
            "changed": s.get("shian/items/changed", 0),
            "unchanged": s.get("shian/items/unchanged", 0),
            "taken_down": s.get("shian/items/taken_down", 0),
            "capture_incomplete": s.get("shian/items/capture_incomplete", 0),
            "skipped_done": s.get("shian/skipped_done", 0),
            "store_batches": s.get("shian/store_batches", 0),
            "store_batch_max": s.get("shian/store_batch_max", 0),
            "errors": s.get("log_count/ERROR", 0) + s.get("spider_exceptions/count", 0)
            + s.get("item_dropped_count", 0),
            "retries": s.get("retry/count", 0),
            "retry_after_waited_s": s.get("shian/retry_after/waited_s", 0),
            "robots_forbidden": s.get("robotstxt/forbidden", 0),
            "http_status": {k.rsplit("/", 1)[1]: v for k, v in s.items()
                            if k.startswith("downloader/response_status_count/")},
            # pages are reused within a context, so count rendered downloads, not pages created
            "browser_pages": s.get("shian/browser/pages", s.get("playwright/page_count", 0)),
            "browser_pages_created": s.get("playwright/page_count", 0),
            "browser_contexts": s.get("playwright/context_count", 0),
            "memusage_max_mb": round(s.get("memusage/max", 0) / 2**20, 1),
            "resumed": spider.done.resumed,
            # CPU seconds of this process and of its finished workers (analysis, OCR): unlike
            # pages/s they do not depend on what else the machine is running
            # (the analysis worker's own figure after its start-up: "analysis_since_open")
            "cpu_s": {**cpu_seconds(), "crawler_since_open": round(cpu_seconds()["crawler"] - self.cpu_at_open, 2),
                      "analysis_since_open": s.get("shian/analysis_cpu_s")},
        }
        run_dir = Path(self.crawler.settings["SHIAN_RUN_DIR"])
        (run_dir / "stats.json").write_text(json.dumps(stats, ensure_ascii=False, indent=1), encoding="utf-8")
        # the item pipeline has closed its store by now (pipelines close before spider_closed)
        from shian.store import open_store
        store = open_store()
        try:
            store.put_meta(run_meta_key(spider.run_id), stats)
        finally:
            store.close()
