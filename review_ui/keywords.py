"""Keyword lists (config/keywords/*.yaml, in the nlp stage's format): view, edit with a reason, dry run,
publish as a new version, and re-scan stored items through the same pipeline.

Flow: an edit (add / change severity / disable / enable) makes a draft, validated by the nlp loader;
the draft's dry run compares what the current and the candidate lists find in every stored item;
publishing writes the file (if nobody changed it meanwhile), records the version and starts a re-scan
whose progress the page polls.
"""
from __future__ import annotations

import threading
import time
from datetime import datetime, timezone
from pathlib import Path

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user

from review_ui import listedit, listversions
from review_ui.context import Context, audit, ctx
from review_ui.dryrun import dry_run
from review_ui.listedit import EditError
from review_ui.security import requires
from shian.store import Query

bp = Blueprint("keywords", __name__, url_prefix="/keywords")

REASON_MAX = 500
PRECISION_TTL_S = 60
DECIDED_STATUSES = ["claimed", "decided", "escalated", "closed"]
_rescan_gate = threading.Lock()         # one re-scan at a time; a later publish waits its turn
_bundle_cache: dict[str, tuple] = {}
_bundle_lock = threading.Lock()


def keywords_dir() -> Path:
    return Path(ctx().settings.config_dir) / "keywords"


def _stamp(config_dir: Path) -> tuple:
    from nlp.lexicon import watched_files
    out = []
    for p in watched_files(config_dir):
        try:
            st = p.stat()
            out.append((p.name, st.st_mtime_ns, st.st_size))
        except FileNotFoundError:
            continue
    return tuple(out)


def loaded_lists(config_dir: Path):
    """The current lists as the nlp loader sees them (cached until a file changes), or the EditError."""
    key, stamp = str(config_dir), _stamp(config_dir)
    with _bundle_lock:
        hit = _bundle_cache.get(key)
        if hit and hit[0] == stamp:
            return hit[1]
        try:
            value = listedit.current_bundle(config_dir)
        except EditError as exc:
            value = exc
        _bundle_cache[key] = (stamp, value)
        return value


def list_summaries() -> list[dict]:
    """Each list file with the version id the nlp stage stamps on findings, and its entry counts."""
    config_dir = Path(ctx().settings.config_dir)
    bundle = loaded_lists(config_dir)
    versions = {} if isinstance(bundle, EditError) else bundle.versions
    out = []
    for name in listedit.list_names(config_dir):
        try:
            lf = listedit.read_list(config_dir, name)
        except EditError:
            out.append({"name": name, "version": "", "entries": 0, "disabled": 0})
            continue
        out.append({"name": name, "version": versions.get(f"{name}.yaml", ""),
                    "entries": sum(not e.disabled for e in lf.entries), "disabled": sum(e.disabled for e in lf.entries)})
    return out


def precision(c: Context) -> dict[str, dict]:
    """rule_id -> confirmed, decided and confirmed ÷ decided, from the items' current decisions on findings."""
    cached = c.precision_cache.get("rules")
    if cached and time.monotonic() - cached[0] < PRECISION_TTL_S:
        return cached[1]
    counts: dict[str, list[int]] = {}
    after = None
    while True:
        page = c.store.search(Query(filters={"status": DECIDED_STATUSES}, flagged_only=False, sort="time",
                                    size=500, after=after))
        for item in page.items:
            latest: dict[str, str] = {}
            for d in item.review.decisions:          # the last word on a finding counts
                if d.target.startswith("finding:"):
                    latest[d.target] = d.action
            for target, action in latest.items():
                finding = item.analysis.finding(target)
                if finding is None:
                    continue
                if action in ("confirm", "dismiss"):
                    r = counts.setdefault(finding.rule_id, [0, 0])
                    r[0] += action == "confirm"
                    r[1] += 1
        if not page.next_after or not page.items:
            break
        after = page.next_after
    out = {k: {"confirmed": v[0], "decided": v[1], "precision": v[0] / v[1]} for k, v in counts.items()}
    c.precision_cache["rules"] = (time.monotonic(), out)
    return out


# -- pages -----------------------------------------------------------------------------

@bp.get("/")
@requires("keywords")
def index():
    c = ctx()
    bundle = loaded_lists(Path(c.settings.config_dir))
    return render_template("keywords.html", lists=list_summaries(),
                           load_error=str(bundle) if isinstance(bundle, EditError) else "",
                           drafts=listversions.open_drafts(c.settings.data_dir),
                           jobs=c.jobs.recent("rescan")[:5])


def _list_or_404(name: str):
    try:
        return listedit.read_list(ctx().settings.config_dir, name)
    except EditError:
        abort(404)


