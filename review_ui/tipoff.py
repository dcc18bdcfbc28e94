"""The tip-off form: a reviewer submits one URL; Chromium captures it with full evidence (crawler.tipoff)
and the page goes through the same pipeline as crawled listings. The capture takes seconds, so it runs as
a background job (one browser at a time) and the job page links to the stored item when done."""
from __future__ import annotations

import threading
from urllib.parse import urlsplit

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user

from crawler.tipoff import HostGuard, TipoffError, capture_url, check_url
from review_ui.context import audit, ctx
from review_ui.security import requires

bp = Blueprint("tipoff", __name__, url_prefix="/tipoff")
KIND = "tipoff"
_browser_gate = threading.Lock()     # one Chromium per process for tip-offs; the crawler has its own


def platforms() -> list[str]:
    try:
        from crawler.platforms import list_platforms
        return list_platforms()
    except Exception:  # a broken platform file must not take the form down; capture without selectors
        return []


def check(url: str) -> str:
    url = (url or "").strip()
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise TipoffError("只能提交以 http:// 或 https:// 开头的网址。")
    if len(url) > 2000:
        raise TipoffError("网址过长（最多 2000 个字符）。")
    return url


@bp.get("/")
@requires("tipoff")
def index():
    jobs = ctx().jobs.recent(KIND)[:20]
    return render_template("tipoff.html", jobs=jobs, platforms=platforms())


@bp.post("/")
@requires("tipoff")
def submit():
    c = ctx()
    platform = request.form.get("platform") or None
    try:
        url = check(request.form.get("url", ""))
        check_url(url, HostGuard.from_settings(c.settings))   # refuse private hosts now, not in a failed job
        if platform is not None and platform not in platforms():
            raise TipoffError("未知的平台配置。")
    except TipoffError as exc:
        flash(str(exc), "error")
        return render_template("tipoff.html", jobs=c.jobs.recent(KIND)[:20], platforms=platforms(),
                               url=request.form.get("url", "")[:2000]), 400
    settings, store, log = c.settings, c.store, c.audit
    user, ip = current_user.name, request.remote_addr or ""

    def work(job):
        from shian.pipeline import Pipeline   # NLP and registry load on first use, not at app start

        job.total = 1
        pipeline = Pipeline(settings, store=store)
        result = capture_url(url, platform=platform, pipeline=pipeline, settings=settings)
        item = result.item
        job.advance()
        log.append(user, "tipoff_capture", f"item:{item.id}",
                   {"url": url, "platform": platform or "", "outcome": result.outcome, "ip": ip,
                    "complete": item.listing.capture_complete, "problem": item.listing.capture_problem})
        return {"item_id": item.id, "outcome": result.outcome, "title": item.listing.title,
                "complete": item.listing.capture_complete, "problem": item.listing.capture_problem,
                "findings": len(item.analysis.findings), "flagged": item.analysis.flagged,
                "evidence": len(item.listing.evidence), "url": url}

    job = c.jobs.start(KIND, url, user, work, gate=_browser_gate)
    audit("tipoff_submit", f"tipoff:{job.id}", {"url": url, "platform": platform or ""})
    return redirect(url_for("tipoff.job_page", job_id=job.id))


def _job_or_404(job_id: str):
    job = ctx().jobs.get(job_id)
    if job is None or job.kind != KIND:
        abort(404)
    return job


@bp.get("/jobs/<job_id>")
@requires("tipoff")
def job_page(job_id: str):
    job = _job_or_404(job_id)
    error = job.error
    if error.startswith("TipoffError: "):   # our own Chinese message, without the class name
        error = error[len("TipoffError: "):]
    return render_template("tipoff_job.html", job=job, error=error)


@bp.get("/jobs/<job_id>/progress")
@requires("tipoff")
def job_progress(job_id: str):
    return jsonify(_job_or_404(job_id).as_dict())
