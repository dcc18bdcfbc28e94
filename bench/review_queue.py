"""Review-queue latency: p50/p95 of the queue page, its deferred counts, a filtered page, a claim and a decision.

    python bench/review_queue.py --items 100000 --data-dir /tmp/rq-100k                   # SQLite (embedded)
    python bench/review_queue.py --items 1000000 --search-url URL --data-dir /tmp/rq-1m   # the search node

URL from `shian search-node start --dir /tmp/rq-node --port 0 --heap 2g` (1,000,000 items want more than
the default 1g heap); the node keeps its data in --dir, so later runs start it again and reuse the items.

Run it in parts: `--part load` fills the store once (skipped when it already holds --items), `--part
measure` only measures; keep the data dir (and, for the search store, the node's --dir) to re-run
quickly. On the search store only --generate items (default 100,000) are built in Python; the rest are
copies the node makes itself (_reindex with fresh ids and risk scores), which loads 1,000,000 in minutes
instead of an hour without changing what a query has to do.

Each request goes through the Flask test client with a logged-in session, so the figures include
routing, templates, the store and the audit log, but not the network. A page shows its rows and a
bounded total; its facet counts and exact total are a second request (GET /queue/facets, fetched by the
page's script after load), measured on its own "counts" line. "page + counts inline" is the one-request
page of before (?counts=1, the no-script fallback), measured side by side as the baseline. Counts are
computed on every view: nothing in Shian caches them, and the node's request cache is cleared (untimed)
before each request. The "store only" lines are the store.search call of the line above without Flask:
the ratio page/store is what the web layer adds.
(Named review_queue.py, not queue.py: `python bench/queue.py` would shadow the stdlib `queue` module.)
"""
from __future__ import annotations

import argparse
import json
import os
import random
import re
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from review_ui import create_app  # noqa: E402
from shian.models import Analysis, Finding, Listing, ReviewItem, Shop, Verdict  # noqa: E402
from shian.settings import configure  # noqa: E402
from shian.users import Users  # noqa: E402

CLAIMS = [("降血糖", "disease_claim", "high"), ("增强免疫力", "health_function_on_ordinary_food", "medium"),
          ("最好", "absolute_term", "low"), ("无副作用", "efficacy_guarantee", "medium"),
          ("专家推荐", "medical_endorsement", "medium"), ("排毒", "unapproved_function", "medium")]
PLATFORMS = ["shop", "spa", "live", "feed"]
REGIONS = ["新郑市", "中原区", "金水区", "二七区", "管城区", "惠济区"]
VERDICTS = ["ok", "ok", "ok", "missing", "not_in_registry", "holder_mismatch", "expired"]


def make(n: int, rnd: random.Random, now: datetime) -> ReviewItem:
    picked = rnd.sample(CLAIMS, rnd.randint(0, 3))
    text = "，".join(["好喝的红枣茶"] + [p[0] for p in picked] + [f"第{n}批"])
    findings = []
    for span, type_, sev in picked:
        at = text.index(span)
        findings.append(Finding(type=type_, rule_id=f"{type_}.{rnd.randint(0, 20)}", list_version="v1", start=at,
                                end=at + len(span), text=span, severity=sev))
    seen = now - timedelta(minutes=rnd.randint(0, 60 * 24 * 30))
    shop = f"店铺{n % 5000}"
    listing = Listing(platform=rnd.choice(PLATFORMS), kind="live" if n % 10 == 0 else "listing",
                      url=f"http://127.0.0.1/i/{n}", item_id=str(n), title=f"商品{n} 红枣茶", text=text,
                      shop=Shop(name=shop, operator_name=shop + "食品有限公司", region=rnd.choice(REGIONS)),
                      captured_at=seen)
    analysis = Analysis(findings=findings, licence=Verdict(kind="licence", verdict=rnd.choice(VERDICTS)),
                        risk=round(rnd.random() * 30, 2))
    item = ReviewItem.new(listing, analysis)
    item.review.due = seen + timedelta(hours=24)
    return item


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]


def timed(fn, repeat: int, before=lambda: None) -> list[float]:
    out = []
    for _ in range(repeat):
        before()
        start = time.perf_counter()
        fn()
        out.append((time.perf_counter() - start) * 1000)
    return out


