"""`shian capture URL`: one page from a tip-off, captured in Chromium with full evidence.

capture_url(url) is also what the review UI's tip-off form calls. The page
goes through the same pipeline as crawled listings. Only http(s) URLs are
taken, and only to hosts the tip-off host rules allow (HostGuard: by default no
loopback, private or link-local address). The rules hold for everything the page
makes the browser do: requests and WebSockets are checked by URL (refusals go to the
step log), service workers are blocked, and every connection Chromium opens goes
through GuardProxy, which checks host and resolved address again (redirects, sockets
opened by workers, Chromium's own traffic). A tip-off is one page a person asked for,
so robots.txt is not consulted; the browser still identifies itself with the crawl
user agent.

Fields come from a platform's item selectors when `platform` names a
configured platform, otherwise from the page itself (og:title, h1 or
<title>; the visible text).
"""
from __future__ import annotations

import ipaddress
import json
import logging
import re
import select
import socket
import socketserver
import threading
from contextlib import suppress
from urllib.parse import urlsplit

import click

from shian.models import Listing, Shop, utcnow
from shian.settings import Settings, get_settings

log = logging.getLogger(__name__)

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
# WebRTC may only use UDP through the proxy, which has none: no way around the host rules
TIPOFF_ARGS = ["--webrtc-ip-handling-policy=disable_non_proxied_udp"]
RECORDED_TYPES = ("document", "xhr", "fetch")
LOGIN_WALL = ("请登录后查看", "登录后查看更多", "请先登录", "扫码登录")
MIN_TEXT = 20                      # fewer visible characters than this: a blank page

SCROLL_JS = """
async (maxSteps) => {
  const sleep = (ms) => new Promise(r => setTimeout(r, ms));
  for (let i = 0; i < maxSteps; i++) {
    const before = document.body ? document.body.scrollHeight : 0;
    window.scrollBy(0, window.innerHeight);
    await sleep(150);
    if (window.innerHeight + window.scrollY >= document.body.scrollHeight && before === document.body.scrollHeight) return i + 1;
  }
  return maxSteps;
}
"""


class TipoffError(ValueError):
    """The URL cannot be captured (not http/https, or the browser could not open it)."""


def check_url(url: str, guard: "HostGuard | None" = None) -> str:
    """The URL, stripped; TipoffError when it is not http(s) or its host is refused by `guard`."""
    url = (url or "").strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise TipoffError(f"只能取证 http(s) 网址: {url[:200]!r}")
    if guard is not None:
        refused = guard.refusal(url)
        if refused:
            raise TipoffError(refused)
    return url


