"""The queue page, claim-next, the seller view, saved views, bulk actions and exports of a filtered view."""
from __future__ import annotations

import re
import uuid
from dataclasses import replace
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from werkzeug.datastructures import MultiDict

from review_ui import export
from review_ui.context import audit, audit_decisions, ctx
from review_ui.queries import (ALL_FILTERS, CHOICE_FILTERS, SORTS, TEXT_FILTERS, BadQuery, encode_cursor,
                               query_from_args, view_args, view_qs)
from review_ui.review import ReviewError, holder, targets
from review_ui.security import requires
from shian.store import Query

bp = Blueprint("queue", __name__)


def tz() -> ZoneInfo:
    return ZoneInfo(ctx().settings.timezone)


def sweep_expired() -> None:
    """Return items whose lease ran out to the queue before showing it.

    The store finds only claimed items whose lease already ended (an indexed condition), so a view
    where nothing expired costs one small query that matches nothing.
    """
    c = ctx()
    for item_id in c.workflow.return_expired():
        c.audit.append("system", "lease_expired", f"item:{item_id}", {})


@bp.get("/")
@requires("view")
def index():
    sweep_expired()
    try:
        query = query_from_args(request.args, tz())
    except BadQuery as exc:
        flash(str(exc), "error")
        return redirect(url_for("queue.index"))
    # The rows and a bounded total come first; exact counts visit every match (slow at a million
    # items), so app.js fetches them from queue.facets after load. counts=1 (the no-script link) asks
    # for them in the same store request instead.
    inline = bool(request.args.get("counts"))
    page = ctx().store.search(replace(query, exact_total=False, multi_select=True, brief=True,
                                      facets=query.facets if inline else ()))
    total = page.total if page.total_exact else f"{page.total:,}+"
    rows = [{"item": it, "holder": holder(it)} for it in page.items]
    saved = ctx().store.list_meta("saved_view:") if current_user.can("view") else []
    return render_template("queue.html", rows=rows, total=total, facets=page.facets if inline else None,
                           query=query, choice_filters=CHOICE_FILTERS, text_filters=TEXT_FILTERS, sorts=SORTS,
                           args=request.args, view_qs=view_qs(request.args),
                           next_qs=view_qs(request.args, after=encode_cursor(page.next_after))
                           if page.next_after else "",
                           first_page=not request.args.get("after"), saved_views=saved)


@bp.get("/queue/facets")
@requires("view")
def facets():
    """The filter panel with counts and the exact total of a view, as a fragment app.js swaps in.

    The same arguments and query as the page, so it counts only what the page would list; counts of a
    chosen filter ignore that filter so its other values stay visible.
    """
    try:
        query = query_from_args(request.args, tz())
    except BadQuery as exc:
        return Response(str(exc), status=400, mimetype="text/plain")
    # the store's counting request rides with a one-row page; the cursor does not change counts
    page = ctx().store.search(replace(query, size=1, after=None, multi_select=True, brief=True))
    return render_template("_queue_counts.html", facets=page.facets, total=page.total, query=query,
                           choice_filters=CHOICE_FILTERS, args=request.args)


@bp.post("/queue/next")
@requires("claim")
def claim_next():
    """Claim the first free item of the current view and open it (keyboard-first triage)."""
    form_args = MultiDict([(k, v) for k, v in request.form.items(multi=True) if k in ALL_FILTERS or
                           k in ("q", "sort", "from", "to", "due", "all")])
    try:
        query = query_from_args(form_args, tz(), facets=False)
    except BadQuery as exc:
        flash(str(exc), "error")
        return redirect(url_for("queue.index"))
    item = ctx().workflow.next_claimable(query, current_user.name, current_user.role)
    if item is None:
        flash("当前视图中没有可认领的条目。")
        return redirect(url_for("queue.index") + ("?" + view_qs(form_args) if view_args(form_args) else ""))
    audit("claim", f"item:{item.id}", {"lease_until": item.review.lease_until.isoformat(),
                                        "first_seen": item.first_seen.isoformat(), "via": "next"})
    return redirect(url_for("items.show", item_id=item.id, **_view_dict(form_args)))


