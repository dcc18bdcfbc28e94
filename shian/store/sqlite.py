"""The embedded store: one SQLite file in WAL mode.

The review UI (threads) and crawler processes share the file: every thread
gets its own connection, writes take the write lock up front (BEGIN
IMMEDIATE) and wait for it (busy timeout), and a conditional write is
`UPDATE ... WHERE version = ?`. Chinese substring search is LIKE '%..%'
(works for any length, including two-character terms like 血糖).
"""
from __future__ import annotations

import json
import os
import sqlite3
import threading
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, Iterable, Iterator

from shian.models import ReviewItem
from shian.store import fields
from shian.store.base import Conflict, NotFound, Page, Query, Store, StoreError, UpsertResult

SCHEMA_VERSION = 3
SCHEMA = """
-- items is kept narrow (counts and facet filters scan it); documents and search text live beside it
CREATE TABLE IF NOT EXISTS items (
    seq INTEGER PRIMARY KEY,        -- stable rowid shared with the bodies index
    id TEXT NOT NULL UNIQUE,
    version INTEGER NOT NULL,
    platform TEXT NOT NULL,
    flagged INTEGER NOT NULL,
    risk REAL NOT NULL,
    due_ms INTEGER NOT NULL,
    last_seen_ms INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS items_risk ON items (risk DESC, id);
CREATE INDEX IF NOT EXISTS items_due ON items (due_ms, id);
CREATE INDEX IF NOT EXISTS items_time ON items (last_seen_ms DESC, id);
CREATE INDEX IF NOT EXISTS items_platform ON items (platform, id);
CREATE INDEX IF NOT EXISTS items_flagged ON items (flagged, id);
CREATE TABLE IF NOT EXISTS docs (id TEXT PRIMARY KEY, doc TEXT NOT NULL);
-- trigram index: substrings of 3+ characters are looked up; shorter ones scan (still correct)
CREATE VIRTUAL TABLE IF NOT EXISTS bodies USING fts5 (body, tokenize = 'trigram');
CREATE TABLE IF NOT EXISTS item_terms (
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    item_id TEXT NOT NULL,
    PRIMARY KEY (key, value, item_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS item_terms_item ON item_terms (item_id);
CREATE TABLE IF NOT EXISTS registry (
    kind TEXT NOT NULL,
    key TEXT NOT NULL,
    doc TEXT NOT NULL,
    PRIMARY KEY (kind, key)
);
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    doc TEXT NOT NULL
);
"""

# sort name -> (column, direction); ties break on id ascending
SORT_COLUMNS = {"risk": ("risk", "DESC"), "due": ("due_ms", "ASC"), "time": ("last_seen_ms", "DESC")}


