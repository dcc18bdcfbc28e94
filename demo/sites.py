"""The three demo platforms as local HTTP servers (see demo/README.md for URLs and markup).

    site = start_site("shop", generate(2000, seed=7))
    site.url; site.mutate(change=["100004"], remove=["100009"]); site.stop()

Each site is a ThreadingHTTPServer in a daemon thread on 127.0.0.1 and a free
port. Pages are built from the in-memory dataset on request. `python -m
demo.sites --listings N --seed S` serves all three until Ctrl-C.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import re
import socket
import sys
import threading
import time
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from demo import images, pages
from demo.content import CATEGORIES
from demo.seed import Dataset, DemoListing, DemoRoom, generate

log = logging.getLogger(__name__)

SITE_NAMES = ("shop", "spa", "live")
PER_PAGE = 20
STATIC = Path(__file__).parent / "static"
ROBOTS = {"shop": "User-agent: *\nDisallow: /cart/\nDisallow: /admin/\n",
          "spa": "User-agent: *\nDisallow: /admin/\n",
          "live": "User-agent: *\nDisallow: /admin/\n"}
DEFAULT_FAULT_PATHS = r"^/(?:item|api/items)/\d+"
FAULT_NAMES = ("slow", "429", "500", "truncate")


class BadRequest(ValueError):
    pass


# --- faults -----------------------------------------------------------------

def parse_faults(spec) -> dict[str, dict]:
    """Faults from a dict ({"429": {"every": 7}}) or a string ("429:every=7,retry_after=1;500:every=11")."""
    if not spec:
        return {}
    if isinstance(spec, str):
        out: dict[str, dict] = {}
        for part in filter(None, (p.strip() for p in spec.split(";"))):
            name, _, opts = part.partition(":")
            options = {}
            for kv in filter(None, (o.strip() for o in opts.split(","))):
                key, eq, value = kv.partition("=")
                if not eq:
                    raise ValueError(f"fault option {kv!r} in {part!r} is not key=value")
                options[key.strip()] = value.strip()
            out[name.strip()] = options
        spec = out
    faults = {}
    for name, options in spec.items():
        name = str(name)
        if name not in FAULT_NAMES:
            raise ValueError(f"unknown fault {name!r}; known: {', '.join(FAULT_NAMES)}")
        options = dict(options or {})
        unknown = set(options) - {"every", "times", "delay", "retry_after", "paths"}
        if unknown:
            raise ValueError(f"unknown option(s) {sorted(unknown)} for fault {name!r}")
        try:
            every = int(options.get("every", 1))
            times = int(options.get("times", 1))
            delay = float(options.get("delay", 1.0))
            retry_after = int(options.get("retry_after", 1))
        except (TypeError, ValueError) as exc:
            raise ValueError(f"fault {name!r}: {exc}") from None
        if every < 1 or times < 0 or delay < 0 or retry_after < 0:
            raise ValueError(f"fault {name!r}: every >= 1, times >= 0, delay >= 0, retry_after >= 0")
        faults[name] = {"every": every, "times": times, "delay": delay, "retry_after": retry_after,
                        "paths": re.compile(options.get("paths") or DEFAULT_FAULT_PATHS)}
    return faults


class Faults:
    """Decides which requests misbehave: by item number, not by arrival order."""

    def __init__(self, spec=None):
        self.spec = parse_faults(spec)
        self._seen: dict[tuple[str, str], int] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _number(path: str) -> int:
        m = re.search(r"\d+", path)
        return int(m.group()) if m else zlib.crc32(path.encode())

    def decide(self, path: str) -> dict:
        """{"delay": s, "status": 429|500|None, "retry_after": s, "truncate": bool} for this request."""
        out = {"delay": 0.0, "status": None, "retry_after": 0, "truncate": False}
        if not self.spec:
            return out
        for name, f in self.spec.items():
            if not f["paths"].search(path) or self._number(path) % f["every"]:
                continue
            if name == "slow":
                out["delay"] = f["delay"]
                continue
            with self._lock:
                seen = self._seen.get((name, path), 0)
                self._seen[(name, path)] = seen + 1
            if f["times"] and seen >= f["times"]:
                continue
            if name == "truncate":
                out["truncate"] = True
            elif out["status"] is None:
                out["status"] = int(name)
                out["retry_after"] = f["retry_after"]
        return out


# --- the server ---------------------------------------------------------------

class Response:
    __slots__ = ("status", "ctype", "body", "headers")

    def __init__(self, status: int, ctype: str, body: bytes | str, headers: dict | None = None):
        self.status = status
        self.ctype = ctype
        self.body = body.encode() if isinstance(body, str) else body
        self.headers = headers or {}


def html(body: str, status: int = 200) -> Response:
    return Response(status, "text/html; charset=utf-8", body)


def as_json(obj, status: int = 200) -> Response:
    return Response(status, "application/json; charset=utf-8", json.dumps(obj, ensure_ascii=False))


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "ShianDemo/0.1"
    disable_nagle_algorithm = True     # headers and body go out in two writes
    timeout = 30                       # idle keep-alive connections end
    site: "Site"

    def setup(self):
        super().setup()
        self.site._track(self.connection, True)

    def finish(self):
        try:
            super().finish()
        finally:
            self.site._track(self.connection, False)

    def log_message(self, format, *args):   # noqa: A002 - the base class's name
        pass

    def do_GET(self):
        self._serve(head=False)

    def do_HEAD(self):
        self._serve(head=True)

    def _serve(self, head: bool):
        site = self.site
        split = urlsplit(self.path)
        path = split.path
        fault = site.faults.decide(path)
        if fault["delay"]:
            time.sleep(fault["delay"])
        if fault["status"] == 429:
            resp = html(pages.layout("请求过于频繁", "<h1>请求过于频繁，请稍后再试</h1>", site.name), 429)
            resp.headers["Retry-After"] = str(fault["retry_after"])
        elif fault["status"] == 500:
            resp = html(pages.layout("服务器错误", "<h1>服务器开小差了</h1>", site.name), 500)
        else:
            try:
                resp = site.route(path, parse_qs(split.query))
            except BadRequest as exc:
                resp = html(pages.layout("请求错误", f"<h1>{pages.e(exc)}</h1>", site.name), 400)
            except Exception:   # a demo bug must not kill the connection thread silently
                log.exception("demo %s failed on %s", site.name, self.path)
                resp = html(pages.layout("服务器错误", "<h1>服务器错误</h1>", site.name), 500)
        site._log(self.command, self.path, resp.status)
        self.send_response(resp.status)
        self.send_header("Content-Type", resp.ctype)
        body = resp.body
        length = len(body)
        if fault["truncate"] and resp.status == 200:
            length = len(body) + max(64, len(body) // 2)
            body = body[: len(body) // 2]
            self.close_connection = True
        self.send_header("Content-Length", str(length))
        self.send_header("X-Content-Type-Options", "nosniff")
        for key, value in resp.headers.items():
            self.send_header(key, value)
        self.end_headers()
        if not head:
            self.wfile.write(body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256

    def handle_error(self, request, client_address):
        # a crawler or browser that hangs up mid-response is normal traffic, not a server fault
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class Site:
    """One running demo platform."""

    def __init__(self, name: str, dataset: Dataset, faults=None, room_seconds: float = 60.0,
                 host: str = "127.0.0.1", port: int = 0):
        if name not in SITE_NAMES:
            raise ValueError(f"unknown site {name!r}; one of {', '.join(SITE_NAMES)}")
        if room_seconds <= 0:
            raise ValueError("room_seconds must be positive")
        self.name = name
        self.dataset = dataset
        self.faults = Faults(faults)
        self.room_seconds = float(room_seconds)
        self.requests: list[tuple[str, str, int]] = []
        self._lock = threading.Lock()
        self._conns: set[socket.socket] = set()
        self._changes: dict[str, dict] = {}
        self._removed: set[str] = set()
        self._room_start: dict[str, float] = {}
        self._items = {x.id: x for x in dataset.listings if x.platform == name}
        self._rooms = {r.id: r for r in dataset.rooms} if name == "live" else {}
        self._reindex()
        handler = type(f"{name.title()}Handler", (Handler,), {"site": self})
        self.server = _Server((host, port), handler)
        self.port = self.server.server_address[1]
        self.url = f"http://{host}:{self.port}"
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.1},
                                        name=f"demo-{name}", daemon=True)
        self._thread.start()

    # lifecycle

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        with self._lock:
            conns = list(self._conns)
        for conn in conns:               # end keep-alive connections too
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._thread.join(timeout=5)

    def __enter__(self) -> "Site":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def _track(self, conn, add: bool) -> None:
        with self._lock:
            (self._conns.add if add else self._conns.discard)(conn)

    def _log(self, method: str, path: str, status: int) -> None:
        with self._lock:
            self.requests.append((method, path, status))

    def hits(self, prefix: str) -> int:
        with self._lock:
            return sum(1 for _, p, _ in self.requests if p.startswith(prefix))

    # test hooks

    def mutate(self, change=None, remove=None, restore=None) -> None:
        """Change listings' text/price (or given fields), take listings down, or bring them back."""
        if isinstance(change, dict):
            pairs = list(change.items())
        else:
            pairs = [(item_id, None) for item_id in (change or [])]
        with self._lock:
            for item_id, fields in pairs:
                item_id = str(item_id)
                if item_id not in self._items:
                    raise KeyError(f"no listing {item_id} on {self.name}")
                current = self._view(item_id)
                if fields is None:
                    n = self._changes.get(item_id, {}).get("_n", 0) + 1
                    fields = {"text": f"{current.text}\n【店铺公告】包装升级，第{n}次更新。",
                              "price": round(current.price + 1.0, 2), "_n": n}
                unknown = set(fields) - {"title", "text", "price", "_n"}
                if unknown:
                    raise ValueError(f"cannot change {sorted(unknown)}; only title, text, price")
                self._changes[item_id] = {**self._changes.get(item_id, {}), **fields}
            for item_id in remove or []:
                if str(item_id) not in self._items:
                    raise KeyError(f"no listing {item_id} on {self.name}")
                self._removed.add(str(item_id))
            for item_id in restore or []:
                self._removed.discard(str(item_id))
            self._reindex()

    def reset_rooms(self) -> None:
        with self._lock:
            self._room_start.clear()

    # data views

    def _reindex(self) -> None:
        live = [x for x in self._items.values() if x.id not in self._removed]
        by_cat: dict[str, list[str]] = {slug: [] for slug in CATEGORIES}
        by_shop: dict[str, list[str]] = {}
        for x in live:
            by_cat[x.slug].append(x.id)
            by_shop.setdefault(x.shop_id, []).append(x.id)
        self._all = [x.id for x in live]
        self._by_cat = by_cat
        self._by_shop = by_shop

    def _view(self, item_id: str) -> DemoListing:
        x = self._items[item_id]
        fields = self._changes.get(item_id)
        if fields:
            x = dataclasses.replace(x, **{k: v for k, v in fields.items() if not k.startswith("_")})
        return x

    def _room_clock(self, room_id: str) -> float:
        now = time.monotonic()
        with self._lock:
            start = self._room_start.setdefault(room_id, now)
        return now - start

    # routing

    def route(self, path: str, query: dict) -> Response:
        if path == "/robots.txt":
            return Response(200, "text/plain; charset=utf-8", ROBOTS[self.name])
        if path.startswith(("/cart/", "/admin/")) or path in ("/cart", "/admin"):
            return html(pages.stub_page("购物车" if path.startswith("/cart") else "商家后台", self.name))
        if path.startswith("/static/"):
            return self._static(path[len("/static/"):])
        m = re.fullmatch(r"/img/(\d+)/(\d+)\.png", path)
        if m:
            x = self._items.get(m.group(1))
            if x is None or int(m.group(2)) >= x.images:
                return html(pages.not_found_page(self.name, "图片不存在"), 404)
            return Response(200, "image/png", images.product_png(x.id, int(m.group(2))))
        m = re.fullmatch(r"/shop/([A-Za-z0-9]+)/licence\.png", path)
        if m:
            shop = self.dataset.shop(m.group(1))
            if shop is None or shop.platform != self.name or shop.licence_mode != "image":
                return html(pages.not_found_page(self.name, "图片不存在"), 404)
            return Response(200, "image/png", images.licence_png(shop.licence_image_text))
        return getattr(self, f"_route_{self.name}")(path, query)

    def _static(self, name: str) -> Response:
        allowed = {"shop": (), "spa": ("spa.js",), "live": ("live.js",)}[self.name]
        if name not in allowed:
            return html(pages.not_found_page(self.name, "文件不存在"), 404)
        return Response(200, "application/javascript; charset=utf-8", _static_bytes(name))

    def _item_page(self, item_id: str) -> Response:
        if item_id in self._removed:
            return html(pages.removed_page(self.name), 404)
        if item_id not in self._items:
            return html(pages.not_found_page(self.name), 404)
        x = self._view(item_id)
        return html(pages.product_page(x, self.dataset.shop(x.shop_id), self.name))

    def _shop_items(self, shop_id: str) -> list[DemoListing]:
        return [self._view(i) for i in self._by_shop.get(shop_id, [])]

    def _route_shop(self, path: str, query: dict) -> Response:
        if path == "/":
            return html(pages.home_page({slug: len(ids) for slug, ids in self._by_cat.items()}))
        m = re.fullmatch(r"/category/([a-z]+)", path)
        if m and m.group(1) in CATEGORIES:
            ids = self._by_cat[m.group(1)]
            page = _int_arg(query, "page", 1)
            pages_n = max(1, -(-len(ids) // PER_PAGE))
            if not 1 <= page <= pages_n:
                return html(pages.not_found_page(self.name, "没有这一页"), 404)
            chunk = [self._view(i) for i in ids[(page - 1) * PER_PAGE: page * PER_PAGE]]
            return html(pages.category_page(m.group(1), chunk, page, pages_n))
        return self._route_item_or_shop(path)

    def _route_item_or_shop(self, path: str) -> Response:
        """Server-rendered item and shop pages, shared by the shop and live sites."""
        m = re.fullmatch(r"/item/(\d+)", path)
        if m:
            return self._item_page(m.group(1))
        m = re.fullmatch(r"/shop/([A-Za-z0-9]+)", path)
        if m:
            shop = self.dataset.shop(m.group(1))
            if shop is None or shop.platform != self.name:
                return html(pages.not_found_page(self.name, "店铺不存在"), 404)
            return html(pages.shop_page(shop, self._shop_items(shop.id), self.name))
        return html(pages.not_found_page(self.name, "页面不存在"), 404)

    def _route_spa(self, path: str, query: dict) -> Response:
        if path == "/" or re.fullmatch(r"/(category/[a-z]+|item/\d+|shop/[A-Za-z0-9]+)", path):
            return html(pages.spa_shell())
        if path == "/api/categories":
            return as_json([{"slug": slug, "name": CATEGORIES[slug][0], "count": len(ids)}
                            for slug, ids in self._by_cat.items() if ids])
        if path == "/api/items":
            category = (query.get("category") or [""])[0]
            if category and category not in CATEGORIES:
                return as_json({"error": "bad_request", "message": f"unknown category {category}"}, 400)
            ids = self._by_cat[category] if category else self._all
            cursor = _int_arg(query, "cursor", 0)
            limit = _int_arg(query, "limit", PER_PAGE)
            if cursor < 0 or not 1 <= limit <= 50:
                return as_json({"error": "bad_request", "message": "cursor >= 0 and 1 <= limit <= 50"}, 400)
            chunk = ids[cursor: cursor + limit]
            nxt = cursor + limit if cursor + limit < len(ids) else None
            return as_json({"items": [self._card_json(self._view(i)) for i in chunk], "next_cursor": nxt,
                            "total": len(ids)})
        m = re.fullmatch(r"/api/items/(\d+)", path)
        if m:
            item_id = m.group(1)
            if item_id in self._removed:
                return as_json({"error": "removed", "message": "该商品已下架"}, 404)
            if item_id not in self._items:
                return as_json({"error": "not_found", "message": "商品不存在"}, 404)
            return as_json(self._item_json(self._view(item_id)))
        m = re.fullmatch(r"/api/shops/([A-Za-z0-9]+)", path)
        if m:
            shop = self.dataset.shop(m.group(1))
            if shop is None or shop.platform != self.name:
                return as_json({"error": "not_found", "message": "店铺不存在"}, 404)
            return as_json({**self._shop_json(shop),
                            "items": [self._card_json(x) for x in self._shop_items(shop.id)]})
        return html(pages.not_found_page(self.name, "页面不存在"), 404)

    def _route_live(self, path: str, query: dict) -> Response:
        if path == "/":
            return html(pages.rooms_page(list(self._rooms.values())))
        m = re.fullmatch(r"/room/([A-Za-z0-9]+)", path)
        if m:
            room = self._rooms.get(m.group(1))
            if room is None:
                return html(pages.not_found_page(self.name, "直播间不存在"), 404)
            self._room_clock(room.id)
            return html(pages.room_page(room, self.dataset.shop(room.shop_id)))
        m = re.fullmatch(r"/api/rooms/([A-Za-z0-9]+)(/events)?", path)
        if m:
            room = self._rooms.get(m.group(1))
            if room is None:
                return as_json({"error": "not_found", "message": "直播间不存在"}, 404)
            elapsed = self._room_clock(room.id)
            if m.group(2):
                return as_json(self._events(room, elapsed, _int_arg(query, "since", 0)))
            return as_json({"id": room.id, "title": room.title, "host": room.host,
                            "status": "ended" if elapsed >= self.room_seconds else "live",
                            "duration_s": self.room_seconds, "shelf": room.shelf,
                            "shop": self._shop_json(self.dataset.shop(room.shop_id))})
        return self._route_item_or_shop(path)

    def _events(self, room: DemoRoom, elapsed: float, since: int) -> dict:
        ended = elapsed >= self.room_seconds
        out = []
        for ev in room.script:
            offset = ev["frac"] * self.room_seconds
            if not ended and offset > elapsed:
                break
            if ev["seq"] < since:
                continue
            item = None
            if ev["type"] == "shelf":
                x = self._view(ev["item"])
                item = {"id": x.id, "title": x.title, "price": x.price, "url": f"/item/{x.id}",
                        "note": ev["text"]}
            out.append({"seq": ev["seq"], "offset_s": round(offset, 3), "type": ev["type"],
                        "speaker": ev["speaker"], "text": ev["text"], "item": item})
        nxt = out[-1]["seq"] + 1 if out else since
        return {"room_id": room.id, "status": "ended" if ended else "live", "elapsed_s": round(elapsed, 3),
                "duration_s": self.room_seconds, "events": out, "next": nxt}

    # JSON shapes

    @staticmethod
    def _card_json(x: DemoListing) -> dict:
        return {"id": x.id, "title": x.title, "price": x.price, "url": f"/item/{x.id}", "shop_id": x.shop_id}

    @staticmethod
    def _shop_json(shop) -> dict:
        return {"id": shop.id, "name": shop.name, "operator_name": shop.operator_name,
                "licence_text": shop.licence_text if shop.licence_mode == "text" else "",
                "licence_image": f"/shop/{shop.id}/licence.png" if shop.licence_mode == "image" else None,
                "url": f"/shop/{shop.id}"}

    def _item_json(self, x: DemoListing) -> dict:
        return {"id": x.id, "title": x.title, "price": x.price, "category": x.category, "category_slug": x.slug,
                "text": x.text, "health_food_reg": x.health_food_reg,
                "images": [f"/img/{x.id}/{n}.png" for n in range(x.images)], "url": f"/item/{x.id}",
                "shop": self._shop_json(self.dataset.shop(x.shop_id))}


_STATIC_CACHE: dict[str, bytes] = {}


def _static_bytes(name: str) -> bytes:
    if name not in _STATIC_CACHE:
        _STATIC_CACHE[name] = (STATIC / name).read_bytes()
    return _STATIC_CACHE[name]


def _int_arg(query: dict, key: str, default: int) -> int:
    raw = (query.get(key) or [None])[0]
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise BadRequest(f"参数 {key} 必须是整数") from None


def start_site(name: str, dataset: Dataset, faults=None, room_seconds: float = 60.0,
               host: str = "127.0.0.1", port: int = 0) -> Site:
    """Start one demo platform in a daemon thread; returns when it accepts connections."""
    return Site(name, dataset, faults=faults, room_seconds=room_seconds, host=host, port=port)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(prog="python -m demo.sites", description="Serve the three demo platforms.")
    ap.add_argument("--listings", type=int, default=2000, help="dataset size (100..100000)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--room-seconds", type=float, default=120.0, help="how long a live room runs")
    ap.add_argument("--faults", default="", help='e.g. "429:every=7,retry_after=1;500:every=11"')
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--registry-dir", default="", help="also write licences.csv and health_foods.csv here")
    args = ap.parse_args(argv)
    try:
        parse_faults(args.faults)        # refuse a bad spec before generating anything
    except ValueError as exc:
        ap.error(str(exc))
    dataset = generate(args.listings, args.seed)
    if args.registry_dir:
        for path in dataset.write_registry(args.registry_dir):
            print(f"registry {path}", flush=True)
    sites = [start_site(name, dataset, faults=args.faults or None, room_seconds=args.room_seconds,
                        host=args.host) for name in SITE_NAMES]
    for site in sites:
        print(f"{site.name} {site.url}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        for site in sites:
            site.stop()


if __name__ == "__main__":
    main()
