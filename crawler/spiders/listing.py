"""ListingSpider: list pages -> item pages, for server-rendered and browser-rendered platforms.

Everything platform-specific (where the lists are, which fields, which pages
need a browser) comes from config/platforms/<name>.yaml.
"""
from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import jmespath
import scrapy
from scrapy.downloadermiddlewares.retry import get_retry_request
from w3lib.url import add_or_replace_parameter

from crawler.browser import render_result
from crawler.items import TakenDown
from crawler.pipelines import Captured, exit_with_parent
from crawler.spiders.base import ShianSpider
from shian.models import Listing, Shop, listing_id, utcnow
from shian.settings import get_settings

log = logging.getLogger(__name__)

ITEM_PRIORITY = 10       # finish items before opening more list pages: bounded queues
IMAGE_PRIORITY = 20


def read_licence_image(data: bytes, cache_dir: Path) -> str:
    """OCR of a licence image (nlp.ocr), cached by image hash under the data dir: each distinct
    image is read once, not on every re-crawl. "" when OCR is not available."""
    cached = cache_dir / f"{hashlib.sha256(data).hexdigest()}.txt"
    if cached.exists():
        return cached.read_text(encoding="utf-8")
    try:
        from nlp.ocr import read_image_text
    except ImportError:
        log.warning("nlp.ocr is not available: licence image kept as evidence without OCR text")
        return ""
    text = read_image_text(data) or ""
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = cached.with_suffix(f".tmp{os.getpid()}")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, cached)          # never a half-written cache entry
    return text


class LicenceReader:
    """OCR of licence images in processes of their own (crawl.ocr_processes), started on the
    first cache miss; the reactor never waits on them.

    OCR is mostly small numpy/Python steps: in a thread of the busy crawler process it
    fought the reactor for the GIL and took ~4 s an image instead of ~0.5 s. One image
    is read once even when several shops (or retries) ask for it at the same time.
    """

    def __init__(self, cache_dir: Path, processes: int = 1):
        self.cache_dir = cache_dir
        self.processes = max(1, processes)
        self.pool: ProcessPoolExecutor | None = None
        self.reading: dict[str, asyncio.Future] = {}

    async def read(self, data: bytes) -> str:
        digest = hashlib.sha256(data).hexdigest()
        cached = self.cache_dir / f"{digest}.txt"
        if cached.exists():
            return cached.read_text(encoding="utf-8")
        if digest not in self.reading:
            if self.pool is None:
                self.pool = ProcessPoolExecutor(self.processes, mp_context=multiprocessing.get_context("spawn"),
                                                initializer=exit_with_parent, initargs=(os.getpid(),))
            self.reading[digest] = asyncio.wrap_future(self.pool.submit(read_licence_image, data, self.cache_dir))
        try:
            return await asyncio.shield(self.reading[digest])
        finally:
            self.reading.pop(digest, None)

    def close(self) -> None:
        if self.pool is not None:
            # wait for the image being read (under a second): its CPU then shows in the run's stats
            self.pool.shutdown(wait=True, cancel_futures=True)
            self.pool = None


def parse_price(text: str) -> float | None:
    cleaned = "".join(c for c in text if c.isdigit() or c == ".")
    try:
        return float(cleaned) if cleaned else None
    except ValueError:
        return None


