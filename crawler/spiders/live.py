"""Live-commerce rooms: each room is watched in Chromium for a configured window.

What a room yields:
- a Listing of kind "live" (item_id = room id) whose `segments` are the host
  captions, pinned comments, viewer comments and product-card notes with
  their time offset, and whose `text` is that transcript as lines
  "[HH:MM:SS] 主播：…" (the nlp stage reads the prefix back as the finding's
  offset). The offset is the room's own clock when the platform states one
  (so it reads like the captions on the page), else seconds since the watch
  began; the step log says at which room time each video segment began;
- one Listing per shelf (小黄车) item, from its product page, like any shop item;
- evidence: the room page as fetched, every events exchange the page made
  (headers JSON + WARC), screenshots every few seconds, the final rendered DOM
  and full-page screenshot, and a screen recording in segments (Chromium's
  screencast frames encoded to WebM with the ffmpeg of imageio-ffmpeg; one
  browser context and one video per `video_segment_s`), all hashed.

Where events come from is configuration (`live:` in config/platforms/<name>.yaml):
`xhr` listens to the JSON answers the page fetches; `dom` polls the page's
elements (for rooms fed by WebSocket or rendered server-side).

The spider drives its own Playwright browser instead of scrapy-playwright's
download handler: a watch holds a page for minutes and needs a fresh context
per video segment, closed after it, which a download cannot. Playwright's own
record_video needs an ffmpeg build it downloads at install time, which is not
possible here; the screencast needs nothing but Chromium and a packaged ffmpeg.
"""
from __future__ import annotations

import asyncio
import base64
import json
import logging
import re
import shutil
import subprocess
import tempfile
import time
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from shian.models import Segment, utcnow

log = logging.getLogger(__name__)

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
SOURCE_LABEL = {"pinned": "置顶评论", "card": "商品卡"}
CLOCK = re.compile(r"^\s*\[(\d{1,2}):(\d{2}):(\d{2})\]\s*")


# -- configuration ---------------------------------------------------------------------------
class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EventsOptions(Strict):
    source: Literal["xhr", "dom"] = "xhr"
    url: str = r"/events"                 # xhr: regex of the URLs whose JSON answers carry events
    path: str = "events"                  # dotted path to the event list in an answer
    seq: str = "seq"                      # fields of one event (dotted paths)
    offset: str = "offset_s"              # seconds since the room started ("" = use arrival time)
    type: str = "type"
    speaker: str = "speaker"
    text: str = "text"
    item: str = "item"                    # shelf events: the product card
    elapsed: str = "elapsed_s"            # in the answer: the room clock now
    status: str = "status"                # in the answer: the room state
    ended: list[str] = ["ended"]          # states that mean the room is over
    types: dict[str, str] = {"caption": "caption", "pinned": "pinned", "comment": "comment",
                             "shelf": "card"}
    item_url: str = "url"                 # fields of a product card
    item_title: str = "title"
    item_note: str = "note"


class DomOptions(Strict):
    """source: dom — one selector per segment source; offsets from an attribute or a [HH:MM:SS] prefix."""
    caption: str = ""
    pinned: str = ""
    comment: str = ""
    card: str = ""
    offset_attr: str = "data-offset"
    speaker: str = ""                     # selector inside an element for the speaker
    text: str = ""                        # selector inside an element for the text ("" = whole element)
    shelf_links: str = ""                 # product links on the shelf
    ended: str = ""                       # selector present once the room is over
    poll_s: float = 0.5


class LiveOptions(Strict):
    rooms: str = "a.room-link::attr(href)"          # room links on the start pages
    room_id_from_url: str = r"/room/(?P<id>[^/?#]+)"
    title: str = "h1.room-title::text"
    host: str = ".host::text"
    wait_for: str = ""                    # selector that says the room page is up
    window_s: float | None = None         # None: settings.crawl.live_window_s
    screenshot_every_s: float = 5.0
    video: bool = True
    video_segment_s: float = 300.0
    viewport: dict[str, int] = {"width": 960, "height": 720}
    max_rooms: int = 50
    shelf_items: bool = True              # crawl the shelf items' product pages
    events: EventsOptions = Field(default_factory=EventsOptions)
    dom: DomOptions = Field(default_factory=DomOptions)


