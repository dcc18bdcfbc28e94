"""Review-UI users, API tokens and login sessions, kept in SQLite at DATA_DIR/users.sqlite3.

Passwords are argon2id hashes; API tokens and session ids are stored only as SHA-256 digests,
so a copy of this file lets nobody log in. Disabling a user ends their sessions and tokens at once
because every request looks its session up here.
"""
from __future__ import annotations

import hashlib
import re
import secrets
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from shian import localdb

ROLES = ("reviewer", "lead", "enforcement", "admin")
ROLE_NAMES = {"reviewer": "审核员", "lead": "科长", "enforcement": "执法人员", "admin": "管理员"}
NAME_RE = re.compile(r"^[A-Za-z0-9_.\-\u4e00-\u9fff]{1,64}$")
MIN_PASSWORD = 8
SESSION_HOURS = 12

SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    name TEXT PRIMARY KEY,
    role TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    active INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS tokens (
    digest TEXT PRIMARY KEY,
    name TEXT NOT NULL REFERENCES users(name),
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS sessions (
    digest TEXT PRIMARY KEY,
    name TEXT NOT NULL REFERENCES users(name),
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
"""

# OWASP's argon2id baseline (19 MiB, 2 passes, 1 lane): a login stays well under a second on a busy
# 2-core server while guessing stays memory-hard.
_hasher = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)
# Verifying against this keeps the time of "no such user" close to "wrong password".
_DUMMY_HASH = _hasher.hash("not-a-real-password")


class UserError(ValueError):
    """Bad input for a user operation; the message is shown to the operator."""


@dataclass(frozen=True)
class User:
    name: str
    role: str
    active: bool = True

    @property
    def role_name(self) -> str:
        return ROLE_NAMES.get(self.role, self.role)


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class Users:
    """The users database of one data dir (DATA_DIR/users.sqlite3)."""

    def __init__(self, data_dir: Path):
        self.path = localdb.create(Path(data_dir) / "users.sqlite3", SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        return localdb.connect(self.path)

    def _run(self, sql: str, args: tuple = ()) -> list[sqlite3.Row]:
        db = self._connect()
        try:
            with db:
                return db.execute(sql, args).fetchall()
        finally:
            db.close()

    # -- users ---------------------------------------------------------------
    def add(self, name: str, role: str, password: str) -> User:
        if not NAME_RE.match(name or ""):
            raise UserError("user name: 1-64 letters, digits, Chinese characters, '_', '-' or '.'")
        if role not in ROLES:
            raise UserError(f"role must be one of {', '.join(ROLES)}")
        if len(password or "") < MIN_PASSWORD:
            raise UserError(f"password must be at least {MIN_PASSWORD} characters")
        if self.get(name) is not None:
            raise UserError(f"user {name!r} already exists")
        self._run("INSERT INTO users (name, role, password_hash, active, created_at) VALUES (?,?,?,1,?)",
                  (name, role, _hasher.hash(password), _now().isoformat()))
        return User(name, role)

    def set_password(self, name: str, password: str) -> None:
        if len(password or "") < MIN_PASSWORD:
            raise UserError(f"password must be at least {MIN_PASSWORD} characters")
        self._require(name)
        self._run("UPDATE users SET password_hash = ? WHERE name = ?", (_hasher.hash(password), name))

    def disable(self, name: str) -> None:
        self._require(name)
        db = self._connect()
        try:
            with db:
                db.execute("UPDATE users SET active = 0 WHERE name = ?", (name,))
                db.execute("DELETE FROM sessions WHERE name = ?", (name,))
                db.execute("DELETE FROM tokens WHERE name = ?", (name,))
        finally:
            db.close()

    def get(self, name: str) -> User | None:
        rows = self._run("SELECT name, role, active FROM users WHERE name = ?", (name,))
        return User(rows[0]["name"], rows[0]["role"], bool(rows[0]["active"])) if rows else None

    def all(self) -> list[User]:
        return [User(r["name"], r["role"], bool(r["active"]))
                for r in self._run("SELECT name, role, active FROM users ORDER BY name")]

    def _require(self, name: str) -> User:
        user = self.get(name)
        if user is None:
            raise UserError(f"no user {name!r}")
        return user

    def authenticate(self, name: str, password: str) -> User | None:
        """The active user if the password matches; None otherwise (same answer for every failure)."""
        rows = self._run("SELECT name, role, active, password_hash FROM users WHERE name = ?", (name,))
        stored = rows[0]["password_hash"] if rows else _DUMMY_HASH
        try:
            _hasher.verify(stored, password or "")
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return None
        if not rows or not rows[0]["active"]:
            return None
        if _hasher.check_needs_rehash(stored):
            self._run("UPDATE users SET password_hash = ? WHERE name = ?", (_hasher.hash(password), name))
        return User(rows[0]["name"], rows[0]["role"], True)

    # -- API tokens ------------------------------------------------------------
    def issue_token(self, name: str) -> str:
        user = self._require(name)
        if not user.active:
            raise UserError(f"user {name!r} is disabled")
        token = "shian_" + secrets.token_urlsafe(32)
        self._run("INSERT INTO tokens (digest, name, created_at) VALUES (?,?,?)",
                  (_digest(token), name, _now().isoformat()))
        return token

    def by_token(self, token: str) -> User | None:
        rows = self._run("SELECT u.name, u.role, u.active FROM tokens t JOIN users u ON u.name = t.name"
                         " WHERE t.digest = ? AND u.active = 1", (_digest(token or ""),))
        return User(rows[0]["name"], rows[0]["role"], True) if rows else None

    # -- login sessions ----------------------------------------------------------
    def open_session(self, name: str, hours: int = SESSION_HOURS) -> str:
        """A new session id for a logged-in user; only its digest is stored."""
        session_id = secrets.token_urlsafe(32)
        now = _now()
        self._run("INSERT INTO sessions (digest, name, created_at, expires_at) VALUES (?,?,?,?)",
                  (_digest(session_id), name, now.isoformat(), (now + timedelta(hours=hours)).isoformat()))
        return session_id

    def by_session(self, session_id: str) -> User | None:
        rows = self._run("SELECT u.name, u.role FROM sessions s JOIN users u ON u.name = s.name"
                         " WHERE s.digest = ? AND u.active = 1 AND s.expires_at > ?",
                         (_digest(session_id or ""), _now().isoformat()))
        return User(rows[0]["name"], rows[0]["role"], True) if rows else None

    def close_session(self, session_id: str) -> None:
        self._run("DELETE FROM sessions WHERE digest = ?", (_digest(session_id or ""),))


def open_users(settings: Any) -> Users:
    return Users(Path(settings.data_dir))
