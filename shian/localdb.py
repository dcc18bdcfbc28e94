"""Small SQLite files of one data dir (users, audit log): one way to open them."""
from __future__ import annotations

import sqlite3
from pathlib import Path


def connect(path: Path, autocommit: bool = False) -> sqlite3.Connection:
    """A connection in WAL mode with rows by name; `autocommit` leaves transactions to explicit BEGINs."""
    db = sqlite3.connect(path, timeout=30, isolation_level=None if autocommit else "")
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.row_factory = sqlite3.Row
    return db


def create(path: Path, schema: str) -> Path:
    """Make the file and its tables if they are missing; returns the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    db = connect(path, autocommit=True)
    try:
        db.executescript(schema)
    finally:
        db.close()
    return path
