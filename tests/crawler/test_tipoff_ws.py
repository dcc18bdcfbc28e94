"""Tip-off captures: WebSockets, workers and service workers meet the same host rules as HTTP.

A hostile page could make the capture browser talk to an internal service by other means than
plain requests. The "internal service" here is a real WebSocket server on 127.0.0.1; the seller's
page is served on 127.0.0.1 too but reached as "localhost", which the tests allow by name while
127.0.0.1 itself stays refused.
"""
from __future__ import annotations

import asyncio
import json
import socket
import threading
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest
from aiohttp import WSMsgType, web

from crawler.tipoff import GuardProxy, HostGuard, capture_url
from shian.evidence.files import EvidenceFiles
from tests.ui.server import running

pytestmark = pytest.mark.browser

SERVER_SAYS = "直播间实时弹幕：今日下单送三盒"
GIF = (b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00"
       b",\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;")
TEXT = "<h1>降糖神茶</h1><p>喝一个月根治糖尿病，无效退款，店铺：好味食品商行</p>"
# The page reports what its socket did to /done; /wait (an image, so the load event waits for it)
# only answers after that, so the capture never finishes before the socket's fate is known.
PAGE_SOCKET = """<html><body>{text}<p id="ws">未连接</p>
<script>
  const out = document.getElementById("ws");
  const ws = new WebSocket("{ws}");
  ws.onmessage = (e) => {{ out.textContent = "收到：" + e.data; fetch("/done?message"); }};
  ws.onclose = (e) => {{ out.textContent = "已关闭 " + e.code; fetch("/done?close-" + e.code); }};
  {extra}
</script><img src="/wait"></body></html>"""
WORKER = """
  const ws = new WebSocket("{ws}");
  ws.onopen = () => fetch("/done?worker-open");
  ws.onclose = (e) => fetch("/done?worker-close-" + e.code);
"""
PAGE_WORKER = """<html><body>{text}
<script>new Worker("/worker.js");</script><img src="/wait"></body></html>"""
PAGE_SERVICE_WORKER = """<html><body>{text}
<script>
  navigator.serviceWorker.register("/sw.js").then(
    (r) => fetch("/done?sw-" + (r ? "registered" : "none")), (e) => fetch("/done?sw-refused"));
</script><img src="/wait"></body></html>"""

PAGE_WEBRTC = """<html><body>{text}
<script>
  const pc = new RTCPeerConnection({{iceServers: [{{urls: "stun:{target}"}},
      {{urls: "turn:{target}?transport=udp", username: "u", credential: "p"}}]}});
  pc.createDataChannel("x");
  pc.onicegatheringstatechange = () => {{
    if (pc.iceGatheringState === "complete") fetch("/done?ice-complete"); }};
  pc.createOffer().then((offer) => pc.setLocalDescription(offer));
</script><img src="/wait"></body></html>"""


@contextmanager
def websocket_server():
    """A real WebSocket server on 127.0.0.1 (aiohttp): greets every socket with SERVER_SAYS.
    Yields (ws:// base URL, paths of every request it received)."""
    seen: list[str] = []
    started = threading.Event()
    box: dict = {}

    async def handle(request):
        seen.append(request.path)
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.send_str(SERVER_SAYS)
        async for msg in ws:                     # keep it open until the page goes away
            if msg.type == WSMsgType.ERROR:
                break
        return ws

    def run() -> None:
        loop = asyncio.new_event_loop()
        app = web.Application()
        app.router.add_get("/{path:.*}", handle)
        runner = web.AppRunner(app)
        loop.run_until_complete(runner.setup())
        loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", 0).start())
        box.update(loop=loop, runner=runner, port=runner.addresses[0][1])
        started.set()
        loop.run_forever()
        loop.run_until_complete(runner.cleanup())
        loop.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert started.wait(10), "the WebSocket server did not start"
    try:
        yield f"ws://127.0.0.1:{box['port']}", seen
    finally:
        box["loop"].call_soon_threadsafe(box["loop"].stop)
        thread.join(timeout=10)


