"""Search-engine store behaviour beyond the shared contract: engine choice, outages, bulk failures."""
from __future__ import annotations

import json
import socket
import ssl
import threading
import urllib.error
import urllib.request
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from shian.store.base import BulkError, Query, StoreError
from shian.store.engine import Engine
from shian.store.search import MAPPING_VERSION, SearchStore
from tests.store.fixtures import search_url
from tests.store.test_store_contract import make


class Proxy:
    """A real HTTP hop on 127.0.0.1 in front of the node that can play an outage (503) on demand."""

    def __init__(self, upstream: str, root: dict | None = None, tls: "ssl.SSLContext | None" = None):
        self.upstream, self.root = upstream, root
        self.authorization: list[str | None] = []   # the Authorization header of every request
        self.root_status = 200          # e.g. 401: play a node that refuses the credentials
        self.fail_next = 0              # answer this many requests with 503
        self.down = False               # answer every request with 503
        self.requests = 0
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _serve(self):
                proxy.requests += 1
                proxy.authorization.append(self.headers.get("Authorization"))
                if self.path == "/" and proxy.root_status != 200:
                    return self._reply(proxy.root_status, b'{"error":"security_exception"}', "application/json")
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                if self.path == "/" and proxy.root is not None:
                    return self._reply(200, json.dumps(proxy.root).encode(), "application/json")
                if proxy.down or proxy.fail_next > 0:
                    proxy.fail_next = max(0, proxy.fail_next - 1)
                    return self._reply(503, b'{"error":"unavailable"}', "application/json")
                headers = {k: v for k, v in self.headers.items() if k.lower() in ("content-type", "accept")}
                req = urllib.request.Request(proxy.upstream + self.path, data=body, method=self.command,
                                             headers=headers)
                try:
                    with urllib.request.urlopen(req, timeout=30) as resp:
                        self._reply(resp.status, resp.read(), resp.headers.get("Content-Type", ""))
                except urllib.error.HTTPError as err:
                    self._reply(err.code, err.read(), err.headers.get("Content-Type", ""))

            def _reply(self, status, data, ctype):
                self.send_response(status)
                self.send_header("Content-Type", ctype or "application/json")
                if proxy.root is not None:     # what Elasticsearch's own client checks for
                    self.send_header("X-Elastic-Product", "Elasticsearch")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _serve

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        if tls is not None:
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        scheme = "https" if tls is not None else "http"
        self.url = f"{scheme}://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def proxy():
    p = Proxy(search_url())
    yield p
    p.close()


@pytest.fixture
def proxied_store(proxy):
    store = SearchStore(proxy.url, prefix=f"test-{uuid.uuid4().hex[:12]}", retries=2)
    yield store
    proxy.down, proxy.fail_next = False, 0
    store.destroy()
    store.close()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_engine_is_chosen_from_the_servers_answer():
    assert Engine(search_url()).distribution == "opensearch"
    es8 = Proxy(search_url(), root={"version": {"number": "8.15.1", "build_flavor": "default"}})
    es7 = Proxy(search_url(), root={"version": {"number": "7.17.0"}})
    try:
        engine = Engine(es8.url)
        assert engine.distribution == "elasticsearch"
        assert type(engine.client).__module__.startswith("elasticsearch")
        with pytest.raises(StoreError, match="Elasticsearch 8"):
            Engine(es7.url)
    finally:
        es8.close()
        es7.close()


def test_unreachable_node_is_a_clear_store_error():
    store = SearchStore(f"http://127.0.0.1:{closed_port()}", prefix="unused")
    with pytest.raises(StoreError, match="unreachable"):
        store.search(Query())


def test_brief_overload_is_retried(proxied_store, proxy):
    proxied_store.upsert(make(1))
    proxy.fail_next = 2                 # within the store's 2 retries
    assert proxied_store.upsert(make(2)).outcome == "created"
    assert proxied_store.get(make(2).id).listing.item_id == "2"


def test_outage_raises_and_a_retry_afterwards_loses_nothing(proxied_store, proxy):
    proxied_store.upsert(make(0))
    batch = [make(n) for n in range(1, 40)]
    proxy.down = True
    with pytest.raises(StoreError, match="unreachable or overloaded"):
        proxied_store.upsert_many(batch)
    proxy.down = False
    results = proxied_store.upsert_many(batch)      # the caller's retry of the same batch
    assert {r.outcome for r in results} == {"created"}
    proxied_store.refresh()
    assert proxied_store.count() == 40


def test_bulk_reports_the_items_that_failed_and_keeps_the_rest(search_store):
    good = [make(n) for n in range(5)]
    bad = make(99)
    bad.id = bad.listing.id = "x" * 600            # longer than the engine's 512-byte id limit
    with pytest.raises(BulkError) as err:
        search_store.upsert_many([*good, bad])
    assert list(err.value.failures) == ["x" * 600]
    assert sorted(r.item.id for r in err.value.results) == sorted(i.id for i in good)
    search_store.refresh()
    assert search_store.count() == 5


def test_bulk_refused_by_the_engine_is_reported_per_item_and_can_be_resent(search_store):
    search_store.upsert(make(0))
    index = f"{search_store.prefix}-items-v{MAPPING_VERSION}"
    search_store.engine.call("indices.put_settings", index=index, body={"index.blocks.write": True})
    batch = [make(n) for n in range(1, 6)]
    try:
        with pytest.raises(BulkError) as err:
            search_store.upsert_many(batch)
    finally:
        search_store.engine.call("indices.put_settings", index=index, body={"index.blocks.write": False})
    assert sorted(err.value.failures) == sorted(i.id for i in batch)
    assert "block" in next(iter(err.value.failures.values()))
    assert [r.outcome for r in search_store.upsert_many(batch)] == ["created"] * 5
    search_store.refresh()
    assert search_store.count() == 6


def test_store_opened_from_settings_uses_the_alias(settings, search_store):
    from shian.settings import configure
    from shian.store import open_store
    s = configure(data_dir=settings.data_dir, store="search", search_url=search_url(),
                  search_index_prefix=search_store.prefix)
    opened = open_store(s)
    opened.upsert(make(1))
    opened.refresh()
    assert [i.id for i in search_store.search(Query()).items] == [make(1).id]
    aliases = opened.engine.call("indices.get_alias", name=f"{search_store.prefix}-items")
    assert list(aliases) == [f"{search_store.prefix}-items-v{MAPPING_VERSION}"]
