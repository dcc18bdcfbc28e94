"""Crawler benchmark, one run, side by side (issue 5):

1. the demo shop site's own capacity: keep-alive load clients in 2 processes (demo.load), pages/s
2. the ceiling: bare Scrapy on the same pages with the crawl's Scrapy settings, parse only (no
   evidence, analysis or store), pages/s — how much of the gap is Scrapy itself
   then the crawler on the same site with the full pipeline (nlp + matcher + store + evidence), pages/s,
   and its share of the site's capacity (target >= 60 %): a first crawl (every licence image is
   OCR'd once) and a re-crawl of the same data dir (OCR cache warm, listings unchanged)
3. browser pages/s on the spa site, full-page screenshots included (target >= 4/s): the ceiling
   (plain Playwright on the same kind of pages, same concurrency, same screenshot, nothing else),
   then the crawler with the full pipeline, first crawl and re-crawl: whole run and steady rate
4. RSS of the crawler process tree (crawler + analysis worker + Chromium) at two page counts of a
   browser crawl, and the growth between them (target within 10 %)

    .venv/bin/python bench/crawl.py                                       # the issue's sizes (long)
    .venv/bin/python bench/crawl.py --shop-pages 600 --spa-pages 60 --rss-pages 100,300   # short
    .venv/bin/python bench/crawl.py --only rss --rss-pages 1000,5000     # one part

Sites run in their own process (python -m demo.sites) so client, crawler and sites do not share a GIL.
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit
from urllib.request import urlopen

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PARTS = ("capacity", "shop", "spa", "rss")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def start_sites(listings: int, seed: int) -> tuple[subprocess.Popen, dict[str, str]]:
    proc = subprocess.Popen([sys.executable, "-m", "demo.sites", "--listings", str(listings), "--seed", str(seed)],
                            stdout=subprocess.PIPE, text=True, cwd=ROOT)
    urls = {}
    while len(urls) < 3:
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError("demo sites did not start")
        name, _, url = line.strip().partition(" ")
        if name in ("shop", "spa", "live"):
            urls[name] = url
    return proc, urls


def item_paths(base: str, n: int) -> list[str]:
    """Item paths as the shop lists them (first category pages)."""
    from parsel import Selector
    host = urlsplit(base)
    conn = http.client.HTTPConnection(host.hostname, host.port)

    def get(path):
        conn.request("GET", path)
        r = conn.getresponse()
        return r.read().decode()
    paths = []
    for cat in Selector(get("/")).css("a.category-link::attr(href)").getall():
        path = cat
        while path and len(paths) < n:
            sel = Selector(get(path))
            paths += sel.css("a.item-link::attr(href)").getall()
            path = sel.css("a.next::attr(href)").get()
    return paths[:n] or ["/"]


def site_capacity(base: str, seconds: float) -> dict:
    from demo.load import capacity
    return capacity(base, item_paths(base, 400), seconds=seconds, processes=2, threads=4)


def cpu_ms(stats: dict) -> str:
    """CPU per page of the crawl process and of its workers: a figure the machine's load does not skew
    (one page per that many ms is what one core of the crawl process can do at best)."""
    cpu, pages = stats.get("cpu_s") or {}, max(stats["pages"], 1)
    own = cpu.get("crawler_since_open", 0)
    out = (f"CPU {1000 * own / pages:.1f} ms/page in the crawl process after start-up "
           f"(one-core ceiling {pages / max(own, 1e-9):.0f} pages/s), "
           f"{1000 * cpu.get('workers', 0) / pages:.1f} ms/page in its workers (analysis, OCR; start-up included)")
    if cpu.get("analysis_since_open") is not None:      # the analysis worker alone, after its start-up
        out += f", of which analysis worker after start-up {1000 * cpu['analysis_since_open'] / pages:.1f} ms/page"
    return out


def bare_scrapy(base: str, max_items: int, run_dir: Path, **overrides) -> dict:
    """The ceiling: Scrapy alone on the same pages, with the crawl's own Scrapy settings (robots.txt,
    concurrency, AutoThrottle, JOBDIR), item pages parsed with the platform's selectors, and nothing
    else: no evidence, no analysis, no store. Runs in a child process like a real crawl."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--bare-child", base, str(max_items), str(run_dir),
           json.dumps(overrides)]
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def bare_child(base: str, max_items: int, run_dir: Path, overrides: dict) -> None:
    import scrapy
    from scrapy.crawler import CrawlerProcess

    from crawler.platforms import load_platform
    from crawler.settings import build_settings

    platform = load_platform("shop", base)

    class BareSpider(scrapy.Spider):
        name = "bare"

        async def start(self):
            for url in platform.start_urls:
                yield scrapy.Request(url, callback=self.parse_list)

        def parse_list(self, response):
            for spec in platform.lists.follow:
                for href in response.css(spec).getall():
                    yield response.follow(href, callback=self.parse_list)
            for spec in platform.lists.items:
                for href in response.css(spec).getall():
                    yield response.follow(href, callback=self.parse_item, priority=10)

        def parse_item(self, response):
            item = {}
            for name, spec in {**platform.item.fields, "shop": platform.item.shop.name}.items():
                for one in [spec] if isinstance(spec, str) else spec:
                    item[name] = " ".join(response.css(one).getall())
            yield item

    run_dir.mkdir(parents=True, exist_ok=True)
    settings = build_settings(platform, run_dir, max_items=max_items, **overrides)
    for ours in ("ITEM_PIPELINES", "EXTENSIONS"):
        settings.pop(ours)
    settings["LOG_FILE"] = str(run_dir / "crawl.log")
    process = CrawlerProcess(settings)
    crawler = process.create_crawler(BareSpider)
    from crawler.extensions import cpu_seconds
    at_open = {}

    def opened(spider):
        at_open.update(cpu_seconds())
    crawler.signals.connect(opened, signal=scrapy.signals.spider_opened)      # a weak reference: keep `opened`
    process.crawl(crawler)
    process.start()
    s = crawler.stats.get_stats()
    print(json.dumps({"pages": s.get("response_received_count", 0), "items": s.get("item_scraped_count", 0),
                      "duration_s": s.get("elapsed_time_seconds", 0.0), "finish_reason": s.get("finish_reason"),
                      "cpu_s": {**cpu_seconds(), "crawler_since_open": cpu_seconds()["crawler"] - at_open["crawler"]}}))


