"""A small HTTP load client to measure a demo site's capacity (pages/s).

    python -m demo.load --listings 100000 --seconds 5

starts the shop site in this process and drives it from separate client
processes (keep-alive connections, several threads each), so the client does
not share the server's GIL. `capacity(url, paths, ...)` is the reusable part
(bench/crawl.py can call it against any running site).
"""
from __future__ import annotations

import argparse
import http.client
import multiprocessing as mp
import threading
import time
from urllib.parse import urlsplit


def _worker(url: str, paths: list[str], seconds: float, threads: int, offset: int, out) -> None:
    split = urlsplit(url)
    deadline = time.monotonic() + seconds
    counts = [0] * threads
    errors = [0] * threads

    def run(k: int) -> None:
        conn = http.client.HTTPConnection(split.hostname, split.port, timeout=10)
        i = offset + k
        while time.monotonic() < deadline:
            path = paths[i % len(paths)]
            i += threads * 7 + 1
            try:
                conn.request("GET", path)
                resp = conn.getresponse()
                resp.read()
                if resp.status == 200:
                    counts[k] += 1
                else:
                    errors[k] += 1
            except (OSError, http.client.HTTPException):
                errors[k] += 1
                conn.close()
                conn = http.client.HTTPConnection(split.hostname, split.port, timeout=10)
        conn.close()

    workers = [threading.Thread(target=run, args=(k,)) for k in range(threads)]
    for t in workers:
        t.start()
    for t in workers:
        t.join()
    out.put((sum(counts), sum(errors)))


def capacity(url: str, paths: list[str], seconds: float = 5.0, processes: int = 2, threads: int = 4) -> dict:
    """Fetch `paths` from `url` as fast as possible for `seconds`; returns pages/s and counts."""
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(url, paths, seconds, threads, p * 1000, out))
             for p in range(processes)]
    start = time.monotonic()
    for p in procs:
        p.start()
    results = [out.get() for _ in procs]
    for p in procs:
        p.join()
    elapsed = time.monotonic() - start
    ok = sum(r[0] for r in results)
    return {"pages": ok, "errors": sum(r[1] for r in results), "seconds": round(elapsed, 2),
            "pages_per_s": round(ok / elapsed, 1)}


def main(argv=None) -> None:
    from demo.seed import generate
    from demo.sites import start_site

    ap = argparse.ArgumentParser(prog="python -m demo.load")
    ap.add_argument("--listings", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--processes", type=int, default=2)
    ap.add_argument("--threads", type=int, default=4)
    args = ap.parse_args(argv)
    t0 = time.monotonic()
    ds = generate(args.listings, args.seed)
    print(f"generated {args.listings} listings in {time.monotonic() - t0:.2f} s")
    with start_site("shop", ds) as site:
        items = [f"/item/{x.id}" for x in ds.by_platform("shop")]
        mix = items + [f"/category/{x.slug}?page=1" for x in ds.by_platform("shop")[:200]]
        result = capacity(site.url, mix, args.seconds, args.processes, args.threads)
    print(f"shop site: {result['pages_per_s']} pages/s ({result['pages']} pages, {result['errors']} errors, "
          f"{result['seconds']} s)")


if __name__ == "__main__":
    main()