@contextmanager
def seller_site(pages: dict[str, tuple[str, str]]):
    """The seller's site on 127.0.0.1, yielded as http://localhost:PORT with (paths hit, reports).

    pages: path -> (content type, body). /done?WHAT records WHAT; /wait answers once a report came
    (bounded), so a page holding <img src="/wait"> only finishes loading after its report."""
    hits: list[str] = []
    reports: list[str] = []
    reported = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            hits.append(self.path)
            path, _, query = self.path.partition("?")
            if path == "/done":
                reports.append(query)
                reported.set()
                self.answer(204, "text/plain", b"")
            elif path == "/wait":
                reported.wait(20)
                self.answer(200, "image/gif", GIF)
            elif path in pages:
                kind, body = pages[path]
                self.answer(200, kind, body.encode())
            else:
                self.answer(404, "text/plain", b"not here")

        def answer(self, status, kind, body):
            self.send_response(status)
            self.send_header("Content-Type", f"{kind}; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    with running(server) as port:
        yield f"http://localhost:{port}", hits, reports


def steps_of(result, settings) -> list[dict]:
    files = EvidenceFiles(settings.evidence_dir)
    return json.loads(files.read(next(r.sha256 for r in result.item.listing.evidence if r.kind == "steps")))


def blocked(steps, target: str) -> list[str]:
    return [s["detail"] for s in steps if s["action"] == "blocked" and target in s["detail"]]


def test_a_page_cannot_open_a_websocket_to_an_internal_host(settings):
    with websocket_server() as (ws_base, ws_seen):
        socket_url = f"{ws_base}/admin"
        internal_http = ws_base.replace("ws://", "http://")
        extra = (f"new EventSource('{internal_http}/events'); "
                 f"navigator.sendBeacon('{internal_http}/beacon', 'x');")
        page = PAGE_SOCKET.format(text=TEXT, ws=socket_url, extra=extra)
        with seller_site({"/item/1": ("text/html", page)}) as (site, hits, reports):
            settings.crawl.tipoff_allow = ["localhost"]          # the seller, not 127.0.0.1
            result = capture_url(f"{site}/item/1")
    assert ws_seen == []                                         # nothing reached the internal server
    assert reports == ["close-1008"]                             # the page saw its socket closed
    listing = result.item.listing
    assert "已关闭 1008" in listing.text and "根治糖尿病" in listing.text
    steps = steps_of(result, settings)
    why = blocked(steps, socket_url)
    assert why and "拒绝取证" in why[0] and "127.0.0.1" in why[0] and "tipoff_allow" in why[0]
    assert blocked(steps, "/events") and blocked(steps, "/beacon")


def test_a_websocket_to_an_allowed_host_works_and_is_logged(settings):
    with websocket_server() as (ws_base, ws_seen):
        page = PAGE_SOCKET.format(text=TEXT, ws=f"{ws_base}/live", extra="")
        with seller_site({"/item/1": ("text/html", page)}) as (site, hits, reports):
            settings.crawl.tipoff_allow = ["localhost", "127.0.0.1"]
            result = capture_url(f"{site}/item/1")
    assert ws_seen == ["/live"] and reports == ["message"]
    assert f"收到：{SERVER_SAYS}" in result.item.listing.text
    steps = steps_of(result, settings)
    assert not [s for s in steps if s["action"] == "blocked"]
    assert any(s["action"] == "websocket" and s["detail"] == f"{ws_base}/live" for s in steps)


def test_a_websocket_from_a_web_worker_is_stopped_at_the_proxy(settings):
    # a worker's sockets are not seen by Playwright's WebSocket routing: the proxy must stop them
    with websocket_server() as (ws_base, ws_seen):
        pages = {"/item/1": ("text/html", PAGE_WORKER.format(text=TEXT)),
                 "/worker.js": ("text/javascript", WORKER.format(ws=f"{ws_base}/from-worker"))}
        with seller_site(pages) as (site, hits, reports):
            settings.crawl.tipoff_allow = ["localhost"]
            result = capture_url(f"{site}/item/1")
    assert "/worker.js" in hits and len(reports) == 1 and reports[0].startswith("worker-close")
    assert ws_seen == []
    why = blocked(steps_of(result, settings), f"127.0.0.1:{urlsplit(ws_base).port}")
    assert why and "拒绝取证" in why[0]


def test_service_workers_are_not_installed(settings):
    pages = {"/item/1": ("text/html", PAGE_SERVICE_WORKER.format(text=TEXT)),
             "/sw.js": ("text/javascript", "self.addEventListener('fetch', () => {});")}
    with seller_site(pages) as (site, hits, reports):
        settings.crawl.tipoff_allow = ["localhost"]
        result = capture_url(f"{site}/item/1")
    assert reports and reports[0] in ("sw-none", "sw-refused")
    assert "/sw.js" not in hits                                  # the worker script was never fetched
    assert "根治糖尿病" in result.item.listing.text


def test_webrtc_cannot_send_udp_to_an_internal_host(settings):
    # STUN/TURN packets are UDP, which no proxy sees: the browser may only use proxied UDP (none)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.bind(("127.0.0.1", 0))
        target = f"127.0.0.1:{udp.getsockname()[1]}"
        with seller_site({"/item/1": ("text/html", PAGE_WEBRTC.format(text=TEXT, target=target))}) as (
                site, hits, reports):
            settings.crawl.tipoff_allow = ["localhost"]
            result = capture_url(f"{site}/item/1")
        assert reports == ["ice-complete"]                       # the page did try, and gave up
        udp.setblocking(False)
        with pytest.raises(BlockingIOError):
            udp.recvfrom(2048)                                   # not one packet arrived
    assert "根治糖尿病" in result.item.listing.text


def socks_connect(proxy: GuardProxy, host: str, port: int) -> tuple[int, socket.socket]:
    """A SOCKS5 CONNECT through the proxy as the browser makes it: (reply code, socket)."""
    sock = socket.create_connection(("127.0.0.1", proxy.server_address[1]), timeout=10)
    sock.sendall(b"\x05\x01\x00")
    assert sock.recv(2) == b"\x05\x00"
    name = host.encode()
    sock.sendall(b"\x05\x01\x00\x03" + bytes([len(name)]) + name + port.to_bytes(2, "big"))
    reply = b""
    while len(reply) < 10:
        chunk = sock.recv(10 - len(reply))
        if not chunk:
            break
        reply += chunk
    return reply[1], sock


def test_the_proxy_refuses_internal_hosts_and_connects_allowed_ones_to_the_checked_address():
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    refusals: list[tuple[str, str]] = []
    with GuardProxy(HostGuard(deny=["non-public"], allow=["localhost"]),
                    lambda target, why: refusals.append((target, why))) as proxy:
        code, sock = socks_connect(proxy, "127.0.0.1", port)
        sock.close()
        assert code == 2 and refusals and refusals[0][0] == f"127.0.0.1:{port}"
        assert "拒绝取证" in refusals[0][1]
        listener.settimeout(0)
        with pytest.raises(BlockingIOError):
            listener.accept()                                    # no connection was ever made

        code, sock = socks_connect(proxy, "localhost", port)
        assert code == 0
        listener.settimeout(10)
        upstream, _ = listener.accept()
        with sock, upstream:
            sock.sendall("来自浏览器".encode())
            assert upstream.recv(100).decode() == "来自浏览器"
            upstream.sendall(b"pong")
            assert sock.recv(100) == b"pong"
        assert proxy.connected[("localhost", port)] == "127.0.0.1"   # where it really went
    listener.close()
