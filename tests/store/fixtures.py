"""Store fixtures any test folder can use: `from tests.store.fixtures import search_store, sqlite_store, store`.

The search-engine store needs the node that the test command starts
(`shian search-node start`, then SHIAN_TEST_SEARCH_URL=http://127.0.0.1:PORT).
A missing or unreachable node FAILS the test: skipping would hide that the
production store went untested.
"""
from __future__ import annotations

import os
import urllib.error
import urllib.request
import uuid

import pytest

from shian.store.search import SearchStore
from shian.store.sqlite import SQLiteStore

SEARCH_URL_VAR = "SHIAN_TEST_SEARCH_URL"


def search_url() -> str:
    url = os.environ.get(SEARCH_URL_VAR, "").rstrip("/")
    if not url:
        pytest.fail(f"{SEARCH_URL_VAR} is not set: start a node with `shian search-node start --port 0` "
                    f"and export {SEARCH_URL_VAR}=<the URL it prints>", pytrace=False)
    try:
        with urllib.request.urlopen(url + "/_cluster/health", timeout=10) as resp:
            resp.read()
    except (urllib.error.URLError, OSError) as exc:
        pytest.fail(f"search node at {url} ({SEARCH_URL_VAR}) is unreachable: {exc}", pytrace=False)
    return url


@pytest.fixture
def sqlite_store(tmp_path):
    store = SQLiteStore(tmp_path / "store.sqlite3")
    yield store
    store.close()


@pytest.fixture
def search_store():
    """A SearchStore with its own index prefix, deleted afterwards."""
    store = SearchStore(search_url(), prefix=f"test-{uuid.uuid4().hex[:12]}")
    yield store
    store.destroy()
    store.close()


@pytest.fixture(params=["sqlite", "search"])
def store(request):
    """Each test using it runs once on SQLite and once on the search engine."""
    return request.getfixturevalue(f"{request.param}_store")
