"""Re-analyse stored items after a keyword list or the registry changes, through the same pipeline."""
from __future__ import annotations

from typing import Callable

import matcher
import nlp
from shian.models import Analysis
from shian.pipeline import analyze
from shian.risk import due_for
from shian.settings import get_settings
from shian.store import Conflict, Store


def signature(analysis: Analysis) -> tuple:
    """What a reviewer would see change: the findings and both verdicts."""
    return ([(f.type, f.field, f.start, f.end, f.rule_id, f.severity, f.list_version) for f in analysis.findings],
            analysis.licence.verdict if analysis.licence else None,
            analysis.health_reg.verdict if analysis.health_reg else None)


def rescan_store(store: Store, platforms: set[str] | None = None,
                 progress: Callable[[int], object] | None = None) -> dict:
    """Re-run the analysis on every stored item; review state and history are kept.

    A concurrent review write wins over the re-scan of that item (Conflict):
    the item is re-read and re-scanned once more.
    """
    registry = matcher.Registry.load(store)
    nlp.load()
    due_hours = get_settings().review.due_hours
    report = {"scanned": 0, "changed": 0, "conflicts": 0}
    for item_id in list(store.ids()):
        for attempt in range(3):
            item = store.get(item_id)
            if platforms and item.listing.platform not in platforms:
                break
            report["scanned"] += attempt == 0
            fresh = analyze(item.listing, registry)
            if signature(item.analysis) == signature(fresh):
                break
            item.analysis = fresh
            if item.review.status == "clean" and fresh.flagged:
                item.review.status = "new"
                item.review.due = due_for(item, due_hours)
            try:
                store.replace(item)
                report["changed"] += 1
                break
            except Conflict:
                report["conflicts"] += 1
        if progress:
            progress(1)
    return report