def dig(obj: Any, path: str) -> Any:
    """Value at a dotted path of nested dicts ('' or missing -> None)."""
    if not path:
        return None
    for part in path.split("."):
        if not isinstance(obj, dict):
            return None
        obj = obj.get(part)
    return obj


def hms(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"


def render_transcript(title: str, host: str, segments: list[Segment]) -> str:
    """The room as text: a header, then one "[HH:MM:SS] speaker：text" line per segment."""
    lines = [f"直播间：{title}" if title else "", f"主播：{host}" if host else ""]
    for seg in segments:
        if seg.source == "caption":
            who = seg.speaker or "主播"
        elif seg.source == "comment":
            who = f"评论 {seg.speaker}".strip()
        else:
            who = SOURCE_LABEL[seg.source]
        lines.append(f"[{hms(seg.offset_s)}] {who}：{seg.text}")
    return "\n".join(line for line in lines if line)


class ScreenRecorder:
    """A screen recording of one page: Chromium screencast frames (JPEG), then a WebM via ffmpeg."""

    def __init__(self, viewport: dict[str, int], work_dir: Path, fps: int = 5, quality: int = 70):
        self.viewport = viewport
        self.work_dir = work_dir
        self.fps = fps
        self.quality = quality
        self.frames: list[tuple[float, str]] = []        # (page timestamp, JPEG file name); on disk, not in RAM
        self.started = time.time()
        self.ended: float | None = None
        self._cdp = None

    async def start(self, context, page) -> None:
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self._cdp = await context.new_cdp_session(page)
        self._cdp.on("Page.screencastFrame", self._on_frame)
        self.started = time.time()
        await self._cdp.send("Page.startScreencast", {"format": "jpeg", "quality": self.quality,
                                                      "maxWidth": self.viewport["width"],
                                                      "maxHeight": self.viewport["height"]})

    def _on_frame(self, params: dict) -> None:
        stamp = (params.get("metadata") or {}).get("timestamp") or time.time()
        name = f"frame-{len(self.frames):06d}.jpg"
        (self.work_dir / name).write_bytes(base64.b64decode(params["data"]))
        self.frames.append((float(stamp), name))
        # the next frame comes only after this one is acknowledged
        asyncio.ensure_future(self._ack(params["sessionId"]))

    async def _ack(self, session_id) -> None:
        with suppress(Exception):
            await self._cdp.send("Page.screencastFrameAck", {"sessionId": session_id})

    async def stop(self) -> int:
        self.ended = time.time()
        if self._cdp is not None:
            with suppress(Exception):
                await self._cdp.send("Page.stopScreencast")
        return len(self.frames)

    def encode(self) -> bytes:
        """The frames as a WebM (VP8) at a constant frame rate, each frame shown until the next."""
        import imageio_ffmpeg

        if not self.frames:
            raise RuntimeError("no screencast frames")
        work_dir = self.work_dir
        end = max(self.ended or time.time(), self.frames[-1][0] + 1.0 / self.fps)
        lines = []
        for n, (stamp, name) in enumerate(self.frames):
            following = self.frames[n + 1][0] if n + 1 < len(self.frames) else end
            lines += [f"file '{name}'", f"duration {max(following - stamp, 0.001):.3f}"]
        lines.append(f"file '{self.frames[-1][1]}'")   # concat needs the last one twice
        (work_dir / "frames.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
        out = work_dir / "video.webm"
        cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y",
               "-f", "concat", "-safe", "0", "-i", "frames.txt",
               "-vf", "scale=trunc(iw/2)*2:trunc(ih/2)*2", "-r", str(self.fps),
               "-c:v", "libvpx", "-deadline", "realtime", "-cpu-used", "8", "-b:v", "600k",
               "-threads", "1", "-an", out.name]
        done = subprocess.run(cmd, cwd=work_dir, capture_output=True, timeout=600)
        if done.returncode != 0:
            raise RuntimeError(f"ffmpeg failed: {done.stderr.decode(errors='replace')[-300:]}")
        return out.read_bytes()


# -- watching one room -----------------------------------------------------------------------
@dataclass
class Watch:
    """Everything seen while watching one room."""
    url: str
    started_at: Any = field(default_factory=utcnow)
    t0: float = field(default_factory=time.monotonic)
    events: dict[Any, dict] = field(default_factory=dict)       # key -> {offset_s, source, speaker, text, item}
    room_clock_at_start: float | None = None                     # room elapsed seconds when the watch began
    shelf: dict[str, dict] = field(default_factory=dict)        # url -> card
    exchanges: list[dict] = field(default_factory=list)
    screenshots: list[tuple[float, bytes]] = field(default_factory=list)
    videos: list[tuple[int, bytes]] = field(default_factory=list)
    steps: list[dict] = field(default_factory=list)
    html: str | None = None
    final_screenshot: bytes | None = None
    browser_version: str = ""
    ended: bool = False
    problem: str = ""

    def now(self) -> float:
        return time.monotonic() - self.t0

    def step(self, action: str, detail: str = "") -> None:
        self.steps.append({"at": utcnow(), "action": action, "detail": detail})

    def segments(self) -> list[Segment]:
        ordered = sorted(self.events.values(), key=lambda e: (e["offset_s"], e["order"]))
        return [Segment(offset_s=round(e["offset_s"], 2), source=e["source"], speaker=e["speaker"],
                        text=e["text"]) for e in ordered if e["text"]]


class RoomWatcher:
    """Watches rooms in one Chromium, one browser context per video segment."""

    def __init__(self, opts: LiveOptions, window_s: float, user_agent: str, chromium_path: str,
                 max_rooms_at_once: int = 2):
        self.opts = opts
        self.window_s = window_s
        self.user_agent = user_agent
        self.chromium_path = chromium_path
        self.slots = asyncio.Semaphore(max(1, max_rooms_at_once))
        self._pw = None
        self._browser = None
        self._starting = asyncio.Lock()

    async def browser(self):
        async with self._starting:
            if self._browser is None:
                from playwright.async_api import async_playwright
                self._pw = await async_playwright().start()
                self._browser = await self._pw.chromium.launch(executable_path=self.chromium_path,
                                                               headless=True, args=CHROMIUM_ARGS)
        return self._browser

    async def close(self) -> None:
        if self._browser is not None:
            with suppress(Exception):
                await self._browser.close()
        if self._pw is not None:
            with suppress(Exception):
                await self._pw.stop()
        self._browser = self._pw = None

    async def watch(self, url: str) -> Watch:
        async with self.slots:
            browser = await self.browser()
            watch = Watch(url=url)
            watch.browser_version = browser.version
            video_dir = Path(tempfile.mkdtemp(prefix="shian-live-video-"))
            try:
                number = 0
                while not watch.ended and watch.now() < self.window_s:
                    number += 1
                    await self._segment(browser, watch, number, video_dir)
                    if watch.problem:
                        break
            finally:
                shutil.rmtree(video_dir, ignore_errors=True)
            watch.step("end", "room ended" if watch.ended else f"watch window of {self.window_s:g} s over")
            return watch

    async def _segment(self, browser, watch: Watch, number: int, video_dir: Path) -> None:
        """One browser context = one video file of `video_segment_s` once the page is up; always closed."""
        context = await browser.new_context(user_agent=self.user_agent, viewport=self.opts.viewport)
        recorder = ScreenRecorder(self.opts.viewport, video_dir / str(number)) if self.opts.video else None
        seg_start = watch.now()
        try:
            page = await context.new_page()
            if recorder is not None:
                await recorder.start(context, page)
            if self.opts.events.source == "xhr":
                page.on("response", lambda response: asyncio.ensure_future(self._on_response(watch, response)))
            watch.step("navigate", f"{watch.url} (video segment {number})")
            await page.goto(watch.url, wait_until="domcontentloaded", timeout=30000)
            if self.opts.wait_for:
                watch.step("wait", self.opts.wait_for)
                await page.wait_for_selector(self.opts.wait_for, state="attached", timeout=30000)
            until = min(self.window_s, watch.now() + self.opts.video_segment_s)
            next_shot = 0.0                   # a first screenshot on arrival, then every few seconds
            while True:
                if self.opts.events.source == "dom":
                    await self._poll_dom(watch, page)
                if self.opts.screenshot_every_s and watch.now() >= next_shot:
                    offset = watch.now()
                    watch.screenshots.append((offset, await page.screenshot()))
                    watch.step("screenshot", f"at {offset:.1f} s")
                    next_shot = offset + self.opts.screenshot_every_s
                if watch.ended or watch.now() >= until:
                    break
                pause = self.opts.dom.poll_s if self.opts.events.source == "dom" else 0.25
                await asyncio.sleep(max(0.05, min(pause, until - watch.now(), next_shot - watch.now())))
            if self.opts.events.source == "dom":
                await self._poll_dom(watch, page)
            await asyncio.sleep(0.2)          # let the last event answers be read
            if watch.ended or watch.now() >= self.window_s:
                watch.html = await page.content()
                watch.final_screenshot = await page.screenshot(full_page=True)
                watch.step("screenshot", "full page, end of watch")
        except Exception as exc:
            watch.problem = f"watch failed in segment {number}: {type(exc).__name__}: {exc}"[:500]
            log.warning("%s: %s", watch.url, watch.problem)
        finally:
            frames = await recorder.stop() if recorder is not None else 0
            with suppress(Exception):
                await context.close()
            if recorder is not None:
                try:
                    webm = await asyncio.to_thread(recorder.encode)
                    watch.videos.append((number, webm))
                    clock = watch.room_clock_at_start
                    room_time = f", room time {clock + seg_start:.1f} s" if clock is not None else ""
                    watch.step("video", f"segment {number}: from watch time {seg_start:.1f} s{room_time}, "
                                        f"{frames} frames, {len(webm)} bytes WebM")
                except (OSError, RuntimeError, subprocess.SubprocessError) as exc:
                    watch.step("video", f"segment {number}: not recorded ({exc})")

    async def _on_response(self, watch: Watch, response) -> None:
        ev = self.opts.events
        if not re.search(ev.url, response.url):
            return
        arrived = watch.now()
        try:
            body = await response.body()
            answer = json.loads(body)
            entry = {"at": utcnow(), "method": response.request.method, "url": response.url,
                     "status": response.status, "request_headers": await response.request.all_headers(),
                     "response_headers": [(h["name"], h["value"]) for h in await response.headers_array()],
                     "body": body, "ip": ((await response.server_addr()) or {}).get("ipAddress", "")}
        except Exception as exc:  # a page gone mid-read, or not JSON: nothing to take from it
            log.debug("%s: events answer skipped: %s", response.url, exc)
            return
        watch.exchanges.append(entry)
        elapsed = dig(answer, ev.elapsed)
        if watch.room_clock_at_start is None and isinstance(elapsed, (int, float)):
            watch.room_clock_at_start = max(0.0, float(elapsed) - arrived)
            watch.step("sync", f"room clock at watch start: {watch.room_clock_at_start:.2f} s")
        for raw in dig(answer, ev.path) or []:
            if isinstance(raw, dict):
                self._add_event(watch, raw, arrived)
        if str(dig(answer, ev.status)) in ev.ended:
            watch.ended = True

    def _add_event(self, watch: Watch, raw: dict, arrived: float) -> None:
        ev = self.opts.events
        source = ev.types.get(str(dig(raw, ev.type)))
        if source is None:
            return
        seq = dig(raw, ev.seq)
        key = ("seq", seq) if seq is not None else (source, dig(raw, ev.text), dig(raw, ev.offset))
        if key in watch.events:
            return
        offset = dig(raw, ev.offset)
        offset_s = float(offset) if isinstance(offset, (int, float)) else arrived
        text = str(dig(raw, ev.text) or "")
        item = dig(raw, ev.item) if source == "card" else None
        if isinstance(item, dict):
            card = {k: dig(item, getattr(ev, f"item_{k}")) for k in ("url", "title", "note")}
            text = text or "，".join(str(card[k]) for k in ("title", "note") if card[k])
            if card["url"]:
                watch.shelf.setdefault(str(card["url"]), card)
        watch.events[key] = {"offset_s": offset_s, "source": source, "speaker": str(dig(raw, ev.speaker) or ""),
                             "text": text.strip(), "order": len(watch.events)}

    async def _poll_dom(self, watch: Watch, page) -> None:
        dom = self.opts.dom
        spec = {s: getattr(dom, s) for s in ("caption", "pinned", "comment", "card") if getattr(dom, s)}
        found = await page.evaluate(DOM_JS, {"spec": spec, "attr": dom.offset_attr, "speaker": dom.speaker,
                                             "text": dom.text, "links": dom.shelf_links, "ended": dom.ended})
        arrived = watch.now()
        for row in found["rows"]:
            text = row["text"].strip()
            offset = row["offset"]
            match = CLOCK.match(text)
            if match:
                text = text[match.end():]
                if offset is None:
                    h, m, s = (int(g) for g in match.groups())
                    offset = h * 3600 + m * 60 + s
            speaker = row["speaker"].strip()
            if not speaker and "：" in text[:12]:
                speaker, text = text.split("：", 1)
            key = (row["source"], text, offset if offset is not None else row["index"])
            if key in watch.events or not text:
                continue
            watch.events[key] = {"offset_s": float(offset) if offset is not None else arrived,
                                 "source": row["source"], "speaker": speaker, "text": text.strip(),
                                 "order": len(watch.events)}
        for link in found["links"]:
            watch.shelf.setdefault(link, {"url": link, "title": "", "note": ""})
        watch.ended = watch.ended or found["ended"]


DOM_JS = """
({spec, attr, speaker, text, links, ended}) => {
  const rows = [];
  for (const [source, sel] of Object.entries(spec)) {
    document.querySelectorAll(sel).forEach((el, index) => {
      const raw = el.getAttribute(attr);
      const sp = speaker ? el.querySelector(speaker) : null;
      const tx = text ? el.querySelector(text) : null;
      rows.push({source, index, offset: raw === null || raw === "" ? null : Number(raw),
                 speaker: sp ? sp.innerText : "", text: (tx || el).innerText || ""});
    });
  }
  const hrefs = links ? Array.from(document.querySelectorAll(links)).map(a => a.href) : [];
  return {rows, links: hrefs, ended: !!(ended && document.querySelector(ended))};
}
"""


# -- the spider --------------------------------------------------------------------------------
def _spider_base():
    from crawler.spiders.listing import ListingSpider
    return ListingSpider


class LiveSpider(_spider_base()):
    """Rooms from the start pages, each watched for the window; shelf items crawled like shop items."""

    name = "live"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        from shian.settings import get_settings

        self.opts = LiveOptions(**self.platform.live)
        cs = get_settings().crawl
        self.window_s = self.opts.window_s if self.opts.window_s is not None else cs.live_window_s
        self._room_re = re.compile(self.opts.room_id_from_url)
        self.rooms_seen: set[str] = set()
        self.watcher = RoomWatcher(self.opts, self.window_s, cs.user_agent, cs.chromium_path,
                                   max_rooms_at_once=cs.browser_pages)

    @classmethod
    def from_crawler(cls, crawler, *args, **kwargs):
        import scrapy

        spider = super().from_crawler(crawler, *args, **kwargs)
        crawler.signals.connect(spider._close_browser, signal=scrapy.signals.spider_closed)
        return spider

    async def _close_browser(self, spider):
        await self.watcher.close()

    async def start(self):
        import scrapy

        await self.watcher.browser()        # started before any room clock runs
        for url in self.platform.start_urls:
            yield scrapy.Request(url, callback=self.parse_rooms)
        # stored shelf items are revisited, so one that left every shelf is still seen gone
        for item_id, url in self.known_listings():
            if not self._room_re.search(url):
                request = self.item_request(url, item_id)
                if request is not None:
                    yield request

    def room_id(self, url: str) -> str:
        m = self._room_re.search(url)
        return (m.groupdict().get("id") or m.group(1)) if m else ""

    def parse_rooms(self, response):
        import scrapy

        for href in self.values(response, self.opts.rooms):
            url = response.urljoin(href)
            room = self.room_id(url)
            if not room or room in self.rooms_seen or len(self.rooms_seen) >= self.opts.max_rooms:
                continue
            self.rooms_seen.add(room)
            if room in self.done:
                self.crawler.stats.inc_value("shian/skipped_done")
                continue
            yield scrapy.Request(url, callback=self.parse_room, meta={"shian_key": room}, dont_filter=True)

    async def parse_room(self, response):
        from crawler.spiders.base import header_pairs
        from shian.models import Listing, Shop, listing_id

        room = response.meta["shian_key"]
        fetched_at = utcnow()
        shop_cfg = self.platform.item.shop
        shop = Shop(name=self.value(response, shop_cfg.name, None, " "),
                    operator_name=self.value(response, shop_cfg.operator_name, None, " "),
                    licence_text=self.value(response, shop_cfg.licence_text, None, " "),
                    url=response.urljoin(self.value(response, shop_cfg.url, None, "")) if shop_cfg.url else "",
                    region=self.platform.region)
        title = self.value(response, self.opts.title, None, " ")
        host = self.value(response, self.opts.host, None, " ")
        watch = await self.watcher.watch(response.url)
        self.crawler.stats.inc_value("shian/live/rooms_watched")
        self.crawler.stats.inc_value("shian/live/segments", len(watch.events))

        cap = self.new_capture(response.url)
        cap.started_at = watch.started_at if watch.started_at < cap.started_at else cap.started_at
        cap.step("navigate", f"GET {response.url}", at=fetched_at)
        cap.step("received", f"HTTP {response.status}, {len(response.body)} bytes", at=fetched_at)
        req = response.request
        cap.add_exchange(req.method, req.url, dict(header_pairs(req.headers)), response.status,
                         header_pairs(response.headers), response.body, ip=str(response.ip_address or ""),
                         protocol=response.protocol or "HTTP/1.1")
        for s in watch.steps:
            cap.step(s["action"], s["detail"], at=s["at"])
        for e in watch.exchanges:
            cap.add_exchange(e["method"], e["url"], e["request_headers"], e["status"], e["response_headers"],
                             e["body"], ip=e["ip"], at=e["at"])
        stem = f"{self.platform.name}-{room}"
        for offset, png in watch.screenshots:
            cap.add_file(png, kind="screenshot", media_type="image/png", name=f"{stem}-at-{int(offset):06d}s.png")
        for number, webm in watch.videos:
            cap.add_file(webm, kind="video", media_type="video/webm", name=f"{stem}-video-{number:02d}.webm")
        cap.add_rendered(html=watch.html, screenshot=watch.final_screenshot, browser_version=watch.browser_version)
        cap.user_agent = self.watcher.user_agent

        segments = watch.segments()
        problem = watch.problem
        if not problem and not segments:
            problem = "直播间无内容 (no captions or comments seen in the watch window)"
        if not problem and self.opts.video and not watch.videos:
            problem = "录屏缺失 (no screen recording)"
        refs = cap.finish(shop=shop.name, item_id=room, complete=not problem, problem=problem)

        shelf_ids = []
        for card in watch.shelf.values():
            url = response.urljoin(str(card["url"]))
            item_id = self.item_id_from_url(url)
            if not item_id:
                continue
            shelf_ids.append(listing_id(self.platform.name, item_id))
            if self.opts.shelf_items:
                request = self.item_request(url, item_id)
                if request is not None:
                    yield request
        yield Listing(platform=self.platform.name, kind="live", url=response.url, item_id=room, shop=shop,
                      title=title, text=render_transcript(title, host, segments), segments=segments,
                      shelf=shelf_ids, evidence=refs, capture_complete=not problem, capture_problem=problem,
                      captured_at=watch.started_at)
