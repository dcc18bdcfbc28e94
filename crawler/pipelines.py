"""The item pipeline: every Listing goes through shian.pipeline (nlp + matcher + store).

The analysis runs in one worker process (SHIAN_ANALYSIS_PROCESS, default on): it is
CPU-bound Python, and in the crawler's own process it held the one core that also
downloads, parses and writes evidence. The worker is the only writer of items, so
writes keep their order (a change, then a takedown). A listing is journalled as done
only once the worker has stored it, so a SIGKILL loses nothing: at worst a stored
listing is fetched again and stored "unchanged".

Items travel in batches (SHIAN_BATCH_SIZE, default 64): one round trip to the worker and
one store transaction per batch (Pipeline.process_many -> store.upsert_many), and one
journal write for the keys of the batch once it has committed.

A page's evidence files travel with its listing (Captured) and the worker writes them just
before it stores the listing: hashing, WARC and file writes were ~20% of the crawler's CPU per
page, and the crawler's one core is what bounds a crawl. Evidence is still on disk before a
listing is stored, and a listing is journalled only after both.
"""
from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from itertools import groupby

from crawler.items import TakenDown
from shian.evidence.capture import Capture
from shian.models import Listing

log = logging.getLogger(__name__)

@dataclass
class Captured:
    """A listing whose page evidence is captured but not yet written to files."""
    listing: Listing
    capture: Capture
    complete: bool = True
    problem: str = ""

    def written(self) -> Listing:
        """Write the evidence files; the listing then refers to them (page files first)."""
        refs = self.capture.finish(shop=self.listing.shop.name, item_id=self.listing.item_id,
                                   complete=self.complete, problem=self.problem)
        self.listing.evidence = [*refs, *self.listing.evidence]
        return self.listing


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


def _taken_down(listing_id: str, when) -> bool:
    from shian.store import NotFound
    try:
        _pipeline.store.mark_taken_down(listing_id, when)
        return True
    except NotFound:
        return False                 # gone before we ever stored it: nothing to mark


def _store_listings(ops: list) -> list[tuple[bool, str]]:
    """Evidence files first (a listing whose evidence cannot be written is not stored), then
    the listings in one bulk write."""
    out: list = [None] * len(ops)
    listings, where = [], []
    for i, op in enumerate(ops):
        try:
            listings.append(op.written() if isinstance(op, Captured) else op)
            where.append(i)
        except Exception as exc:  # noqa: BLE001 - e.g. a full disk: this item fails, is fetched again
            out[i] = (False, _error(exc))
    for i, result in zip(where, _store_written(listings)):
        out[i] = result
    return out


def _store_written(listings: list[Listing]) -> list[tuple[bool, str]]:
    """One bulk write for the batch; on failure item by item, so one bad listing costs only itself."""
    if not listings:
        return []
    from shian.store import BulkError
    try:
        return [(True, r.outcome) for r in _pipeline.process_many(listings)]
    except BulkError as exc:
        written = {r.item.id: r.outcome for r in exc.results}
        log.warning("bulk write: %s; writing the rest one by one", exc)
    except Exception as exc:  # noqa: BLE001 - SQLite rolled the batch back: redo it item by item
        written = {}
        log.warning("bulk write of %d listings failed (%r); writing them one by one", len(listings), exc)
    out = []
    for listing in listings:
        if listing.id in written:
            out.append((True, written[listing.id]))
            continue
        try:
            out.append((True, _pipeline.process(listing).outcome))
        except Exception as exc:  # noqa: BLE001 - reported to the crawler as this item's error
            out.append((False, _error(exc)))
    return out


def _run_batch(ops: list) -> list[tuple[bool, str]]:
    """Store a batch in order: consecutive listings in one bulk write, takedowns one by one.
    Returns (ok, outcome or error) per op; an op is only ok once its write has committed."""
    out: list[tuple[bool, str]] = []
    for takedowns, group in groupby(ops, key=lambda op: isinstance(op, TakenDown)):
        if not takedowns:
            out += _store_listings(list(group))
            continue
        for op in group:
            try:
                out.append((True, "taken_down" if _taken_down(op.listing_id, op.when) else "not_stored"))
            except Exception as exc:  # noqa: BLE001 - reported to the crawler as this item's error
                out.append((False, _error(exc)))
    return out


def _error(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}"[:500]


