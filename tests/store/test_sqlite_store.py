"""SQLite specifics: the file is shared by several processes (crawler, UI) at once."""
from __future__ import annotations

import multiprocessing
import sqlite3
from datetime import timedelta

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