def spa_item_urls(base: str, n: int) -> list[str]:
    """The last n item pages of the spa list (its JSON API): not the ones the crawls start with."""
    def get(query):
        with urlopen(f"{base}/api/items?{query}") as r:
            return json.load(r)
    total = get("limit=1")["total"]
    urls, cursor = [], max(0, total - n)
    while cursor is not None and len(urls) < n:
        page = get(f"limit=50&cursor={cursor}")
        urls += [base + x["url"] for x in page["items"]]
        cursor = page["next_cursor"]
    return urls[:n]


def playwright_ceiling(base: str, n: int, pages: int, shot: str = "screenshot") -> dict:
    """The ceiling for browser pages: plain Playwright on spa item pages, `pages` at once in one
    context, each page reused, the same wait and a full-page PNG, then the DOM read; no Scrapy,
    no evidence files, no analysis, no store. shot: "screenshot" = page.screenshot(full_page=True),
    "cdp" = Chromium's Page.captureScreenshot with optimizeForSpeed (what the crawler uses, and the
    fastest lossless full-page PNG a plain script can get). CPU counts this process and its
    children (driver, Chromium)."""
    import asyncio

    from playwright.async_api import async_playwright

    from crawler.browser import configure_blocking, full_page_png
    from crawler.platforms import load_platform
    from crawler.settings import CHROMIUM_ARGS
    from shian.settings import get_settings

    wait_for = load_platform("spa", base).browser.wait_for
    urls = spa_item_urls(base, n)
    configure_blocking((), ())          # a plain script: nothing blocked (spa pages load no fonts/media)

    async def run() -> tuple[float, float]:
        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=get_settings().crawl.chromium_path, args=CHROMIUM_ARGS)
            context = await browser.new_context()
            todo = list(urls)

            async def worker():
                page = await context.new_page()
                while todo:
                    await page.goto(todo.pop(), wait_until="domcontentloaded")
                    await page.wait_for_selector(wait_for, state="attached")
                    if shot == "cdp":
                        await full_page_png(page)
                    else:
                        await page.screenshot(full_page=True)
                    await page.content()
                await page.close()
            cpu = TreeCPU(os.getpid())
            started = time.monotonic()
            await asyncio.gather(*(worker() for _ in range(pages)))
            took = time.monotonic() - started
            used = cpu.seconds()
            await browser.close()
            return took, used
    took, used = asyncio.run(run())
    return {"pages": len(urls), "pages_at_once": pages, "screenshot": shot, "duration_s": round(took, 2),
            "pages_s": round(len(urls) / took, 2), "cpu_ms_per_page": round(1000 * used / len(urls), 1)}


