"""JSON API under /api/v1 for other systems and the UI's own scripts (Bearer token or session + CSRF header)."""
from __future__ import annotations

from zoneinfo import ZoneInfo

from flask import Blueprint, jsonify, request
from flask_login import current_user

from review_ui import openapi
from review_ui.context import audit, audit_decisions, ctx
from review_ui.keywords import list_summaries
from review_ui.queries import BadQuery, encode_cursor, query_from_args
from review_ui.review import ACTIONS, Held, NotClaimed, ReviewError, current, holder, targets
from review_ui.security import requires
from shian.commands import item_summary
from shian.store import Conflict, NotFound

bp = Blueprint("api", __name__, url_prefix="/api/v1")


def error(status: int, code: str, message: str, **extra):
    response = jsonify(error=code, message=message, **extra)
    response.status_code = status
    return response


def _checked(item_id: str) -> str:
    """The id if it can name an item, else NotFound (answered as 404 by the handler below)."""
    if not item_id or len(item_id) > 128:
        raise NotFound(f"no item {item_id[:128]!r}")
    return item_id


def _get(item_id: str):
    return ctx().store.get(_checked(item_id))


# What the review workflow refuses, answered the same way by every route.
@bp.errorhandler(NotFound)
def not_found(exc):
    return error(404, "not_found", "没有这个条目")


@bp.errorhandler(Held)
def held(exc: Held):
    return error(409, "held", str(exc), holder=exc.holder, lease_until=exc.until.isoformat() if exc.until else None)


@bp.errorhandler(NotClaimed)
def not_claimed(exc: NotClaimed):
    return error(409, "not_claimed", str(exc))


@bp.errorhandler(ReviewError)
def refused(exc: ReviewError):
    return error(400, "refused", str(exc))


@bp.errorhandler(Conflict)
def conflict(exc: Conflict):
    return error(409, "conflict", "条目刚被他人修改，请重新读取后再试")


def summary(item) -> dict:
    out = item_summary(item)
    out.update(holder=holder(item) or None, outcome=item.review.outcome or None,
               due=item.review.due.isoformat() if item.review.due else None, version=item.version)
    return out


def detail(item) -> dict:
    data = item.model_dump(mode="json")
    data["holder"] = holder(item) or None
    data["targets"] = [{"target": t.key, "kind": t.kind, "severity": t.severity} for t in targets(item)]
    data["current_decisions"] = {k: d.model_dump(mode="json") for k, d in current(item).items()}
    return data


def _body() -> dict:
    data = request.get_json(silent=True)
    return data if isinstance(data, dict) else {}


@bp.get("/openapi.json")
def openapi_document():
    return jsonify(openapi.document())


@bp.get("/items")
@requires("view")
def list_items():
    try:
        query = query_from_args(request.args, ZoneInfo(ctx().settings.timezone), size=50,
                                facets=request.args.get("facets") == "1")
    except BadQuery as exc:
        return error(400, "bad_query", str(exc))
    page = ctx().store.search(query)
    return jsonify(items=[summary(it) for it in page.items], total=page.total, facets=page.facets,
                   next_after=encode_cursor(page.next_after) or None)


@bp.get("/items/<item_id>")
@requires("view")
def get_item(item_id: str):
    item = _get(item_id)
    return jsonify(detail(item))


@bp.post("/items/<item_id>/claim")
@requires("claim")
def claim(item_id: str):
    item_id = _checked(item_id)   # the workflow reads the item itself (NotFound -> 404): one read, one write
    takeover = bool(_body().get("takeover"))
    if takeover and not current_user.can("takeover"):
        return error(403, "forbidden", "只有科长可以接管他人认领的条目")
    try:
        claimed, taken_from = ctx().workflow.claim(item_id, current_user.name, current_user.role, takeover=takeover)
    except Held:
        raise
    except ReviewError as exc:
        return error(409, "not_claimable", str(exc))
    details = {"lease_until": claimed.review.lease_until.isoformat(), "first_seen": claimed.first_seen.isoformat(),
               "via": "api"}
    if taken_from:
        audit("takeover", f"item:{item_id}", {**details, "from": taken_from})
    else:
        audit("claim", f"item:{item_id}", details)
    return jsonify(id=claimed.id, holder=current_user.name, lease_until=claimed.review.lease_until.isoformat(),
                   status=claimed.review.status, version=claimed.version)


@bp.post("/items/<item_id>/release")
@requires("claim")
def release(item_id: str):
    item = _get(item_id)
    try:
        released = ctx().workflow.release(item.id, current_user.name)
    except ReviewError as exc:
        return error(409, "not_holder", str(exc))
    audit("release", f"item:{item.id}", {"via": "api"})
    return jsonify(id=released.id, status=released.review.status)


@bp.post("/items/<item_id>/heartbeat")
@requires("view")
def heartbeat(item_id: str):
    """Keeps the page's lease alive while it is open, and tells who else is looking."""
    c = ctx()
    item = _get(item_id)
    viewers = c.presence.touch(item.id, current_user.name)
    renewed = False
    if holder(item) == current_user.name and current_user.can("claim"):
        try:
            item, _ = c.workflow.claim(item.id, current_user.name, current_user.role)
            renewed = True
        except (ReviewError, Conflict):
            item = c.store.get(item.id)
    return jsonify(id=item.id, holder=holder(item) or None, viewers=viewers, renewed=renewed,
                   lease_until=item.review.lease_until.isoformat() if item.review.lease_until else None,
                   status=item.review.status)


@bp.post("/items/<item_id>/decide")
@requires("decide")
def decide(item_id: str):
    item_id = _checked(item_id)
    body = _body()
    decisions = body.get("decisions")
    if not isinstance(decisions, list) or not all(isinstance(d, dict) for d in decisions):
        return error(400, "bad_request", "decisions 应为对象数组：[{target, action, reason_code, note}]")
    decisions = [{k: str(d.get(k, "") if d.get(k) is not None else "") for k in ("target", "action", "reason_code", "note")}
                 for d in decisions[:200]]
    submit = body.get("submit") is True
    item = ctx().workflow.decide(item_id, current_user.name, current_user.role, decisions, submit=submit)
    audit_decisions(item, decisions, submitted=submit)
    return jsonify(summary(item))


@bp.post("/items/<item_id>/escalate")
@requires("escalate")
def escalate(item_id: str):
    item = _get(item_id)
    note = str(_body().get("note") or "")
    item = ctx().workflow.escalate(item.id, current_user.name, note)
    audit("escalate", f"item:{item.id}", {"note": note.strip()[:4000], "via": "api"})
    return jsonify(summary(item))


@bp.get("/lists")
@requires("view")
def lists():
    return jsonify(lists=list_summaries())


@bp.get("/reasons")
@requires("view")
def reasons():
    c = ctx()
    kinds = [*((c.reasons.data.get("findings") or {}).keys()), *((c.reasons.data.get("verdicts") or {}).keys())]
    return jsonify({k: {"name": c.reasons.name(k), "basis": c.reasons.basis(k),
                        "options": {a: [r.__dict__ for r in c.reasons.options(k, a)] for a in ACTIONS}}
                    for k in kinds})
