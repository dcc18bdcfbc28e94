"""The item pipeline: every Listing goes through shian.pipeline (nlp + matcher + store).

The analysis runs in one worker process (SHIAN_ANALYSIS_PROCESS, default on): it is
CPU-bound Python, and in the crawler's own process it held the one core that also
downloads, parses and writes evidence. The worker is the only writer of items, so
writes keep their order (a change, then a takedown). A listing is journalled as done
only once the worker has stored it, so a SIGKILL loses nothing: at worst a stored
listing is fetched again and stored "unchanged".
"""
from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import threading
from concurrent.futures import ProcessPoolExecutor

from crawler.items import TakenDown
from shian.models import Listing

log = logging.getLogger(__name__)

# -- the worker process side --------------------------------------------------------------------
_pipeline = None


def exit_with_parent(parent: int) -> None:
    """Worker initializer: end this worker when the crawler process `parent` is gone (a crawl
    killed with SIGKILL must not leave its workers behind, also not one still starting up)."""
    if os.getppid() != parent:
        os._exit(0)
    try:                              # Linux: the kernel kills us when the crawler dies
        import ctypes
        import signal
        PR_SET_PDEATHSIG = 1
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != parent:    # it died before prctl took effect
            os._exit(0)
    except (OSError, AttributeError):
        pass

    def watch():
        tick = threading.Event()
        while os.getppid() == parent:
            tick.wait(1.0)
        os._exit(0)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def _open(settings_json: dict | None = None):
    """Build the analysis pipeline and load the NLP models now, not on the first page."""
    global _pipeline
    if settings_json is not None:
        from shian.settings import configure
        configure(**settings_json)
    from shian.pipeline import Pipeline, analyze
    _pipeline = Pipeline()
    analyze(Listing(platform="warmup", item_id="warmup", title="降血糖", text="增强免疫力"), _pipeline.registry)
    return _pipeline


def _init_worker(parent: int, settings_json: dict) -> None:
    exit_with_parent(parent)
    _open(settings_json)


def _process(listing: Listing) -> str:
    return _pipeline.process(listing).outcome


def _taken_down(listing_id: str, when) -> bool:
    from shian.store import NotFound
    try:
        _pipeline.store.mark_taken_down(listing_id, when)
        return True
    except NotFound:
        return False                 # gone before we ever stored it: nothing to mark


def _close() -> None:
    global _pipeline
    if _pipeline is not None:
        _pipeline.close()
        _pipeline = None


# -- the crawler side ------------------------------------------------------------------------------
class StorePipeline:
    def __init__(self, crawler):
        self.crawler = crawler
        self.pool: ProcessPoolExecutor | None = None
        self.in_process = not crawler.settings.getbool("SHIAN_ANALYSIS_PROCESS", True)

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def open_spider(self, spider=None):
        if self.in_process:
            _open()
            return
        from shian.settings import get_settings
        # spawn: forking a process that runs a reactor, threads and a browser driver is unsafe
        self.pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"),
                                        initializer=_init_worker,
                                        initargs=(os.getpid(), get_settings().model_dump(mode="json")))
        self.pool.submit(int).result()          # the worker is up, its models loaded

    def close_spider(self, spider=None):
        if self.pool is not None:
            self.pool.submit(_close).result()
            self.pool.shutdown(wait=True)
            self.pool = None
        else:
            _close()

    async def _call(self, fn, *args):
        if self.pool is None:
            return fn(*args)
        return await asyncio.wrap_future(self.pool.submit(fn, *args))

    async def process_item(self, item, spider=None):
        spider = self.crawler.spider
        stats = self.crawler.stats
        if isinstance(item, TakenDown):
            if await self._call(_taken_down, item.listing_id, item.when):
                stats.inc_value("shian/items/taken_down")
            spider.done.add(item.key)
            return item
        if isinstance(item, Listing):
            outcome = await self._call(_process, item)
            stats.inc_value(f"shian/items/{outcome}")
            if not item.capture_complete:
                stats.inc_value("shian/items/capture_incomplete")
            spider.done.add(item.item_id)
            return item
        return item