class TreeCPU:
    """CPU seconds used by a process and its descendants since this object was made (each process's
    last reading counts, so processes that end before the last sample() are counted too)."""

    def __init__(self, pid: int):
        self.pid = pid
        self.start = {p: cpu_s(p) for p in tree(pid)}
        self.last = dict(self.start)

    def sample(self) -> None:
        for p in tree(self.pid):
            used = cpu_s(p)
            if used:
                self.last[p] = used

    def seconds(self) -> float:
        self.sample()
        return sum(v - self.start.get(p, 0.0) for p, v in self.last.items())


def cpu_s(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    except (OSError, IndexError, ValueError):
        return 0.0


def load() -> str:
    """The 1-minute load average, printed beside rates taken on a shared machine."""
    return f"; load {os.getloadavg()[0]:.1f}"


def _proc_kb(path: str, key: str) -> int:
    """A kB figure from a /proc status-style file (0 when the process is gone)."""
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith(key):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def rss_kb(pid: int) -> int:
    return _proc_kb(f"/proc/{pid}/status", "VmRSS:")


def pss_kb(pid: int) -> int:
    """Proportional set size: shared pages split among the processes sharing them, so a sum over
    Chromium's processes does not count its shared memory once per process as summed RSS does."""
    return _proc_kb(f"/proc/{pid}/smaps_rollup", "Pss:")


def tree(pid: int) -> list[int]:
    out = [pid]
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            out += [c for child in (task / "children").read_text().split() for c in tree(int(child))]
        except OSError:
            pass
    return out


def watch_crawl(crawl, checkpoints: list[int] = (), on_mark=None) -> dict:
    """Follow a running crawl through its done journal: RSS at the checkpoints, and the steady rate
    over the middle 80 % of the stored items (leaves out start-up, and the tail where a first
    crawl's last items wait for their licence image's OCR)."""
    journal = crawl.run_dir / "done.txt"
    marks, pending = {}, sorted(checkpoints)
    samples = []                                  # (time, items stored) at each change
    done = 0
    tick = threading.Event()
    cpu = TreeCPU(crawl.popen.pid)
    while crawl.popen.poll() is None:
        cpu.sample()
        now = time.monotonic()
        n = journal.read_text().count("\n") if journal.exists() else 0
        if n > done:
            samples.append((now, n))
            done = n
        while pending and done >= pending[0]:
            pid = crawl.popen.pid
            procs = tree(pid)
            mark = {"crawler_mb": round(rss_kb(pid) / 1024, 1),
                    "tree_mb": round(sum(rss_kb(p) for p in procs) / 1024, 1),
                    "tree_pss_mb": round(sum(pss_kb(p) for p in procs) / 1024, 1),
                    "processes": len(procs), "items_done": done}
            marks[pending.pop(0)] = mark
            if on_mark:
                on_mark(done, mark)
        tick.wait(0.25)
    steady = None
    if samples:
        a = next(x for x in samples if x[1] >= 0.1 * done)
        b = next(x for x in samples if x[1] >= 0.9 * done)
        if b[0] > a[0]:
            steady = (b[1] - a[1]) / (b[0] - a[0])
    return {"marks": marks, "steady_items_s": steady, "tree_cpu_s": cpu.seconds(), "stats": crawl.wait()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--listings", type=int, default=16000, help="demo dataset size (shop ~50%%, spa ~35%%)")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--capacity-seconds", type=float, default=5.0)
    ap.add_argument("--shop-pages", type=int, default=3000, help="items the shop crawls stop after")
    ap.add_argument("--shop-concurrency", type=int,
                    help="bench-only override of the shop platform's per-domain concurrency (bare and full crawl)")
    ap.add_argument("--spa-pages", type=int, default=200, help="items the spa throughput crawl stops after")
    ap.add_argument("--rss-pages", default="1000,5000", help="browser-crawl item counts to read RSS at")
    ap.add_argument("--only", default=",".join(PARTS), help=f"comma-separated parts: {', '.join(PARTS)}")
    ap.add_argument("--data-dir", type=Path, help="default: a temporary directory")
    args = ap.parse_args()
    parts = set(args.only.split(","))
    checkpoints = sorted(int(x) for x in args.rss_pages.split(",") if x)

    from shian.settings import configure
    data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="shian-bench-"))
    configure(data_dir=data_dir, store="sqlite")
    from crawler import run_crawl, start_crawl

    def say(text):
        print(text, flush=True)

    sites, urls = start_sites(args.listings, args.seed)
    out = {"listings": args.listings, "data_dir": str(data_dir)}
    cap = None
    try:
        if parts & {"capacity", "shop"}:
            c = site_capacity(urls["shop"], args.capacity_seconds)
            cap = c["pages_per_s"]
            out["shop_site_capacity"] = c
            say(f"shop site capacity (keep-alive clients, 2 processes x 4 threads): {cap:.1f} pages/s")

        if "shop" in parts:
            over = {}
            if args.shop_concurrency:       # a local bench may open more connections; production configs keep theirs
                over = {"CONCURRENT_REQUESTS": args.shop_concurrency,
                        "CONCURRENT_REQUESTS_PER_DOMAIN": args.shop_concurrency,
                        "AUTOTHROTTLE_TARGET_CONCURRENCY": float(args.shop_concurrency)}
            b = bare_scrapy(urls["shop"], args.shop_pages, data_dir / "bare", **over)
            bare = b["pages"] / b["duration_s"]
            out["bare_scrapy_shop"] = {**b, "pages_s": round(bare, 1), "share_of_capacity": round(bare / cap, 4)}
            say(f"ceiling: bare Scrapy on shop, same settings, parse only: {b['pages']} pages ({b['items']} items) "
                f"in {b['duration_s']:.1f}s = {bare:.1f} pages/s = {100 * bare / cap:.1f}% of site capacity; "
                f"{cpu_ms(b)}")
            for label, key in (("first crawl", "crawler_shop"), ("re-crawl", "crawler_shop_recrawl")):
                s = run_crawl("shop", base_url=urls["shop"], data_dir=data_dir / "shop", max_items=args.shop_pages,
                              **over)
                rate = s["pages"] / s["duration_s"]
                out[key] = {"pages": s["pages"], "items": s["items"], "created": s["created"],
                            "unchanged": s["unchanged"], "duration_s": s["duration_s"],
                            "pages_s": round(rate, 1), "share_of_capacity": round(rate / cap, 4),
                            "share_of_bare_scrapy": round(rate / bare, 4), "cpu_s": s.get("cpu_s")}
                say(f"crawler on shop, full pipeline, {label}: {s['pages']} pages ({s['items']} items) in "
                    f"{s['duration_s']:.1f}s = {rate:.1f} pages/s = {100 * rate / cap:.1f}% of site capacity "
                    f"(target >= 60%), {100 * rate / bare:.0f}% of bare Scrapy; {cpu_ms(s)}")

        if "spa" in parts:
            from shian.settings import get_settings
            at_once = get_settings().crawl.browser_pages
            ceilings = {}
            for shot, how in (("screenshot", "page.screenshot(full_page=True)"),
                              ("cdp", "CDP captureScreenshot, optimizeForSpeed")):
                c = ceilings[shot] = playwright_ceiling(urls["spa"], args.spa_pages, at_once, shot)
                out[f"playwright_ceiling_spa_{shot}"] = c
                say(f"ceiling: plain Playwright on {c['pages']} spa item pages, {at_once} at once, full-page PNG by "
                    f"{how}, no Scrapy/evidence/pipeline: {c['pages_s']:.2f} pages/s; "
                    f"CPU {c['cpu_ms_per_page']:.0f} ms/page (Python + driver + Chromium){load()}")
            ceiling = max(c["pages_s"] for c in ceilings.values())      # the crawler against the faster one
            # a first crawl (licence images OCR'd once) and a re-crawl (OCR cache warm, listings
            # unchanged): the browser work is the same in both, every item page rendered and photographed
            for label, key in (("first crawl", "crawler_spa"), ("re-crawl", "crawler_spa_recrawl")):
                crawl = start_crawl("spa", base_url=urls["spa"], data_dir=data_dir / "spa", max_items=args.spa_pages)
                w = watch_crawl(crawl)
                s = w["stats"]
                rate = s["items"] / s["duration_s"]      # one browser page (+ screenshot) per item
                steady = w["steady_items_s"] or 0.0
                cpu_page = 1000 * w["tree_cpu_s"] / max(s["items"], 1)
                out[key] = {"items": s["items"], "pages": s["pages"], "browser_pages": s.get("browser_pages"),
                            "duration_s": s["duration_s"], "item_pages_s": round(rate, 2),
                            "steady_item_pages_s": round(steady, 2), "tree_cpu_ms_per_item": round(cpu_page, 1),
                            "share_of_playwright_ceiling": round(steady / ceiling, 3)}
                say(f"crawler on spa, {label} (Chromium item pages, full-page screenshots, full pipeline): "
                    f"{s['items']} item pages in {s['duration_s']:.1f}s = {rate:.2f}/s whole run; steady "
                    f"{steady:.2f}/s (target >= 4; {100 * steady / ceiling:.0f}% of the faster plain Playwright); "
                    f"CPU {cpu_page:.0f} ms/item page (crawler + workers + driver + Chromium){load()}")

        if "rss" in parts:
            say(f"browser crawl for RSS, up to {checkpoints[-1]} items ...")
            # no CLOSESPIDER_TIMEOUT: on a busy machine the scheduled-run guard (1 h) ends it first
            crawl = start_crawl("spa", base_url=urls["spa"], data_dir=data_dir / "rss", max_items=checkpoints[-1],
                                CLOSESPIDER_TIMEOUT=0)
            w = watch_crawl(crawl, checkpoints, on_mark=lambda n, m: say(
                f"  RSS at item {n}: crawler {m['crawler_mb']} MB, crawler + analysis worker + Chromium "
                f"{m['tree_mb']} MB summed RSS, {m['tree_pss_mb']} MB summed PSS ({m['processes']} processes)"))
            out["browser_rss"] = w["marks"]
            out["browser_rss_run"] = {k: w["stats"].get(k) for k in
                                      ("items", "browser_pages", "browser_contexts", "duration_s", "finish_reason")}
            marks = [w["marks"][k] for k in checkpoints if k in w["marks"]]
            if len(marks) >= 2:
                a, b = marks[0], marks[-1]
                growth = (b["tree_mb"] - a["tree_mb"]) / a["tree_mb"]
                growth_pss = (b["tree_pss_mb"] - a["tree_pss_mb"]) / a["tree_pss_mb"]
                growth_crawler = (b["crawler_mb"] - a["crawler_mb"]) / a["crawler_mb"]
                out["browser_rss_growth"] = round(growth, 4)
                out["browser_pss_growth"] = round(growth_pss, 4)
                out["browser_rss_growth_crawler_only"] = round(growth_crawler, 4)
                say(f"RSS growth from item {a['items_done']} to {b['items_done']}: {100 * growth:+.1f}% summed RSS, "
                    f"{100 * growth_pss:+.1f}% summed PSS ({100 * growth_crawler:+.1f}% crawler process alone) "
                    f"(target within 10%)")
            else:
                say(f"RSS: only {len(marks)} mark(s) reached: {w['marks']} (run: {out['browser_rss_run']})")
    finally:
        sites.terminate()
        sites.wait()
    print(json.dumps(out, ensure_ascii=False))


if __name__ == "__main__":
    if sys.argv[1:2] == ["--bare-child"]:
        bare_child(sys.argv[2], int(sys.argv[3]), Path(sys.argv[4]), json.loads(sys.argv[5]))
    else:
        main()
