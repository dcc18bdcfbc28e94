"""Browser pages through scrapy-playwright, with evidence in mind.

A browser request never carries a Page object in meta into the scheduler (JOBDIR
pickles requests): the page is rendered, scrolled and photographed inside the
download by one PageMethod; crawler.middlewares.BrowserContextsMiddleware
lends an open page to a request and takes it back (reuse, or close on error and
when its context is done) before any other middleware sees the response.

Each page has one CDP session (Chromium's own protocol, detached with the page): it
blocks what evidence does not need inside Chromium and takes the full-page PNG.
"""
from __future__ import annotations

import asyncio
import base64
import logging
import math
from contextlib import suppress
from urllib.parse import urlsplit
from weakref import WeakKeyDictionary

from scrapy_playwright.page import PageMethod

from shian.models import utcnow

log = logging.getLogger(__name__)

BLOCK_RESOURCES: set[str] = {"font", "media"}
BLOCK_HOSTS: tuple[str, ...] = ()
# what a replay of the page needs (the WARC); images are in the screenshot
RECORDED_TYPES = ("document", "script", "stylesheet", "xhr", "fetch")
# Playwright's resource type names -> the CDP names (the rest only differ in the first letter)
CDP_TYPES = {"xhr": "XHR", "texttrack": "TextTrack", "eventsource": "EventSource", "websocket": "WebSocket",
             "cspviolationreport": "CSPViolationReport", "signedexchange": "SignedExchange", "fedcm": "FedCM"}

SCROLL_JS = """
async ({end, maxScrolls, stepMs, idleMs, nudges}) => {
  const sleep = (ms) => new Promise(r => setTimeout(r, ms));
  let scrolls = 0, idle = 0;
  while (scrolls < maxScrolls) {
    if (end && document.querySelector(end)) return {scrolls, end: true};
    const height = document.body.scrollHeight;
    if (idle) window.scrollTo(0, Math.max(0, height - 2 * window.innerHeight));  // nudge: leave the bottom
    window.scrollTo(0, height);
    scrolls++;
    let waited = 0;
    while (document.body.scrollHeight === height && waited < idleMs) {
      if (end && document.querySelector(end)) return {scrolls, end: true};
      await sleep(stepMs); waited += stepMs;
    }
    // a slow answer or a missed intersection: nudge and wait again before giving up
    idle = document.body.scrollHeight === height ? idle + 1 : 0;
    if (idle > nudges) return {scrolls, end: false};
  }
  return {scrolls, end: false};
}
"""


def configure_blocking(resources, hosts) -> None:
    global BLOCK_RESOURCES, BLOCK_HOSTS
    BLOCK_RESOURCES = {r.lower() for r in resources or ()}
    BLOCK_HOSTS = tuple(h.lower().lstrip(".") for h in hosts or ())


def blocked(url: str, resource_type: str) -> bool:
    """Sub-resources evidence does not need: fonts, media, trackers (suffix match on the host)."""
    if resource_type.lower() in BLOCK_RESOURCES:
        return True
    host = (urlsplit(url).hostname or "").lower()
    return any(host == h or host.endswith("." + h) for h in BLOCK_HOSTS)


def fetch_patterns() -> list[dict]:
    """CDP Fetch patterns that pause only the requests blocked() may refuse (a superset: the
    host patterns match anywhere in the URL, blocked() decides)."""
    patterns = [{"urlPattern": "*", "resourceType": CDP_TYPES.get(t, t.capitalize())}
                for t in sorted(BLOCK_RESOURCES)]
    patterns += [{"urlPattern": f"*{h}*"} for h in BLOCK_HOSTS]
    return patterns


_SESSIONS: WeakKeyDictionary = WeakKeyDictionary()      # page -> its CDP session
_ANSWERS: set = set()                                    # answers to paused requests in flight (held)


async def cdp_session(page):
    """The page's CDP session, created on first use with the blocking in place."""
    session = _SESSIONS.get(page)
    if session is None:
        session = await page.context.new_cdp_session(page)
        _SESSIONS[page] = session
        patterns = fetch_patterns()
        if patterns:
            def paused(event: dict) -> None:
                task = asyncio.ensure_future(_answer(session, event))
                _ANSWERS.add(task)
                task.add_done_callback(_ANSWERS.discard)
            session.on("Fetch.requestPaused", paused)
            await session.send("Fetch.enable", {"patterns": patterns})
    return session


async def _answer(session, event: dict) -> None:
    with suppress(Exception):           # the page may be gone already
        if blocked(event["request"]["url"], event.get("resourceType", "")):
            await session.send("Fetch.failRequest", {"requestId": event["requestId"],
                                                     "errorReason": "BlockedByClient"})
        else:
            await session.send("Fetch.continueRequest", {"requestId": event["requestId"]})