def _view_dict(args: MultiDict) -> dict:
    out: dict[str, list[str]] = {}
    for k, v in view_args(args):
        out.setdefault(k, []).append(v)
    return out


# -- seller view ------------------------------------------------------------------------
SELLER_KEYS = {"shop": "店铺", "operator": "经营主体", "licence_no": "许可证号"}


@bp.get("/seller")
@requires("view")
def seller():
    key = request.args.get("by", "shop")
    value = (request.args.get("value") or "").strip()[:200]
    if key not in SELLER_KEYS or not value:
        abort(404)
    query = Query(filters={key: [value]}, flagged_only=False, sort="time", size=200,
                  facets=("status", "claim_type", "platform"))
    page = ctx().store.search(query)
    outcomes: dict[str, int] = {}
    decisions = []
    for it in page.items:
        if it.review.outcome:
            outcomes[it.review.outcome] = outcomes.get(it.review.outcome, 0) + 1
        for d in it.review.decisions:
            decisions.append((it, d))
    decisions.sort(key=lambda pair: pair[1].at, reverse=True)
    return render_template("seller.html", key=key, key_label=SELLER_KEYS[key], value=value, page=page,
                           outcomes=outcomes, repeat=outcomes.get("violation", 0), decisions=decisions[:100])


# -- saved views (shared by the whole bureau; the URL itself is already shareable) -----------
@bp.post("/views")
@requires("saved_views")
def save_view():
    name = (request.form.get("name") or "").strip()[:60]
    qs = (request.form.get("qs") or "")[:2000]
    if not name:
        flash("请填写视图名称。", "error")
        return redirect(url_for("queue.index") + ("?" + qs if qs else ""))
    slug = re.sub(r"\W+", "-", name).strip("-")[:60] or uuid.uuid4().hex[:8]
    ctx().store.put_meta(f"saved_view:{slug}", {"name": name, "qs": qs, "by": current_user.name})
    audit("save_view", f"view:{slug}", {"qs": qs})
    flash(f"已保存视图“{name}”。")
    return redirect(url_for("queue.index") + ("?" + qs if qs else ""))


# -- bulk actions ---------------------------------------------------------------------------
BULK_ACTIONS = {"dismiss_all": "全部排除（误报）", "escalate": "提交科长", "release": "退回队列（释放认领）"}


def _bulk_query() -> Query:
    args = MultiDict([(k, v) for k, v in request.values.items(multi=True) if k != "after"])
    return query_from_args(args, tz(), facets=False)


@bp.route("/bulk", methods=["GET", "POST"])
@requires("bulk")
def bulk():
    c = ctx()
    try:
        query = _bulk_query()
    except BadQuery as exc:
        flash(str(exc), "error")
        return redirect(url_for("queue.index"))
    cap = c.settings.review.bulk_cap
    total = c.store.search(replace(query, size=1)).total
    action = request.values.get("action", "")
    reason_options = c.reasons.data.get("common", {}).get("dismiss", [])
    if request.method == "GET" or request.form.get("step") != "apply":
        return render_template("bulk.html", total=total, cap=cap, actions=BULK_ACTIONS, action=action,
                               view=view_args(request.values), view_qs=view_qs(request.values),
                               reasons=reason_options)
    if action not in BULK_ACTIONS:
        flash("请选择批量操作。", "error")
        return redirect(url_for("queue.bulk") + "?" + view_qs(request.values))
    note = (request.form.get("note") or "").strip()[:2000]
    reason = request.form.get("reason_code", "")
    if action in ("dismiss_all", "escalate") and not note:
        flash("批量操作需要填写说明。", "error")
        return redirect(url_for("queue.bulk") + "?" + view_qs(request.values, action=action))
    if action == "dismiss_all" and reason not in {r["code"] for r in reason_options}:
        flash("请选择排除理由。", "error")
        return redirect(url_for("queue.bulk") + "?" + view_qs(request.values, action=action))
    try:
        expected = int(request.form.get("expected", "-1"))
    except ValueError:
        expected = -1
    if expected != total:
        flash(f"视图中的条目数已变化（预览 {expected}，现在 {total}），请重新确认。", "error")
        return redirect(url_for("queue.bulk") + "?" + view_qs(request.values, action=action))
    batch_id = "batch-" + uuid.uuid4().hex[:12]
    done, failed = _apply_bulk(query, action, reason, note, cap, batch_id)
    audit("bulk", f"batch:{batch_id}", {"action": action, "done": done, "failed": len(failed),
                                         "view": view_qs(request.values), "cap": cap}, batch_id=batch_id)
    flash(f"批量操作完成：成功 {done} 条，跳过 {len(failed)} 条（批次号 {batch_id}）。")
    return redirect(url_for("queue.index") + "?" + view_qs(request.values))


