"""`shian scheduler`: crawls on the cron schedules of config/schedules.yaml.

Each crawl runs in its own process (crawler.run_crawl; the Twisted reactor
cannot restart) or, when settings.crawl.scrapyd_url is set, as a job on a
Scrapyd instance. A platform never has two crawls at once: a lock file per
platform under DATA_DIR/locks is held for the whole run, so neither this
scheduler, a second scheduler nor `--once` can overlap a running crawl.

Stored metadata: `crawl_run:<run_id>` (the crawl's own stats, completed
here with how it was started, also when the crawl process died) and
`schedule:<platform>` (last start, finish and outcome; `--once` runs a job
when a cron time has passed since its last start).
"""
from __future__ import annotations

import fcntl
import json
import logging
import os
import signal
import threading
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import click
import yaml
from apscheduler.triggers.cron import CronTrigger

from shian.models import utcnow
from shian.settings import Settings, get_settings

log = logging.getLogger(__name__)


class ScheduleError(click.ClickException):
    """config/schedules.yaml is wrong; the message says where."""


class AlreadyRunning(RuntimeError):
    pass


@dataclass
class Job:
    platform: str
    cron: str
    base_url: str | None = None
    max_items: int | None = None
    timeout_s: float | None = None
    jitter_s: int = 0

    def trigger(self, tz: str, jitter: bool = True) -> CronTrigger:
        trigger = CronTrigger.from_crontab(self.cron, timezone=ZoneInfo(tz))
        if jitter and self.jitter_s:
            trigger.jitter = self.jitter_s
        return trigger


@dataclass
class Schedules:
    jobs: list[Job]
    max_parallel: int = 2


