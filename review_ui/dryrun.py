"""Dry run of a keyword-list edit: what the candidate lists would find in stored items, against what the
current lists find, without writing anything.

Both sides run the nlp stage's own scan (nlp.scan_text) with an explicitly loaded bundle, the same way
nlp.detect runs it with the process-wide one, so the comparison shows exactly what the edit changes.
"""
from __future__ import annotations

from typing import Callable

import matcher
import nlp
from nlp.kind import infer_kind
from shian.store import NotFound, Store

OPEN = ("new", "claimed", "escalated")
SHOW = 200                            # items listed on the page; the counts cover everything


def hits(listing, bundle, approved_functions: list[str] | None) -> dict[tuple, dict]:
    """(rule_id, field, start, end) -> hit, for every claim the bundle finds in the listing."""
    kind, _ = infer_kind(listing)
    approved = nlp.approved_ids(bundle, approved_functions)
    out: dict[tuple, dict] = {}
    for name, text in listing.fields().items():
        if name in nlp.SKIP_FIELDS or not text:
            continue
        norm, claims = nlp.scan_text(text, kind, approved, bundle)
        for c in claims:
            start, end = norm.span(c.start, c.end)
            out[(c.entry.id, name, start, end)] = {"rule_id": c.entry.id, "field": name, "text": text[start:end][:200],
                                                  "severity": c.entry.severity, "type": c.type}
    return out


def dry_run(store: Store, current, candidate, progress: Callable[[int], object] | None = None) -> dict:
    registry = matcher.Registry.load(store)
    report = {"scanned": 0, "items_changed": 0, "new_hits": 0, "lost_hits": 0, "severity_changed": 0,
              "open_affected": 0, "enter_queue": 0, "items": []}
    for item_id in list(store.ids()):
        try:
            item = store.get(item_id)
        except NotFound:           # deleted meanwhile
            continue
        approved = matcher.registered_functions(item.listing, registry)
        before = hits(item.listing, current, approved)
        after = hits(item.listing, candidate, approved)
        report["scanned"] += 1
        if progress:
            progress(1)
        new = [after[k] for k in after.keys() - before.keys()]
        lost = [before[k] for k in before.keys() - after.keys()]
        severity = [{**after[k], "from": before[k]["severity"]} for k in after.keys() & before.keys()
                    if after[k]["severity"] != before[k]["severity"]]
        if not (new or lost or severity):
            continue
        status = item.review.status
        report["items_changed"] += 1
        report["new_hits"] += len(new)
        report["lost_hits"] += len(lost)
        report["severity_changed"] += len(severity)
        report["open_affected"] += status in OPEN
        report["enter_queue"] += status == "clean" and bool(new)
        report["items"].append({"id": item.id, "title": item.listing.title[:120], "status": status,
                                "open": status in OPEN, "new": new, "lost": lost, "severity": severity})
    report["items"].sort(key=lambda i: (not i["open"], i["id"]))
    report["items"] = report["items"][:SHOW]
    return report
