"""SQLite specifics: the file is shared by several processes (crawler, UI) at once."""
from __future__ import annotations

import multiprocessing
import sqlite3
from datetime import timedelta

from shian.store import fields
from shian.store.base import Query
from shian.store.sqlite import SQLiteStore
from tests.store.test_store_contract import T0, make


def crawl(path: str, worker: int) -> None:
    store = SQLiteStore(path)
    for n in range(40):                     # overlapping ids across workers
        store.upsert(make(n, seen=T0 + timedelta(minutes=worker)))
    store.upsert_many([make(100 * (worker + 1) + n) for n in range(20)])
    store.close()


def test_several_processes_write_one_file_without_loss_or_duplicates(tmp_path):
    path = str(tmp_path / "shared.sqlite3")
    SQLiteStore(path).close()
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=crawl, args=(path, w)) for w in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
    assert [p.exitcode for p in procs] == [0, 0, 0]
    store = SQLiteStore(path)
    assert store.count() == 40 + 3 * 20
    assert store.get(make(7).id).last_seen == T0 + timedelta(minutes=2)
    assert store.search(Query(size=1000)).total == 100


def test_file_is_in_wal_mode_and_readable_by_plain_sqlite(tmp_path):
    store = SQLiteStore(tmp_path / "s.sqlite3")
    store.upsert(make(1, title="降血糖茶"))
    db = sqlite3.connect(tmp_path / "s.sqlite3")
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    doc = db.execute("SELECT doc FROM docs").fetchone()[0]
    assert "降血糖茶" in doc
    db.close()
    store.close()


FACETS = ("status", "platform", "kind", "claim_type", "severity", "licence_verdict", "health_reg_verdict", "region")


def expected_counts(store, query: Query) -> tuple[int, dict]:
    """Total and facet counts worked out item by item, the slow obvious way."""
    total, counts = 0, {key: {} for key in query.facets}
    for item_id in store.ids():
        item = store.get(item_id)
        terms = fields.filter_terms(item)
        if query.flagged_only and not fields.flagged(item):
            continue
        if any(v and not set(v) & set(terms[k]) for k, v in query.filters.items()):
            continue
        total += 1
        for key in query.facets:
            for value in terms[key]:
                counts[key][value] = counts[key].get(value, 0) + 1
    return total, counts


def test_queue_counts_stay_right_through_claims_recrawls_and_takedowns(tmp_path):
    store = SQLiteStore(tmp_path / "s.sqlite3")
    items = [make(n, platform=("tb", "jd", "pdd")[n % 3], region=("新郑市", "中牟县")[n % 2],
                  claims=(("disease_claim",), ("absolute_claim", "disease_claim"), ())[n % 3],
                  severity=("high", "low")[n % 2], licence=(None, "ok", "missing")[n % 3],
                  kind=("listing", "live")[n % 4 == 0]) for n in range(30)]
    store.upsert_many(items)
    for n in (1, 4, 7):                      # reviewers claim a few
        item = store.get(items[n].id)
        item.review.status, item.review.assignee = "claimed", "reviewer1"
        store.replace(item)
    changed = items[4].model_copy(deep=True)  # re-crawled with new content and findings
    changed.listing.content_hash = "new"
    changed.analysis.findings[0].type = "health_function_on_ordinary_food"
    assert store.upsert(changed).outcome == "changed"
    store.mark_taken_down(items[9].id, T0)
    queries = [Query(filters={"status": ["new", "claimed"]}, facets=FACETS),
               Query(filters={"claim_type": ["absolute_claim"], "severity": ["low", "medium"]}, facets=FACETS),
               Query(filters={"platform": ["jd"], "status": ["claimed"]}, flagged_only=False, facets=FACETS),
               Query(flagged_only=False, facets=FACETS)]
    for query in queries:
        total, counts = expected_counts(store, query)
        page = store.search(query)
        assert (page.total, page.facets) == (total, counts)
        # the same query through the path that scans items (a time bound) counts the same
        scanned = store.search(Query(**{**query.__dict__, "since": T0 - timedelta(days=1)}))
        assert (scanned.total, scanned.facets) == (total, counts)
    store.close()


V3_SCHEMA = """
CREATE TABLE items (seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, version INTEGER NOT NULL,
    platform TEXT NOT NULL, flagged INTEGER NOT NULL, risk REAL NOT NULL, due_ms INTEGER NOT NULL,
    last_seen_ms INTEGER NOT NULL);
CREATE TABLE docs (id TEXT PRIMARY KEY, doc TEXT NOT NULL);
CREATE VIRTUAL TABLE bodies USING fts5 (body, tokenize = 'trigram');
CREATE TABLE item_terms (key TEXT NOT NULL, value TEXT NOT NULL, item_id TEXT NOT NULL,
    PRIMARY KEY (key, value, item_id)) WITHOUT ROWID;
CREATE TABLE registry (kind TEXT NOT NULL, key TEXT NOT NULL, doc TEXT NOT NULL, PRIMARY KEY (kind, key));
CREATE TABLE meta (key TEXT PRIMARY KEY, doc TEXT NOT NULL);
PRAGMA user_version = 3;
"""


def test_a_data_dir_of_the_previous_layout_is_upgraded_in_place(tmp_path):
    path = tmp_path / "old.sqlite3"
    db = sqlite3.connect(path)
    db.executescript(V3_SCHEMA)
    items = [make(n, platform=("tb", "jd")[n % 2], title=f"降血糖{n}") for n in range(6)]
    for seq, item in enumerate(items, 1):
        db.execute("INSERT INTO items VALUES (?, ?, 3, ?, 1, 0.5, ?, ?)",
                   (seq, item.id, item.listing.platform, fields.due_ms(item), fields.epoch_ms(item.last_seen)))
        db.execute("INSERT INTO docs VALUES (?, ?)", (item.id, fields.to_json(item)))
        db.execute("INSERT INTO bodies (rowid, body) VALUES (?, ?)", (seq, fields.body(item)))
    db.execute("INSERT INTO meta VALUES ('k', '{\"a\": 1}')")
    db.commit()
    db.close()
    store = SQLiteStore(path)
    page = store.search(Query(filters={"platform": ["jd"]}, text="降血糖", facets=("platform", "claim_type")))
    assert page.total == 3 and page.facets == {"platform": {"jd": 3}, "claim_type": {"disease_claim": 3}}
    assert store.search(Query(facets=("platform",))).facets == {"platform": {"jd": 3, "tb": 3}}
    assert store.get(items[0].id).version == "3" and store.get_meta("k") == {"a": 1}
    store.upsert(make(99))                    # and it is writable
    assert store.count() == 7
    store.close()