def _render_list(name: str, error: str = "", form=None, status: int = 200):
    from nlp.lexicon import ENTRY_TYPES, SEVERITIES
    c = ctx()
    lf = _list_or_404(name)
    bundle = loaded_lists(Path(c.settings.config_dir))
    current_version = "" if isinstance(bundle, EditError) else bundle.versions.get(f"{name}.yaml", "")
    return render_template("keyword_list.html", lf=lf, version=current_version, precision=precision(c),
                           history=listversions.history(c.settings.data_dir, name)[:30],
                           drafts=listversions.open_drafts(c.settings.data_dir, name),
                           types=ENTRY_TYPES, severities=SEVERITIES, error=error, form=form or {}), status


@bp.get("/<name>")
@requires("keywords")
def show(name: str):
    return _render_list(name)


def _candidate(lf, form) -> tuple[str, dict]:
    """The candidate text and a description of the change, from the edit form."""
    op = form.get("op", "")
    entry_id = form.get("entry_id", "").strip()
    if op == "add":
        phrases = [p.strip() for p in form.get("phrases", "").replace("、", "\n").replace("，", "\n")
                   .replace(",", "\n").splitlines() if p.strip()]
        examples = [x.strip() for x in form.get("examples", "").splitlines() if x.strip()]
        new_id = form.get("new_id", "").strip()
        entry = {"id": new_id, "type": form.get("type", ""), "severity": form.get("severity", ""),
                 "legal_basis": " ".join(form.get("legal_basis", "").split()), "phrases": phrases}
        if not phrases:
            raise EditError("请至少填写一个短语")
        if examples:
            entry["examples"] = {"match": examples}
        return listedit.add_entry(lf.text, entry), {"op": "add", "entry_id": new_id, "severity": entry["severity"],
                                                    "phrases": phrases}
    known = {e.id: e for e in lf.entries}
    if entry_id not in known:
        raise EditError("请选择要修改的条目")
    if op == "severity":
        sev = form.get("severity", "")
        if sev == known[entry_id].severity:
            raise EditError("风险等级没有变化")
        return listedit.set_severity(lf.text, entry_id, sev), {"op": "severity", "entry_id": entry_id,
                                                              "severity": sev, "from": known[entry_id].severity}
    if op == "disable":
        header = f"{datetime.now(timezone.utc):%Y-%m-%d} {current_user.name}：{form.get('reason', '')}"
        return listedit.disable_entry(lf.text, entry_id, header), {"op": "disable", "entry_id": entry_id}
    if op == "enable":
        return listedit.enable_entry(lf.text, entry_id), {"op": "enable", "entry_id": entry_id}
    raise EditError("未知的操作")


@bp.post("/<name>/edit")
@requires("keywords")
def edit(name: str):
    c = ctx()
    lf = _list_or_404(name)
    form = request.form
    reason = " ".join(form.get("reason", "").split())
    try:
        if not reason:
            raise EditError("请填写修改理由")
        if len(reason) > REASON_MAX:
            raise EditError(f"修改理由不能超过 {REASON_MAX} 字")
        text, change = _candidate(lf, form)
        bundle = listedit.load_candidate(c.settings.config_dir, name, text)
        if change["op"] in ("add", "enable"):
            failures = listedit.check_examples(bundle, {change["entry_id"]})
            if failures:
                raise EditError("例句未命中该条目：" + "；".join(f.split(": ", 2)[-1] for f in failures[:5]))
    except EditError as exc:
        return _render_list(name, error=str(exc), form=form, status=400)
    current = loaded_lists(Path(c.settings.config_dir))
    draft = listversions.save_draft(c.settings.data_dir, {
        "list": name, "base_sha": lf.sha,
        "base_version": "" if isinstance(current, EditError) else current.versions.get(f"{name}.yaml", ""), "text": text, "change": change, "reason": reason,
        "author": current_user.name, "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "diff": listedit.diff(name, lf.text, text), "version": bundle.versions.get(f"{name}.yaml", ""),
        "dry_run": None})
    audit("keyword_draft", f"keywords:{name}", {"draft": draft["id"], "change": change, "reason": reason,
                                                "version": draft["version"]})
    _start_dry_run(c, draft)
    return redirect(url_for("keywords.draft", draft_id=draft["id"]))


def _start_dry_run(c: Context, draft: dict):
    settings, store = c.settings, c.store

    def work(job):
        d = listversions.load_draft(settings.data_dir, draft["id"])
        current = loaded_lists(Path(settings.config_dir))
        if isinstance(current, EditError):
            raise current
        candidate = listedit.load_candidate(settings.config_dir, d["list"], d["text"])
        job.total = store.count()
        result = dry_run(store, current, candidate, progress=job.advance)
        d = listversions.load_draft(settings.data_dir, draft["id"])
        d["dry_run"] = {**result, "at": datetime.now(timezone.utc).isoformat(timespec="seconds")}
        listversions.save_draft(settings.data_dir, d)
        return {k: v for k, v in result.items() if k != "items"}

    job = c.jobs.start("dryrun", f"试运行：{draft['list']}", current_user.name, work)
    c.draft_jobs[draft["id"]] = job.id
    return job


