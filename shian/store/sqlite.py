"""The embedded store: one SQLite file in WAL mode.

The review UI (threads) and crawler processes share the file: every thread
gets its own connection, writes take the write lock up front (BEGIN
IMMEDIATE) and wait for it (busy timeout), and a conditional write is
`UPDATE ... WHERE version = ?`.

Queue speed at 100,000+ items: every filter and sort key is an indexed
column of `items` (multi-valued keys in `item_values`, severity a bit mask);
`item_counts`, kept by triggers, holds the number of items per combination
of the facet keys, so the default views count from a few thousand rows;
pages walk the (sort key, id) index. Chinese substrings: a phrase MATCH on
the trigram FTS5 index for 3+ characters, a scan of its text for 1-2
characters (e.g. 血糖).
"""
from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any, Iterable, Iterator

from shian.models import ReviewItem
from shian.store import fields
from shian.store.base import Conflict, NotFound, Page, Query, Store, StoreError, UpsertResult

log = logging.getLogger(__name__)

SCHEMA_VERSION = 5
# filter keys with one value per item get their own indexed column; the others live in item_values
COLUMNS = ("status", "platform", "kind", "licence_verdict", "health_reg_verdict", "region", "shop", "operator",
           "assignee")
MULTI = tuple(k for k in fields.FILTER_KEYS if k not in COLUMNS and k != "severity")
SEVERITY_BITS = {"low": 1, "medium": 2, "high": 4}    # severity is a closed set: a bit mask, no join
ITEM_COUNTS = """CREATE TABLE IF NOT EXISTS item_counts (
    flagged INTEGER NOT NULL, status TEXT NOT NULL, platform TEXT NOT NULL, kind TEXT NOT NULL,
    licence_verdict TEXT NOT NULL, health_reg_verdict TEXT NOT NULL, region TEXT NOT NULL,
    severity_mask INTEGER NOT NULL, claim_types TEXT NOT NULL, n INTEGER NOT NULL,
    PRIMARY KEY (flagged, status, platform, kind, licence_verdict, health_reg_verdict, region, severity_mask,
                 claim_types)
) WITHOUT ROWID"""
TABLES = """
-- items holds every filter and sort key as a column (one row per item, scanned by counts and facets);
-- documents and search text live beside it
CREATE TABLE IF NOT EXISTS items (
    seq INTEGER PRIMARY KEY,        -- stable rowid shared with bodies and item_values
    id TEXT NOT NULL UNIQUE,
    version INTEGER NOT NULL,
    platform TEXT,
    flagged INTEGER NOT NULL,
    risk REAL NOT NULL,
    due_ms INTEGER NOT NULL,
    last_seen_ms INTEGER NOT NULL,
    status TEXT, kind TEXT, licence_verdict TEXT, health_reg_verdict TEXT, region TEXT,
    shop TEXT, operator TEXT, assignee TEXT, severity_mask INTEGER NOT NULL DEFAULT 0,
    claim_types TEXT NOT NULL DEFAULT ''    -- the item's claim types joined by SEP (for item_counts)
);
CREATE TABLE IF NOT EXISTS docs (id TEXT PRIMARY KEY, doc TEXT NOT NULL);
-- trigram index: substrings of 3+ characters are looked up; shorter ones scan (still correct)
CREATE VIRTUAL TABLE IF NOT EXISTS bodies USING fts5 (body, tokenize = 'trigram');
-- multi-valued filter keys (claim_type, rule_id, list_version, licence_no)
CREATE TABLE IF NOT EXISTS item_values (
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    seq INTEGER NOT NULL,
    PRIMARY KEY (key, value, seq)
) WITHOUT ROWID;
-- items per combination of the facet keys, kept by triggers: the default queue views count from
-- here (a few thousand rows) instead of scanning every item
""" + ITEM_COUNTS + """;
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
# sort keys end in id so keyset paging is an index range; filter columns that narrow a lot are indexed
INDEXES = """
CREATE INDEX IF NOT EXISTS items_risk ON items (risk DESC, id);
CREATE INDEX IF NOT EXISTS items_due ON items (due_ms, id);
CREATE INDEX IF NOT EXISTS items_time ON items (last_seen_ms DESC, id);
CREATE INDEX IF NOT EXISTS items_status ON items (status, flagged);
CREATE INDEX IF NOT EXISTS items_platform ON items (platform);
CREATE INDEX IF NOT EXISTS items_region ON items (region);
CREATE INDEX IF NOT EXISTS items_licence_verdict ON items (licence_verdict);
CREATE INDEX IF NOT EXISTS items_shop ON items (shop);
CREATE INDEX IF NOT EXISTS items_operator ON items (operator);
CREATE INDEX IF NOT EXISTS items_assignee ON items (assignee);
CREATE INDEX IF NOT EXISTS item_values_seq ON item_values (seq, key, value);
"""
CUBE = ("flagged", "status", "platform", "kind", "licence_verdict", "health_reg_verdict", "region", "severity_mask",
        "claim_types")
CUBE_KEYS = ("status", "platform", "kind", "licence_verdict", "health_reg_verdict", "region", "severity", "claim_type")


def _cube_value(row: str, column: str) -> str:
    """NEW.x / OLD.x as stored in item_counts (text keys: '' for none, so the primary key matches)."""
    return f"{row}.{column}" if column in ("flagged", "severity_mask") else f"coalesce({row}.{column}, '')"


def _cube_values(row: str) -> str:
    return ", ".join(_cube_value(row, c) for c in CUBE)


def _cube_match(row: str) -> str:
    return " AND ".join(f"{c} = {_cube_value(row, c)}" for c in CUBE)


TRIGGERS = f"""
CREATE TRIGGER IF NOT EXISTS items_counted AFTER INSERT ON items BEGIN
    INSERT INTO item_counts VALUES ({_cube_values("NEW")}, 1) ON CONFLICT DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER IF NOT EXISTS items_recounted AFTER UPDATE OF {", ".join(CUBE)} ON items BEGIN
    UPDATE item_counts SET n = n - 1 WHERE {_cube_match("OLD")};
    INSERT INTO item_counts VALUES ({_cube_values("NEW")}, 1) ON CONFLICT DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER IF NOT EXISTS items_uncounted AFTER DELETE ON items BEGIN
    UPDATE item_counts SET n = n - 1 WHERE {_cube_match("OLD")};
