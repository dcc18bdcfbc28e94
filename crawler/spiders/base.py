"""ShianSpider: what every platform spider shares — config, evidence capture, takedown checks."""
from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import jmespath
import scrapy
from parsel import Selector

from crawler.browser import browser_meta, render_result
from crawler.journal import DoneJournal
from crawler.platforms import load_platform
from shian.evidence.capture import Capture
from shian.evidence.files import EvidenceFiles
from shian.models import EvidenceRef
from shian.settings import get_settings

log = logging.getLogger(__name__)


def header_pairs(headers) -> list[tuple[str, str]]:
    """Scrapy Headers -> [(name, value)], one pair per value."""
    out = []
    for name, values in headers.items():
        key = name.decode("latin-1") if isinstance(name, bytes) else str(name)
        for value in values:
            out.append((key, value.decode("latin-1") if isinstance(value, bytes) else str(value)))
    return out


class ShianSpider(scrapy.Spider):
    """Base class; subclasses set `name` and implement `start()` and callbacks."""

    name = "shian-base"

    def __init__(self, platform: str, run_id: str = "", base_url: str | None = None, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.platform = load_platform(platform, base_url)
        self.allowed_domains = self.platform.domains()
        self.run_id = run_id
        self.files = EvidenceFiles(get_settings().evidence_dir)
        self.done: DoneJournal | None = None
        self._id_re = re.compile(self.platform.item.id_from_url)

    @classmethod
    def from_crawler(cls, crawler, *args, **kwargs):
        spider = super().from_crawler(crawler, *args, **kwargs)
        run_dir = Path(crawler.settings.get("SHIAN_RUN_DIR") or get_settings().data_dir / "crawl" / "adhoc")
        spider.run_dir = run_dir
        spider.done = DoneJournal(run_dir / "done.txt")
        crawler.signals.connect(spider._close_journal, signal=scrapy.signals.spider_closed)
        return spider

    def _close_journal(self, spider):
        self.done.close()

    # -- requests ---------------------------------------------------------------------------
    def item_id_from_url(self, url: str) -> str:
        m = self._id_re.search(url)
        return (m.group("id") if "id" in self._id_re.groupindex else m.group(1)) if m else ""

    def page_meta(self, browser: bool, screenshot: bool = True, scroll: bool = False) -> dict:
        b = self.platform.browser
        if not browser:
            return {}
        return browser_meta(wait_for=b.wait_for, scroll_until=b.scroll_until if scroll else "",
                            max_scrolls=b.max_scrolls, screenshot=screenshot and b.screenshot,
                            timeout_ms=get_settings().crawl.timeout_s * 1000)

    def known_listings(self):
        """(item_id, url) of this platform's stored, not taken-down listings: a re-crawl revisits
        them, so a listing that left every list page is still seen gone."""
        from shian.commands import iter_items
        from shian.store import Query, open_store
        store = open_store()
        try:
            # paged brief reads, not one get() per listing: a platform may have 100k stored listings
            query = Query(filters={"platform": [self.platform.name]}, flagged_only=False, sort="time",
                          size=500, exact_total=False, brief=True)
            return [(item.listing.item_id, item.listing.url) for item in iter_items(store, query)
                    if item.taken_down_at is None and item.listing.url]
        finally:
            store.close()

    # -- reading pages ------------------------------------------------------------------------
    def values(self, sel: Selector, spec, json_data=None) -> list[str]:
        """All values a selector spec finds: CSS, "xpath:...", or "json:..." (JMESPath)."""
        specs = [spec] if isinstance(spec, str) else list(spec or [])
        for one in specs:
            if not one:
                continue
            if one.startswith("json:"):
                found = jmespath.search(one[5:], json_data) if json_data is not None else None
                found = found if isinstance(found, list) else ([] if found is None else [found])
                vals = [str(v).strip() for v in found if v not in (None, "")]
            elif one.startswith("xpath:"):
                vals = [v.strip() for v in sel.xpath(one[6:]).getall()]
            else:
                vals = [v.strip() for v in sel.css(one).getall()]
            vals = [v for v in vals if v]
            if vals:
                return vals
        return []

    def value(self, sel: Selector, spec, json_data=None, joiner: str = "\n") -> str:
        return joiner.join(self.values(sel, spec, json_data))

    @staticmethod
    def page_text(response) -> str:
        """The text of the page body (one lxml call; pass it on instead of computing it again)."""
        if not hasattr(response, "xpath"):
            return ""
        return response.xpath("string(/html/body)").get() or ""

    def removed_reason(self, response, text: str | None = None) -> str:
        """Why this item page says the listing is gone ("" when it is not)."""
        rules = self.platform.item.removed
        if response.status in rules.status:
            return f"HTTP {response.status}"
        if not hasattr(response, "css"):
            return ""
        for css in rules.selectors:
            if response.css(css):
                return f"页面标记 {css}"
        text = self.page_text(response) if text is None else text
        for marker in rules.text:
            if marker in text:
                return marker
        return ""

    def incomplete_reason(self, response, fields: dict, text: str | None = None) -> str:
        """Why a capture is not whole: truncated body, login wall, blank page ("" when whole)."""
        if "dataloss" in response.flags:
            return "响应被截断 (truncated body)"
        text = self.page_text(response) if text is None else text
        for marker in self.platform.item.incomplete.login_wall:
            if marker in text:
                return f"登录墙 (login wall): {marker}"
        if not text.strip():
            return "空白页 (blank page)"
        missing = [f for f in self.platform.item.incomplete.required if not fields.get(f)]
        if missing:
            return "页面缺少字段 (missing): " + ", ".join(missing)
        return ""

    def api_json(self, response, url_part: str):
        """The JSON a browser page fetched from a URL containing url_part (None if none)."""
        if not url_part:
            return None
        for ex in response.meta.get("shian_exchanges") or ():
            if url_part in ex["url"] and ex["body"]:
                try:
                    return json.loads(ex["body"])
                except ValueError:
                    continue
        return None

    # -- evidence ---------------------------------------------------------------------------
    def new_capture(self, url: str) -> Capture:
        return Capture(self.files, url=url, platform=self.platform.name,
                       user_agent=self.settings.get("USER_AGENT", ""),
                       config_hash=self.platform.config_hash)

    def capture(self, response, item_id: str = "", shop: str = "", complete: bool = True,
                problem: str = "", extra: list[EvidenceRef] = ()) -> list[EvidenceRef]:
        """Evidence files of this response (plain HTTP or browser page) -> refs."""
        return self.page_capture(response, extra).finish(shop=shop, item_id=item_id, complete=complete,
                                                         problem=problem)

    def page_capture(self, response, extra: list[EvidenceRef] = ()) -> Capture:
        """The evidence of this response, ended but not yet written (Capture.finish writes it)."""
        cap = self.new_capture(response.url)
        rendered = render_result(response)
        if "playwright" in response.flags:
            for step in response.meta.get("shian_steps") or ():
                cap.steps.append(step)
            cap.steps.extend(rendered.get("steps", []))
            exchanges = response.meta.get("shian_exchanges") or []
            page = [e for e in exchanges if e["url"].rstrip("/") == response.url.rstrip("/")] or exchanges[:1]
            for ex in page + [e for e in exchanges if e not in page]:
                cap.add_exchange(ex["method"], ex["url"], ex["request_headers"], ex["status"],
                                 ex["response_headers"], ex["body"], ip=ex["ip"], at=ex["at"])
            cap.user_agent = rendered.get("user_agent") or cap.user_agent
            cap.add_rendered(html=response.text, screenshot=rendered.get("screenshot"),
                             browser_version=rendered.get("browser_version", ""))
        else:
            latency = response.meta.get("download_latency")
            cap.step("navigate", f"GET {response.url}")
            cap.step("received", f"HTTP {response.status}, {len(response.body)} bytes"
                     + (f", {latency:.3f}s" if latency else ""))
            cert = ""
            if getattr(response, "certificate", None) is not None:
                try:
                    cert = response.certificate.dumpPEM().decode("ascii")
                except Exception:  # noqa: BLE001 - a certificate we cannot dump is recorded as absent
                    cert = ""
            req = response.request
            cap.add_exchange(req.method, req.url, dict(header_pairs(req.headers)), response.status,
                             header_pairs(response.headers), response.body,
                             ip=str(response.ip_address or ""), certificate_pem=cert,
                             protocol=response.protocol or "HTTP/1.1")
        for ref in extra:
            cap.extra.append(ref)
        return cap.end()
