"""Crawler benchmark, one run, side by side (issue 5):

1. the demo shop site's own capacity: a Python keep-alive load client, pages/s
2. the crawler on the same site with the full pipeline (nlp + matcher + store + evidence), pages/s
3. browser pages/s on the spa site, full-page screenshots included
4. crawler RSS (Scrapy process, and with Chromium) at two page counts of a browser crawl

    .venv/bin/python bench/crawl.py                         # the issue's sizes (long: ~5,000 browser pages)
    .venv/bin/python bench/crawl.py --shop-pages 600 --spa-pages 60 --rss-pages 100,300   # short

Sites run in their own process (python -m demo.sites) so the client and crawler do not share their GIL.
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


def site_capacity(base: str, pages: int, threads: int = 8) -> float:
    """pages/s a keep-alive client gets from the site: item, category and home pages."""
    paths = item_paths(base, 200)
    host = urlsplit(base)
    per = pages // threads
    def worker(k):
        conn = http.client.HTTPConnection(host.hostname, host.port)
        for i in range(per):
            conn.request("GET", paths[(k * per + i) % len(paths)])
            conn.getresponse().read()
    ts = [threading.Thread(target=worker, args=(k,)) for k in range(threads)]
    t0 = time.perf_counter()
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return per * threads / (time.perf_counter() - t0)


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


def browser_rss(spa_url: str, checkpoints: list[int], data_dir: Path) -> dict:
    from crawler import start_crawl
    crawl = start_crawl("spa", base_url=spa_url, data_dir=data_dir, max_items=checkpoints[-1])
    journal = crawl.run_dir / "done.txt"
    marks, pending = {}, list(checkpoints)
    tick = threading.Event()
    while pending and crawl.popen.poll() is None:
        done = journal.read_text().count("\n") if journal.exists() else 0
        if done >= pending[0]:
            pid = crawl.popen.pid
            marks[pending.pop(0)] = {"crawler_mb": round(rss_kb(pid) / 1024, 1),
                                     "with_browser_mb": round(sum(rss_kb(p) for p in tree(pid)) / 1024, 1),
                                     "pages_done": done}
        tick.wait(0.5)
    stats = crawl.wait()
    return {"marks": marks, "stats": stats}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--listings", type=int, default=16000, help="demo dataset size (spa gets ~35%%)")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--capacity-pages", type=int, default=4000)
    ap.add_argument("--shop-pages", type=int, default=3000, help="items the shop crawl stops after")
    ap.add_argument("--spa-pages", type=int, default=200, help="items the spa throughput crawl stops after")
    ap.add_argument("--rss-pages", default="1000,5000", help="browser-crawl page counts to read RSS at")
    ap.add_argument("--data-dir", type=Path, help="default: a temporary directory")
    args = ap.parse_args()
    checkpoints = sorted(int(x) for x in args.rss_pages.split(",") if x)

    from shian.settings import configure
    data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="shian-bench-"))
    configure(data_dir=data_dir, store="sqlite")
    from crawler import run_crawl

    sites, urls = start_sites(args.listings, args.seed)
    out = {"listings": args.listings, "data_dir": str(data_dir)}
    try:
        cap = site_capacity(urls["shop"], args.capacity_pages)
        out["shop_site_capacity_pages_s"] = round(cap, 1)
        print(f"shop site capacity (Python keep-alive client, 8 threads): {cap:.1f} pages/s", flush=True)

        s = run_crawl("shop", base_url=urls["shop"], data_dir=data_dir, max_items=args.shop_pages)
        rate = s["pages"] / s["duration_s"]
        out["crawler_shop"] = {"pages": s["pages"], "items": s["items"], "duration_s": s["duration_s"],
                               "pages_s": round(rate, 1), "share_of_capacity": round(rate / cap, 3)}
        print(f"crawler on shop, full pipeline: {s['pages']} pages in {s['duration_s']:.1f}s = {rate:.1f} pages/s "
              f"({100 * rate / cap:.0f}% of site capacity; target >= 60%)", flush=True)

        s = run_crawl("spa", base_url=urls["spa"], data_dir=data_dir, max_items=args.spa_pages)
        rate = s["browser_pages"] / s["duration_s"]
        out["crawler_spa"] = {"browser_pages": s["browser_pages"], "items": s["items"],
                              "duration_s": s["duration_s"], "browser_pages_s": round(rate, 2)}
        print(f"crawler on spa (Chromium, full-page screenshots): {s['browser_pages']} pages in "
              f"{s['duration_s']:.1f}s = {rate:.2f} pages/s (target >= 4)", flush=True)

        r = browser_rss(urls["spa"], checkpoints, data_dir / "rss")
        out["browser_rss"] = r["marks"]
        for n, m in r["marks"].items():
            print(f"browser crawl RSS at page {n}: crawler {m['crawler_mb']} MB, "
                  f"crawler + Chromium {m['with_browser_mb']} MB", flush=True)
        if len(r["marks"]) >= 2:
            a, b = (r["marks"][k] for k in checkpoints[:2]) if all(k in r["marks"] for k in checkpoints[:2]) \
                else list(r["marks"].values())[:2]
            growth = (b["crawler_mb"] - a["crawler_mb"]) / a["crawler_mb"]
            out["browser_rss_growth"] = round(growth, 3)
            print(f"crawler RSS growth between the two marks: {100 * growth:+.1f}% (target within 10%)")
    finally:
        sites.terminate()
        sites.wait()
    print(json.dumps(out, ensure_ascii=False))


if __name__ == "__main__":
    main()