def endpoint(url: str) -> tuple[str, int]:
    """(host, port) an http(s) or ws(s) URL connects to; ValueError for a bad port."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme in ("https", "wss") else 80)
    return (parts.hostname or "").lower().rstrip("."), port


def non_public(ip) -> bool:
    """Loopback, private, link-local, shared (CGNAT), reserved, unspecified or multicast."""
    return not ip.is_global or ip.is_multicast


class HostGuard:
    """Which hosts a tip-off capture may reach (settings.crawl.tipoff_deny / tipoff_allow).

    A tip-off URL comes from outside, so a capture must not become a way into the bureau's own
    network: every host is resolved and each of its addresses is checked; allow wins over deny.
    Rules: "non-public", an IP or network (10.0.0.0/8), or a host name (".example.com" also
    matches its subdomains).
    """

    def __init__(self, deny: list[str], allow: list[str]):
        self.deny, self.allow = self._parse(deny), self._parse(allow)
        self._seen: dict[tuple[str, int], tuple[str, list[str], str]] = {}

    @classmethod
    def from_settings(cls, settings: Settings) -> "HostGuard":
        return cls(settings.crawl.tipoff_deny, settings.crawl.tipoff_allow)

    @staticmethod
    def _parse(rules: list[str]) -> dict:
        out = {"non_public": False, "networks": [], "hosts": []}
        for rule in rules or ():
            rule = str(rule).strip().lower()
            if rule == "non-public":
                out["non_public"] = True
                continue
            try:
                out["networks"].append(ipaddress.ip_network(rule, strict=False))
            except ValueError:
                out["hosts"].append(rule.rstrip("."))
        return out

    @staticmethod
    def _matches(rules: dict, host: str, ip) -> bool:
        if any(host == h or (h.startswith(".") and (host.endswith(h) or host == h[1:])) for h in rules["hosts"]):
            return True
        if ip is None:
            return False
        return (rules["non_public"] and non_public(ip)) or any(ip in net for net in rules["networks"])

    def refusal(self, url: str) -> str:
        """"" when every address of the URL's host may be reached, else why not (for the reviewer)."""
        if urlsplit(url).scheme not in ("http", "https", "ws", "wss"):
            return ""                  # data:, blob: and the like never reach the network
        try:
            host, port = endpoint(url)
        except ValueError:
            return f"网址端口无效: {url[:200]!r}"
        addrs, reason = self.addresses(host, port)
        if not reason and not addrs:
            reason = f"无法解析主机 {host!r}，未取证（{self._seen[(host, port)][2]}）"
        return reason

    def addresses(self, host: str, port: int) -> tuple[list[str], str]:
        """The addresses a capture may connect to for host:port, and why not when refused.

        ([], "") is a host that does not resolve: nothing to reach, nothing refused. Resolved once
        per capture, and the proxy connects to exactly the addresses checked, so a name that
        resolves elsewhere the second time (DNS rebinding) gains nothing.
        """
        key = (host.lower().rstrip("."), port)
        if key not in self._seen:
            self._seen[key] = self._check_host(*key)
        reason, addrs, _ = self._seen[key]
        return list(addrs), reason

    def _check_host(self, host: str, port: int) -> tuple[str, list[str], str]:
        """(refusal, addresses, resolver error)."""
        by_name = self._matches(self.allow, host, None)
        if not by_name and self._matches(self.deny, host, None):
            return self._refused(host, None), [], ""
        try:
            infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
        except (OSError, UnicodeError) as exc:
            return "", [], str(exc)
        addrs = list(dict.fromkeys(info[4][0] for info in infos))     # the resolver's order
        if not by_name:
            for ip_text in sorted(addrs):
                refused = self.check_ip(host, ip_text)
                if refused:
                    return refused, [], ""
        return "", addrs, ""

    def check_ip(self, host: str, ip_text: str) -> str:
        """"" when `host` at address `ip_text` may be reached, else why not."""
        try:
            ip = ipaddress.ip_address(ip_text.split("%", 1)[0])
        except ValueError:
            return f"主机 {host!r} 的地址 {ip_text!r} 无法识别，未取证"
        if getattr(ip, "ipv4_mapped", None) is not None:
            ip = ip.ipv4_mapped
        if self._matches(self.allow, host, ip) or not self._matches(self.deny, host, ip):
            return ""
        return self._refused(host, ip)

    @staticmethod
    def _refused(host: str, ip) -> str:
        if ip is None:
            what = "在禁止访问的名单中"
        elif non_public(ip):
            what = f"的地址 {ip} 属于内部网络（回环、内网或链路本地等）"
        else:
            what = f"的地址 {ip} 在禁止访问的名单中"
        return (f"拒绝取证：主机 {host} {what}。线索取证只访问公网网站；"
                f"如确需访问，请管理员将其加入设置 crawl.tipoff_allow。")


class GuardProxy(socketserver.ThreadingTCPServer):
    """A SOCKS5 proxy on 127.0.0.1: the capture browser's only way out to the network.

    The route handlers in browse() see most requests by URL, but not all: a WebSocket opened
    inside a Web Worker, service worker traffic and Chromium's own connections go straight to
    the network. Every connection the browser makes passes here instead (Playwright also turns
    off the browser's own DNS when it uses a SOCKS proxy), and is refused unless `guard` allows
    host:port; allowed ones connect to the addresses the guard checked.
    """

    daemon_threads = True
    request_queue_size = 128       # a page opens many connections at once; don't drop their SYNs

    def __init__(self, guard: HostGuard, on_refused, timeout_s: float = 30):
        super().__init__(("127.0.0.1", 0), _SocksConnection)
        self.guard, self.on_refused, self.timeout_s = guard, on_refused, timeout_s
        self.connected: dict[tuple[str, int], str] = {}   # host:port -> the IP it was reached at
        self._thread = threading.Thread(target=self.serve_forever, name="tipoff-proxy", daemon=True)

    @property
    def url(self) -> str:
        return f"socks5://127.0.0.1:{self.server_address[1]}"

    def __enter__(self) -> "GuardProxy":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.shutdown()
        self.server_close()
        self._thread.join(timeout=10)


