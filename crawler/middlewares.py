"""Downloader middlewares: Retry-After politeness and browser-context rotation."""
from __future__ import annotations

import asyncio
import logging
from collections import Counter
from contextlib import suppress
from email.utils import parsedate_to_datetime

from scrapy.downloadermiddlewares.retry import get_retry_request

from shian.models import utcnow

log = logging.getLogger(__name__)


def retry_after_seconds(value: bytes | str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or HTTP date); None when absent or bad."""
    if not value:
        return None
    text = value.decode("latin-1") if isinstance(value, bytes) else value
    text = text.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        return max(0.0, (parsedate_to_datetime(text) - utcnow()).total_seconds())
    except (TypeError, ValueError):
        return None


class RetryAfterMiddleware:
    """429 and 503: wait what the server asks (Retry-After) or back off exponentially, slow the
    whole domain down, then retry. Runs before Scrapy's RetryMiddleware, which never sees them."""

    CODES = (429, 503)

    def __init__(self, crawler):
        self.crawler = crawler
        self.max_wait = crawler.settings.getfloat("SHIAN_MAX_RETRY_AFTER_S", 120.0)
        self.base = crawler.settings.getfloat("SHIAN_BACKOFF_BASE_S", 1.0)

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    async def process_response(self, request, response):
        if response.status not in self.CODES or request.meta.get("dont_retry"):
            return response
        attempt = request.meta.get("retry_times", 0)
        asked = retry_after_seconds(response.headers.get(b"Retry-After"))
        wait = min(self.max_wait, asked if asked is not None else self.base * 2 ** attempt)
        retry = get_retry_request(request, spider=self.crawler.spider, reason=f"{response.status} retry-after",
                                  stats_base_key="retry")
        if retry is None:
            return response
        stats = self.crawler.stats
        stats.inc_value(f"shian/retry_after/{response.status}")
        stats.inc_value("shian/retry_after/waited_s", wait)
        self._slow_domain(request, wait)
        log.info("%s answered %s; waiting %.1fs before retry %d", request.url, response.status, wait,
                 attempt + 1)
        await asyncio.sleep(wait)
        return retry

    def _slow_domain(self, request, wait: float) -> None:
        # every request to this domain waits too; AutoThrottle brings the delay back down
        downloader = self.crawler.engine.downloader
        with suppress(AttributeError, KeyError):
            slot = downloader.slots[downloader.get_slot_key(request)]
            slot.delay = max(slot.delay, min(wait, self.max_wait))


class BrowserContextsMiddleware:
    """Browser pages: named contexts closed after N pages (a long-lived context leaks memory), and
    each open page reused by the next request of its context (a fresh page costs about as much
    as the navigation itself). scrapy-playwright hands every page back in meta instead of closing
    it: here it is reused, or closed when it failed or its context is done. Retries get a fresh
    context name, so counts always close."""

    def __init__(self, crawler):
        self.crawler = crawler
        self.max_pages = max(1, crawler.settings.getint("SHIAN_CONTEXT_MAX_PAGES", 100))
        self.issued = 0
        self.finished: Counter[str] = Counter()
        self.idle: dict[str, list] = {}          # context name -> its open pages waiting for a request
        # the browser sends our identifying User-Agent itself (scrapy-playwright's per-request
        # header rewrite is switched off in crawler.browser.init_page)
        self.context_kwargs = {"user_agent": crawler.settings.get("USER_AGENT")}
        # scrapy-playwright puts a request and a response logger on every page when its logger lets
        # DEBUG through, and Scrapy's LOG_LEVEL filters at the handler, not the logger: each logged
        # response costs a driver round trip (~10 % of the crawler's CPU on spa). Match LOG_LEVEL.
        level = logging.getLevelName(str(crawler.settings.get("LOG_LEVEL", "DEBUG")).upper())
        if isinstance(level, int) and level > logging.DEBUG:
            logging.getLogger("scrapy-playwright").setLevel(level)
        from crawler.browser import configure_blocking
        configure_blocking(crawler.settings.getlist("SHIAN_BLOCK_RESOURCES"),
                           crawler.settings.getlist("SHIAN_BLOCK_HOSTS"))

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def current(self) -> str:
        return f"shian-{self.issued // self.max_pages}"

    def process_request(self, request):
        if not request.meta.get("playwright"):
            return None
        name = self.current()
        self.issued += 1
        request.meta["playwright_context"] = name
        request.meta["playwright_context_kwargs"] = self.context_kwargs
        request.meta["playwright_include_page"] = True
        idle = self.idle.get(name) or []
        while idle:
            page = idle.pop()
            if not page.is_closed():
                request.meta["playwright_page"] = page
                self.crawler.stats.inc_value("shian/browser/pages_reused")
                break
        return None

    async def process_response(self, request, response):
        await self._finished(request, reuse=True)
        return response

    async def process_exception(self, request, exception):
        await self._finished(request, reuse=False)
        return None

    async def _finished(self, request, reuse: bool) -> None:
        name = request.meta.get("playwright_context")
        if not request.meta.get("playwright") or not name:
            return
        self.crawler.stats.inc_value("shian/browser/pages")
        # never left in meta: a retried request is pickled into JOBDIR, a Page cannot be
        page = request.meta.pop("playwright_page", None)
        self.finished[name] += 1
        context_done = self.finished[name] >= self.max_pages
        if page is not None and not page.is_closed():
            if reuse and not context_done and name == self.current():
                self.idle.setdefault(name, []).append(page)
            else:
                with suppress(Exception):
                    await page.close()
        if not context_done:
            return
        del self.finished[name]
        self.idle.pop(name, None)
        handler = self.crawler.engine.downloader.handlers._get_handler("http")
        wrapper = getattr(handler, "context_wrappers", {}).get(name)
        if wrapper is not None:
            with suppress(Exception):
                await wrapper.context.close()
            self.crawler.stats.inc_value("shian/browser/contexts_closed")
