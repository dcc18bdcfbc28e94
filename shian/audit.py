"""The append-only audit log: logins, claims, evidence views, decisions, escalations, list changes, exports.

Each event is chained to the one before it: hash = sha256(prev_hash + canonical JSON of the event),
so changing, deleting or reordering any stored event shows up in verify().
Kept in SQLite at DATA_DIR/audit.sqlite3; one short IMMEDIATE transaction per event serialises
writers across threads and processes, so the chain never forks.
"""
from __future__ import annotations

import hashlib
import json
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

from shian import localdb

GENESIS = "0" * 64

SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL DEFAULT '',
    details TEXT NOT NULL DEFAULT '{}',
    batch_id TEXT NOT NULL DEFAULT '',
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_target ON events(target, seq);
CREATE INDEX IF NOT EXISTS events_at ON events(at);
CREATE INDEX IF NOT EXISTS events_batch ON events(batch_id) WHERE batch_id != '';
CREATE TRIGGER IF NOT EXISTS events_no_update BEFORE UPDATE ON events
BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;
CREATE TRIGGER IF NOT EXISTS events_no_delete BEFORE DELETE ON events
BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;
"""


@dataclass
class Event:
    seq: int
    at: str
    actor: str
    action: str
    target: str
    details: dict
    batch_id: str
    prev_hash: str
    hash: str

    def body(self) -> dict:
        """What the hash covers (everything but the hashes themselves)."""
        return {"seq": self.seq, "at": self.at, "actor": self.actor, "action": self.action,
                "target": self.target, "details": self.details, "batch_id": self.batch_id}

    def as_dict(self) -> dict:
        return {**self.body(), "prev_hash": self.prev_hash, "hash": self.hash}


@dataclass
class Verification:
    ok: bool
    checked: int
    first_bad_seq: int | None = None
    problem: str = ""


def canonical(body: dict) -> str:
    return json.dumps(body, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)


def chain_hash(prev_hash: str, body: dict) -> str:
    return hashlib.sha256((prev_hash + canonical(body)).encode("utf-8", "surrogatepass")).hexdigest()


class AuditLog:
    """The audit log of one data dir (DATA_DIR/audit.sqlite3)."""

    def __init__(self, data_dir: Path):
        self.path = localdb.create(Path(data_dir) / "audit.sqlite3", SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        return localdb.connect(self.path, autocommit=True)

    def append(self, actor: str, action: str, target: str = "", details: dict | None = None,
               batch_id: str = "") -> Event:
        db = self._connect()
        try:
            db.execute("BEGIN IMMEDIATE")
            last = db.execute("SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1").fetchone()
            seq = (last["seq"] + 1) if last else 1
            prev = last["hash"] if last else GENESIS
            at = datetime.now(timezone.utc).isoformat(timespec="microseconds")
            # round-trip through JSON so what is hashed equals what is read back later
            clean = json.loads(canonical(details or {}))
            event = Event(seq, at, actor, action, target, clean, batch_id, prev, "")
            event.hash = chain_hash(prev, event.body())
            db.execute("INSERT INTO events (seq, at, actor, action, target, details, batch_id, prev_hash, hash)"
                       " VALUES (?,?,?,?,?,?,?,?,?)",
                       (seq, at, actor, action, target, canonical(clean), batch_id, prev, event.hash))
            db.execute("COMMIT")
            return event
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
        finally:
            db.close()

    @staticmethod
    def _event(row: sqlite3.Row) -> Event:
        return Event(row["seq"], row["at"], row["actor"], row["action"], row["target"],
                     json.loads(row["details"]), row["batch_id"], row["prev_hash"], row["hash"])

    def events(self, target: str | None = None, actor: str | None = None, action: str | None = None,
               since: str | None = None, until: str | None = None, batch_id: str | None = None,
               before_seq: int | None = None, limit: int = 200, newest_first: bool = True) -> list[Event]:
        """Events matching every given filter; `since`/`until` are ISO timestamps (UTC)."""
        where, args = [], []
        for column, value in (("target", target), ("actor", actor), ("action", action),
                              ("batch_id", batch_id)):
            if value:
                where.append(f"{column} = ?")
                args.append(value)
        if since:
            where.append("at >= ?")
            args.append(since)
        if until:
            where.append("at < ?")
            args.append(until)
        if before_seq:
            where.append("seq < ?")
            args.append(before_seq)
        sql = "SELECT * FROM events"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += f" ORDER BY seq {'DESC' if newest_first else 'ASC'} LIMIT ?"
        args.append(limit)
        db = self._connect()
        try:
            return [self._event(r) for r in db.execute(sql, args)]
        finally:
            db.close()

    def iter_all(self) -> Iterator[Event]:
        db = self._connect()
        try:
            for row in db.execute("SELECT * FROM events ORDER BY seq"):
                yield self._event(row)
        finally:
            db.close()

    def count(self) -> int:
        db = self._connect()
        try:
            return db.execute("SELECT count(*) FROM events").fetchone()[0]
        finally:
            db.close()

    def verify(self) -> Verification:
        """Walk the chain from the start; the first event whose links or hash do not hold is reported."""
        prev, expected_seq, checked = GENESIS, 1, 0
        for event in self.iter_all():
            if event.seq != expected_seq:
                return Verification(False, checked, event.seq, f"事件序号不连续：应为 {expected_seq}")
            if event.prev_hash != prev:
                return Verification(False, checked, event.seq, "与前一事件的哈希链接不符")
            if chain_hash(prev, event.body()) != event.hash:
                return Verification(False, checked, event.seq, "事件内容与其哈希不符（已被修改）")
            prev, expected_seq, checked = event.hash, expected_seq + 1, checked + 1
        return Verification(True, checked)


def open_audit(settings: Any) -> AuditLog:
    return AuditLog(Path(settings.data_dir))
