"""The item page and its actions: claim, release, decide, escalate, second review, takeover, due date, evidence."""
from __future__ import annotations

import re
from types import SimpleNamespace
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from werkzeug.datastructures import MultiDict

from review_ui.context import audit, audit_decisions, ctx
from review_ui.highlight import clean, highlighted_fields
from review_ui.queries import ALL_FILTERS, BadQuery, query_from_args, view_args, view_qs
from review_ui.review import (ACTION_NAMES, OUTCOME_NAMES, Held, ReviewError, current, holder,
                              needs_second_review,
                              round_decisions, targets)
from review_ui.security import EVIDENCE_CSP, requires
from review_ui.templating import label
from shian.evidence.files import EvidenceFiles
from shian.store import Conflict, NotFound

bp = Blueprint("items", __name__, url_prefix="/items")
VIEW_FORM_KEYS = (*ALL_FILTERS, "q", "sort", "from", "to", "due", "all")
INLINE_MEDIA = {"image/png", "image/jpeg", "image/webp", "image/gif"}
EVIDENCE_KINDS = {"body": "原始响应", "html": "渲染后的页面", "screenshot": "页面截图", "headers": "请求与响应头",
                  "steps": "提取步骤", "warc": "网页存档（WARC）", "capture": "提取记录", "video": "直播录屏片段",
                  "image": "图片"}
SEGMENT_SOURCES = {"caption": "主播字幕", "comment": "评论", "pinned": "置顶", "card": "商品卡", "asr": "语音转写"}
PLAYABLE_MEDIA = {"video/webm", "video/mp4"}


def _item_or_404(item_id: str):
    if not re.fullmatch(r"[A-Za-z0-9_\-]{1,128}", item_id):
        abort(404)
    try:
        return ctx().store.get(item_id)
    except NotFound:
        abort(404)


def _view() -> MultiDict:
    """The queue view the reviewer came from (kept across actions for submit-and-next)."""
    source = request.form if request.method == "POST" else request.args
    return MultiDict([(k, v) for k, v in source.items(multi=True) if k in VIEW_FORM_KEYS])


def _back(item_id: str, view: MultiDict | None = None):
    view = _view() if view is None else view
    qs = view_qs(view)
    return redirect(url_for("items.show", item_id=item_id) + ("?" + qs if qs else ""))


def _plain_url(url: str) -> str:
    """A listing URL is only ever a link when it is http(s); anything else is shown as text."""
    return url if re.match(r"^https?://", url or "", re.I) else ""


def verdict_rows(verdict, listing) -> list[dict]:
    """What the listing shows vs the registry record, with differences marked."""
    if verdict is None:
        return []
    record = verdict.record or {}
    shown = ", ".join(str(i.get("value") or i.get("raw") or "") for i in verdict.identifiers) or ""

    def norm(v) -> str:
        return re.sub(r"\s+", "", str(v or "")).replace("（", "(").replace("）", ")")

    if verdict.kind == "licence":
        pairs = [("许可证号", shown, record.get("licence_no", "")),
                 ("经营主体", listing.shop.operator_name, record.get("holder_name", "")),
                 ("统一社会信用代码", "", record.get("credit_code", "")),
                 ("状态", "", record.get("status", "")),
                 ("有效期", "", f"{record.get('valid_from', '')} 至 {record.get('valid_until', '')}" if record else ""),
                 ("经营项目", listing.category, record.get("scope", "")),
                 ("地址", "", record.get("address", ""))]
    else:
        functions = record.get("functions", "")
        if isinstance(functions, list):
            functions = "、".join(map(str, functions))
        pairs = [("注册/备案号", shown or listing.health_food_reg, record.get("reg_no", "") or record.get("number", "")),
                 ("产品名称", listing.title, record.get("product_name", "") or record.get("name", "")),
                 # the page names a seller, not the registrant: nothing to compare on the listing side
                 ("注册人", "", record.get("registrant", "") or record.get("holder", "") or record.get("holder_name", "")),
                 ("批准的保健功能", "", functions),
                 ("有效期至", "", record.get("valid_until", ""))]
    out = []
    for label, mine, theirs in pairs:
        differs = bool(mine) and bool(theirs) and norm(mine) != norm(theirs) and label not in ("经营项目", "产品名称")
        out.append({"label": label, "listing": mine or "", "record": theirs or "", "differs": differs})
    return out


@bp.get("/<item_id>")
@requires("view")
def show(item_id: str):
    item = _item_or_404(item_id)
    audit("view", f"item:{item.id}")
    return _page(item)


