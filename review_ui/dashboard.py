"""Dashboard: inbound per day, backlog, overdue, time to claim and decision, throughput, per-rule precision.

Counts come from store facets; times and throughput from the audit log (claim and submit events carry
the item's first_seen). Charts are server-rendered CSS bars: no script, no CDN.
"""
from __future__ import annotations

from datetime import datetime, time, timedelta, timezone
from statistics import median
from zoneinfo import ZoneInfo

from flask import Blueprint, render_template

from review_ui.context import ctx
from review_ui.security import requires
from shian.store import Query

bp = Blueprint("dashboard", __name__, url_prefix="/dashboard")
DAYS = 14


def _hours(a: str, b: str) -> float | None:
    try:
        return (datetime.fromisoformat(b) - datetime.fromisoformat(a)).total_seconds() / 3600
    except (TypeError, ValueError):
        return None


def stats(now: datetime | None = None) -> dict:
    c = ctx()
    store, tz = c.store, ZoneInfo(c.settings.timezone)
    now = now or datetime.now(timezone.utc)
    today = now.astimezone(tz).date()
    inbound = []
    for back in range(DAYS - 1, -1, -1):
        day = today - timedelta(days=back)
        start = datetime.combine(day, time(0), tz).astimezone(timezone.utc)
        # last_seen is the time bound the store offers; first-time items dominate a day's inbound
        page = store.search(Query(flagged_only=True, since=start, until=start + timedelta(days=1), size=1,
                                  facets=("platform", "claim_type")))
        inbound.append({"day": day.strftime("%m-%d"), "total": page.total, "platform": page.facets.get("platform", {}),
                        "claim_type": page.facets.get("claim_type", {})})
    backlog = store.search(Query(filters={"status": ["new", "claimed", "escalated"]}, size=1,
                                 facets=("status", "severity")))
    overdue = store.search(Query(filters={"status": ["new", "claimed", "escalated"]}, due_before=now, size=1)).total

    since = (now - timedelta(days=30)).isoformat()
    claims = c.audit.events(action="claim", since=since, limit=20000, newest_first=False)
    submits = c.audit.events(action="submit", since=since, limit=20000, newest_first=False)
    decides = c.audit.events(action="decide", since=since, limit=50000, newest_first=False)
    first_claim: dict[str, str] = {}
    to_claim = []
    for e in claims:
        if e.target not in first_claim:
            first_claim[e.target] = e.at
            h = _hours(e.details.get("first_seen"), e.at)
            if h is not None and h >= 0:
                to_claim.append(h)
    to_decision = [h for e in submits if (h := _hours(first_claim.get(e.target), e.at)) is not None and h >= 0]
    week = (now - timedelta(days=7)).isoformat()
    throughput: dict[str, int] = {}
    for e in submits:
        if e.at >= week:
            throughput[e.actor] = throughput.get(e.actor, 0) + 1
    rules: dict[str, dict[str, int]] = {}
    for e in decides:
        rule = e.details.get("rule_id")
        if not rule or e.details.get("action") not in ("confirm", "dismiss"):
            continue
        r = rules.setdefault(rule, {"confirm": 0, "dismiss": 0})
        r[e.details["action"]] += 1
    precision = sorted(({"rule": k, "decided": v["confirm"] + v["dismiss"], "confirmed": v["confirm"],
                         "precision": v["confirm"] / (v["confirm"] + v["dismiss"])} for k, v in rules.items()),
                       key=lambda r: (r["precision"], -r["decided"]))
    return {"inbound": inbound, "inbound_max": max([d["total"] for d in inbound] + [1]),
            "backlog": backlog.total, "by_status": backlog.facets.get("status", {}),
            "by_severity": backlog.facets.get("severity", {}), "overdue": overdue,
            "to_claim_h": median(to_claim) if to_claim else None,
            "to_decision_h": median(to_decision) if to_decision else None,
            "throughput": sorted(throughput.items(), key=lambda kv: -kv[1]),
            "throughput_max": max(list(throughput.values()) + [1]), "precision": precision}


@bp.get("/")
@requires("dashboard")
def index():
    return render_template("dashboard.html", s=stats())
