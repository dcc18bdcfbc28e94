"""Store factory: SQLite when embedded, the search engine in production."""
from __future__ import annotations

from shian.settings import Settings, get_settings
from shian.store.base import BulkError, Conflict, NotFound, Page, Query, Store, StoreError, UpsertResult

__all__ = ["open_store", "Store", "BulkError", "Query", "Page", "Conflict", "NotFound", "StoreError", "UpsertResult"]


def open_store(settings: Settings | None = None) -> Store:
    settings = settings or get_settings()
    if settings.store == "search":
        from shian.store.engine import Auth
        from shian.store.search import SearchStore
        return SearchStore(settings.search_url, prefix=settings.search_index_prefix,
                           auth=Auth.from_settings(settings))
    from shian.store.sqlite import SQLiteStore
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return SQLiteStore(settings.sqlite_path)
