"""Crawler benchmark, one run, side by side (issue 5):

1. the demo shop site's own capacity: keep-alive load clients in 2 processes (demo.load), pages/s
2. the crawler on the same site with the full pipeline (nlp + matcher + store + evidence), pages/s,
   and its share of the site's capacity (target >= 60 %): a first crawl (every licence image is
   OCR'd once) and a re-crawl of the same data dir (OCR cache warm, listings unchanged)
3. browser pages/s on the spa site, full-page screenshots included (target >= 4/s): the whole run,
   and the steady rate once the list page has scrolled
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
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PARTS = ("capacity", "shop", "spa", "rss")


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


def rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def tree(pid: int) -> list[int]:
    out = [pid]
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            out += [c for child in (task / "children").read_text().split() for c in tree(int(child))]
        except OSError:
            pass
    return out


def watch_crawl(crawl, checkpoints: list[int] = (), on_mark=None) -> dict:
    """Follow a running crawl through its done journal: RSS at the checkpoints, and the time
    of the first and last stored item (the steady rate leaves out start-up and list scrolling)."""
    journal = crawl.run_dir / "done.txt"
    marks, pending = {}, sorted(checkpoints)
    first = last = None
    done = 0
    tick = threading.Event()
    while crawl.popen.poll() is None:
        now = time.monotonic()
        n = journal.read_text().count("\n") if journal.exists() else 0
        if n and first is None:
            first = (now, n)
        if n > done:
            last, done = (now, n), n
        while pending and done >= pending[0]:
            pid = crawl.popen.pid
            procs = tree(pid)
            mark = {"crawler_mb": round(rss_kb(pid) / 1024, 1),
                    "tree_mb": round(sum(rss_kb(p) for p in procs) / 1024, 1),
                    "processes": len(procs), "items_done": done}
            marks[pending.pop(0)] = mark
            if on_mark:
                on_mark(done, mark)
        tick.wait(0.25)
    steady = None
    if first and last and last[1] > first[1] and last[0] > first[0]:
        steady = (last[1] - first[1]) / (last[0] - first[0])
    return {"marks": marks, "steady_items_s": steady, "stats": crawl.wait()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--listings", type=int, default=16000, help="demo dataset size (shop ~50%%, spa ~35%%)")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--capacity-seconds", type=float, default=5.0)
    ap.add_argument("--shop-pages", type=int, default=3000, help="items the shop crawls stop after")
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
            for label, key in (("first crawl", "crawler_shop"), ("re-crawl", "crawler_shop_recrawl")):
                s = run_crawl("shop", base_url=urls["shop"], data_dir=data_dir / "shop", max_items=args.shop_pages)
                rate = s["pages"] / s["duration_s"]
                out[key] = {"pages": s["pages"], "items": s["items"], "created": s["created"],
                            "unchanged": s["unchanged"], "duration_s": s["duration_s"],
                            "pages_s": round(rate, 1), "share_of_capacity": round(rate / cap, 4)}
                say(f"crawler on shop, full pipeline, {label}: {s['pages']} pages ({s['items']} items) in "
                    f"{s['duration_s']:.1f}s = {rate:.1f} pages/s = {100 * rate / cap:.1f}% of site capacity "
                    f"(target >= 60%)")

        if "spa" in parts:
            crawl = start_crawl("spa", base_url=urls["spa"], data_dir=data_dir / "spa", max_items=args.spa_pages)
            w = watch_crawl(crawl)
            s = w["stats"]
            rate = s["browser_pages"] / s["duration_s"]
            steady = w["steady_items_s"] or 0.0
            out["crawler_spa"] = {"browser_pages": s["browser_pages"], "items": s["items"],
                                  "duration_s": s["duration_s"], "browser_pages_s": round(rate, 2),
                                  "steady_item_pages_s": round(steady, 2)}
            say(f"crawler on spa (Chromium, full-page screenshots): {s['browser_pages']} browser pages in "
                f"{s['duration_s']:.1f}s = {rate:.2f} pages/s overall; {steady:.2f} item pages/s once the "
                f"list page has scrolled (target >= 4; ratio {steady / 4:.2f})")

        if "rss" in parts:
            say(f"browser crawl for RSS, up to {checkpoints[-1]} items ...")
            crawl = start_crawl("spa", base_url=urls["spa"], data_dir=data_dir / "rss", max_items=checkpoints[-1])
            w = watch_crawl(crawl, checkpoints, on_mark=lambda n, m: say(
                f"  RSS at item {n}: crawler {m['crawler_mb']} MB, crawler + analysis worker + Chromium "
                f"{m['tree_mb']} MB ({m['processes']} processes)"))
            out["browser_rss"] = w["marks"]
            out["browser_rss_run"] = {k: w["stats"].get(k) for k in
                                      ("items", "browser_pages", "browser_contexts", "duration_s", "finish_reason")}
            marks = [w["marks"][k] for k in checkpoints if k in w["marks"]]
            if len(marks) >= 2:
                a, b = marks[0], marks[-1]
                growth = (b["tree_mb"] - a["tree_mb"]) / a["tree_mb"]
                growth_crawler = (b["crawler_mb"] - a["crawler_mb"]) / a["crawler_mb"]
                out["browser_rss_growth"] = round(growth, 4)
                out["browser_rss_growth_crawler_only"] = round(growth_crawler, 4)
                say(f"RSS growth from item {a['items_done']} to {b['items_done']}: {100 * growth:+.1f}% summed "
                    f"({100 * growth_crawler:+.1f}% crawler process alone) (target within 10%)")
            else:
                say(f"RSS: only {len(marks)} mark(s) reached: {w['marks']} (run: {out['browser_rss_run']})")
    finally:
        sites.terminate()
        sites.wait()
    print(json.dumps(out, ensure_ascii=False))


if __name__ == "__main__":
    main()