class _SocksConnection(socketserver.BaseRequestHandler):
    """One browser connection: SOCKS5 CONNECT (RFC 1928, no auth), the guard's decision, then relay."""

    server: GuardProxy

    def handle(self) -> None:
        client = self.request
        client.settimeout(self.server.timeout_s)
        try:
            host, port = self._request(client)
        except (OSError, ValueError, UnicodeError):
            return                                          # not SOCKS5 CONNECT: drop it
        addrs, reason = self.server.guard.addresses(host, port)
        if reason:
            self.server.on_refused(f"{host}:{port}", reason)
            client.sendall(self._reply(0x02))               # "connection not allowed by ruleset"
            return
        upstream = None
        for ip in addrs:
            with suppress(OSError):
                upstream = socket.create_connection((ip, port), timeout=self.server.timeout_s)
                self.server.connected[(host, port)] = ip
                break
        if upstream is None:                                # no address, or none answered
            log.debug("tip-off proxy: %s:%s unreachable", host, port)
            client.sendall(self._reply(0x04 if not addrs else 0x05))
            return
        with upstream:
            client.sendall(self._reply(0x00))
            self._relay(client, upstream)

    @staticmethod
    def _read(sock, n: int) -> bytes:
        data = b""
        while len(data) < n:
            chunk = sock.recv(n - len(data))
            if not chunk:
                raise ValueError("closed during SOCKS handshake")
            data += chunk
        return data

    def _request(self, sock) -> tuple[str, int]:
        version, n_methods = self._read(sock, 2)
        if version != 5 or 0 not in self._read(sock, n_methods):
            raise ValueError("not SOCKS5 without authentication")
        sock.sendall(b"\x05\x00")
        version, command, _, kind = self._read(sock, 4)
        if version != 5 or command != 1:
            sock.sendall(self._reply(0x07))                 # only CONNECT
            raise ValueError("not CONNECT")
        if kind == 1:
            host = str(ipaddress.IPv4Address(self._read(sock, 4)))
        elif kind == 4:
            host = str(ipaddress.IPv6Address(self._read(sock, 16)))
        elif kind == 3:
            host = self._read(sock, self._read(sock, 1)[0]).decode("ascii")   # IDNA as in URLs
        else:
            sock.sendall(self._reply(0x08))
            raise ValueError("unknown address type")
        return host.lower(), int.from_bytes(self._read(sock, 2), "big")

    @staticmethod
    def _reply(code: int) -> bytes:
        return bytes([5, code, 0, 1, 0, 0, 0, 0, 0, 0])

    def _relay(self, client, upstream) -> None:
        pair = {client: upstream, upstream: client}
        for sock in pair:
            sock.settimeout(None)
        while True:
            readable, _, _ = select.select(list(pair), [], [], 120)
            if not readable:
                return                                      # idle: let the browser reconnect
            for sock in readable:
                with suppress(OSError):
                    data = sock.recv(65536)
                    if data:
                        pair[sock].sendall(data)
                        continue
                return                                      # one side closed (or failed): close both


def _select(html: str, spec) -> str:
    """A platform selector (CSS, or "xpath:...") applied to the rendered HTML; '' when absent."""
    from parsel import Selector

    sel = Selector(text=html)
    for one in ([spec] if isinstance(spec, str) else spec or []):
        if not one or one.startswith("json:"):
            continue
        found = sel.xpath(one[6:]) if one.startswith("xpath:") else sel.css(one)
        value = "\n".join(v.strip() for v in found.getall() if v.strip())
        if value:
            return value
    return ""


def extract(html: str, visible_text: str, url: str, platform=None) -> dict:
    """Listing fields of the page: the platform's selectors, else the page's own title and text."""
    fields: dict = {"title": "", "text": "", "price": None, "item_id": url, "shop": Shop()}
    if platform is not None:
        item = platform.item
        for name in ("title", "text", "category", "health_food_reg"):
            if name in item.fields:
                fields[name] = _select(html, item.fields[name])
        price = _select(html, item.fields.get("price", ""))
        with suppress(ValueError):
            fields["price"] = float(re.sub(r"[^\d.]", "", price)) if price else None
        fields["shop"] = Shop(**{k: _select(html, getattr(item.shop, k)) for k in
                                 ("name", "operator_name", "licence_text")}, url="")
        match = re.search(item.id_from_url, urlsplit(url).path)
        if match:
            fields["item_id"] = match.groupdict().get("id") or match.group(0)
    if not fields["title"]:
        fields["title"] = (_select(html, 'meta[property="og:title"]::attr(content)') or _select(html, "h1 ::text")
                           or _select(html, "title::text"))[:300]
    if not fields["text"]:
        fields["text"] = visible_text
    return fields


