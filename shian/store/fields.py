"""What every store derives from a ReviewItem to filter, sort, count and search on.

Both stores index exactly these values, so their filters and facet counts agree.
"""
from __future__ import annotations

import json
from datetime import datetime, timezone

from shian.models import ReviewItem
from shian.store.base import Query, StoreError

FILTER_KEYS = ("status", "platform", "kind", "claim_type", "licence_verdict", "health_reg_verdict",
               "severity", "region", "shop", "operator", "licence_no", "rule_id", "list_version",
               "assignee")
SORTS = ("risk", "due", "time")
NO_DUE_MS = 2 ** 62                  # items without a due date sort after every dated one


def filter_terms(item: ReviewItem) -> dict[str, list[str]]:
    """Filter key -> the item's distinct non-empty values (a finding list gives several)."""
    listing, analysis, review = item.listing, item.analysis, item.review
    findings = analysis.findings
    licence_ids = analysis.licence.identifiers if analysis.licence else []
    raw = {
        "status": [review.status],
        "platform": [listing.platform],
        "kind": [listing.kind],
        "claim_type": [f.type for f in findings],
        "licence_verdict": [analysis.licence.verdict] if analysis.licence else [],
        "health_reg_verdict": [analysis.health_reg.verdict] if analysis.health_reg else [],
        "severity": [f.severity for f in findings],
        "region": [listing.shop.region],
        "shop": [listing.shop.name],
        "operator": [listing.shop.operator_name],
        "licence_no": [str(i.get("value", "")) for i in licence_ids],
        "rule_id": [f.rule_id for f in findings],
        "list_version": [f.list_version for f in findings],
        "assignee": [review.assignee],
    }
    return {key: sorted({v for v in values if v}) for key, values in raw.items()}


def body(item: ReviewItem) -> str:
    """The text that full-text search looks in."""
    return f"{item.listing.title}\n{item.listing.text}"


def flagged(item: ReviewItem) -> bool:
    return item.review.status != "clean"


def epoch_ms(when: datetime | None) -> int | None:
    if when is None:
        return None
    if when.tzinfo is None:          # naive datetimes in this code base are UTC
        when = when.replace(tzinfo=timezone.utc)
    return int(when.timestamp() * 1000)


def due_ms(item: ReviewItem) -> int:
    value = epoch_ms(item.review.due)
    return NO_DUE_MS if value is None else value


def to_json(item: ReviewItem) -> str:
    """The stored document; the version lives beside it, never inside."""
    return item.model_dump_json(exclude={"version"})


def from_json(doc: str | dict, version: str) -> ReviewItem:
    data = json.loads(doc) if isinstance(doc, str) else dict(doc)
    data["version"] = version
    return ReviewItem.model_validate(data)


def check_query(query: Query) -> None:
    """Refuse a query the stores cannot answer, with a message that says why."""
    unknown = sorted(set(query.filters) - set(FILTER_KEYS)) + \
        sorted(set(query.facets) - set(FILTER_KEYS))
    if unknown:
        raise StoreError(f"unknown filter/facet key(s) {unknown}; known: {', '.join(FILTER_KEYS)}")
    if query.sort not in SORTS:
        raise StoreError(f"unknown sort {query.sort!r}; known: {', '.join(SORTS)}")
    if query.size < 1 or query.size > 10000:
        raise StoreError(f"page size must be 1..10000, got {query.size}")
    if query.after is not None and len(query.after) != 2:
        raise StoreError("search_after cursor must be the next_after of a previous page")


def merge_recrawl(stored: ReviewItem, fresh: ReviewItem) -> tuple[ReviewItem, str]:
    """Apply a re-crawl to the stored item; returns the merged item and the outcome.

    Same content hash: last_seen bumped, new evidence appended -> "unchanged".
    New hash: listing and analysis replaced, the old hash kept in history,
    review state kept -> "changed". Either way a taken-down item is back.
    Items not yet reviewed ("new"/"clean") follow the fresh analysis.
    """
    merged = stored.model_copy(deep=True)
    merged.taken_down_at = None
    merged.last_seen = max(stored.last_seen, fresh.last_seen)
    if stored.listing.content_hash == fresh.listing.content_hash:
        known = {e.sha256 for e in stored.listing.evidence}
        merged.listing.evidence.extend(e for e in fresh.listing.evidence if e.sha256 not in known)
        return merged, "unchanged"
    merged.history.append({"content_hash": stored.listing.content_hash,
                           "captured_at": stored.listing.captured_at.isoformat(),
                           "evidence": [e.model_dump(mode="json") for e in stored.listing.evidence]})
    merged.listing = fresh.listing
    merged.analysis = fresh.analysis
    if merged.review.status in ("new", "clean"):
        merged.review.status = "new" if fresh.analysis.flagged else "clean"
    return merged, "changed"
