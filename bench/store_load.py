"""Bulk-load N items into SQLite and into the search engine, side by side.

    .venv/bin/python -m bench.store_load --url http://127.0.0.1:9200 [-n 100000]

Prints load rates, a few query times, and the ratio search/sqlite. The search
side uses a throw-away index prefix that is deleted afterwards.
"""
from __future__ import annotations

import argparse
import random
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

from shian.models import Analysis, Finding, Listing, ReviewItem, Shop, Verdict
from shian.store.base import Query
from shian.store.search import SearchStore
from shian.store.sqlite import SQLiteStore

WORDS = ["降血糖", "护肝", "增强免疫力", "祖传秘方", "无糖", "纯天然", "特价", "包邮", "红茶", "蜂蜜",
         "老年人", "糖尿病", "高血压", "减肥", "养胃", "熬夜", "补钙", "儿童", "营养", "正品"]
PLATFORMS = ["tb", "jd", "pdd", "dy", "ks"]
T0 = datetime(2025, 1, 1, tzinfo=timezone.utc)


def items(n: int, seed: int = 7) -> list[ReviewItem]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        text = "".join(rng.choice(WORDS) for _ in range(40))
        claims = rng.sample(["disease_claim", "health_function_on_ordinary_food", "absolute_claim"],
                            rng.randint(0, 2))
        listing = Listing(platform=rng.choice(PLATFORMS), item_id=str(i), title=text[:20], text=text,
                          shop=Shop(name=f"店铺{i % 500}", region=rng.choice(["新郑市", "中牟县", "金水区"])),
                          captured_at=T0 + timedelta(minutes=i))
        analysis = Analysis(findings=[Finding(type=c, rule_id=f"R{c[:3]}", start=0, end=3, text="降血糖",
                                              severity=rng.choice(["low", "medium", "high"])) for c in claims],
                            licence=Verdict(kind="licence", verdict=rng.choice(["ok", "missing", "mismatch"])),
                            risk=round(rng.random(), 3))
        out.append(ReviewItem.new(listing, analysis))
    return out


def load(store, batch: list[ReviewItem], chunk: int = 1000) -> float:
    start = time.perf_counter()
    for i in range(0, len(batch), chunk):
        store.upsert_many(batch[i:i + chunk])
    store.refresh()
    return time.perf_counter() - start


def query_ms(store, query: Query, repeat: int = 5) -> float:
    start = time.perf_counter()
    for _ in range(repeat):
        store.search(query)
    return (time.perf_counter() - start) / repeat * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True, help="search node URL, e.g. from `shian search-node start`")
    parser.add_argument("-n", type=int, default=100_000)
    args = parser.parse_args()

    t = time.perf_counter()
    batch = items(args.n)
    print(f"built {args.n} items in {time.perf_counter() - t:.1f}s")
    queries = {
        "queue page (risk, facets)": Query(size=50, facets=("platform", "claim_type", "licence_verdict")),
        "text 血糖 + facets": Query(text="血糖", size=50, facets=("platform",)),
        "text 祖传秘方": Query(text="祖传秘方", size=50),
        "filter platform+severity": Query(filters={"platform": ["jd"], "severity": ["high"]}, size=50),
    }
    with tempfile.TemporaryDirectory() as tmp:
        sqlite = SQLiteStore(Path(tmp) / "bench.sqlite3")
        search = SearchStore(args.url, prefix=f"bench-{uuid.uuid4().hex[:8]}")
        try:
            secs = {"sqlite": load(sqlite, batch), "search": load(search, batch)}
            for name, s in secs.items():
                print(f"{name:7s} load {args.n} items: {s:6.1f}s  ({args.n / s:,.0f} items/s)")
            print(f"ratio search/sqlite load time: {secs['search'] / secs['sqlite']:.2f}")
            for label, q in queries.items():
                a, b = query_ms(sqlite, q), query_ms(search, q)
                print(f"{label:28s} sqlite {a:7.1f} ms  search {b:7.1f} ms  ratio {b / a:.2f}")
            assert sqlite.count() == search.count() == args.n
        finally:
            search.destroy()
            search.close()
            sqlite.close()


if __name__ == "__main__":
    main()