def _draft_or_404(draft_id: str) -> dict:
    try:
        return listversions.load_draft(ctx().settings.data_dir, draft_id)
    except EditError:
        abort(404)


@bp.get("/drafts/<draft_id>")
@requires("keywords")
def draft(draft_id: str):
    c = ctx()
    d = _draft_or_404(draft_id)
    job = c.jobs.get(c.draft_jobs.get(draft_id, ""))
    if d.get("dry_run"):
        job = None
    return render_template("keyword_draft.html", d=d, job=job)


@bp.post("/drafts/<draft_id>/dryrun")
@requires("keywords")
def rerun(draft_id: str):
    c = ctx()
    d = _draft_or_404(draft_id)
    job = c.jobs.get(c.draft_jobs.get(draft_id, ""))
    if not (job and job.state in ("waiting", "running")):
        d["dry_run"] = None
        listversions.save_draft(c.settings.data_dir, d)
        _start_dry_run(c, d)
    return redirect(url_for("keywords.draft", draft_id=draft_id))


@bp.post("/drafts/<draft_id>/discard")
@requires("keywords")
def discard(draft_id: str):
    c = ctx()
    d = _draft_or_404(draft_id)
    listversions.drop_draft(c.settings.data_dir, draft_id)
    audit("keyword_discard", f"keywords:{d['list']}", {"draft": draft_id, "change": d["change"]})
    flash("已放弃该草稿。", "ok")
    return redirect(url_for("keywords.show", name=d["list"]))


@bp.post("/drafts/<draft_id>/publish")
@requires("keywords")
def publish(draft_id: str):
    c = ctx()
    d = _draft_or_404(draft_id)
    if not d.get("dry_run"):
        flash("请等待试运行完成后再发布。", "error")
        return redirect(url_for("keywords.draft", draft_id=draft_id))
    try:
        record = listversions.publish(c.settings.config_dir, c.settings.data_dir, d, current_user.name)
    except EditError as exc:
        flash(str(exc), "error")
        return redirect(url_for("keywords.draft", draft_id=draft_id))
    dr = d["dry_run"]
    audit("keyword_publish", f"keywords:{record['list']}", {
        "version": record["version"], "previous": record["previous"], "change": record["change"],
        "reason": record["reason"], "drafted_by": record["drafted_by"],
        "dry_run": {k: dr.get(k) for k in ("scanned", "new_hits", "lost_hits", "severity_changed", "open_affected")}})
    c.precision_cache.clear()
    job = _start_rescan(c, record)
    return redirect(url_for("keywords.job_page", job_id=job.id))


def _start_rescan(c: Context, record: dict):
    import nlp
    from shian.rescan import rescan_store
    store, audit_log, user = c.store, c.audit, current_user.name
    name, version = record["list"], record["version"]

    def work(job):
        bundle = nlp.lexicon_holder().force_check()
        if bundle.versions.get(f"{name}.yaml") != version:
            # the pipeline reads the lists from the process settings' config dir: it must be this one
            raise RuntimeError(f"分析流程加载的词表版本 {bundle.versions.get(f'{name}.yaml')} 不是刚发布的 {version}"
                               "（配置目录不一致？），未重新扫描")
        job.total = store.count()
        report = rescan_store(store, progress=job.advance)
        store.refresh()
        audit_log.append(user, "keyword_rescan", f"keywords:{name}", {"version": version, **report})
        return report

    return c.jobs.start("rescan", f"重新扫描：{name} → {version}", user, work, gate=_rescan_gate)


@bp.get("/jobs/<job_id>")
@requires("keywords")
def job_page(job_id: str):
    job = ctx().jobs.get(job_id)
    if job is None:
        abort(404)
    return render_template("keyword_job.html", job=job)


@bp.get("/jobs/<job_id>/progress")
@requires("keywords")
def job_progress(job_id: str):
    job = ctx().jobs.get(job_id)
    if job is None:
        return jsonify(error="not_found", message="没有这个任务"), 404
    return jsonify(job.as_dict())


@bp.get("/<name>/versions/<version_id>")
@requires("keywords")
def version(name: str, version_id: str):
    _list_or_404(name)
    v = listversions.version(ctx().settings.data_dir, name, version_id)
    if v is None:
        abort(404)
    return render_template("keyword_version.html", v=v)
