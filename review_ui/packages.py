"""Evidence packages for case files from the UI: choose items, request, (four-eyes) approve, download.

The package itself is shian.evidence.package.export_package, which also records `evidence.export` in
the audit log. Requests live in the store's metadata (`export_request:<id>`), package files under
DATA_DIR/exports/. Our own audit events all contain "export" (export_request, export_approve,
export_reject, export_download) because the package's audit excerpt leaves such events out: exporting
the same items again must give the same package.

With settings.review.four_eyes a request waits until a second person with the export right, who is not
the requester, approves it; without it the package is made at once.
"""
from __future__ import annotations

import re
import threading
import uuid
from dataclasses import replace
from pathlib import Path
from zoneinfo import ZoneInfo

from flask import Blueprint, abort, flash, redirect, render_template, request, send_file, url_for
from flask_login import current_user
from werkzeug.datastructures import MultiDict

from review_ui.context import audit, ctx
from review_ui.queries import BadQuery, query_from_args, view_qs
from review_ui.security import requires
from shian.evidence.package import ExportError, export_package
from shian.models import utcnow
from shian.store import NotFound, Query

bp = Blueprint("packages", __name__, url_prefix="/packages")
MAX_ITEMS = 50          # one case file; larger selections are narrowed in the queue first
META = "export_request:"
ID_RE = re.compile(r"exp-[0-9a-f]{12}")
ITEM_RE = re.compile(r"[A-Za-z0-9_\-]{1,128}")
STATE_NAMES = {"pending": "待批准", "exported": "已生成", "rejected": "已驳回", "failed": "生成失败"}
SELLER_KEYS = {"shop": "店铺", "operator": "经营主体", "licence_no": "许可证号"}
_decide_lock = threading.Lock()   # one process serves one bureau (see review_ui.jobs)


def exports_dir() -> Path:
    folder = ctx().settings.data_dir / "exports"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _request_or_404(req_id: str) -> dict:
    if not ID_RE.fullmatch(req_id or ""):
        abort(404)
    record = ctx().store.get_meta(META + req_id)
    if record is None:
        abort(404)
    return record


def _selection() -> tuple[list[str], str, int]:
    """Item ids from the page the user came from: ?item=..., a seller (?by=&value=), or a queue view.

    Returns (ids, a Chinese description of the selection, how many items matched in all).
    """
    args = request.args
    ids = [i for i in args.getlist("item") if ITEM_RE.fullmatch(i)]
    if ids:
        ids = list(dict.fromkeys(ids))
        return ids[:MAX_ITEMS], "所选条目", len(ids)
    tz = ZoneInfo(ctx().settings.timezone)
    if args.get("by") in SELLER_KEYS and args.get("value"):
        label = f"{SELLER_KEYS[args['by']]}：{args['value'][:200]}"
        query = Query(filters={args["by"]: [args["value"][:200]]}, flagged_only=False, sort="time",
                      size=MAX_ITEMS, facets=())
    else:
        query = query_from_args(MultiDict([(k, v) for k, v in args.items(multi=True) if k != "after"]), tz,
                                facets=False)
        query = replace(query, size=MAX_ITEMS, after=None)
        label = "队列当前视图"
    page = ctx().store.search(query)
    return [it.id for it in page.items], label, page.total


@bp.get("/new")
@requires("export")
def new():
    try:
        ids, label, total = _selection()
    except BadQuery as exc:
        flash(str(exc), "error")
        return redirect(url_for("queue.index"))
    items = []
    for item_id in ids:
        try:
            items.append(ctx().store.get(item_id))
        except NotFound:
            continue
    return render_template("package_new.html", items=items, label=label, total=total, cap=MAX_ITEMS,
                           four_eyes=ctx().settings.review.four_eyes,
                           back=_back_link())


def _back_link() -> str:
    args = request.args
    items = args.getlist("item")
    if len(items) == 1 and ITEM_RE.fullmatch(items[0]):
        return url_for("items.show", item_id=items[0])
    if args.get("by") in SELLER_KEYS:
        return url_for("queue.seller", by=args["by"], value=args.get("value", ""))
    qs = view_qs(args)
    return url_for("queue.index") + ("?" + qs if qs else "")


@bp.post("/")
@requires("export")
def create():
    c = ctx()
    ids = list(dict.fromkeys(i for i in request.form.getlist("item") if ITEM_RE.fullmatch(i)))
    case_ref = (request.form.get("case_ref") or "").strip()[:100]
    if not ids:
        flash("没有选择要导出的条目。", "error")
        return redirect(url_for("packages.index"))
    if len(ids) > MAX_ITEMS:
        flash(f"一个数据包最多 {MAX_ITEMS} 个条目，请先在队列中缩小范围。", "error")
        return redirect(url_for("packages.index"))
    if not case_ref:
        flash("请填写案件编号。", "error")
        return redirect(url_for("packages.new", item=ids))
    for item_id in ids:
        try:
            c.store.get(item_id)
        except NotFound:
            flash(f"未找到条目 {item_id}。", "error")
            return redirect(url_for("packages.index"))
    req_id = "exp-" + uuid.uuid4().hex[:12]
    record = {"id": req_id, "items": ids, "case_ref": case_ref, "note": (request.form.get("note") or "")[:1000],
              "requested_by": current_user.name, "requested_at": utcnow().isoformat(), "state": "pending",
              "approved_by": "", "decided_at": "", "file": "", "error": ""}
    c.store.put_meta(META + req_id, record)
    audit("export_request", f"export:{req_id}", {"items": ids, "case_ref": case_ref,
                                                  "four_eyes": c.settings.review.four_eyes})
    if c.settings.review.four_eyes:
        flash("导出申请已提交。按四眼原则，需由另一位有导出权限的人员批准后生成数据包。")
        return redirect(url_for("packages.show", req_id=req_id))
    _make(record)
    return redirect(url_for("packages.show", req_id=req_id))