def browse(url: str, settings: Settings, guard: HostGuard | None = None) -> dict:
    """Open the page in Chromium: exchanges, rendered HTML, visible text, full-page screenshot, steps."""
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import sync_playwright

    steps: list[dict] = []
    exchanges: list[dict] = []

    def step(action: str, detail: str = "") -> None:
        steps.append({"at": utcnow(), "action": action, "detail": detail})

    def on_response(response) -> None:
        if response.request.resource_type not in RECORDED_TYPES:
            return
        entry = {"at": utcnow(), "method": response.request.method, "url": response.url,
                 "status": response.status, "request_headers": {}, "response_headers": [], "body": b"",
                 "ip": "", "certificate": ""}
        exchanges.append(entry)
        with suppress(PlaywrightError):
            entry["request_headers"] = response.request.all_headers()
            entry["response_headers"] = [(h["name"], h["value"]) for h in response.headers_array()]
            # the browser only ever talks to the proxy: the proxy knows which address it reached
            entry["ip"] = proxy.connected.get(endpoint(response.url), "")
            entry["body"] = response.body()
            details = response.security_details()
            if details:
                entry["certificate"] = json.dumps(details, ensure_ascii=False)

    guard = guard or HostGuard.from_settings(settings)
    refused: list[str] = []

    def refuse(target: str, reason: str) -> None:
        refused.append(reason)
        step("blocked", f"{target[:200]}: {reason}")

    def on_route(route) -> None:
        # every request the page makes (scripts, images, XHR, beacons, EventSource) is checked by URL
        reason = guard.refusal(route.request.url)
        if reason:
            refuse(route.request.url, reason)
            route.abort("blockedbyclient")
        else:
            route.fallback()

    def on_websocket(ws) -> None:
        # WebSockets bypass on_route; a refused one is closed before it reaches the network
        reason = guard.refusal(ws.url)
        if reason:
            refuse(ws.url, reason)
            ws.close(code=1008, reason="refused by the tip-off host rules")
        else:
            step("websocket", ws.url[:200])
            ws.connect_to_server()

    timeout_ms = settings.crawl.timeout_s * 1000
    out: dict = {"steps": steps, "exchanges": exchanges, "status": None, "problem": ""}
    proxy = GuardProxy(guard, refuse, settings.crawl.timeout_s)
    with proxy, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=settings.crawl.chromium_path, headless=True,
                                     args=CHROMIUM_ARGS + TIPOFF_ARGS, proxy={"server": proxy.url})
        try:
            # service workers would fetch past on_route (the proxy still checks their connections)
            context = browser.new_context(user_agent=settings.crawl.user_agent, service_workers="block",
                                          viewport={"width": 1280, "height": 900})
            context.route("**/*", on_route)
            context.route_web_socket(re.compile(".*"), on_websocket)
            page = context.new_page()
            page.on("response", on_response)
            out["browser_version"] = browser.version
            step("navigate", url)
            try:
                response = page.goto(url, wait_until="load", timeout=timeout_ms)
            except PlaywrightError as exc:
                if refused:
                    raise TipoffError(refused[0]) from None
                raise TipoffError(f"页面无法打开: {exc.message.splitlines()[0][:300]}") from None
            # redirects are followed inside the browser, past the route check: check where it went
            for hop in [{"url": page.url, "ip": ""}, *exchanges]:
                host = (urlsplit(hop["url"]).hostname or "").lower()
                reason = guard.refusal(hop["url"]) or (hop["ip"] and guard.check_ip(host, hop["ip"]))
                if reason:
                    raise TipoffError(reason)
            out["status"] = response.status if response else None
            step("wait", "network idle (at most 5 s)")
            with suppress(PlaywrightError):
                page.wait_for_load_state("networkidle", timeout=5000)
            scrolls = page.evaluate(SCROLL_JS, 40)
            step("scroll", f"{scrolls} screens")
            with suppress(PlaywrightError):
                page.wait_for_load_state("networkidle", timeout=3000)
            out["screenshot"] = page.screenshot(full_page=True, timeout=timeout_ms)
            step("screenshot", "full page")
            out["html"] = page.content()
            out["visible_text"] = page.evaluate("document.body ? document.body.innerText : ''")
            out["final_url"] = page.url
            context.close()
        finally:
            browser.close()
    return out