async def full_page_png(page, timeout_ms: int = 30000) -> bytes:
    """A lossless full-page PNG from Chromium. optimizeForSpeed picks a faster zlib level: the same
    pixels in a larger file, for a fraction of the encoding CPU of page.screenshot()."""
    session = await cdp_session(page)

    async def shoot() -> bytes:
        size = (await session.send("Page.getLayoutMetrics"))["cssContentSize"]
        clip = {"x": 0, "y": 0, "width": math.ceil(size["width"]), "height": math.ceil(size["height"]),
                "scale": 1}
        shot = await session.send("Page.captureScreenshot", {
            "format": "png", "optimizeForSpeed": True, "captureBeyondViewport": True, "clip": clip})
        return base64.b64decode(shot["data"])
    return await asyncio.wait_for(shoot(), timeout_ms / 1000)


_LISTENERS: WeakKeyDictionary = WeakKeyDictionary()    # page -> its response recorder
_USER_AGENTS: dict[str, str] = {}                       # browser version -> navigator.userAgent


def _step(steps: list, action: str, detail: str = "") -> None:
    steps.append({"at": utcnow().isoformat(), "action": action, "detail": detail})


async def init_page(page, request) -> None:
    """playwright_page_init_callback: record the exchanges of this page (document, XHR, fetch)."""
    # scrapy-playwright routes every request of the page through Python to put Scrapy's headers
    # on it: driver round trips per sub-request, and Chromium intercepting all of them. The
    # context carries our User-Agent (BrowserContextsMiddleware) and the CDP session blocks what
    # we do not want, so the route goes before the navigation starts.
    await page.unroute("**")
    await cdp_session(page)
    exchanges: list[dict] = []
    request.meta["shian_exchanges"] = exchanges
    previous = _LISTENERS.pop(page, None)       # a reused page: stop recording into the last capture
    if previous is not None:
        page.remove_listener("response", previous)
    request.meta["shian_steps"] = []
    _step(request.meta["shian_steps"], "navigate", request.url)

    async def on_response(response) -> None:
        if response.request.resource_type not in RECORDED_TYPES:
            return
        entry = {"at": utcnow(), "method": response.request.method, "url": response.url,
                 "status": response.status, "request_headers": {}, "response_headers": [],
                 "body": b"", "ip": ""}
        exchanges.append(entry)
        with suppress(Exception):
            entry["request_headers"] = await response.request.all_headers()
            entry["response_headers"] = [(h["name"], h["value"]) for h in await response.headers_array()]
            addr = await response.server_addr()
            entry["ip"] = addr["ipAddress"] if addr else ""
            entry["body"] = await response.body()

    page.on("response", on_response)
    _LISTENERS[page] = on_response


async def render(page, wait_for: str = "", scroll_until: str = "", max_scrolls: int = 500,
                 screenshot: bool = True, timeout_ms: int = 30000) -> dict:
    """PageMethod: wait for the data, scroll, screenshot. Returns steps, screenshot, browser version."""
    steps: list[dict] = []
    out: dict = {"steps": steps, "screenshot": None, "browser_version": "", "user_agent": ""}
    if wait_for:
        _step(steps, "wait", wait_for)
        await page.wait_for_selector(wait_for, state="attached", timeout=timeout_ms)
    if scroll_until:
        result = await page.evaluate(SCROLL_JS, {"end": scroll_until, "maxScrolls": max_scrolls,
                                                 "stepMs": 50, "idleMs": min(timeout_ms, 10000),
                                                 "nudges": 3})
        _step(steps, "scroll", f"{result['scrolls']} scrolls, end reached: {result['end']}")
        out["scroll_end"] = result["end"]
    if screenshot:
        out["screenshot"] = await full_page_png(page, timeout_ms)
        _step(steps, "screenshot", "full page")
    with suppress(Exception):
        version = out["browser_version"] = page.context.browser.version
        if version not in _USER_AGENTS:
            _USER_AGENTS[version] = await page.evaluate("navigator.userAgent")
        out["user_agent"] = _USER_AGENTS[version]
    return out


def browser_meta(wait_for: str = "", scroll_until: str = "", max_scrolls: int = 500,
                 screenshot: bool = True, timeout_ms: int = 30000) -> dict:
    """Request meta for a page that needs a browser."""
    return {
        "playwright": True,
        "playwright_page_init_callback": "crawler.browser.init_page",
        # the data comes by XHR after the shell: wait for its selector, not for every image's load
        "playwright_page_goto_kwargs": {"wait_until": "domcontentloaded"},
        "playwright_page_methods": [PageMethod(render, wait_for=wait_for, scroll_until=scroll_until,
                                               max_scrolls=max_scrolls, screenshot=screenshot,
                                               timeout_ms=timeout_ms)],
    }


def render_result(response) -> dict:
    """What render() returned for this response ({} when the page was not a browser page)."""
    for method in response.meta.get("playwright_page_methods") or ():
        if getattr(method, "method", None) is render:
            return method.result or {}
    return {}
