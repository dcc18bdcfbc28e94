"""The app served over real HTTP on 127.0.0.1 (free port) in a thread, for API races and the browser."""
from __future__ import annotations

import threading
from contextlib import contextmanager

from werkzeug.serving import make_server


@contextmanager
def running(server):
    """Serve `server` (any socketserver/werkzeug server bound to 127.0.0.1) in a thread; yields its port."""
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@contextmanager
def serving(app):
    with running(make_server("127.0.0.1", 0, app, threaded=True)) as port:
        yield f"http://127.0.0.1:{port}"


@contextmanager
def serving_pages(pages: dict[str, tuple[int, dict, bytes]], default=(404, {}, b"not here")):
    """A stand-in seller site on 127.0.0.1: path -> (status, headers, body), `default` for any other
    path; yields (base URL, paths hit)."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    hits: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            hits.append(self.path)
            status, headers, body = pages.get(self.path, default)
            self.send_response(status)
            for k, v in {"Content-Type": "text/html; charset=utf-8", **headers}.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    with running(ThreadingHTTPServer(("127.0.0.1", 0), Handler)) as port:
        yield f"http://127.0.0.1:{port}", hits


def serving_page(body: bytes):
    """A stand-in seller site answering every GET with `body`; yields (base URL, paths hit)."""
    return serving_pages({}, default=(200, {}, body))
