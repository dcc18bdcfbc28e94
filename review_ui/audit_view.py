"""The audit viewer: events per item, user, action or period; chain verification; export."""
from __future__ import annotations

import csv
import io
import json
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, render_template, request, url_for

from review_ui.context import audit, ctx
from review_ui.export import _cell as cell
from review_ui.security import requires

bp = Blueprint("audit", __name__, url_prefix="/audit")
PAGE = 200


def _bound(value: str, end: bool = False) -> str | None:
    if not value:
        return None
    try:
        day = datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError:
        return None
    tz = ZoneInfo(ctx().settings.timezone)
    moment = datetime.combine(day + timedelta(days=1) if end else day, time(0), tz)
    return moment.astimezone(ZoneInfo("UTC")).isoformat(timespec="microseconds")


def _filters() -> dict:
    a = request.args
    before = a.get("before", "")
    return {"target": a.get("target", "").strip()[:200] or None, "actor": a.get("actor", "").strip()[:64] or None,
            "action": a.get("action", "").strip()[:64] or None, "batch_id": a.get("batch_id", "").strip()[:64] or None,
            "since": _bound(a.get("from", "")), "until": _bound(a.get("to", ""), end=True),
            "before_seq": int(before) if before.isdigit() else None}


@bp.get("/")
@requires("audit")
def index():
    log = ctx().audit
    events = log.events(**_filters(), limit=PAGE)
    verification = log.verify() if request.args.get("verify") == "1" else None
    older = None
    if len(events) == PAGE:
        args = {k: v for k, v in request.args.items() if k not in ("before", "verify")}
        older = url_for("audit.index", **args, before=events[-1].seq)
    return render_template("audit.html", events=events, args=request.args, verification=verification,
                           older=older)


@bp.get("/export.<fmt>")
@requires("audit")
def export(fmt: str):
    log = ctx().audit
    filters = _filters()
    filters.pop("before_seq")
    events = log.events(**filters, limit=1_000_000, newest_first=False)
    audit("export_audit", f"export:{fmt}", {"events": len(events)})
    if fmt == "jsonl":
        body = "".join(json.dumps(e.as_dict(), ensure_ascii=False) + "\n" for e in events)
        mimetype = "application/x-ndjson"
    elif fmt == "csv":
        buf = io.StringIO()
        w = csv.writer(buf)
        w.writerow(["seq", "at", "actor", "action", "target", "details", "batch_id", "prev_hash", "hash"])
        for e in events:
            w.writerow([e.seq, e.at, cell(e.actor), e.action, cell(e.target),
                        cell(json.dumps(e.details, ensure_ascii=False)), e.batch_id, e.prev_hash, e.hash])
        body, mimetype = "\ufeff" + buf.getvalue(), "text/csv; charset=utf-8"
    else:
        return Response("unknown format", status=404)
    response = Response(body.encode("utf-8", "replace"), mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="shian-audit.{fmt}"'
    return response
