"""The item pipeline: every Listing goes through shian.pipeline (nlp + matcher + store)."""
from __future__ import annotations

import logging

from crawler.items import TakenDown
from shian.models import Listing
from shian.store import NotFound

log = logging.getLogger(__name__)


class StorePipeline:
    def __init__(self, crawler):
        self.crawler = crawler
        self.pipeline = None

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def open_spider(self, spider=None):
        from shian.pipeline import Pipeline, analyze
        self.pipeline = Pipeline()
        # load the NLP models now, not on the first page (that would stall every download)
        analyze(Listing(platform="warmup", item_id="warmup", title="降血糖", text="增强免疫力"),
                self.pipeline.registry)

    def close_spider(self, spider=None):
        if self.pipeline is not None:
            self.pipeline.close()

    @property
    def store(self):
        return self.pipeline.store

    def process_item(self, item, spider=None):
        spider = self.crawler.spider
        stats = self.crawler.stats
        if isinstance(item, TakenDown):
            try:
                self.store.mark_taken_down(item.listing_id, item.when)
                stats.inc_value("shian/items/taken_down")
            except NotFound:
                pass                 # gone before we ever stored it: nothing to mark
            spider.done.add(item.key)
            return item
        if isinstance(item, Listing):
            result = self.pipeline.process(item)
            stats.inc_value(f"shian/items/{result.outcome}")
            if not item.capture_complete:
                stats.inc_value("shian/items/capture_incomplete")
            spider.done.add(item.item_id)
            return item
        return item