def _page(item, draft: list[dict] | None = None, status: int = 200):
    """The item page; `draft` holds a refused submission so the reviewer's choices are not lost."""
    c = ctx()
    viewers = c.presence.touch(item.id, current_user.name)
    fields, unplaced = highlighted_fields(item.listing, item.analysis.findings)
    decided = current(item)
    if draft is not None:
        decided = {d["target"]: SimpleNamespace(**d) for d in draft}
    target_rows = []
    for t in targets(item):
        if t.key.startswith("finding:"):
            finding = item.analysis.finding(t.key)
        else:
            finding = None
        target_rows.append({"target": t, "finding": finding, "decision": decided.get(t.key),
                            "options": c.reasons.all_options(t.kind), "basis": c.reasons.basis(t.kind),
                            "kind_name": c.reasons.name(t.kind)})
    events = c.audit.events(target=f"item:{item.id}", limit=100)
    who = holder(item)
    deciders = {d.user for d in round_decisions(item) if d.target != "item"}
    image_shas = {e.sha256 for e in item.listing.evidence if e.media_type in INLINE_MEDIA}
    return render_template(
        "item.html", image_shas=image_shas, evidence_kinds=EVIDENCE_KINDS, segment_sources=SEGMENT_SOURCES, item=item, fields=fields, unplaced=unplaced, targets=target_rows, holder=who,
        mine=who == current_user.name, viewers=viewers, events=events, view=view_args(_view()),
        view_qs=view_qs(_view()), listing_url=_plain_url(item.listing.url), action_names=ACTION_NAMES,
        licence_rows=verdict_rows(item.analysis.licence, item.listing),
        health_rows=verdict_rows(item.analysis.health_reg, item.listing),
        needs_second=needs_second_review(item), deciders=deciders, reason_label=c.reasons.label,
        target_label=lambda key: _target_label(item, key),
        four_eyes=c.settings.review.four_eyes, lease_s=c.settings.review.lease_s), status


def _target_label(item, key: str) -> str:
    """A decision's target in words: the finding's type and text, the check, or the whole item."""
    if key.startswith("finding:"):
        f = item.analysis.finding(key)
        if f is not None:
            return f"{label('claim_type', f.type)}“{clean(f.text)[:40]}”"
        return "发现（已不在当前版本中）"
    return {"licence": "许可核验", "health_reg": "保健食品注册核验", "item": "整个条目"}.get(key, key)


@bp.post("/<item_id>/claim")
@requires("claim")
def claim(item_id: str):
    item = _item_or_404(item_id)
    takeover = request.form.get("takeover") == "1"
    if takeover and not current_user.can("takeover"):
        abort(403)
    try:
        claimed, taken_from = ctx().workflow.claim(item.id, current_user.name, current_user.role, takeover=takeover)
    except Held as exc:
        flash(f"该条目已被 {exc.holder} 认领。", "error")
        return _back(item.id)
    except ReviewError as exc:
        flash(str(exc), "error")
        return _back(item.id)
    details = {"lease_until": claimed.review.lease_until.isoformat(), "first_seen": claimed.first_seen.isoformat()}
    if taken_from:
        audit("takeover", f"item:{item.id}", {**details, "from": taken_from})
        flash(f"已接管 {taken_from} 的认领。")
    else:
        audit("claim", f"item:{item.id}", details)
    return _back(item.id)


@bp.post("/<item_id>/release")
@requires("claim")
def release(item_id: str):
    item = _item_or_404(item_id)
    try:
        ctx().workflow.release(item.id, current_user.name)
    except ReviewError as exc:
        flash(str(exc), "error")
        return _back(item.id)
    audit("release", f"item:{item.id}")
    flash("已释放认领，条目回到队列。")
    qs = view_qs(_view())
    return redirect(url_for("queue.index") + ("?" + qs if qs else ""))


def _decisions_from_form(item) -> list[dict]:
    out = []
    for t in targets(item):
        action = request.form.get(f"action-{t.key}", "")
        if not action:
            continue
        out.append({"target": t.key, "action": action, "reason_code": request.form.get(f"reason-{t.key}", ""),
                    "note": request.form.get(f"note-{t.key}", "")})
    return out


@bp.post("/<item_id>/decide")
@requires("decide")
def decide(item_id: str):
    c = ctx()
    item = _item_or_404(item_id)
    submit = request.form.get("submit") in ("submit", "submit_next")
    decisions = _decisions_from_form(item)
    try:
        item = c.workflow.decide(item.id, current_user.name, current_user.role, decisions, submit=submit)
    except Held as exc:
        flash(f"该条目已被 {exc.holder} 认领，你的决定未保存。", "error")
        return _back(item_id)
    except ReviewError as exc:
        # show the page again with what was chosen, so one missing note does not cost every choice
        flash(str(exc), "error")
        return _page(_item_or_404(item_id), draft=decisions, status=400)
    except Conflict:
        flash("条目刚被他人修改，请刷新后重试。", "error")
        return _back(item_id)
    audit_decisions(item, decisions, submitted=submit)
    if not submit:
        flash("已保存。")
        return _back(item.id)
    if item.review.status == "escalated":
        flash("已提交。按四眼原则，确认的高风险违法已转科长复核。")
    else:
        flash(f"已提交，结论：{OUTCOME_NAMES.get(item.review.outcome, '')}。")
    if request.form.get("submit") == "submit_next":
        return _claim_next(skip={item.id})
    return _back(item.id)


