"""The platform spiders as Scrapyd runs them: `scrapy crawl <spider> -a platform=... -a run_id=...`.

A local run builds its settings in crawler.run before the crawl starts; a
Scrapyd job only has its spider arguments, so each spider here builds the
same settings (crawler.settings.build_settings) in from_crawler, before
Scrapy freezes them. Scrapyd's own command-line settings (LOG_FILE) stay.
"""
from __future__ import annotations

from crawler.platforms import load_platform
from crawler.run import run_dir_of
from crawler.settings import build_settings
from crawler.spiders.listing import ListingSpider
from crawler.spiders.live import LiveSpider
from shian.settings import get_settings


class JobMixin:
    @classmethod
    def from_crawler(cls, crawler, *args, **kwargs):
        platform = load_platform(kwargs["platform"], kwargs.get("base_url") or None)
        run_id = kwargs.get("run_id") or kwargs.get("_job")
        run_dir = run_dir_of(get_settings().data_dir, platform.name, run_id)
        run_dir.mkdir(parents=True, exist_ok=True)
        max_items = int(kwargs["max_items"]) if kwargs.get("max_items") else None
        crawler.settings.setdict(build_settings(platform, run_dir, max_items=max_items), priority="spider")
        kwargs.update(run_id=run_id, base_url=platform.base_url or None)
        kwargs.pop("max_items", None)
        return super().from_crawler(crawler, *args, **kwargs)


class ListingJob(JobMixin, ListingSpider):
    name = ListingSpider.name


class LiveJob(JobMixin, LiveSpider):
    name = LiveSpider.name
