"""Plain HTTP helpers for the demo tests (real sockets, no mocks)."""
from __future__ import annotations

import http.client
from urllib.parse import urlsplit


def fetch(url: str, timeout: float = 10.0) -> tuple[int, dict, bytes]:
    """GET with a fresh connection: (status, headers, body); raises on a short body."""
    split = urlsplit(url)
    conn = http.client.HTTPConnection(split.hostname, split.port, timeout=timeout)
    try:
        conn.request("GET", split.path + (f"?{split.query}" if split.query else ""))
        resp = conn.getresponse()
        body = resp.read()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, body
    finally:
        conn.close()


def text(url: str) -> tuple[int, str]:
    status, _, body = fetch(url)
    return status, body.decode("utf-8")