def bulk_settings(store, settings: dict) -> None:
    """Index settings for a bulk load (search store only; SQLite has nothing to tune)."""
    engine = getattr(store, "engine", None)
    if engine is not None:
        engine.call("indices.put_settings", index=store.index("items"), body={"index": settings})


COPY_SCRIPT = """
String id = ctx._source.id + '~' + params.k;
double risk = Math.floor(Math.random() * 3000) / 100.0;
ctx._id = id; ctx._source.id = id; ctx._source.item.id = id;
ctx._source.risk = risk; ctx._source.item.analysis.risk = risk;
"""


def fill_by_copies(store, want: int) -> None:
    """Copy the generated items inside the node (new ids, new risk scores) until the store holds `want`."""
    engine, alias = store.engine, store.index("items")
    seed = alias + "-seed"
    store.refresh()
    have = store.count()
    from shian.store.search import MAPPING, reindex
    body = json.loads(json.dumps(MAPPING["items"]))
    for key in ("sort.field", "sort.order"):           # a scratch copy: no need to keep it sorted
        body["settings"].pop(key, None)
    body["settings"].update({"refresh_interval": "-1", "translog.durability": "async"})
    engine.call("indices.create", index=seed, body=body)
    reindex(engine, {"source": {"index": alias, "size": 2000}, "dest": {"index": seed}})
    engine.call("indices.refresh", index=seed)
    try:
        k = 1
        while have < want:
            body = {"source": {"index": seed, "size": 2000}, "dest": {"index": alias, "op_type": "create"},
                    "script": {"lang": "painless", "source": COPY_SCRIPT, "params": {"k": k}},
                    "max_docs": min(want - have, store_seed_count(engine, seed))}
            start = time.perf_counter()
            reindex(engine, body)
            store.refresh()
            have = store.count()
            print(f"copy {k}: {have:,} items ({time.perf_counter() - start:.0f} s)", file=sys.stderr)
            k += 1
    finally:
        engine.call("indices.delete", index=seed)


def store_seed_count(engine, seed: str) -> int:
    return int(engine.call("count", index=seed)["count"])


