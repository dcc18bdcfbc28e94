"""crawler.browser against real Chromium: the full-page PNG it takes, and what it blocks."""
from __future__ import annotations

import asyncio
import io
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from PIL import Image

from crawler import browser
from crawler.settings import CHROMIUM_ARGS

pytestmark = pytest.mark.browser

TALL_PAGE = b"""<!doctype html><html><head><style>
  body { margin: 0; font-family: serif; }
  #top { height: 2900px; background: linear-gradient(#fff, #ccd); }
  #bottom { height: 100px; background: rgb(200, 30, 40); }
</style></head><body><div id="top">top</div><div id="bottom"></div></body></html>"""

ASSETS_PAGE = b"""<!doctype html><html><head><style>
  @font-face { font-family: x; src: url(/f.woff2) format("woff2"); }
  body { font-family: x; }
</style></head><body>text
  <img src="/a.png"><img src="/b.png?from=tracker.localhost"><video src="/v.mp4" autoplay muted></video>
  <script src="/own.js"></script><script src="http://tracker.localhost:%d/t.js"></script>
</body></html>"""


class Server:
    """A small site on 127.0.0.1 that records the paths it was asked for."""

    def __init__(self):
        self.paths: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                outer.paths.append(self.path)
                if self.path == "/tall":
                    body, ctype = TALL_PAGE, "text/html"
                elif self.path == "/assets":
                    body, ctype = ASSETS_PAGE % outer.port, "text/html"
                else:
                    body, ctype = b"", "application/octet-stream"
                self.send_response(200)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_port
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


async def in_chromium(work):
    from playwright.async_api import async_playwright
    async with async_playwright() as p:
        b = await p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            context = await b.new_context(viewport={"width": 800, "height": 600})
            page = await context.new_page()
            return await work(page)
        finally:
            await b.close()


def test_full_page_png_is_lossless_and_whole():
    """The evidence screenshot covers the whole page (not the viewport) with the very pixels
    Playwright's own full-page screenshot has."""
    browser.configure_blocking((), ())
    with Server() as site:
        async def work(page):
            await page.goto(site.url + "/tall")
            ours = await browser.full_page_png(page)
            theirs = await page.screenshot(full_page=True)
            return ours, theirs
        ours, theirs = asyncio.run(in_chromium(work))
    assert ours[:8] == b"\x89PNG\r\n\x1a\n"
    image = Image.open(io.BytesIO(ours))
    image.load()                                         # decodes: not truncated, not corrupt
    assert image.size == (800, 3000)                      # the page's size, beyond the 600 px viewport
    assert image.convert("RGB").getpixel((400, 2950)) == (200, 30, 40)    # the bottom block is there
    reference = Image.open(io.BytesIO(theirs)).convert("RGB")
    assert reference.size == image.size
    assert image.convert("RGB").tobytes() == reference.tobytes()          # lossless: same pixels


def test_fonts_media_and_tracker_hosts_are_never_requested():
    """What evidence does not need is refused inside Chromium: the site never sees the request.
    Only the host decides for trackers: a URL that merely mentions one is still fetched."""
    browser.configure_blocking(["font", "media"], ["tracker.localhost"])
    try:
        with Server() as site:
            async def work(page):
                await browser.cdp_session(page)
                await page.goto(site.url + "/assets", wait_until="load")
                return await page.evaluate("document.images.length")
            assert asyncio.run(in_chromium(work)) == 2
            asked = set(site.paths)
    finally:
        browser.configure_blocking(["font", "media"], ())
    assert {"/assets", "/a.png", "/b.png?from=tracker.localhost", "/own.js"} <= asked
    assert not asked & {"/f.woff2", "/v.mp4", "/t.js"}, asked


def test_blocked_decides_by_type_and_host_suffix():
    browser.configure_blocking(["Font", "media"], [".cnzz.com"])
    try:
        assert browser.blocked("http://127.0.0.1/a.woff2", "font")
        assert browser.blocked("http://127.0.0.1/v.mp4", "Media")            # CDP spells types capitalised
        assert browser.blocked("https://s4.cnzz.com/stat.js", "Script")
        assert browser.blocked("https://cnzz.com/stat.js", "script")
        assert not browser.blocked("https://notcnzz.com/stat.js", "script")
        assert not browser.blocked("http://127.0.0.1/p?u=s4.cnzz.com", "image")
        assert {"urlPattern": "*", "resourceType": "Font"} in browser.fetch_patterns()
    finally:
        browser.configure_blocking(["font", "media"], ())