def load_schedules(path: Path | None = None, settings: Settings | None = None) -> Schedules:
    """Read and check the schedule file: every cron must parse and every platform must be configured."""
    settings = settings or get_settings()
    path = Path(path or settings.config_dir / "schedules.yaml")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise ScheduleError(f"cannot read {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ScheduleError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("jobs", {}), dict):
        raise ScheduleError(f"{path}: expected a mapping with `jobs: {{platform: {{cron: ...}}}}`")
    default_jitter = int(data.get("jitter_s", 0))
    platforms_dir = settings.config_dir / "platforms"
    jobs = []
    for platform, spec in (data.get("jobs") or {}).items():
        spec = {"cron": spec} if isinstance(spec, str) else (spec or {})
        where = f"{path}: jobs.{platform}"
        if "cron" not in spec:
            raise ScheduleError(f"{where}: no cron expression")
        unknown = set(spec) - {"cron", "base_url", "max_items", "timeout_s", "jitter_s"}
        if unknown:
            raise ScheduleError(f"{where}: unknown keys {sorted(unknown)}")
        if not (platforms_dir / f"{platform}.yaml").exists():
            raise ScheduleError(f"{where}: no platform config {platforms_dir / (platform + '.yaml')}")
        job = Job(platform=platform, cron=str(spec["cron"]), base_url=spec.get("base_url"),
                  max_items=spec.get("max_items"), timeout_s=spec.get("timeout_s"),
                  jitter_s=int(spec.get("jitter_s", default_jitter)))
        try:
            job.trigger(settings.timezone)
        except ValueError as exc:
            raise ScheduleError(f"{where}: bad cron {job.cron!r}: {exc}") from None
        jobs.append(job)
    return Schedules(jobs=jobs, max_parallel=int(data.get("max_parallel", 2)))


class PlatformLock:
    """An exclusive, non-blocking lock file per platform; released when the holder exits, even by SIGKILL."""

    def __init__(self, data_dir: Path, platform: str):
        self.path = Path(data_dir) / "locks" / f"crawl-{platform}.lock"
        self.platform = platform
        self._fd: int | None = None

    def __enter__(self) -> "PlatformLock":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise AlreadyRunning(f"a crawl of {self.platform} is already running") from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return self

    def __exit__(self, *exc) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


def new_run_id(platform: str) -> str:
    return f"{platform}-{utcnow():%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:6]}"


def start_crawl(job: Job, run_id: str, settings: Settings) -> dict:
    """One crawl, to the end: a local process, or a Scrapyd job when scrapyd_url is configured."""
    if settings.crawl.scrapyd_url:
        from crawler.scrapyd import run_remote
        return run_remote(job.platform, run_id, base_url=job.base_url, max_items=job.max_items,
                          timeout_s=job.timeout_s, settings=settings)
    from crawler import run_crawl
    opts = {"timeout": job.timeout_s} if job.timeout_s else {}
    return run_crawl(job.platform, base_url=job.base_url, run_id=run_id, data_dir=settings.data_dir,
                     max_items=job.max_items, **opts)


def run_job(job: Job, trigger: str = "schedule", settings: Settings | None = None) -> dict:
    """Run one scheduled crawl unless one of the same platform is running; record its stats."""
    from shian.store import open_store

    settings = settings or get_settings()
    try:
        lock = PlatformLock(settings.data_dir, job.platform).__enter__()
    except AlreadyRunning as exc:
        log.warning("%s: skipped, %s", job.platform, exc)
        return {"platform": job.platform, "outcome": "skipped", "reason": str(exc)}
    try:
        run_id = new_run_id(job.platform)
        backend = "scrapyd" if settings.crawl.scrapyd_url else "local"
        started = utcnow()
        store = open_store(settings)
        try:
            schedule_key = f"schedule:{job.platform}"
            state = store.get_meta(schedule_key) or {}
            store.put_meta(schedule_key, {**state, "last_started": started.isoformat(), "last_run_id": run_id,
                                          "cron": job.cron, "running": True})
        finally:
            store.close()
        log.info("%s: crawl %s starting (%s, %s)", job.platform, run_id, trigger, backend)
        try:
            stats = start_crawl(job, run_id, settings)
            problem = ""
        except Exception as exc:  # a failed start is recorded, never lost in a thread
            log.exception("%s: crawl %s failed", job.platform, run_id)
            stats, problem = {}, f"{type(exc).__name__}: {exc}"
        finished = utcnow()
        return record_run(job, run_id, stats, problem, trigger, backend, started, finished, settings)
    finally:
        lock.__exit__(None, None, None)


def record_run(job: Job, run_id: str, stats: dict, problem: str, trigger: str, backend: str,
               started: datetime, finished: datetime, settings: Settings) -> dict:
    """Complete crawl_run:<run_id> (the crawl writes it on a clean close; a killed crawl does not)."""
    from shian.store import open_store

    store = open_store(settings)
    try:
        key = f"crawl_run:{run_id}"
        own = store.get_meta(key) or {}
        run = {"run_id": run_id, "platform": job.platform, **stats, **own,
               "trigger": trigger, "backend": backend, "cron": job.cron,
               "started_at": own.get("started_at") or started.isoformat(),
               "finished_at": own.get("finished_at") or finished.isoformat()}
        run.setdefault("duration_s", round((finished - started).total_seconds(), 3))
        failed = bool(problem) or run.get("returncode", 0) not in (0, None) or not own
        if problem:
            run["error"] = problem
        run.setdefault("finish_reason", "failed" if failed else "finished")
        run["outcome"] = "failed" if failed else "finished"
        store.put_meta(key, run)
        schedule_key = f"schedule:{job.platform}"
        state = store.get_meta(schedule_key) or {}
        store.put_meta(schedule_key, {**state, "last_finished": finished.isoformat(), "last_run_id": run_id,
                                      "last_outcome": run["outcome"], "running": False})
    finally:
        store.close()
    log.info("%s: crawl %s %s (%s)", job.platform, run_id, run["outcome"], run.get("finish_reason"))
    return run


def is_due(job: Job, last_started: str | None, now: datetime, tz: str) -> bool:
    """Due when a cron time has come since the last start (or it never ran)."""
    if not last_started:
        return True
    last = datetime.fromisoformat(last_started)
    fire = job.trigger(tz, jitter=False).get_next_fire_time(None, last + timedelta(seconds=1))
    return fire is not None and fire <= now


def due_jobs(schedules: Schedules, settings: Settings, now: datetime | None = None) -> list[Job]:
    from shian.store import open_store

    now = now or utcnow()
    store = open_store(settings)
    try:
        return [job for job in schedules.jobs
                if is_due(job, (store.get_meta(f"schedule:{job.platform}") or {}).get("last_started"),
                          now, settings.timezone)]
    finally:
        store.close()


def run_once(schedules: Schedules, settings: Settings | None = None) -> list[dict]:
    """Every due job once, up to max_parallel at a time; returns one result per due job."""
    from concurrent.futures import ThreadPoolExecutor

    settings = settings or get_settings()
    jobs = due_jobs(schedules, settings)
    with ThreadPoolExecutor(max_workers=max(1, schedules.max_parallel)) as pool:
        return list(pool.map(lambda job: run_job(job, "once", settings), jobs))


def run_forever(schedules: Schedules, settings: Settings | None = None) -> None:
    """Blocking: APScheduler with the cron triggers (jittered); SIGTERM/SIGINT stop it after running crawls end."""
    from apscheduler.executors.pool import ThreadPoolExecutor
    from apscheduler.schedulers.background import BackgroundScheduler

    settings = settings or get_settings()
    scheduler = BackgroundScheduler(executors={"default": ThreadPoolExecutor(max(1, schedules.max_parallel))},
                                    timezone=ZoneInfo(settings.timezone))
    for job in schedules.jobs:
        # max_instances=1 + coalesce: a slow crawl makes later firings wait, never pile up
        scheduler.add_job(run_job, job.trigger(settings.timezone), args=[job, "schedule", settings],
                          id=f"crawl-{job.platform}", name=f"crawl {job.platform}", max_instances=1,
                          coalesce=True, misfire_grace_time=3600)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    scheduler.start()
    for aps_job in scheduler.get_jobs():
        log.info("scheduled %s: next run %s", aps_job.name, aps_job.next_run_time)
    stop.wait()
    log.info("stopping: waiting for running crawls to finish")
    scheduler.shutdown(wait=True)


@click.command()
@click.option("--once", is_flag=True, help="Run every due job once (never run, or a cron time passed "
              "since its last start), print the results and exit.")
@click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Schedule file (default config/schedules.yaml).")
def scheduler(once: bool, config_path: Path | None) -> None:
    """Run crawls on the cron schedules of config/schedules.yaml (one crawl per platform at a time)."""
    settings = get_settings()
    schedules = load_schedules(config_path, settings)
    if not schedules.jobs:
        raise ScheduleError("no jobs in the schedule file")
    if not once:
        run_forever(schedules, settings)
        return
    results = run_once(schedules, settings)
    for result in results:
        click.echo(json.dumps(result, ensure_ascii=False, default=str))
    if not results:
        click.echo("nothing due", err=True)
    if any(r.get("outcome") == "failed" for r in results):
        raise SystemExit(1)
