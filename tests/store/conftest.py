from tests.store.fixtures import search_store, sqlite_store, store  # noqa: F401  (fixtures)
