"""Background jobs with progress (keyword dry runs and re-scans), polled by the page's script.

One process serves one bureau, so jobs live in memory; what must outlive the process (a dry run's
result, a re-scan's report) is written down by the job itself.
"""
from __future__ import annotations

import logging
import secrets
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Callable

log = logging.getLogger(__name__)
KEEP = 50


@dataclass
class Job:
    id: str
    kind: str                        # dryrun | rescan
    label: str
    user: str
    total: int = 0
    done: int = 0
    state: str = "running"           # waiting | running | done | failed
    result: dict = field(default_factory=dict)
    error: str = ""
    started_at: datetime = field(default_factory=lambda: datetime.now(timezone.utc))
    finished_at: datetime | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def advance(self, n: int = 1) -> None:
        with self._lock:
            self.done += n
            self.total = max(self.total, self.done)

    def as_dict(self) -> dict:
        return {"id": self.id, "kind": self.kind, "label": self.label, "state": self.state, "done": self.done,
                "total": self.total, "error": self.error,
                "finished_at": self.finished_at.isoformat() if self.finished_at else None}


class Jobs:
    def __init__(self):
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()

    def start(self, kind: str, label: str, user: str, work: Callable[[Job], dict],
              gate: threading.Lock | None = None) -> Job:
        """Run work(job) in a thread; its return value becomes job.result. `gate` runs such jobs one at a time."""
        job = Job(secrets.token_hex(8), kind, label, user, state="waiting" if gate else "running")
        with self._lock:
            self._jobs[job.id] = job
            for old in sorted(self._jobs.values(), key=lambda j: j.started_at)[:-KEEP]:
                if old.state in ("done", "failed"):
                    del self._jobs[old.id]

        def run():
            try:
                if gate:
                    with gate:
                        job.state = "running"
                        job.result = work(job) or {}
                else:
                    job.result = work(job) or {}
                job.state = "done"
            except Exception as exc:  # a failed job reports why; the server keeps serving
                log.exception("%s job %s failed", kind, job.id)
                job.error = f"{type(exc).__name__}: {exc}"
                job.state = "failed"
            finally:
                job.finished_at = datetime.now(timezone.utc)

        threading.Thread(target=run, name=f"shian-{kind}-{job.id}", daemon=True).start()
        return job

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            return self._jobs.get(job_id)

    def recent(self, kind: str | None = None) -> list[Job]:
        with self._lock:
            jobs = [j for j in self._jobs.values() if kind is None or j.kind == kind]
        return sorted(jobs, key=lambda j: j.started_at, reverse=True)