def _make(record: dict) -> dict:
    """Write the package for an approved (or four-eyes-free) request; the record says how it went."""
    c = ctx()
    out = exports_dir() / f"{record['id']}.wacz"
    try:
        result = export_package(c.store, record["items"], out, record["requested_by"], case_ref=record["case_ref"],
                                settings=c.settings, audit=c.audit, approver=record.get("approved_by", ""))
    except ExportError as exc:
        record.update(state="failed", error=str(exc))
        flash(f"数据包生成失败：{exc}", "error")
    else:
        record.update(state="exported", file=out.name, manifest_sha256=result.manifest_sha256,
                      package_sha256=result.package_sha256, files=result.files, bytes=result.bytes,
                      timestamp=result.timestamp, exported_at=utcnow().isoformat())
        flash("数据包已生成。" + ("" if result.timestamp == "granted" else
                                "未取得可信时间戳（时间戳服务不可用或未配置），可稍后用 shian evidence timestamp 补加。"))
    c.store.put_meta(META + record["id"], record)
    return record


@bp.post("/<req_id>/approve")
@requires("export")
def approve(req_id: str):
    with _decide_lock:     # two approvers at once must not both make (or fail) the same package
        return _approve(req_id)


def _pending_or_none(req_id: str) -> dict | None:
    """The export request while it awaits a decision; None (with a message) once decided."""
    record = _request_or_404(req_id)
    if record["state"] != "pending":
        flash("该申请已处理。", "error")
        return None
    return record


def _approve(req_id: str):
    record = _pending_or_none(req_id)
    if record is None:
        return redirect(url_for("packages.show", req_id=req_id))
    if record["requested_by"] == current_user.name:
        flash("四眼原则：批准人不能是申请人本人。", "error")
        return redirect(url_for("packages.show", req_id=req_id))
    record.update(approved_by=current_user.name, decided_at=utcnow().isoformat())
    audit("export_approve", f"export:{req_id}", {"items": record["items"], "case_ref": record["case_ref"],
                                                  "requested_by": record["requested_by"]})
    _make(record)
    return redirect(url_for("packages.show", req_id=req_id))


@bp.post("/<req_id>/reject")
@requires("export")
def reject(req_id: str):
    with _decide_lock:
        return _reject(req_id)


def _reject(req_id: str):
    record = _pending_or_none(req_id)
    if record is None:
        return redirect(url_for("packages.show", req_id=req_id))
    note = (request.form.get("note") or "").strip()[:1000]
    record.update(state="rejected", approved_by=current_user.name, decided_at=utcnow().isoformat(),
                  error=note)
    ctx().store.put_meta(META + req_id, record)
    # the requester may withdraw their own request; anyone else rejecting it is the second person
    audit("export_reject", f"export:{req_id}", {"items": record["items"], "note": note})
    flash("已驳回导出申请。" if record["requested_by"] != current_user.name else "已撤回导出申请。")
    return redirect(url_for("packages.show", req_id=req_id))


@bp.get("/<req_id>")
@requires("export")
def show(req_id: str):
    record = _request_or_404(req_id)
    titles = {}
    for item_id in record["items"]:
        try:
            titles[item_id] = ctx().store.get(item_id).listing.title
        except NotFound:
            titles[item_id] = ""
    return render_template("package.html", r=record, titles=titles, states=STATE_NAMES,
                           four_eyes=ctx().settings.review.four_eyes)


@bp.get("/<req_id>/download")
@requires("export")
def download(req_id: str):
    record = _request_or_404(req_id)
    if record["state"] != "exported" or not record.get("file"):
        abort(404)
    path = exports_dir() / record["file"]
    if not path.is_file():
        abort(404)
    audit("export_download", f"export:{req_id}", {"package_sha256": record.get("package_sha256", "")})
    safe_case = re.sub(r"[^A-Za-z0-9._-]", "_", record["case_ref"])[:60].strip("_")
    name = f"shian-{safe_case + '-' if safe_case else ''}{req_id}.wacz"
    return send_file(path, mimetype="application/zip", as_attachment=True, download_name=name)


@bp.get("/")
@requires("export")
def index():
    records = sorted((r for _, r in ctx().store.list_meta(META)), key=lambda r: r.get("requested_at", ""),
                     reverse=True)
    return render_template("packages.html", records=records[:200], states=STATE_NAMES,
                           four_eyes=ctx().settings.review.four_eyes)