def load(store, settings, items: int, generate: int) -> None:
    rnd = random.Random(7)
    now = datetime.now(timezone.utc)
    have = store.count()
    if have >= items:
        return
    search = settings.store == "search"
    start = time.perf_counter()
    # no refreshes and no fsync per bulk request while loading
    bulk_settings(store, {"refresh_interval": "-1", "translog.durability": "async"})
    try:
        target = min(items, generate) if search else items
        batch = []
        for n in range(have, target):
            batch.append(make(n, rnd, now))
            if len(batch) == 5000:
                store.upsert_many(batch)
                batch = []
                print(f"\rloaded {n + 1:,}", end="", file=sys.stderr)
        if batch:
            store.upsert_many(batch)
        if search and items > target:
            fill_by_copies(store, items)
    finally:
        bulk_settings(store, {"refresh_interval": None, "translog.durability": None})   # back to the defaults
    store.refresh()
    print(f"\rloaded {store.count() - have:,} items in {time.perf_counter() - start:.0f} s", file=sys.stderr)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--search-url", default="", help="use the search-engine store at this URL")
    parser.add_argument("--repeat", type=int, default=50)
    parser.add_argument("--data-dir", default="", help="reuse a data dir (skips loading when it has items)")
    parser.add_argument("--part", choices=["load", "measure", "all"], default="all")
    parser.add_argument("--generate", type=int, default=100_000,
                        help="search store: items built in Python; the node copies them up to --items")
    args = parser.parse_args()

    data_dir = Path(args.data_dir or tempfile.mkdtemp(prefix="shian-bench-"))
    settings = configure(data_dir=data_dir, store="search" if args.search_url else "sqlite",
                         search_url=args.search_url or "http://127.0.0.1:9200", secret_key="bench",
                         search_index_prefix="bench")
    from shian.store import Query, open_store
    store = open_store(settings)
    if args.part in ("load", "all"):
        load(store, settings, args.items, args.generate)
    if args.part == "load":
        store.close()
        return
    users = Users(data_dir)
    if users.get("bench") is None:
        users.add("bench", "lead", "bench-password")
    app = create_app(settings, store)
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    assert client.post("/login", data={"username": "bench", "password": "bench-password",
                                       "csrf_token": token}).status_code == 302
    # the session is renewed at login, so take the token of the new one
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/").get_data(as_text=True)).group(1)
    headers = {"X-CSRFToken": token}

    def ok(response):
        assert response.status_code == 200, (response.status_code, response.get_data(as_text=True)[:300])
        return response

    # candidates for claims and decisions: fresh items nobody holds
    fresh = store.search(Query(filters={"status": ["new"], "claim_type": ["disease_claim"]},
                               size=args.repeat * 2 + 10)).items
    ids = iter(i.id for i in fresh)
    disease_at = {i.id: next(f.key for f in i.analysis.findings if f.type == "disease_claim") for i in fresh}
    claimed: list[str] = []

    def claim():
        item_id = next(ids)
        ok(client.post(f"/api/v1/items/{item_id}/claim", headers=headers))
        claimed.append(item_id)

    def decide():
        item_id = claimed.pop()
        ok(client.post(f"/api/v1/items/{item_id}/decide", headers=headers, json={"decisions": [
            {"target": f"finding:{disease_at[item_id]}", "action": "confirm",
             "reason_code": "fsl71_disease_function"}]}))

    from dataclasses import replace
    from zoneinfo import ZoneInfo

    from review_ui.queries import query_from_args
    from werkzeug.datastructures import MultiDict
    default_url, filtered_url = "/", "/?platform=shop&region=新郑市&severity=high&q=降血糖"

    def store_only(url: str, counts: bool):
        """The store call behind one line: the page's (rows, bounded total) or the counts route's."""
        args = MultiDict([tuple(kv.split("=", 1)) for kv in url.partition("?")[2].split("&") if kv])
        query = query_from_args(args, ZoneInfo(settings.timezone))
        if counts:
            query = replace(query, size=1, after=None, multi_select=True, brief=True)
        else:
            query = replace(query, exact_total=False, multi_select=True, brief=True, facets=())
        return lambda: store.search(query)

    def counts_url(url: str) -> str:
        return "/queue/facets" + url[1:]

    def inline_url(url: str) -> str:
        return url + ("&" if "?" in url else "?") + "counts=1"

    cases = {
        "queue page": lambda: ok(client.get(default_url)),
        "  store only": store_only(default_url, False),
        "queue counts": lambda: ok(client.get(counts_url(default_url))),
        "  store only ": store_only(default_url, True),
        "filtered page": lambda: ok(client.get(filtered_url)),
        "  store only  ": store_only(filtered_url, False),
        "filtered counts": lambda: ok(client.get(counts_url(filtered_url))),
        "  store only   ": store_only(filtered_url, True),
        "page + counts inline": lambda: ok(client.get(inline_url(default_url))),
        "filtered + counts inline": lambda: ok(client.get(inline_url(filtered_url))),
        "queue counts, warm": lambda: ok(client.get(counts_url(default_url))),
        "claim": claim,
        "decision": decide,
    }
    for name in ("queue page", "queue counts", "filtered page", "filtered counts"):
        cases[name]()   # warm the node's and the templates' first-use costs
    load1 = os.getloadavg()[0]
    print(f"store={settings.store} items={store.count():,} repeat={args.repeat} load average {load1:.1f}")
    results = {}
    engine = getattr(store, "engine", None)

    def no_cached_counts():
        """Every view pays for its counts: the node's request cache would answer repeats of one view
        until the next refresh, which a queue with reviewers writing all day would not see as often."""
        if engine is not None:
            engine.call("indices.clear_cache", index=store.index("items"), request=True)

    for name, fn in cases.items():
        # ", warm": the node's request cache may answer the counts, as it does for repeated views
        # of one queue between two refreshes (it is never stale: a refresh that changed data empties it)
        before = (lambda: None) if name.endswith(", warm") else no_cached_counts
        results[name] = p50, p95 = percentiles(timed(fn, args.repeat, before))
        line = f"{name:26s} p50 {p50:7.1f} ms   p95 {p95:7.1f} ms"
        if name.startswith("  store only"):
            page = results[above]
            line += f"   page/store p50 {page[0] / p50:4.1f}x"
        else:
            above = name
        print(line)
    print(f"load average after: {os.getloadavg()[0]:.1f}")
    store.close()


if __name__ == "__main__":
    main()
