"""Crawls on Scrapyd instances (beyond one machine): deploy an egg, schedule a job, poll it.

settings.crawl.scrapyd_url names one Scrapyd or several (comma-separated);
a job goes to the reachable one with the fewest running and pending jobs.

The egg carries the `crawler` package (the Scrapy project) and names
crawler.scrapyd_settings as its settings module. Like any Scrapyd
deployment, the crawler hosts have the project's dependencies installed
(`pip install shian`, which brings shian/nlp/matcher and config/) and their
own SHIAN_* settings; the store must be one the scheduler can read too (the
search engine) for the run stats to come back.
"""
from __future__ import annotations

import hashlib
import io
import json
import logging
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
import zipfile
from pathlib import Path

from shian.settings import Settings, get_settings

log = logging.getLogger(__name__)

PROJECT = "shian"
PACKAGE_DIR = Path(__file__).resolve().parent


class ScrapydError(RuntimeError):
    """Scrapyd is unreachable or refused a request; the message says which and why."""


def build_egg() -> tuple[bytes, str]:
    """(egg bytes, version): the crawler package as an egg; the version is a hash of its contents."""
    members = sorted(p for p in PACKAGE_DIR.rglob("*.py") if "__pycache__" not in p.parts)
    digest = hashlib.sha256()
    for path in members:
        digest.update(str(path.relative_to(PACKAGE_DIR)).encode() + b"\0" + path.read_bytes())
    version = "r" + digest.hexdigest()[:16]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as egg:
        for path in members:
            # fixed timestamps: the same sources give the same egg bytes
            info = zipfile.ZipInfo(str(Path("crawler") / path.relative_to(PACKAGE_DIR)), (2020, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            egg.writestr(info, path.read_bytes())
        meta = {
            "EGG-INFO/PKG-INFO": f"Metadata-Version: 2.1\nName: shian-crawler\nVersion: {version}\n",
            "EGG-INFO/entry_points.txt": "[scrapy]\nsettings = crawler.scrapyd_settings\n",
            "EGG-INFO/top_level.txt": "crawler\n",
            "EGG-INFO/zip-safe": "",
        }
        for name, text in meta.items():
            info = zipfile.ZipInfo(name, (2020, 1, 1, 0, 0, 0))
            egg.writestr(info, text)
    return buffer.getvalue(), version


class Scrapyd:
    """A small client of one Scrapyd's JSON API."""

    def __init__(self, url: str, timeout_s: float = 30.0):
        self.url = url.rstrip("/")
        self.timeout_s = timeout_s

    def _call(self, endpoint: str, params: dict | None = None, data: bytes | None = None,
              content_type: str = "") -> dict:
        url = f"{self.url}/{endpoint}"
        if params and data is None:
            url += "?" + urllib.parse.urlencode(params)
        request = urllib.request.Request(url, data=data)
        if content_type:
            request.add_header("Content-Type", content_type)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                answer = json.loads(response.read().decode("utf-8"))
        except urllib.error.HTTPError as exc:
            raise ScrapydError(f"{url}: HTTP {exc.code} {exc.read()[:300]!r}") from None
        except (urllib.error.URLError, OSError) as exc:
            raise ScrapydError(f"{url}: unreachable ({getattr(exc, 'reason', exc)})") from None
        except ValueError:
            raise ScrapydError(f"{url}: answer is not JSON") from None
        if answer.get("status") == "error":
            raise ScrapydError(f"{url}: {answer.get('message')}")
        return answer

    def _post(self, endpoint: str, fields: list[tuple[str, str]], files: dict[str, bytes] | None = None) -> dict:
        if not files:
            return self._call(endpoint, data=urllib.parse.urlencode(fields).encode(),
                              content_type="application/x-www-form-urlencoded")
        boundary = uuid.uuid4().hex
        body = io.BytesIO()
        for name, value in fields:
            body.write(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
        for name, content in files.items():
            body.write(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{name}.egg"\r\n'
                       "Content-Type: application/octet-stream\r\n\r\n".encode())
            body.write(content + b"\r\n")
        body.write(f"--{boundary}--\r\n".encode())
        return self._call(endpoint, data=body.getvalue(), content_type=f"multipart/form-data; boundary={boundary}")

    def daemon_status(self) -> dict:
        return self._call("daemonstatus.json")

    def versions(self, project: str = PROJECT) -> list[str]:
        try:
            return self._call("listversions.json", {"project": project}).get("versions", [])
        except ScrapydError:
            return []

    def deploy(self, egg: bytes, version: str, project: str = PROJECT) -> dict:
        return self._post("addversion.json", [("project", project), ("version", version)], {"egg": egg})

    def spiders(self, project: str = PROJECT) -> list[str]:
        return self._call("listspiders.json", {"project": project}).get("spiders", [])

    def schedule(self, spider: str, jobid: str, args: dict[str, str], settings: dict[str, str] | None = None,
                 project: str = PROJECT) -> str:
        fields = [("project", project), ("spider", spider), ("jobid", jobid)]
        fields += [("setting", f"{k}={v}") for k, v in (settings or {}).items()]
        fields += [(k, str(v)) for k, v in args.items() if v is not None]
        return self._post("schedule.json", fields)["jobid"]

    def status(self, jobid: str, project: str = PROJECT) -> str:
        """pending | running | finished | "" (unknown to this Scrapyd)."""
        return self._call("status.json", {"job": jobid, "project": project}).get("currstate") or ""

    def job(self, jobid: str, project: str = PROJECT) -> dict:
        jobs = self._call("listjobs.json", {"project": project})
        for state in ("finished", "running", "pending"):
            for job in jobs.get(state, []):
                if job.get("id") == jobid:
                    return {**job, "state": state}
        return {}

    def cancel(self, jobid: str, project: str = PROJECT) -> None:
        self._post("cancel.json", [("project", project), ("job", jobid)])

    def wait(self, jobid: str, timeout_s: float, poll_s: float = 1.0, project: str = PROJECT) -> str:
        """Poll until the job finishes or timeout_s passes; returns the last state seen."""
        deadline = time.monotonic() + timeout_s
        pause = threading.Event()
        state = self.status(jobid, project)
        while state in ("pending", "running") and time.monotonic() < deadline:
            pause.wait(poll_s)
            state = self.status(jobid, project)
        return state


def instances(settings: Settings | None = None) -> list[Scrapyd]:
    urls = (settings or get_settings()).crawl.scrapyd_url
    return [Scrapyd(u.strip()) for u in urls.split(",") if u.strip()]


def pick_instance(clients: list[Scrapyd]) -> Scrapyd:
    """The reachable Scrapyd with the fewest running + pending jobs."""
    loads = []
    for client in clients:
        try:
            status = client.daemon_status()
        except ScrapydError as exc:
            log.warning("scrapyd %s skipped: %s", client.url, exc)
            continue
        loads.append((int(status.get("running", 0)) + int(status.get("pending", 0)), client.url, client))
    if not loads:
        raise ScrapydError("no Scrapyd instance reachable: " + ", ".join(c.url for c in clients))
    return min(loads, key=lambda t: t[:2])[2]


def ensure_deployed(client: Scrapyd) -> str:
    """Upload the current egg unless this Scrapyd already has that version; returns the version."""
    egg, version = build_egg()
    if version not in client.versions():
        client.deploy(egg, version)
        log.info("deployed egg %s to %s", version, client.url)
    return version


def run_remote(platform: str, run_id: str, base_url: str | None = None, max_items: int | None = None,
               timeout_s: float | None = None, settings: Settings | None = None,
               poll_s: float = 1.0) -> dict:
    """Run one crawl as a Scrapyd job and wait for it; returns what Scrapyd and the store know of it."""
    from crawler.platforms import load_platform
    from shian.store import open_store

    settings = settings or get_settings()
    spider = load_platform(platform, base_url).spider
    client = pick_instance(instances(settings))
    version = ensure_deployed(client)
    args = {"platform": platform, "run_id": run_id, "base_url": base_url, "max_items": max_items,
            "_version": version}
    client.schedule(spider, jobid=run_id, args=args)
    log.info("%s: job %s scheduled on %s", platform, run_id, client.url)
    limit = timeout_s or settings.crawl.closespider_timeout_s + 600
    state = client.wait(run_id, limit, poll_s=poll_s)
    if state != "finished":
        client.cancel(run_id)
    job = client.job(run_id)
    store = open_store(settings)
    try:
        own = store.get_meta(f"crawl_run:{run_id}") or {}
    finally:
        store.close()
    stats = {"run_id": run_id, "platform": platform, **own, "scrapyd_url": client.url,
             "scrapyd_state": state, "scrapyd_log": job.get("log_url", ""), "egg_version": version}
    if state != "finished":
        stats["returncode"] = -1
        stats["finish_reason"] = f"scrapyd job {state or 'lost'} after {limit:.0f} s, cancelled"
    elif not own:
        stats["returncode"] = 1
        stats["finish_reason"] = "scrapyd job ended without storing its run stats (see its log)"
    return stats