def _apply_bulk(query: Query, action: str, reason: str, note: str, cap: int, batch_id: str):
    c = ctx()
    wf, user, role = c.workflow, current_user.name, current_user.role
    # Collect ids first: acting on items changes their status and so the view being paged.
    ids: list[str] = []
    q = replace(query, size=min(cap, 500), after=None)
    while len(ids) < cap:
        page = c.store.search(q)
        ids.extend(it.id for it in page.items)
        if page.next_after is None:
            break
        q = replace(q, after=page.next_after)
    done, failed = 0, []
    for item_id in ids[:cap]:
        try:
            if action == "release":
                item = c.store.get(item_id)
                who = holder(item)
                if not who:
                    continue
                wf.claim(item_id, user, role, takeover=True)
                wf.release(item_id, user)
                audit("release", f"item:{item_id}", {"from": who}, batch_id=batch_id)
            else:
                item, taken = wf.claim(item_id, user, role, takeover=False)
                audit("claim", f"item:{item_id}", {"first_seen": item.first_seen.isoformat(), "bulk": True},
                      batch_id=batch_id)
                if action == "escalate":
                    wf.escalate(item_id, user, note, batch_id=batch_id)
                    audit("escalate", f"item:{item_id}", {"note": note}, batch_id=batch_id)
                else:
                    decisions = [{"target": t.key, "action": "dismiss", "reason_code": reason, "note": note}
                                 for t in targets(item) if t.key.startswith("finding:")]
                    verdict_targets = [t for t in targets(item) if not t.key.startswith("finding:")]
                    if verdict_targets:
                        wf.release(item_id, user)
                        raise ReviewError("含许可/注册核验问题，需逐条处理")
                    item = wf.decide(item_id, user, role, decisions, submit=True, batch_id=batch_id)
                    audit_decisions(item, decisions, submitted=True, batch_id=batch_id)
            done += 1
        except ReviewError as exc:
            failed.append((item_id, str(exc)))
        except Exception as exc:  # one bad item must not stop the batch; it is reported
            failed.append((item_id, type(exc).__name__))
    return done, failed


# -- exports -------------------------------------------------------------------------------
@bp.get("/export.<fmt>")
@requires("export")
def export_view(fmt: str):
    if fmt not in ("csv", "xlsx"):
        abort(404)
    c = ctx()
    try:
        query = query_from_args(MultiDict([(k, v) for k, v in request.args.items(multi=True) if k != "after"]),
                                tz(), facets=False)
    except BadQuery as exc:
        flash(str(exc), "error")
        return redirect(url_for("queue.index"))
    rows = export.rows(c.store, query, tz(), limit=export.MAX_ROWS)
    audit("export", f"export:{fmt}", {"rows": len(rows) - 1, "view": view_qs(request.args)})
    if fmt == "csv":
        body, mimetype = export.to_csv(rows), "text/csv; charset=utf-8"
    else:
        body, mimetype = export.to_xlsx(rows), "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    response = Response(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="shian-queue.{fmt}"'
    return response

