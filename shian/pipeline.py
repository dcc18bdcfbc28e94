"""The one analysis path: listing -> claims (nlp) -> licence and registration (matcher) -> store.

The crawler's item pipeline, `shian ingest`, `shian capture`, `shian analyze`
and the keyword re-scan all call this module, so evaluation and production
never diverge.
"""
from __future__ import annotations

import logging
from datetime import date

import matcher
import nlp
from shian.models import Analysis, Listing, ReviewItem
from shian.risk import due_for, score_risk
from shian.settings import Settings, get_settings
from shian.store import Store, UpsertResult, open_store

log = logging.getLogger(__name__)


def analyze(listing: Listing, registry: "matcher.Registry", as_of: date | None = None) -> Analysis:
    """Findings and verdicts for one listing; pure apart from reading the registry."""
    approved = matcher.registered_functions(listing, registry, as_of=as_of)
    claims = nlp.detect(listing, approved_functions=approved)
    licence, health_reg = matcher.check(listing, claims.findings, claims.product_kind, registry, as_of=as_of)
    analysis = Analysis(findings=claims.findings, licence=licence, health_reg=health_reg,
                        product_kind=claims.product_kind, product_kind_source=claims.product_kind_source)
    analysis.risk = score_risk(listing, analysis)
    return analysis


class Pipeline:
    """Analyse and store listings; one instance per process (it holds the registry in memory)."""

    def __init__(self, settings: Settings | None = None, store: Store | None = None):
        self.settings = settings or get_settings()
        self.store = store or open_store(self.settings)
        self.registry = matcher.Registry.load(self.store)
        nlp.load()

    def process(self, listing: Listing, as_of: date | None = None) -> UpsertResult:
        self.registry = self.registry.reload_if_changed(self.store)
        item = self._review_item(listing, as_of)
        result = self.store.upsert(item)
        log.debug("stored %s (%s, %d findings)", listing.id, result.outcome, len(item.analysis.findings))
        return result

    def process_many(self, listings: list[Listing], as_of: date | None = None) -> list[UpsertResult]:
        """Analyse a batch and store it in one bulk write (one transaction on SQLite).

        All or nothing on SQLite; on a search engine a partial failure raises BulkError with
        the results that were written. Re-sending a batch is safe: upserts are idempotent.
        """
        if not listings:
            return []
        self.registry = self.registry.reload_if_changed(self.store)
        items = [self._review_item(listing, as_of) for listing in listings]
        results = self.store.upsert_many(items)
        log.debug("stored a batch of %d", len(results))
        return results

    def _review_item(self, listing: Listing, as_of: date | None) -> ReviewItem:
        analysis = analyze(listing, self.registry, as_of=as_of)
        item = ReviewItem.new(listing, analysis)
        if analysis.flagged:
            item.review.due = due_for(item, self.settings.review.due_hours)
        return item

    def close(self) -> None:
        self.store.close()