class SQLiteStore(Store):
    def __init__(self, path: str | Path, busy_timeout_s: float = 30.0):
        self.path = Path(path)
        self.busy_timeout_s = busy_timeout_s
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            db = self._db()
            found = db.execute("PRAGMA user_version").fetchone()[0]
            if found not in (0, SCHEMA_VERSION) or (found == 0 and db.execute(
                    "SELECT 1 FROM sqlite_master WHERE name = 'items'").fetchone()):
                raise StoreError(f"{self.path} has an older store layout (version {found}); "
                                 f"move it away or delete it and re-ingest")
            db.executescript(SCHEMA + f"PRAGMA user_version = {SCHEMA_VERSION};")
        except sqlite3.Error as exc:
            raise StoreError(f"cannot create SQLite store {self.path}: {exc}") from exc

    # -- connections ---------------------------------------------------------
    def _db(self) -> sqlite3.Connection:
        """This thread's connection (a fresh one after fork: connections must not cross processes)."""
        db = getattr(self._local, "db", None)
        if db is None or self._local.pid != os.getpid():
            try:
                db = sqlite3.connect(self.path, timeout=self.busy_timeout_s, isolation_level=None,
                                     check_same_thread=False)
                db.execute("PRAGMA journal_mode=WAL")
                db.execute("PRAGMA synchronous=NORMAL")
                db.execute("PRAGMA foreign_keys=ON")
            except sqlite3.Error as exc:
                raise StoreError(f"cannot open SQLite store {self.path}: {exc}") from exc
            self._local.db, self._local.pid = db, os.getpid()
            with self._lock:
                self._all.append(db)
        return db

    @contextmanager
    def _write(self):
        """One write transaction holding the write lock from the start (no upgrade deadlocks)."""
        db = self._db()
        try:
            db.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise StoreError(f"SQLite store {self.path} is busy or unwritable: {exc}") from exc
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        else:
            try:
                db.execute("COMMIT")
            except sqlite3.Error as exc:
                db.execute("ROLLBACK")
                raise StoreError(f"SQLite commit failed: {exc}") from exc

    def _read(self, sql: str, params: Iterable[Any] = ()) -> list[tuple]:
        try:
            return self._db().execute(sql, tuple(params)).fetchall()
        except sqlite3.Error as exc:
            raise StoreError(f"SQLite query failed: {exc}") from exc

    # -- items ---------------------------------------------------------------
    def _load(self, db: sqlite3.Connection, item_id: str) -> ReviewItem | None:
        row = db.execute("SELECT d.doc, i.version FROM items i JOIN docs d ON d.id = i.id WHERE i.id = ?",
                         (item_id,)).fetchone()
        return None if row is None else fields.from_json(row[0], str(row[1]))

    def _save(self, db: sqlite3.Connection, item: ReviewItem, expect: int | None) -> ReviewItem:
        """Insert (expect None) or compare-and-set update; returns the item with its new version."""
        cols = (item.listing.platform, int(fields.flagged(item)), float(item.analysis.risk),
                fields.due_ms(item), fields.epoch_ms(item.last_seen))
        if expect is None:
            db.execute("INSERT INTO items (id, version, platform, flagged, risk, due_ms, last_seen_ms)"
                       " VALUES (?, 1, ?, ?, ?, ?, ?)", (item.id, *cols))
            version = 1
        else:
            cur = db.execute("UPDATE items SET version = version + 1, platform = ?, flagged = ?, risk = ?,"
                             " due_ms = ?, last_seen_ms = ? WHERE id = ? AND version = ?",
                             (*cols, item.id, expect))
            if cur.rowcount != 1:
                raise Conflict(item.id, self._load(db, item.id))
            version = expect + 1
        db.execute("INSERT OR REPLACE INTO docs (id, doc) VALUES (?, ?)", (item.id, fields.to_json(item)))
        seq = db.execute("SELECT seq FROM items WHERE id = ?", (item.id,)).fetchone()[0]
        db.execute("DELETE FROM bodies WHERE rowid = ?", (seq,))
        db.execute("INSERT INTO bodies (rowid, body) VALUES (?, ?)", (seq, fields.body(item)))
        db.execute("DELETE FROM item_terms WHERE item_id = ?", (item.id,))
        db.executemany("INSERT INTO item_terms (key, value, item_id) VALUES (?, ?, ?)",
                       [(k, v, item.id) for k, values in fields.filter_terms(item).items() for v in values])
        return item.model_copy(update={"version": str(version)})

    def _upsert(self, db: sqlite3.Connection, item: ReviewItem) -> UpsertResult:
        stored = self._load(db, item.id)
        if stored is None:
            return UpsertResult(self._save(db, item, None), "created")
        merged, outcome = fields.merge_recrawl(stored, item)
        return UpsertResult(self._save(db, merged, int(stored.version)), outcome)

    def upsert(self, item: ReviewItem) -> UpsertResult:
        with self._write() as db:
            return self._upsert(db, item)

    def upsert_many(self, items: Iterable[ReviewItem]) -> list[UpsertResult]:
        with self._write() as db:
            return [self._upsert(db, item) for item in items]

    def get(self, item_id: str) -> ReviewItem:
        rows = self._read("SELECT d.doc, i.version FROM items i JOIN docs d ON d.id = i.id WHERE i.id = ?",
                          (item_id,))
        if not rows:
            raise NotFound(f"no item {item_id}")
        return fields.from_json(rows[0][0], str(rows[0][1]))

    def replace(self, item: ReviewItem) -> ReviewItem:
        try:
            expect = int(item.version)
        except ValueError:
            raise Conflict(item.id, self._maybe_get(item.id)) from None
        with self._write() as db:
            if db.execute("SELECT 1 FROM items WHERE id = ?", (item.id,)).fetchone() is None:
                raise NotFound(f"no item {item.id}")
            return self._save(db, item, expect)

    def _maybe_get(self, item_id: str) -> ReviewItem | None:
        try:
            return self.get(item_id)
        except NotFound:
            return None

    def mark_taken_down(self, item_id: str, when: datetime) -> None:
        with self._write() as db:
            stored = self._load(db, item_id)
            if stored is None:
                raise NotFound(f"no item {item_id}")
            if stored.taken_down_at is None:
                stored.taken_down_at = when
                self._save(db, stored, int(stored.version))

    def ids(self, platform: str | None = None) -> Iterator[str]:
        if platform is None:
            rows = self._read("SELECT id FROM items ORDER BY id")
        else:
            rows = self._read("SELECT id FROM items WHERE platform = ? ORDER BY id", (platform,))
        return iter([r[0] for r in rows])

    # -- search ----------------------------------------------------------------
    def _where(self, query: Query) -> tuple[list[str], list[Any]]:
        where, params = [], []
        if query.flagged_only:
            where.append("flagged = 1")
        if query.since is not None:
            where.append("last_seen_ms >= ?")
            params.append(fields.epoch_ms(query.since))
        if query.until is not None:
            where.append("last_seen_ms < ?")
            params.append(fields.epoch_ms(query.until))
        if query.due_before is not None:
            where.append("due_ms < ?")
            params.append(fields.epoch_ms(query.due_before))
        text = query.text.strip()
        if text:
            if len(text) >= 3 and not any(c in text for c in "%_\\"):
                # the trigram index answers this LIKE; it cannot with ESCAPE or under 3 characters
                where.append("seq IN (SELECT rowid FROM bodies WHERE body LIKE ?)")
                params.append(f"%{text}%")
            else:
                escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
                where.append("seq IN (SELECT rowid FROM bodies WHERE body LIKE ? ESCAPE '\\')")
                params.append(f"%{escaped}%")
        for key, values in query.filters.items():
            values = [str(v) for v in values]
            if not values:
                continue
            marks = ", ".join("?" * len(values))
            where.append(f"id IN (SELECT item_id FROM item_terms WHERE key = ? AND value IN ({marks}))")
            params.extend([key, *values])
        return where, params

    def search(self, query: Query) -> Page:
        fields.check_query(query)
        where, params = self._where(query)
        base = " AND ".join(where) or "1"
        total = self._read(f"SELECT COUNT(*) FROM items WHERE {base}", params)[0][0]
        facets = {}
        for key in query.facets:
            rows = self._read(f"SELECT value, COUNT(*) FROM item_terms WHERE key = ? AND item_id IN "
                              f"(SELECT id FROM items WHERE {base}) GROUP BY value", [key, *params])
            facets[key] = dict(sorted(rows, key=lambda r: (-r[1], r[0])))
        column, direction = SORT_COLUMNS[query.sort]
        page_where, page_params = list(where), list(params)
        if query.after is not None:
            value, last_id = query.after
            cmp = "<" if direction == "DESC" else ">"
            page_where.append(f"({column} {cmp} ? OR ({column} = ? AND id > ?))")
            page_params.extend([value, value, last_id])
        rows = self._read(f"SELECT id, version, {column} FROM items WHERE {' AND '.join(page_where) or '1'}"
                          f" ORDER BY {column} {direction}, id ASC LIMIT ?", [*page_params, query.size + 1])
        more = len(rows) > query.size
        rows = rows[:query.size]
        docs = dict(self._read(f"SELECT id, doc FROM docs WHERE id IN ({', '.join('?' * len(rows))})",
                               [r[0] for r in rows])) if rows else {}
        items = [fields.from_json(docs[r[0]], str(r[1])) for r in rows]
        next_after = [rows[-1][2], rows[-1][0]] if more and rows else None
        return Page(items=items, total=total, facets=facets, next_after=next_after)

    # -- registry and meta -----------------------------------------------------
    def put_registry(self, kind: str, records: Iterable[dict], key: str) -> int:
        n = 0
        with self._write() as db:
            for record in records:
                if record.get(key) in (None, ""):
                    raise StoreError(f"registry record without {key!r}: {str(record)[:200]}")
                db.execute("INSERT INTO registry (kind, key, doc) VALUES (?, ?, ?) ON CONFLICT (kind, key)"
                           " DO UPDATE SET doc = excluded.doc",
                           (kind, str(record[key]), json.dumps(record, ensure_ascii=False, default=str)))
                n += 1
        return n

    def registry(self, kind: str) -> Iterator[dict]:
        return iter([json.loads(r[0]) for r in
                     self._read("SELECT doc FROM registry WHERE kind = ? ORDER BY key", (kind,))])

    def put_meta(self, key: str, value: dict) -> None:
        with self._write() as db:
            db.execute("INSERT INTO meta (key, doc) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET doc = excluded.doc",
                       (key, json.dumps(value, ensure_ascii=False, default=str)))

    def get_meta(self, key: str) -> dict | None:
        rows = self._read("SELECT doc FROM meta WHERE key = ?", (key,))
        return json.loads(rows[0][0]) if rows else None

    def list_meta(self, prefix: str) -> list[tuple[str, dict]]:
        # range scan instead of LIKE so '%' or '_' in a prefix mean themselves
        rows = self._read("SELECT key, doc FROM meta WHERE key >= ? AND key < ? ORDER BY key",
                          (prefix, prefix + "\U0010ffff"))
        return [(k, json.loads(d)) for k, d in rows]

    # -- lifecycle -------------------------------------------------------------
    def count(self) -> int:
        return self._read("SELECT COUNT(*) FROM items")[0][0]

    def refresh(self) -> None:
        pass

    def close(self) -> None:
        with self._lock:
            conns, self._all = self._all, []
        for db in conns:
            try:
                db.close()
            except sqlite3.Error:
                pass
        self._local = threading.local()
