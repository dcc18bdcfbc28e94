"""Crawl runs (issue 5): each run's pages, items, errors, duration and finish reason, newest first.

The crawler writes `crawl_run:<run_id>` into the store's metadata (crawler.extensions.RunStats, completed by
crawler.scheduler.record_run); this page only reads them.
"""
from __future__ import annotations

from datetime import datetime

from flask import Blueprint, render_template, request

from review_ui.context import ctx
from review_ui.security import requires

bp = Blueprint("runs", __name__, url_prefix="/runs")
PAGE = 100
REASON_NAMES = {"finished": "正常结束", "closespider_timeout": "达到时长上限", "memusage_exceeded": "超出内存上限",
                "closespider_itemcount": "达到条目上限", "closespider_pagecount": "达到页数上限",
                "closespider_errorcount": "错误过多", "shutdown": "被停止", "failed": "失败", "cancelled": "已取消"}


def _when(run: dict) -> datetime | None:
    for key in ("started_at", "finished_at", "ended_at"):
        try:
            return datetime.fromisoformat(run[key])
        except (KeyError, TypeError, ValueError):
            continue
    return None


def _number(value) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0


@bp.get("/")
@requires("runs")
def index():
    runs = []
    for key, run in ctx().store.list_meta("crawl_run:"):
        if not isinstance(run, dict):
            continue
        started = _when(run)
        runs.append({**run, "run_id": str(run.get("run_id") or key.split(":", 1)[1]), "started": started,
                     "duration": _number(run.get("duration_s")), "failed": run.get("outcome") == "failed"})
    platform = request.args.get("platform", "")
    platforms = sorted({str(r.get("platform", "")) for r in runs if r.get("platform")})
    if platform:
        runs = [r for r in runs if r.get("platform") == platform]
    runs.sort(key=lambda r: (r["started"] is not None, r["started"].timestamp() if r["started"] else 0),
              reverse=True)
    return render_template("runs.html", runs=runs[:PAGE], total=len(runs), platforms=platforms,
                           platform=platform, reasons=REASON_NAMES)