def capture_url(url: str, platform: str | None = None, pipeline=None, settings: Settings | None = None):
    """Capture one page with full evidence and put it through the pipeline; returns the UpsertResult.

    Raises TipoffError for a URL that is not http(s), a host refused by the tip-off host rules
    (settings.crawl.tipoff_deny / tipoff_allow; private and loopback addresses by default),
    or a page that cannot be opened.
    """
    from shian.evidence.capture import Capture
    from shian.evidence.files import EvidenceFiles
    from shian.pipeline import Pipeline

    settings = settings or get_settings()
    guard = HostGuard.from_settings(settings)
    url = check_url(url, guard)
    config = None
    if platform:
        from crawler.platforms import load_platform
        config = load_platform(platform, base_url=f"{urlsplit(url).scheme}://{urlsplit(url).netloc}")
    page = browse(url, settings, guard)
    cap = Capture(files=EvidenceFiles(settings.evidence_dir), url=url, platform=platform or "tipoff",
                  user_agent=settings.crawl.user_agent, config_hash=config.config_hash if config else "",
                  browser_version=page.get("browser_version", ""))
    for s in page["steps"]:
        cap.step(s["action"], s["detail"], at=s["at"])
    # the document first: Capture takes the first exchange as the page itself
    ordered = sorted(page["exchanges"], key=lambda e: e["url"] != url and e["url"] != page.get("final_url"))
    for e in ordered:
        cap.add_exchange(e["method"], e["url"], e["request_headers"], e["status"], e["response_headers"],
                         e["body"], ip=e["ip"], certificate_pem=e["certificate"], at=e["at"])
    cap.add_rendered(html=page["html"], screenshot=page["screenshot"])
    fields = extract(page["html"], page["visible_text"], url, config)
    problem = ""
    status = page["status"]
    if status is None or status >= 400:
        problem = f"HTTP {status}" if status else "no response for the page"
    elif any(p in page["visible_text"] for p in LOGIN_WALL):
        problem = "login wall"
    elif len(page["visible_text"].strip()) < MIN_TEXT:
        problem = "blank page"
    refs = cap.finish(shop=fields["shop"].name, item_id=fields["item_id"], complete=not problem, problem=problem)
    listing = Listing(platform=platform or "tipoff", kind="listing", url=url, item_id=fields["item_id"],
                      shop=fields["shop"], title=fields["title"], text=fields["text"], price=fields["price"],
                      category=fields.get("category", ""), health_food_reg=fields.get("health_food_reg", ""),
                      evidence=refs, capture_complete=not problem, capture_problem=problem,
                      captured_at=cap.started_at)
    own = pipeline is None
    pipeline = pipeline or Pipeline(settings)
    try:
        return pipeline.process(listing)
    finally:
        if own:
            pipeline.close()


@click.command()
@click.argument("url")
@click.option("--platform", help="Read the page with this configured platform's item selectors.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def capture(url: str, platform: str | None, as_json: bool) -> None:
    """Capture one page from a tip-off (browser, screenshot, full evidence) and analyse it."""
    try:
        result = capture_url(url, platform=platform)
    except TipoffError as exc:
        raise click.ClickException(str(exc)) from None
    item = result.item
    summary = {"id": item.id, "outcome": result.outcome, "url": item.listing.url, "title": item.listing.title,
               "complete": item.listing.capture_complete, "problem": item.listing.capture_problem,
               "findings": len(item.analysis.findings), "flagged": item.analysis.flagged,
               "evidence_files": len(item.listing.evidence)}
    if as_json:
        click.echo(json.dumps(summary, ensure_ascii=False))
        return
    click.echo(f"captured {summary['url']} -> item {item.id} ({result.outcome}), "
               f"{summary['evidence_files']} evidence files, {summary['findings']} findings"
               + ("" if summary["complete"] else f"; INCOMPLETE: {summary['problem']}"))