def _claim_next(skip: set[str]):
    view = _view()
    try:
        query = query_from_args(view, ZoneInfo(ctx().settings.timezone), facets=False)
    except BadQuery:
        query = query_from_args(MultiDict(), ZoneInfo(ctx().settings.timezone), facets=False)
    nxt = ctx().workflow.next_claimable(query, current_user.name, current_user.role, skip=skip)
    if nxt is None:
        flash("当前视图中已没有可认领的条目。")
        qs = view_qs(view)
        return redirect(url_for("queue.index") + ("?" + qs if qs else ""))
    audit("claim", f"item:{nxt.id}", {"lease_until": nxt.review.lease_until.isoformat(),
                                       "first_seen": nxt.first_seen.isoformat(), "via": "next"})
    return _back(nxt.id, view)


@bp.post("/<item_id>/escalate")
@requires("escalate")
def escalate(item_id: str):
    item = _item_or_404(item_id)
    note = request.form.get("note", "")
    try:
        ctx().workflow.escalate(item.id, current_user.name, note)
    except ReviewError as exc:
        flash(str(exc), "error")
        return _back(item.id)
    audit("escalate", f"item:{item.id}", {"note": note.strip()[:4000]})
    flash("已提交科长复核。")
    if request.form.get("next") == "1":
        return _claim_next(skip={item.id})
    return _back(item.id)


@bp.post("/<item_id>/review")
@requires("second_review")
def second_review(item_id: str):
    item = _item_or_404(item_id)
    action = request.form.get("action", "")
    note = request.form.get("note", "")
    try:
        item = ctx().workflow.second_review(item.id, current_user.name, current_user.role, action, note)
    except ReviewError as exc:
        flash(str(exc), "error")
        return _back(item_id)
    audit("second_review", f"item:{item.id}", {"action": action, "note": note.strip()[:4000],
                                                "outcome": item.review.outcome})
    flash("复核通过，结论已生效。" if action == "approve" else "已退回重审。")
    return _back(item.id)


@bp.post("/<item_id>/due")
@requires("set_due")
def set_due(item_id: str):
    item = _item_or_404(item_id)
    raw = request.form.get("due", "")
    try:
        local = datetime.strptime(raw, "%Y-%m-%dT%H:%M").replace(tzinfo=ZoneInfo(ctx().settings.timezone))
    except ValueError:
        flash("截止时间格式无效。", "error")
        return _back(item.id)
    try:
        _, before = ctx().workflow.set_due(item.id, local.astimezone(timezone.utc))
    except Conflict:
        flash("条目刚被他人修改，请重试。", "error")
        return _back(item.id)
    audit("set_due", f"item:{item.id}", {"from": before.isoformat() if before else None,
                                         "to": local.astimezone(timezone.utc).isoformat(),
                                         "reason": request.form.get("reason", "")[:500]})
    flash("已修改截止时间。")
    return _back(item.id)


@bp.get("/<item_id>/text/<path:field>")
@requires("view")
def field_text(item_id: str, field: str):
    """One whole text field as a plain-text download (huge fields are shortened on the page)."""
    item = _item_or_404(item_id)
    text = item.listing.fields().get(field)
    if text is None:
        abort(404)
    response = Response(clean(text).encode("utf-8"), mimetype="text/plain; charset=utf-8")
    response.headers["Content-Security-Policy"] = EVIDENCE_CSP
    response.headers["Content-Disposition"] = f'attachment; filename="{item.id}-text.txt"'
    return response


@bp.get("/<item_id>/evidence/<sha256>")
@requires("view")
def evidence(item_id: str, sha256: str):
    item = _item_or_404(item_id)
    refs = {e.sha256: e for e in item.listing.evidence}
    for h in item.history:
        for e in h.get("evidence") or []:
            refs.setdefault(e.get("sha256", ""), None)
    if sha256 not in refs:
        abort(404)
    files = EvidenceFiles(ctx().settings.evidence_dir)
    try:
        data = files.read(sha256)
    except (OSError, ValueError):
        abort(404)
    ref = refs[sha256]
    media = ref.media_type if ref else "application/octet-stream"
    if request.headers.get("Range", "bytes=0-").startswith("bytes=0-"):   # once per viewing, not per seek
        audit("view_evidence", f"item:{item.id}", {"sha256": sha256, "kind": ref.kind if ref else ""})
    inline = media in INLINE_MEDIA
    playable = media in PLAYABLE_MEDIA   # recordings play in the page's <video>, with seeking (Range)
    response = Response(data, mimetype=media if inline or playable else "application/octet-stream")
    if playable:
        response.make_conditional(request, accept_ranges=True, complete_length=len(data))
    response.headers["Content-Security-Policy"] = EVIDENCE_CSP
    name = re.sub(r"[^A-Za-z0-9._-]", "_", (ref.name if ref else sha256))[:100] or sha256
    response.headers["Content-Disposition"] = f'{"inline" if inline else "attachment"}; filename="{name}"'
    return response
