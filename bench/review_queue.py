"""Review-queue latency: p50/p95 of the queue page, a filtered page with facets, a claim and a decision.

    python bench/review_queue.py --items 100000                    # SQLite (embedded)
    python bench/review_queue.py --items 1000000 --search-url URL  # the search node

Items are generated (several platforms, regions, claim types), loaded in bulk, then each request
goes through the Flask test client with a logged-in session, so the figures include routing,
templates, the store and the audit log, but not the network.
"""
from __future__ import annotations

import argparse
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


def timed(fn, repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        out.append((time.perf_counter() - start) * 1000)
    return out


def bulk_settings(store, settings: dict) -> None:
    """Index settings for a bulk load (search store only; SQLite has nothing to tune)."""
    engine = getattr(store, "engine", None)
    if engine is not None:
        engine.call("indices.put_settings", index=store.index("items"), body={"index": settings})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--search-url", default="", help="use the search-engine store at this URL")
    parser.add_argument("--repeat", type=int, default=50)
    parser.add_argument("--data-dir", default="", help="reuse a data dir (skips loading when it has items)")
    args = parser.parse_args()

    data_dir = Path(args.data_dir or tempfile.mkdtemp(prefix="shian-bench-"))
    settings = configure(data_dir=data_dir, store="search" if args.search_url else "sqlite",
                         search_url=args.search_url or "http://127.0.0.1:9200", secret_key="bench",
                         search_index_prefix="bench")
    from shian.store import Query, open_store
    store = open_store(settings)
    rnd = random.Random(7)
    now = datetime.now(timezone.utc)
    have = store.count()
    if have < args.items:
        start = time.perf_counter()
        bulk_settings(store, {"refresh_interval": "-1"})   # no refreshes while loading
        batch = []
        for n in range(have, args.items):
            batch.append(make(n, rnd, now))
            if len(batch) == 5000:
                store.upsert_many(batch)
                batch = []
                print(f"\rloaded {n + 1:,}", end="", file=sys.stderr)
        if batch:
            store.upsert_many(batch)
        bulk_settings(store, {"refresh_interval": None})    # back to the template's default
        store.refresh()
        print(f"\rloaded {args.items - have:,} items in {time.perf_counter() - start:.0f} s", file=sys.stderr)
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

    cases = {
        "queue page": lambda: ok(client.get("/")),
        "filtered page + facets": lambda: ok(client.get("/?platform=shop&region=新郑市&severity=high&q=降血糖")),
        "claim": claim,
        "decision": decide,
    }
    for name in ("queue page", "filtered page + facets"):
        cases[name]()   # warm caches
    print(f"store={settings.store} items={store.count():,} repeat={args.repeat}")
    for name, fn in cases.items():
        p50, p95 = percentiles(timed(fn, args.repeat))
        print(f"{name:24s} p50 {p50:7.1f} ms   p95 {p95:7.1f} ms")
    store.close()


if __name__ == "__main__":
    main()
