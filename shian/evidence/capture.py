"""Evidence of one captured page, written at capture time.

A Capture collects what a case file needs about one page — the HTTP
exchanges, the rendered DOM and screenshot of browser pages, a step log —
and writes each as a content-addressed file (shian.evidence.files):

  body        raw response body of the page
  html        rendered DOM (browser pages)
  screenshot  full-page PNG (browser pages)
  headers     JSON: request and response headers, status, resolved IP, TLS certificate
  steps       JSON list of {"at", "action", "detail"}
  warc        gzipped WARC: warcinfo + request/response records of every exchange,
              resource record of the screenshot, conversion record of the rendered HTML
  capture     JSON capture record (who, when, how, complete or not)

Helper code that builds case-file packages reads these kinds; keep them stable.
"""
from __future__ import annotations

import io
import json
import zlib
import platform as _platform
import socket
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from shian.evidence.files import EvidenceFiles
from shian.models import EvidenceRef, utcnow

BEIJING = ZoneInfo("Asia/Shanghai")
TOOL = "shian"


@lru_cache(maxsize=1)
def tool_versions() -> dict[str, str]:
    out = {}
    for name in ("shian", "scrapy", "scrapy-playwright", "playwright", "warcio"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = ""
    out["python"] = _platform.python_version()
    return out


@lru_cache(maxsize=1)
def capture_host() -> str:
    return socket.gethostname()


@lru_cache(maxsize=256)
def source_ip(target_host: str) -> str:
    """The local address used to reach target_host (a UDP connect sends nothing)."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect((socket.gethostbyname(target_host), 9))
            return s.getsockname()[0]
    except OSError:
        return ""


def both_times(when: datetime) -> dict[str, str]:
    return {"utc": when.isoformat(), "beijing": when.astimezone(BEIJING).isoformat()}


@dataclass
class Exchange:
    method: str
    url: str
    request_headers: dict[str, str]
    status: int
    response_headers: list[tuple[str, str]]
    body: bytes
    ip: str = ""
    certificate_pem: str = ""
    protocol: str = "HTTP/1.1"
    at: datetime = field(default_factory=utcnow)


class Capture:
    """Evidence of one page. Call step()/add_*() while capturing, then finish() once."""

    def __init__(self, files: EvidenceFiles, url: str, platform: str, user_agent: str = "",
                 config_hash: str = "", browser_version: str = ""):
        self.files = files
        self.url = url
        self.platform = platform
        self.user_agent = user_agent
        self.config_hash = config_hash
        self.browser_version = browser_version
        self.started_at = utcnow()
        self.steps: list[dict] = []
        self.exchanges: list[Exchange] = []
        self.html: str | None = None
        self.screenshot: bytes | None = None
        self.extra: list[EvidenceRef] = []
        self.ended_at: datetime | None = None

    def end(self) -> "Capture":
        """Mark the capture as ended now. finish() may then run later, elsewhere (the crawler
        leaves the file writing to its analysis worker) and still records the real end time."""
        self.ended_at = self.ended_at or utcnow()
        return self

    def step(self, action: str, detail: str = "", at: datetime | None = None) -> None:
        self.steps.append({"at": (at or utcnow()).isoformat(), "action": action, "detail": detail})

    def add_exchange(self, method: str, url: str, request_headers: dict, status: int,
                     response_headers, body: bytes, ip: str = "", certificate_pem: str = "",
                     protocol: str = "HTTP/1.1", at: datetime | None = None) -> None:
        """Record one HTTP exchange; the first one is the page itself."""
        if isinstance(response_headers, dict):
            response_headers = list(response_headers.items())
        self.exchanges.append(Exchange(method.upper(), url, {str(k): str(v) for k, v in request_headers.items()},
                                       int(status), [(str(k), str(v)) for k, v in response_headers],
                                       body or b"", ip or "", certificate_pem or "", protocol,
                                       at or utcnow()))

    def add_rendered(self, html: str | None = None, screenshot: bytes | None = None,
                     browser_version: str = "") -> None:
        if html is not None:
            self.html = html
        if screenshot is not None:
            self.screenshot = screenshot
        if browser_version:
            self.browser_version = browser_version

    def add_file(self, data: bytes, kind: str, media_type: str = "application/octet-stream",
                 name: str = "") -> EvidenceRef:
        ref = self.files.put(data, kind, media_type, name=name)
        self.extra.append(ref)
        return ref

    # -- writing ----------------------------------------------------------------------------
    def finish(self, shop: str = "", item_id: str = "", complete: bool = True,
               problem: str = "") -> list[EvidenceRef]:
        """Write every file and return their references (capture record last)."""
        ended_at = self.end().ended_at
        put = self.files.put
        refs: list[EvidenceRef] = []
        stem = _stem(self.platform, item_id or self.url)
        page = self.exchanges[0] if self.exchanges else None
        if page is not None:
            refs.append(put(page.body, "body", _media_type(page.response_headers),
                            name=f"{stem}-body", captured_at=page.at))
        if self.html is not None:
            refs.append(put(self.html.encode("utf-8"), "html", "text/html; charset=utf-8",
                            name=f"{stem}-rendered.html", captured_at=ended_at))
        if self.screenshot is not None:
            refs.append(put(self.screenshot, "screenshot", "image/png", name=f"{stem}-screenshot.png",
                            captured_at=ended_at))
        headers = {"exchanges": [{
            "at": e.at.isoformat(), "protocol": e.protocol,
            "request": {"method": e.method, "url": e.url, "headers": e.request_headers},
            "response": {"status": e.status, "headers": e.response_headers, "ip": e.ip,
                         "tls_certificate_pem": e.certificate_pem or None, "body_bytes": len(e.body)},
        } for e in self.exchanges]}
        refs.append(put(_json(headers), "headers", "application/json", name=f"{stem}-headers.json",
                        captured_at=ended_at))
        refs.append(put(_json(self.steps), "steps", "application/json", name=f"{stem}-steps.json",
                        captured_at=ended_at))
        refs.append(put(self._warc(), "warc", "application/warc", name=f"{stem}.warc.gz",
                        captured_at=ended_at))
        refs.extend(self.extra)
        host = urlsplit(self.url).hostname or ""
        record = {
            "url": self.url, "platform": self.platform, "shop": shop, "item_id": item_id,
            "started_at": both_times(self.started_at), "ended_at": both_times(ended_at),
            "capture_host": capture_host(), "capture_ip": source_ip(host) if host else "",
            "server_ip": page.ip if page else "",
            "user_agent": self.user_agent, "browser_version": self.browser_version,
            "tool": {"name": TOOL, "versions": tool_versions()},
            "config_hash": self.config_hash, "complete": complete, "problem": problem,
            "files": [{"kind": r.kind, "sha256": r.sha256, "size": r.size, "name": r.name} for r in refs],
        }
        refs.append(put(_json(record), "capture", "application/json", name=f"{stem}-capture.json",
                        captured_at=ended_at))
        return refs

    def _warc(self) -> bytes:
        buf = io.BytesIO()
        writer = FastGzipWARCWriter(buf)
        info = {"software": f"{TOOL} " + " ".join(f"{k}/{v}" for k, v in tool_versions().items() if v),
                "format": "WARC File Format 1.1", "hostname": capture_host(),
                "http-header-user-agent": self.user_agent, "description": f"Shian capture of {self.url}",
                "isPartOf": self.platform}
        writer.write_record(writer.create_warcinfo_record(f"{_stem(self.platform, self.url)}.warc.gz", info))
        page_record_id = None
        for e in self.exchanges:
            date = e.at.strftime("%Y-%m-%dT%H:%M:%SZ")
            path = _request_target(e.url)
            req_headers = StatusAndHeaders(f"{e.method} {path} {e.protocol}", list(e.request_headers.items()),
                                           is_http_request=True)
            req = writer.create_warc_record(e.url, "request", http_headers=req_headers,
                                            warc_headers_dict={"WARC-Date": date})
            # the stored body is decoded, so the encoding headers would make replay decode it twice
            kept = [(k, v) for k, v in e.response_headers
                    if k.lower() not in ("content-encoding", "transfer-encoding")]
            resp_headers = StatusAndHeaders(f"{e.status} {_reason(e.status)}", kept, protocol=e.protocol)
            extra = {"WARC-Date": date}
            if e.ip:
                extra["WARC-IP-Address"] = e.ip
            resp = writer.create_warc_record(e.url, "response", payload=io.BytesIO(e.body),
                                             length=len(e.body), http_headers=resp_headers,
                                             warc_headers_dict=extra)
            # the request record points at its response, as pywb/replay tools expect
            req.rec_headers.add_header("WARC-Concurrent-To", resp.rec_headers.get_header("WARC-Record-ID"))
            page_record_id = page_record_id or resp.rec_headers.get_header("WARC-Record-ID")
            writer.write_record(resp)
            writer.write_record(req)
        if self.screenshot is not None:
            rec = writer.create_warc_record(f"urn:screenshot:{self.url}", "resource",
                                            payload=io.BytesIO(self.screenshot), length=len(self.screenshot),
                                            warc_content_type="image/png")
            writer.write_record(rec)
        if self.html is not None:
            data = self.html.encode("utf-8")
            extra = {"WARC-Refers-To": page_record_id} if page_record_id else None
            rec = writer.create_warc_record(self.url, "conversion", payload=io.BytesIO(data), length=len(data),
                                            warc_content_type="text/html; charset=utf-8",
                                            warc_headers_dict=extra)
            writer.write_record(rec)
        return buf.getvalue()


class FastGzipWARCWriter(WARCWriter):
    """A gzipped WARC (one gzip member per record, as the format wants) at gzip level 1:
    warcio's level 9 cost more than everything else in a capture, for a few % smaller files."""

    def __init__(self, out):
        super().__init__(out, gzip=False)

    def _write_warc_record(self, out, record):
        plain = io.BytesIO()
        super()._write_warc_record(plain, record)
        gz = zlib.compressobj(1, zlib.DEFLATED, zlib.MAX_WBITS + 16)
        out.write(gz.compress(plain.getvalue()) + gz.flush())


def _json(obj) -> bytes:
    # no indent: json uses its C encoder only without one (several times faster)
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"), default=str).encode("utf-8")


def _stem(platform: str, key: str) -> str:
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in key)[-60:]
    return f"{platform}-{safe}"


def _media_type(headers: list[tuple[str, str]]) -> str:
    for k, v in headers:
        if k.lower() == "content-type":
            return v
    return "application/octet-stream"


def _request_target(url: str) -> str:
    parts = urlsplit(url)
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


def _reason(status: int) -> str:
    from http import HTTPStatus
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"
