"""The Scrapy settings of one crawl run, built from shian settings + the platform config."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from crawler.platforms import Platform
from shian.settings import Settings, get_settings

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]

PLAYWRIGHT_RETRY_EXCEPTIONS = [
    # scrapy-playwright does not retry these by default
    "playwright._impl._errors.TimeoutError",
    "playwright._impl._errors.TargetClosedError",
]


def build_settings(platform: Platform, run_dir: Path, max_items: int | None = None,
                   settings: Settings | None = None, **overrides: Any) -> dict[str, Any]:
    """Settings for one run. run_dir holds the JOBDIR, the done journal and the log."""
    cs = (settings or get_settings()).crawl
    rate = platform.rate
    from scrapy.settings.default_settings import RETRY_EXCEPTIONS

    out: dict[str, Any] = {
        "BOT_NAME": "shian",
        "SPIDER_MODULES": [],        # spiders are loaded by name (crawler.run.spider_class)
        "USER_AGENT": cs.user_agent,
        "ROBOTSTXT_OBEY": True,
        "TELNETCONSOLE_ENABLED": False,
        "REMOTE_CONTROL_ENABLED": False,
        "COOKIES_ENABLED": False,
        "CONCURRENT_REQUESTS": cs.concurrency,
        "CONCURRENT_REQUESTS_PER_DOMAIN": rate.concurrency_per_domain or cs.concurrency_per_domain,
        "DOWNLOAD_DELAY": rate.download_delay_s,
        "AUTOTHROTTLE_ENABLED": rate.autothrottle,
        "AUTOTHROTTLE_TARGET_CONCURRENCY": rate.autothrottle_target,
        "AUTOTHROTTLE_START_DELAY": rate.autothrottle_start_delay_s,
        "AUTOTHROTTLE_MAX_DELAY": rate.autothrottle_max_delay_s,
        "DOWNLOAD_TIMEOUT": cs.timeout_s,
        "RETRY_ENABLED": True,
        "RETRY_TIMES": rate.retry_times,
        "RETRY_EXCEPTIONS": [*RETRY_EXCEPTIONS, *PLAYWRIGHT_RETRY_EXCEPTIONS],
        "SHIAN_MAX_RETRY_AFTER_S": rate.max_retry_after_s,
        # a truncated body is kept (flag "dataloss") so the spider can retry it, then mark the
        # capture incomplete instead of losing the page
        "DOWNLOAD_FAIL_ON_DATALOSS": False,
        "DOWNLOAD_MAXSIZE": cs.max_page_bytes,
        "DOWNLOAD_WARNSIZE": cs.max_page_bytes // 2,
        "CLOSESPIDER_TIMEOUT": cs.closespider_timeout_s,
        "MEMUSAGE_ENABLED": True,
        "MEMUSAGE_LIMIT_MB": cs.memusage_limit_mb,
        "JOBDIR": str(run_dir / "job"),
        # in-memory dupefilter: after a SIGKILL the persisted one would hold requests never done;
        # the done journal (crawler.pipelines) is what a resumed run skips
        "DUPEFILTER_CLASS": "crawler.dupefilter.RunDupeFilter",
        "SCHEDULER_PRIORITY_QUEUE": "scrapy.pqueues.DownloaderAwarePriorityQueue",
        "DOWNLOADER_MIDDLEWARES": {
            "crawler.middlewares.RetryAfterMiddleware": 560,
        },
        "ITEM_PIPELINES": {"crawler.pipelines.StorePipeline": 300},
        "EXTENSIONS": {"crawler.extensions.RunStats": 500},
        "LOG_LEVEL": "INFO",
        "SHIAN_RUN_DIR": str(run_dir),
    }
    if max_items:
        out["CLOSESPIDER_ITEMCOUNT"] = max_items
    if platform.needs_browser:
        handler = "scrapy_playwright.handler.ScrapyPlaywrightDownloadHandler"
        out.update({
            "DOWNLOAD_HANDLERS": {"http": handler, "https": handler},
            "PLAYWRIGHT_BROWSER_TYPE": "chromium",
            "PLAYWRIGHT_LAUNCH_OPTIONS": {"executable_path": cs.chromium_path, "headless": True,
                                          "args": CHROMIUM_ARGS},
            # a cap on open pages and contexts; contexts are rotated by BrowserContextsMiddleware
            "CONCURRENT_REQUESTS": cs.browser_pages,
            "CONCURRENT_REQUESTS_PER_DOMAIN": cs.browser_pages,
            "PLAYWRIGHT_MAX_PAGES_PER_CONTEXT": cs.browser_pages,
            "PLAYWRIGHT_MAX_CONTEXTS": 2,
            "SHIAN_CONTEXT_MAX_PAGES": cs.context_max_pages,
            "PLAYWRIGHT_DEFAULT_NAVIGATION_TIMEOUT": cs.timeout_s * 1000,
            # blocking happens in Chromium (crawler.browser.cdp_session), not per request in Python
            "SHIAN_BLOCK_RESOURCES": platform.browser.block_resources,
            "SHIAN_BLOCK_HOSTS": platform.browser.block_hosts,
        })
        out["DOWNLOADER_MIDDLEWARES"]["crawler.middlewares.BrowserContextsMiddleware"] = 950
    out.update(overrides)
    return out