def _cpu_seconds() -> float:
    return time.process_time()


def _close() -> None:
    global _pipeline
    if _pipeline is not None:
        _pipeline.close()
        _pipeline = None


# -- the crawler side ------------------------------------------------------------------------------
class ItemNotStored(Exception):
    """The analysis worker could not store an item (it is not journalled: a resumed run fetches it again)."""


class StorePipeline:
    """Items are sent to the worker in batches: one IPC round trip and one store transaction per
    batch instead of per item. Batches are adaptive: an idle worker gets what is waiting at once
    (a slow crawl has no added latency); a busy one gets the items that piled up meanwhile."""

    def __init__(self, crawler):
        self.crawler = crawler
        self.pool: ProcessPoolExecutor | None = None
        self.in_process = not crawler.settings.getbool("SHIAN_ANALYSIS_PROCESS", True)
        self.batch_size = crawler.settings.getint("SHIAN_BATCH_SIZE", 64)
        self.in_flight_max = 2         # one being stored, one queued: the worker never waits for us
        self.waiting: list[tuple[object, asyncio.Future]] = []
        self.in_flight = 0
        self.worker_cpu_at_open = 0.0

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
        # the worker is up, its models loaded; its CPU from here on is what the pages cost
        self.worker_cpu_at_open = self.pool.submit(_cpu_seconds).result()

    def close_spider(self, spider=None):
        # Scrapy closes pipelines only once every item is processed, so no batch is pending here
        if self.pool is not None:
            cpu = self.pool.submit(_cpu_seconds).result() - self.worker_cpu_at_open
            self.crawler.stats.set_value("shian/analysis_cpu_s", round(cpu, 2))
            self.pool.submit(_close).result()
            self.pool.shutdown(wait=True)
            self.pool = None
        else:
            _close()

    async def process_item(self, item, spider=None):
        if not isinstance(item, (Listing, TakenDown, Captured)):
            return item
        done = asyncio.get_running_loop().create_future()
        self.waiting.append((item, done))
        self._send()
        ok, outcome = await done
        if isinstance(item, Captured):
            item = item.listing
        if not ok:
            raise ItemNotStored(f"{getattr(item, 'id', None) or item.listing_id}: {outcome}")
        stats = self.crawler.stats
        if outcome != "not_stored":
            stats.inc_value(f"shian/items/{outcome}")
        if isinstance(item, Listing) and not item.capture_complete:
            stats.inc_value("shian/items/capture_incomplete")
        return item

    def _send(self) -> None:
        while self.waiting and self.in_flight < self.in_flight_max:
            batch, self.waiting = self.waiting[:self.batch_size], self.waiting[self.batch_size:]
            ops = [item for item, _ in batch]
            self.crawler.stats.inc_value("shian/store_batches")
            self.crawler.stats.max_value("shian/store_batch_max", len(ops))
            if self.pool is None:
                try:
                    self._stored(batch, _run_batch(ops), None)
                except Exception as exc:  # noqa: BLE001
                    self._stored(batch, None, exc)
                continue
            try:
                future = asyncio.wrap_future(self.pool.submit(_run_batch, ops))
            except Exception as exc:  # noqa: BLE001 - a broken pool: these items fail, none hangs
                self._stored(batch, None, exc)
                continue
            self.in_flight += 1
            future.add_done_callback(lambda f, batch=batch: self._finished(batch, f))

    def _finished(self, batch, future: asyncio.Future) -> None:
        self.in_flight -= 1
        exc = asyncio.CancelledError() if future.cancelled() else future.exception()
        self._stored(batch, None if exc else future.result(), exc)
        self._send()

    def _stored(self, batch, results, exc) -> None:
        """Journal what the worker committed (one write for the batch), then release the items."""
        if exc is not None:                     # the worker died or could not be reached
            results = [(False, f"analysis worker failed: {exc!r}")] * len(batch)
        try:
            self.crawler.spider.done.add_many([_key(item) for (item, _), (ok, _) in zip(batch, results) if ok])
        except OSError as exc:                  # stored but not journalled: a resume fetches them again
            log.error("cannot write the done journal: %s", exc)
        for (_, done), result in zip(batch, results):
            if not done.done():
                done.set_result(result)


def _key(item) -> str:
    if isinstance(item, Captured):
        return item.listing.item_id
    return item.key if isinstance(item, TakenDown) else item.item_id
