"""Risk score for queue ordering: severity, number and kind of findings, licence problems, live-now."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from shian.models import Analysis, Listing, ReviewItem

SEVERITY_WEIGHT = {"high": 10.0, "medium": 4.0, "low": 1.0}
LICENCE_WEIGHT = {"ok": 0.0, "missing": 6.0, "malformed": 6.0, "obsolete_format": 4.0,
                  "not_in_registry": 8.0, "holder_mismatch": 9.0, "expired": 7.0, "scope_mismatch": 6.0}
HEALTH_WEIGHT = {"ok": 0.0, "n/a": 0.0, "missing_for_health_claims": 6.0, "not_in_registry": 8.0,
                 "functions_exceeded": 6.0}


def score_risk(listing: Listing, analysis: Analysis) -> float:
    # Distinct finding types count fully; repeats of one type add little, so a
    # long page repeating one phrase does not outrank a page with a disease claim.
    by_type: dict[str, float] = {}
    for f in analysis.findings:
        w = SEVERITY_WEIGHT.get(f.severity, 1.0)
        by_type[f.type] = by_type.get(f.type, 0.0) + (w if f.type not in by_type else w * 0.2)
    score = sum(by_type.values())
    if analysis.licence:
        score += LICENCE_WEIGHT.get(analysis.licence.verdict, 3.0)
    if analysis.health_reg:
        score += HEALTH_WEIGHT.get(analysis.health_reg.verdict, 3.0)
    if listing.kind == "live":
        score *= 1.5   # a live room is selling now
    return round(score, 2)


def due_for(item: ReviewItem, due_hours: dict[str, int]) -> datetime:
    """Due date by worst severity; live rooms the same day (they are selling now)."""
    start = item.first_seen if item.first_seen.tzinfo else item.first_seen.replace(tzinfo=timezone.utc)
    if item.listing.kind == "live":
        hours = due_hours.get("live", 12)
    else:
        severities = {f.severity for f in item.analysis.findings}
        worst = next((s for s in ("high", "medium", "low") if s in severities), "medium")
        hours = due_hours.get(worst, 72)
    return start + timedelta(hours=hours)
