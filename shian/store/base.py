"""The store contract. SQLite (embedded default) and the search engine both satisfy it.

Items are ReviewItems. Every stored item carries `version`, an opaque
compare-and-set token: on SQLite an integer counter, on the search engine
the pair (seq_no, primary_term) encoded as "seq:term". A write that passes
a stale version raises Conflict and changes nothing.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Iterable, Iterator

from shian.models import ReviewItem


class StoreError(Exception):
    """The store cannot be reached or refused the request; the message says which."""


class Conflict(StoreError):
    """A conditional write lost: someone else changed the item first."""

    def __init__(self, item_id: str, current: ReviewItem | None = None):
        super().__init__(f"item {item_id} was changed by someone else")
        self.item_id = item_id
        self.current = current


class NotFound(StoreError):
    pass


class BulkError(StoreError):
    """Some items of a bulk write failed; the others were written.

    failures: item id -> reason; results: the UpsertResults that did succeed.
    Re-sending the failed items is safe (upserts are idempotent).
    """

    def __init__(self, failures: dict[str, str], results: list):
        sample = "; ".join(f"{k}: {v}" for k, v in list(failures.items())[:3])
        super().__init__(f"{len(failures)} item(s) not written: {sample}")
        self.failures = failures
        self.results = results


TOTAL_BOUND = 10_000                 # counting further costs the search engine a pass over every match


@dataclass
class Query:
    """A queue query. Filters are exact-match lists (OR within a key, AND across keys).

    Filter keys (all optional): status, platform, kind, claim_type, licence_verdict,
    health_reg_verdict, severity, region, shop, operator, licence_no, rule_id,
    list_version, assignee. `text` is a Chinese substring search over title and text.
    `flagged_only` hides clean items. Time bounds apply to last_seen (since <= t < until);
    due_before to review.due (items without a due date never match it, and sort last);
    lease_before keeps items whose lease ended before it or that have none (the expiry sweep).
    multi_select: a facet key that is also filtered counts as if its own filter were absent, so a
    filter panel keeps showing the other values (the page's items and total still obey every filter).
    """
    filters: dict[str, list[str]] = field(default_factory=dict)
    text: str = ""
    flagged_only: bool = True
    since: datetime | None = None
    until: datetime | None = None
    due_before: datetime | None = None
    lease_before: datetime | None = None
    sort: str = "risk"               # risk | due | time
    size: int = 50
    after: list[Any] | None = None   # search_after cursor from the previous Page
    facets: tuple[str, ...] = ()     # filter keys to count
    exact_total: bool = True         # False: the engine may stop counting at TOTAL_BOUND (Page.total_exact says)
    multi_select: bool = False       # facet counts of a filtered key ignore that key's own filter
    brief: bool = False              # for list pages: items may come without listing text, OCR, live
                                     # segments and history (never write such an item back)


@dataclass
class Page:
    items: list[ReviewItem]
    total: int
    facets: dict[str, dict[str, int]]
    next_after: list[Any] | None     # pass as Query.after for the next page; None at the end
    total_exact: bool = True         # False: there are at least `total` items (show "10000+")


@dataclass
class UpsertResult:
    item: ReviewItem
    outcome: str                     # created | unchanged | changed


class Store(ABC):
    """Engine-neutral operations; nothing above this module knows the engine."""

    # -- items -------------------------------------------------------------
    @abstractmethod
    def upsert(self, item: ReviewItem) -> UpsertResult:
        """Insert or re-crawl update, idempotent by item.id.

        Same content hash: only last_seen (and evidence, appended) change ->
        "unchanged". New content hash: listing and analysis replaced, the old
        hash pushed onto history, review state kept -> "changed". A stored
        item that was taken down and shows up again has taken_down_at cleared.
        Not-yet-reviewed items (status new/clean) follow the fresh analysis.
        Every write, this one included, gives the item a new version.
        """

    @abstractmethod
    def upsert_many(self, items: Iterable[ReviewItem]) -> list[UpsertResult]:
        """Bulk form of upsert (bulk API on the engine, one transaction on SQLite)."""

    @abstractmethod
    def get(self, item_id: str) -> ReviewItem:
        """The item with its current version; NotFound if absent."""

    @abstractmethod
    def replace(self, item: ReviewItem) -> ReviewItem:
        """Write item if item.version is still current; Conflict otherwise. Returns it with the new version."""

    @abstractmethod
    def search(self, query: Query) -> Page:
        """Filtered, sorted, search_after-paged items with facet counts."""

    @abstractmethod
    def mark_taken_down(self, item_id: str, when: datetime) -> None:
        """Record when a listing was first seen gone (kept if already set)."""

    @abstractmethod
    def ids(self, platform: str | None = None) -> Iterator[str]:
        """Every stored item id (for re-scans and takedown checks)."""

    # -- registry (licences, health foods) -----------------------------------
    @abstractmethod
    def put_registry(self, kind: str, records: Iterable[dict], key: str) -> int:
        """Upsert registry records of kind ('licence' or 'health_food') by record[key]; returns count."""

    @abstractmethod
    def registry(self, kind: str) -> Iterator[dict]:
        """All registry records of kind."""

    # -- small key/value metadata (registry load info, crawl run stats) ------
    @abstractmethod
    def put_meta(self, key: str, value: dict) -> None: ...

    @abstractmethod
    def get_meta(self, key: str) -> dict | None: ...

    @abstractmethod
    def list_meta(self, prefix: str) -> list[tuple[str, dict]]: ...

    # -- lifecycle -----------------------------------------------------------
    @abstractmethod
    def count(self) -> int: ...

    @abstractmethod
    def refresh(self) -> None:
        """Make recent writes visible to search and count (no-op on SQLite); get() never needs it."""

    def close(self) -> None:
        pass