class ListingSpider(ShianSpider):
    name = "listing"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.licences: dict[str, tuple[str, str, list]] = {}   # image URL -> (sha256, ocr text, refs)
        self.waiting: dict[str, list[dict]] = {}                 # image URL -> listings waiting for it
        self.ocr = LicenceReader(get_settings().data_dir / "ocr-cache", get_settings().crawl.ocr_processes)

    def closed(self, reason):
        self.ocr.close()

    async def start(self):
        for url in self.platform.start_urls:
            yield self.list_request(url)
        for item_id, url in self.known_listings():
            request = self.item_request(url, item_id)
            if request is not None:
                yield request

    # -- requests ---------------------------------------------------------------------------
    def list_request(self, url: str) -> scrapy.Request:
        if self.platform.lists.api:
            # a JSON list page: a plain download, no browser
            return scrapy.Request(url, callback=self.parse_api_list)
        meta = self.page_meta(self.platform.browser.lists, screenshot=False, scroll=True)
        return scrapy.Request(url, callback=self.parse_list, meta=meta)

    def item_request(self, url: str, item_id: str) -> scrapy.Request | None:
        if not item_id:
            return None
        if item_id in self.done:
            self.crawler.stats.inc_value("shian/skipped_done")
            return None
        meta = self.page_meta(self.platform.browser.items)
        meta.update({"shian_key": item_id,
                     "handle_httpstatus_list": sorted(set(self.platform.item.removed.status))})
        return scrapy.Request(url, callback=self.parse_item, errback=self.item_failed, meta=meta,
                              priority=ITEM_PRIORITY)

    # -- callbacks --------------------------------------------------------------------------
    def parse_list(self, response):
        lists = self.platform.lists
        if render_result(response).get("scroll_end") is False:
            # the infinite scroll stopped before its end: keep what it found, load the list again
            self.crawler.stats.inc_value("shian/list_scroll_incomplete")
            log.warning("list %s: infinite scroll stopped before the end; loading it again", response.url)
            retry = get_retry_request(response.request, spider=self, reason="scroll incomplete")
            if retry is not None:
                yield retry
        for href in self.values(response, lists.follow):
            yield self.list_request(response.urljoin(href))
        for href in self.values(response, lists.items):
            url = response.urljoin(href)
            request = self.item_request(url, self.item_id_from_url(url))
            if request is not None:
                yield request

    def parse_api_list(self, response):
        """A JSON list page (lists.api): its item links, then the next page by its cursor."""
        api = self.platform.lists.api
        try:
            data = json.loads(response.text)
        except ValueError:
            self.crawler.stats.inc_value("shian/list_bad_json")
            log.error("list %s is not JSON (HTTP %s): the items after it are not reached",
                      response.url, response.status)
            return
        for href in self.values(None, f"json:{api.items}", data):
            url = response.urljoin(href)
            request = self.item_request(url, self.item_id_from_url(url))
            if request is not None:
                yield request
        cursor = jmespath.search(api.next_cursor, data) if api.next_cursor else None
        if cursor not in (None, ""):
            yield self.list_request(add_or_replace_parameter(response.url, api.cursor_param, str(cursor)))

    def parse_item(self, response):
        key = response.meta["shian_key"]
        text = self.page_text(response)
        gone = self.removed_reason(response, text)
        if gone:
            yield TakenDown(listing_id(self.platform.name, key), response.url, utcnow(), gone, key=key)
            return
        if "dataloss" in response.flags:
            retry = get_retry_request(response.request, spider=self, reason="truncated body")
            if retry is not None:
                yield retry
                return
        cfg = self.platform.item
        api = self.api_json(response, cfg.api)
        fields = {name: self.value(response, spec, api) for name, spec in cfg.fields.items()}
        images = [response.urljoin(u) for u in self.values(response, cfg.fields.get("images", ""), api)]
        shop_cfg = cfg.shop
        shop = Shop(name=self.value(response, shop_cfg.name, api, " "),
                    operator_name=self.value(response, shop_cfg.operator_name, api, " "),
                    licence_text=self.value(response, shop_cfg.licence_text, api, " "),
                    url=response.urljoin(self.value(response, shop_cfg.url, api, "")) if shop_cfg.url else "",
                    region=self.platform.region)
        problem = self.incomplete_reason(response, fields, text)
        # the evidence files are written by the analysis worker, just before it stores the listing
        page = (self.page_capture(response), not problem, problem)
        data = {"platform": self.platform.name, "item_id": key, "url": response.url, "shop": shop,
                "title": fields.get("title", ""), "text": fields.get("text", ""),
                "price": parse_price(fields.get("price", "")), "category": fields.get("category", ""),
                "health_food_reg": fields.get("health_food_reg", ""), "images": images,
                "evidence": [], "capture_complete": not problem, "capture_problem": problem,
                "ocr": {}, "page": page}
        image = self.value(response, shop_cfg.licence_image, api, "")
        if not image:
            yield self.captured(data)
            return
        image_url = response.urljoin(image)
        if image_url in self.licences:
            yield self.with_licence(data, *self.licences[image_url])
        elif image_url in self.waiting:
            self.waiting[image_url].append(data)
        else:
            self.waiting[image_url] = [data]
            # a plain download: an image needs no browser
            yield scrapy.Request(image_url, callback=self.parse_licence_image, errback=self.licence_failed,
                                 meta={"shian_image": image_url}, priority=IMAGE_PRIORITY, dont_filter=True)

    async def parse_licence_image(self, response):
        url = response.meta["shian_image"]
        refs = self.capture(response, item_id=f"licence:{url}")
        body = next(r for r in refs if r.kind == "body")
        image_ref = body.model_copy(update={"kind": "image", "name": f"licence-{body.sha256[:12]}"})
        try:
            text = await self.ocr.read(response.body)
        except Exception as exc:  # noqa: BLE001 - not an image, OCR broken: kept as evidence, no text
            log.warning("licence image %s not readable: %s", url, exc)
            text = ""
        entry = (body.sha256, text, [image_ref, *refs])
        self.licences[url] = entry
        for data in self.waiting.pop(url, []):
            yield self.with_licence(data, *entry)

    def licence_failed(self, failure):
        url = failure.request.meta["shian_image"]
        for data in self.waiting.pop(url, []):
            data["capture_complete"] = False
            data["capture_problem"] = f"许可证图片未能下载 (licence image not captured): {failure.value!r}"[:300]
            yield self.captured(data)

    def with_licence(self, data: dict, sha256: str, text: str, refs: list) -> Captured:
        data = dict(data)
        data["shop"] = data["shop"].model_copy(update={"licence_images": [sha256]})
        data["ocr"] = {sha256: text} if text else {}
        data["evidence"] = [*data["evidence"], *refs]
        return self.captured(data)

    @staticmethod
    def captured(data: dict) -> Captured:
        """The listing of `data`, with its page capture (written by the item pipeline's worker)."""
        data = dict(data)
        capture, complete, problem = data.pop("page")
        return Captured(Listing(**data), capture, complete, problem)

    def item_failed(self, failure):
        self.crawler.stats.inc_value("shian/item_failed")
        log.error("item page failed for good: %s (%r)", failure.request.url, failure.value)