END;
"""
SCHEMA = TABLES + INDEXES + TRIGGERS
SEP = "\x1f"

# sort name -> (column, direction); ties break on id ascending
SORT_COLUMNS = {"risk": ("risk", "DESC"), "due": ("due_ms", "ASC"), "time": ("last_seen_ms", "DESC")}
WALK_FROM = 2000                     # see search()
ANALYZE_FROM = 1000                  # planner statistics once a store has this many items (and on each doubling)


def columns(item: ReviewItem) -> dict[str, Any]:
    """The items row of an item (without seq/id/version)."""
    terms = fields.filter_terms(item)
    row: dict[str, Any] = {key: (terms[key][0] if terms[key] else None) for key in COLUMNS}
    row.update(flagged=int(fields.flagged(item)), risk=float(item.analysis.risk), due_ms=fields.due_ms(item),
               last_seen_ms=fields.epoch_ms(item.last_seen),
               severity_mask=sum(SEVERITY_BITS.get(s, 0) for s in terms["severity"]),
               claim_types=SEP.join(terms["claim_type"]))
    return row


def multi_values(item: ReviewItem, seq: int) -> list[tuple[str, str, int]]:
    terms = fields.filter_terms(item)
    return [(key, value, seq) for key in MULTI for value in terms[key]]


ROW_NAMES = (*COLUMNS, "flagged", "risk", "due_ms", "last_seen_ms", "severity_mask", "claim_types")


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
            has_items = db.execute("SELECT 1 FROM sqlite_master WHERE name = 'items'").fetchone()
            if found in (3, 4):
                self._migrate(db, found)
            elif found not in (0, SCHEMA_VERSION) or (found == 0 and has_items):
                raise StoreError(f"{self.path} has an older store layout (version {found}) that cannot be "
                                 f"upgraded in place; move it away or delete it and re-ingest")
            db.executescript(SCHEMA + f"PRAGMA user_version = {SCHEMA_VERSION};")
        except sqlite3.Error as exc:
            raise StoreError(f"cannot create SQLite store {self.path}: {exc}") from exc
        self._analyzed = self._stat_rows()

    def _migrate(self, db: sqlite3.Connection, found: int) -> None:
        """Layout 3 or 4 -> 5: filter keys move into columns and item_values, counts into item_counts
        (documents unchanged, so everything is re-derived from them)."""
        log.warning("upgrading SQLite store %s to layout %d (re-deriving filter columns)", self.path, SCHEMA_VERSION)
        db.execute("BEGIN IMMEDIATE")
        try:
            if db.execute("PRAGMA user_version").fetchone()[0] != found:   # another process did it meanwhile
                db.execute("ROLLBACK")
                return
            have = {r[1] for r in db.execute("PRAGMA table_info(items)")}
            for name in ("status", "kind", "licence_verdict", "health_reg_verdict", "region", "shop", "operator",
                         "assignee"):
                if name not in have:
                    db.execute(f"ALTER TABLE items ADD COLUMN {name} TEXT")
            if "severity_mask" not in have:
                db.execute("ALTER TABLE items ADD COLUMN severity_mask INTEGER NOT NULL DEFAULT 0")
            if "claim_types" not in have:
                db.execute("ALTER TABLE items ADD COLUMN claim_types TEXT NOT NULL DEFAULT ''")
            db.execute("DROP TABLE IF EXISTS item_values")
            db.execute("DROP TABLE IF EXISTS item_terms")
            db.execute("DROP INDEX IF EXISTS items_flagged")
            db.execute("CREATE TABLE IF NOT EXISTS item_values (key TEXT NOT NULL, value TEXT NOT NULL,"
                       " seq INTEGER NOT NULL, PRIMARY KEY (key, value, seq)) WITHOUT ROWID")
            sets = ", ".join(f"{n} = ?" for n in ROW_NAMES)
            rows = db.execute("SELECT i.seq, d.doc, i.version FROM items i JOIN docs d ON d.id = i.id").fetchall()
            for seq, doc, version in rows:
                item = fields.from_json(doc, str(version))
                row = columns(item)
                db.execute(f"UPDATE items SET {sets} WHERE seq = ?", (*[row[n] for n in ROW_NAMES], seq))
                db.executemany("INSERT OR IGNORE INTO item_values (key, value, seq) VALUES (?, ?, ?)",
                               multi_values(item, seq))
            db.execute("DROP TABLE IF EXISTS item_counts")
            db.execute(ITEM_COUNTS)
            db.execute(f"INSERT INTO item_counts SELECT {_cube_values('items')}, COUNT(*) FROM items"
                       f" GROUP BY {', '.join(str(n + 1) for n in range(len(CUBE)))}")
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.executescript(INDEXES)
        self._analyze(db)

    def _stat_rows(self) -> int:
        """Items count the planner statistics were taken at (0: none yet)."""
        try:
            row = self._db().execute("SELECT stat FROM sqlite_stat1 WHERE tbl = 'items' LIMIT 1").fetchone()
        except sqlite3.Error:
            return 0
        return int(row[0].split()[0]) if row and row[0] else 0

    def _analyze(self, db: sqlite3.Connection) -> None:
        """Refresh planner statistics: without them SQLite picks a filter index and sorts instead of
        walking the sort index, which is what makes a big queue slow."""
        db.execute("PRAGMA analysis_limit = 2000")
        db.execute("ANALYZE")
        self._analyzed = self._stat_rows()

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
        row = columns(item)
        if not row["platform"]:
            row["platform"] = ""             # NOT NULL in stores created by layout 3
        values = [row[n] for n in ROW_NAMES]
        if expect is None:
            seq = db.execute(f"INSERT INTO items (id, version, {', '.join(ROW_NAMES)})"
                             f" VALUES (?, 1, {', '.join('?' * len(ROW_NAMES))})", (item.id, *values)).lastrowid
            version = 1
        else:
            found = db.execute(f"UPDATE items SET version = version + 1, {', '.join(f'{n} = ?' for n in ROW_NAMES)}"
                               " WHERE id = ? AND version = ? RETURNING seq", (*values, item.id, expect)).fetchall()
            if len(found) != 1:
                raise Conflict(item.id, self._load(db, item.id))
            seq, version = found[0][0], expect + 1
            db.execute("DELETE FROM bodies WHERE rowid = ?", (seq,))
            db.execute("DELETE FROM item_values WHERE seq = ?", (seq,))
        db.execute("INSERT OR REPLACE INTO docs (id, doc) VALUES (?, ?)", (item.id, fields.to_json(item)))
        db.execute("INSERT INTO bodies (rowid, body) VALUES (?, ?)", (seq, fields.body(item)))
        db.executemany("INSERT INTO item_values (key, value, seq) VALUES (?, ?, ?)", multi_values(item, seq))
        return item.model_copy(update={"version": str(version)})

    def _upsert(self, db: sqlite3.Connection, item: ReviewItem) -> UpsertResult:
        stored = self._load(db, item.id)
        if stored is None:
            return UpsertResult(self._save(db, item, None), "created")
        merged, outcome = fields.merge_recrawl(stored, item)
        return UpsertResult(self._save(db, merged, int(stored.version)), outcome)

    def upsert(self, item: ReviewItem) -> UpsertResult:
        with self._write() as db:
            result = self._upsert(db, item)
            self._maybe_analyze(db)
        return result

    def upsert_many(self, items: Iterable[ReviewItem]) -> list[UpsertResult]:
        with self._write() as db:
            results = [self._upsert(db, item) for item in items]
            self._maybe_analyze(db)
        return results

    def _maybe_analyze(self, db: sqlite3.Connection) -> None:
        n = db.execute("SELECT max(seq) FROM items").fetchone()[0] or 0
        if n >= ANALYZE_FROM and n > 2 * self._analyzed:        # the store grew: statistics are stale
            self._analyze(db)

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
    @staticmethod
    def _where(query: Query, walk: str = "") -> tuple[list[str], list[Any]]:
        """SQL conditions for a query. walk: the sort column whose index the page will walk; the other
        conditions are then written `+col` so the planner checks them row by row instead of using
        their own index and sorting everything they match."""
        def col(name: str) -> str:
            return f"+{name}" if walk and name != walk else name

        where, params = [], []
        if query.flagged_only:
            where.append(f"{col('flagged')} = 1")
        if query.since is not None:
            where.append(f"{col('last_seen_ms')} >= ?")
            params.append(fields.epoch_ms(query.since))
        if query.until is not None:
            where.append(f"{col('last_seen_ms')} < ?")
            params.append(fields.epoch_ms(query.until))
        if query.due_before is not None:
            where.append(f"{col('due_ms')} < ?")
            params.append(fields.epoch_ms(query.due_before))
        if query.lease_before is not None:
            # checked per candidate row (the sweep also filters status=claimed, an indexed few)
            where.append("coalesce((SELECT (julianday(json_extract(doc, '$.review.lease_until')) - 2440587.5)"
                         " * 86400000.0 FROM docs WHERE docs.id = items.id), 0) < ?")
            params.append(fields.epoch_ms(query.lease_before))
        # NUL and other control characters cannot be part of listing text and break FTS5 phrases
        text = "".join(ch for ch in query.text if ch.isprintable() or ch == " ").strip()
        if len(text) >= 3:
            # a quoted phrase on the trigram index is a substring lookup that never reads the text
            where.append(f"{col('seq')} IN (SELECT rowid FROM bodies WHERE bodies MATCH ?)")
            params.append('"' + text.replace('"', '""') + '"')
        elif text:
            # one or two characters have no trigram: scan the index's own copy of the text (bodies_content,
            # FTS5's documented content table), which is faster than LIKE through the virtual table;
            # a page walking the sort index checks row by row and stops when it is full
            escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            if walk:
                where.append("(SELECT c0 FROM bodies_content WHERE id = items.seq) LIKE ? ESCAPE '\\'")
            else:
                where.append("seq IN (SELECT id FROM bodies_content WHERE c0 LIKE ? ESCAPE '\\')")
            params.append(f"%{escaped}%")
        for key, values in query.filters.items():
            if not values:
                continue
            values = [str(v) for v in values if str(v)]
            if not values:                   # only empty values: no item has an empty value
                where.append("0")
            elif key == "severity":
                where.append("(severity_mask & ?) != 0")
                params.append(sum(SEVERITY_BITS.get(v, 0) for v in values))
            elif key in COLUMNS:
                where.append(f"{col(key)} IN ({', '.join('?' * len(values))})")
                params.extend(values)
            else:
                where.append(f"{col('seq')} IN (SELECT seq FROM item_values WHERE key = ? AND value IN "
                             f"({', '.join('?' * len(values))}))")
                params.extend([key, *values])
        return where, params

    def _tally(self, source: str, params: list[Any], facets: tuple[str, ...],
               extra: dict[str, tuple[str, list[Any]]] | None = None) -> tuple[int, dict]:
        """Total and facet counts over `source` (rows of facet columns with a count n), as one
        UNION ALL of small GROUP BYs, so only a handful of rows come back to Python.

        extra: filter key -> a condition on those rows (multi-select: the total obeys every one,
        each facet every one but its own)."""
        extra = extra or {}
        wanted = list(dict.fromkeys(facets))

        def cond(skip: str = "", first: str = "1") -> tuple[str, list[Any]]:
            sql, args = [first], []
            for key, (where, where_args) in extra.items():
                if key != skip:
                    sql.append(where)
                    args += where_args
            return " AND ".join(sql), args

        parts: list[tuple[str, list[Any]]] = []
        where, args = cond()
        parts.append((f"SELECT '', '', SUM(n) FROM c WHERE {where}", args))
        for key in wanted:
            where, args = cond(skip=key)
            if key in COLUMNS:
                parts.append((f"SELECT '{key}', {key}, SUM(n) FROM c WHERE {where} GROUP BY {key}", args))
            elif key == "claim_type":        # few distinct combinations: split them here
                parts.append((f"SELECT 'claim_type', claim_types, SUM(n) FROM c WHERE {where} GROUP BY claim_types",
                              args))
        if "severity" in wanted:
            for name, bit in SEVERITY_BITS.items():
                where, args = cond(skip="severity", first=f"severity_mask & {bit}")
                parts.append((f"SELECT 'severity', '{name}', SUM(n) FROM c WHERE {where}", args))
        counts: dict[str, dict[str, int]] = {key: {} for key in wanted}
        total = 0
        sql = " UNION ALL ".join(p[0] for p in parts)
        all_args = [*params, *(a for p in parts for a in p[1])]
        for key, value, n in self._read(f"WITH c AS MATERIALIZED ({source}) {sql}", all_args):
            if not key:
                total = n or 0
            elif n and value:
                for one in (value.split(SEP) if key == "claim_type" else [value]):
                    counts[key][one] = counts[key].get(one, 0) + n
        return total, counts

    def _counts(self, query: Query, base: str, params: list[Any]) -> tuple[int, dict]:
        """Total and facet counts of the filtered items; from item_counts when it can answer."""
        facets = tuple(query.facets)
        cols = ", ".join(CUBE)
        # multi-select: rows matching the other filters, each split filter a condition inside the tally
        split = [k for k in self._split(query) if k in CUBE_KEYS]
        rest = replace(query, filters={k: v for k, v in query.filters.items() if k not in split})
        extra = {k: self._cube_where(Query(filters={k: query.filters[k]}, flagged_only=False)) for k in split}
        if self._countable(query):
            where, cube_params = self._cube_where(rest)
            total, counts = self._tally(f"SELECT {cols}, n FROM item_counts WHERE {where}", cube_params, facets,
                                        extra)
        elif facets:
            rest_where, rest_params = self._where(rest) if split else ([base], params)
            total, counts = self._tally(f"SELECT {cols}, 1 AS n FROM items WHERE {' AND '.join(rest_where) or '1'}",
                                        rest_params, facets, extra)
        else:
            total, counts = self._read(f"SELECT COUNT(*) FROM items WHERE {base}", params)[0][0], {}
        multi = [k for k in dict.fromkeys(facets) if k in MULTI and k != "claim_type"]
        if multi:
            rows = self._read(f"SELECT key, value, COUNT(*) FROM item_values WHERE key IN "
                              f"({', '.join('?' * len(multi))}) AND seq IN (SELECT seq FROM items WHERE {base})"
                              f" GROUP BY key, value", [*multi, *params])
            for key, value, n in rows:
                counts[key][value] = n
        return total, {key: dict(sorted(c.items(), key=lambda kv: (-kv[1], kv[0]))) for key, c in counts.items()}

    @staticmethod
    def _split(query: Query) -> list[str]:
        """Multi-select: the facet keys whose own filter their counts ignore."""
        return [k for k in dict.fromkeys(query.facets) if query.multi_select and query.filters.get(k)]

    @staticmethod
    def _countable(query: Query) -> bool:
        """Whether item_counts can answer the total and facets (no text, times or narrow keys)."""
        return not (query.text.strip() or query.since or query.until or query.due_before or query.lease_before) and \
            all(k in CUBE_KEYS for k, v in query.filters.items() if v) and all(k in CUBE_KEYS for k in query.facets)

    @staticmethod
    def _cube_where(query: Query) -> tuple[str, list[Any]]:
        where, params = ["n > 0"], []
        if query.flagged_only:
            where.append("flagged = 1")
        for key, values in query.filters.items():
            if not values:
                continue
            values = [str(v) for v in values if str(v)]
            if not values:
                where.append("0")
            elif key == "severity":
                where.append("(severity_mask & ?) != 0")
                params.append(sum(SEVERITY_BITS.get(v, 0) for v in values))
            elif key == "claim_type":
                where.append("(" + " OR ".join(["instr(char(31) || claim_types || char(31), ?) > 0"] * len(values))
                             + ")")
                params.extend(f"{SEP}{v}{SEP}" for v in values)
            else:
                where.append(f"{key} IN ({', '.join('?' * len(values))})")
                params.extend(values)
        return " AND ".join(where), params

    def search(self, query: Query) -> Page:
        fields.check_query(query)
        where, params = self._where(query)
        base = " AND ".join(where) or "1"
        column, direction = SORT_COLUMNS[query.sort]
        order = f" ORDER BY {column} {direction}, id ASC LIMIT ?"
        total, facets = self._counts(query, base, params)
        for key in self._split(query):
            if key not in CUBE_KEYS:           # the tally above answered the others
                others = replace(query, filters={k: v for k, v in query.filters.items() if k != key},
                                 facets=(key,), multi_select=False)
                other_where, other_params = self._where(others)
                facets[key] = self._counts(others, " AND ".join(other_where) or "1", other_params)[1][key]
        if total > WALK_FROM:
            # many matches: walking the sort index finds a page's worth quickly; few: the planner's
            # choice (filter index, then sort the few) is the fast one
            where, params = self._where(query, walk=column)
        if query.after is not None:
            value, last_id = query.after
            # "<=" bounds the index range; the OR then drops the ties already shown
            near, far = ("<=", "<") if direction == "DESC" else (">=", ">")
            where.append(f"{column} {near} ? AND ({column} {far} ? OR id > ?)")
            params = [*params, value, value, last_id]
        rows = self._read(f"SELECT id, version, {column} FROM items WHERE {' AND '.join(where) or '1'}{order}",
                          [*params, query.size + 1])
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
