"""Re-analyse stored items after a keyword list or the registry changes, through the same pipeline."""
from __future__ import annotations

from typing import Callable

import matcher
from shian.pipeline import analyze
from shian.store import Conflict, Store


def rescan_store(store: Store, platforms: set[str] | None = None,
                 progress: Callable[[int], object] | None = None) -> dict:
    """Re-run the analysis on every stored item; review state and history are kept.

    A concurrent review write wins over the re-scan of that item (Conflict):
    the item is re-read and re-scanned once more.
    """
    registry = matcher.Registry.load(store)
    report = {"scanned": 0, "changed": 0, "conflicts": 0}
    for item_id in list(store.ids()):
        for _attempt in range(3):
            item = store.get(item_id)
            if platforms and item.listing.platform not in platforms:
                break
            fresh = analyze(item.listing, registry)
            before = [(f.type, f.field, f.start, f.end, f.rule_id) for f in item.analysis.findings]
            after = [(f.type, f.field, f.start, f.end, f.rule_id) for f in fresh.findings]
            verdicts_same = (item.analysis.licence and fresh.licence and
                             item.analysis.licence.verdict == fresh.licence.verdict and
                             (item.analysis.health_reg.verdict if item.analysis.health_reg else None) ==
                             (fresh.health_reg.verdict if fresh.health_reg else None))
            report["scanned"] += 1
            if before == after and verdicts_same:
                break
            item.analysis = fresh
            if item.review.status == "clean" and fresh.flagged:
                item.review.status = "new"
            try:
                store.replace(item)
                report["changed"] += 1
                break
            except Conflict:
                report["conflicts"] += 1
        if progress:
            progress(1)
    return report
