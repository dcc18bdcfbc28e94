"""What every request needs (store, users, audit, workflow) and small per-process state (presence, login limits)."""
from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field

from flask import current_app, request
from flask_login import current_user

from review_ui.jobs import Jobs
from review_ui.review import Reasons, Workflow
from shian.audit import AuditLog
from shian.settings import Settings
from shian.store import Store
from shian.users import Users


class Presence:
    """Who has an item open, from page views and the page's heartbeat (one process serves one bureau)."""

    WINDOW_S = 90

    def __init__(self):
        self._seen: dict[str, dict[str, float]] = {}
        self._lock = threading.Lock()

    def touch(self, item_id: str, user: str) -> list[str]:
        now = time.monotonic()
        with self._lock:
            viewers = self._seen.setdefault(item_id, {})
            viewers[user] = now
            for name, at in list(viewers.items()):
                if now - at > self.WINDOW_S:
                    del viewers[name]
            return sorted(viewers)

    def viewers(self, item_id: str) -> list[str]:
        now = time.monotonic()
        with self._lock:
            return sorted(n for n, at in self._seen.get(item_id, {}).items() if now - at <= self.WINDOW_S)


class LoginLimiter:
    """Failed logins per client address and per user name within a sliding minute."""

    def __init__(self, per_minute: int):
        self.per_minute = max(1, per_minute)
        self._fails: dict[str, deque] = {}
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque:
        q = self._fails.setdefault(key, deque())
        while q and now - q[0] > 60:
            q.popleft()
        return q

    def blocked(self, *keys: str) -> bool:
        now = time.monotonic()
        with self._lock:
            return any(len(self._recent(k, now)) >= self.per_minute for k in keys)

    def failed(self, *keys: str) -> None:
        now = time.monotonic()
        with self._lock:
            for k in keys:
                self._recent(k, now).append(now)

    def succeeded(self, *keys: str) -> None:
        with self._lock:
            for k in keys:
                self._fails.pop(k, None)


@dataclass
class Context:
    settings: Settings
    store: Store
    users: Users
    audit: AuditLog
    workflow: Workflow
    reasons: Reasons
    presence: Presence = field(default_factory=Presence)
    limiter: LoginLimiter | None = None
    precision_cache: dict = field(default_factory=dict)   # per-rule precision, see keywords.precision
    jobs: Jobs = field(default_factory=Jobs)              # keyword dry runs and re-scans
    draft_jobs: dict = field(default_factory=dict)        # draft id -> its dry-run job id

    def __post_init__(self):
        if self.limiter is None:
            self.limiter = LoginLimiter(self.settings.review.login_attempts_per_minute)


def ctx() -> Context:
    return current_app.extensions["shian"]


def audit(action: str, target: str = "", details: dict | None = None, batch_id: str = "",
          actor: str | None = None) -> None:
    """Append an audit event for the current user (with the client address)."""
    who = actor or (current_user.name if current_user and current_user.is_authenticated else "-")
    extra = {"ip": request.remote_addr or ""} if request else {}
    ctx().audit.append(who, action, target, {**(details or {}), **extra}, batch_id=batch_id)


def audit_decisions(item, decisions: list[dict], submitted: bool, batch_id: str = "") -> None:
    for d in decisions:
        details = {"action": d["action"], "reason_code": d.get("reason_code", ""), "note": d.get("note", "")}
        if d["target"].startswith("finding:"):
            f = item.analysis.finding(d["target"])
            if f is not None:
                details.update(rule_id=f.rule_id, type=f.type, severity=f.severity, list_version=f.list_version)
        audit("decide", f"item:{item.id}", {"target": d["target"], **details}, batch_id=batch_id)
    if submitted:
        audit("submit", f"item:{item.id}", {"status": item.review.status, "outcome": item.review.outcome,
                                            "first_seen": item.first_seen.isoformat()}, batch_id=batch_id)
