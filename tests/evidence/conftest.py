"""Real evidence for the package tests: pages served on 127.0.0.1, captured with the crawler's own
Capture (warcio WARCs of real HTTP exchanges), rendered and recorded by real Chromium, stored in a
real SQLiteStore; and a real RFC 3161 TSA (openssl ts -reply) on 127.0.0.1.
"""
from __future__ import annotations

import shutil
import socket
import subprocess
import threading
import urllib.request
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from shian.audit import AuditLog, open_audit
from shian.evidence.capture import Capture
from shian.evidence.files import EvidenceFiles
from shian.models import Analysis, Decision, Finding, Listing, ReviewItem, Segment, Shop, Verdict
from shian.settings import Settings
from shian.store.sqlite import SQLiteStore

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]

SHOP_V1 = "<html><head><meta charset='utf-8'><title>野生黑枸杞</title></head><body>" \
          "<h1>野生黑枸杞 500克</h1><p>宁夏产地直发</p></body></html>"
SHOP_V2 = "<html><head><meta charset='utf-8'><title>野生黑枸杞 降血糖</title></head><body>" \
          "<h1>野生黑枸杞 降血糖 500克</h1><p>每天一把，三天降血糖，根治糖尿病。</p>" \
          "<p>许可证：JY14101020012345</p></body></html>"
SPA = """<html><head><meta charset='utf-8'><title>灵芝孢子粉</title></head><body><div id='app'></div>
<script>document.getElementById('app').innerHTML =
 '<h1>破壁灵芝孢子粉</h1><p id="claim">抗癌防癌，提高免疫力，三个疗程见效</p>';</script></body></html>"""
LIVE = """<html><head><meta charset='utf-8'><title>直播间</title></head><body>
<h1>老中医直播间</h1><div id='captions'>这个酵素喝了能治高血压</div>
<canvas id='c' width='160' height='90'></canvas>
<script>const g = document.getElementById('c').getContext('2d'); let n = 0;
setInterval(() => { n++; g.fillStyle = n % 2 ? '#c00' : '#0c0'; g.fillRect(0, 0, 160, 90); }, 40);</script>
</body></html>"""

RECORD_JS = """async () => {
  const canvas = document.getElementById('c');
  const rec = new MediaRecorder(canvas.captureStream(25), {mimeType: 'video/webm'});
  const parts = [];
  rec.ondataavailable = e => parts.push(e.data);
  const done = new Promise(r => rec.onstop = r);
  rec.start();
  await new Promise(r => setTimeout(r, 600));
  rec.stop();
  await done;
  const buf = new Uint8Array(await new Blob(parts).arrayBuffer());
  let s = ''; for (const b of buf) s += String.fromCharCode(b);
  return btoa(s);
}"""


class Site:
    """A tiny shop/live platform on 127.0.0.1; remembers every path asked for."""

    def __init__(self):
        self.pages = {"/shop/1001": SHOP_V1, "/spa/2002": SPA, "/live/3003": LIVE}
        self.requests: list[str] = []
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                site.requests.append(self.path)
                body = site.pages.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                data = body.encode("utf-8")
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@dataclass
class Tsa:
    url: str
    dir: Path
    ca: Path
    cert: Path
    server: ThreadingHTTPServer = field(repr=False)


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_tsa(root: Path) -> Tsa:
    """A test CA, a TSA certificate it issued, and `openssl ts -reply` behind HTTP on 127.0.0.1."""
    root.mkdir(parents=True)
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt",
             "-subj", "/CN=Shian Test Root CA", "-days", "3",
             "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
             cwd=root)
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "tsa.key", "-out", "tsa.csr",
             "-subj", "/CN=Shian Test TSA", cwd=root)
    (root / "tsa.ext").write_text("basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n"
                                  "extendedKeyUsage=critical,timeStamping\nsubjectKeyIdentifier=hash\n")
    _openssl("x509", "-req", "-in", "tsa.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
             "-out", "tsa.crt", "-days", "3", "-extfile", "tsa.ext", cwd=root)
    (root / "serial").write_text("01\n")
    (root / "tsa.cnf").write_text(f"""[ tsa ]
default_tsa = tsa_config
[ tsa_config ]
dir = {root}
serial = $dir/serial
crypto_device = builtin
signer_cert = $dir/tsa.crt
certs = $dir/ca.crt
signer_key = $dir/tsa.key
signer_digest = sha256
default_policy = 1.2.3.4.1
digests = sha256, sha384, sha512
accuracy = secs:1
ordering = yes
tsa_name = yes
ess_cert_id_chain = yes
ess_cert_id_alg = sha256
""")
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            query = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            with lock:                   # openssl keeps its serial in one file
                (root / "q.tsq").write_bytes(query)
                done = subprocess.run(["openssl", "ts", "-reply", "-config", "tsa.cnf", "-queryfile", "q.tsq",
                                       "-out", "r.tsr"], cwd=root, capture_output=True)
                reply = (root / "r.tsr").read_bytes() if done.returncode == 0 else b""
            if not reply:
                self.send_error(500, done.stderr.decode(errors="replace")[:200])
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/timestamp-reply")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return Tsa(f"http://127.0.0.1:{server.server_address[1]}/tsa", root, root / "ca.crt", root / "tsa.crt", server)


def closed_port_url() -> str:
    """A 127.0.0.1 URL nobody listens on (connection refused at once)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/tsa"


@dataclass
class Case:
    settings: Settings
    store: SQLiteStore
    files: EvidenceFiles
    audit: AuditLog
    shop_id: str
    rendered_id: str
    live_id: str
    site: Site

    @property
    def ids(self) -> list[str]:
        return [self.shop_id, self.rendered_id, self.live_id]


def _fetch(site: Site, files: EvidenceFiles, path: str, item_id: str) -> list:
    url = site.url + path
    cap = Capture(files, url, "demo-shop", user_agent="ShianBot/test", config_hash="cfg-test")
    cap.step("goto", url)
    with urllib.request.urlopen(urllib.request.Request(url, headers={"User-Agent": "ShianBot/test"})) as resp:
        body = resp.read()
        cap.add_exchange("GET", url, {"User-Agent": "ShianBot/test"}, resp.status, resp.getheaders(), body,
                         ip="127.0.0.1")
    cap.step("fetched", f"HTTP 200, {len(body)} bytes")
    return cap.finish(shop="枸杞旗舰店", item_id=item_id)


def _browse(page, site: Site, files: EvidenceFiles, path: str, item_id: str, platform: str,
            video: bool = False) -> list:
    url = site.url + path
    cap = Capture(files, url, platform, user_agent="ShianBot/test", config_hash="cfg-test",
                  browser_version=page.context.browser.version)
    cap.step("goto", url)
    resp = page.goto(url)
    cap.add_exchange("GET", url, {"User-Agent": "ShianBot/test"}, resp.status, resp.headers, resp.body(),
                     ip="127.0.0.1")
    page.wait_for_selector("h1")
    if video:
        cap.step("record", "canvas stream, 0.6 s")
        import base64
        data = base64.b64decode(page.evaluate(RECORD_JS))
        cap.add_file(data, "video", "video/webm", name="segment-001.webm")
    cap.add_rendered(html=page.content(), screenshot=page.screenshot(full_page=True))
    cap.step("screenshot", "full page")
    return cap.finish(shop="健康小铺", item_id=item_id)


def _span(text: str, part: str) -> tuple[int, int]:
    start = text.index(part)
    return start, start + len(part)


def build_case(root: Path, browser, site: Site) -> Case:
    settings = Settings(data_dir=root / "data", store="sqlite")
    settings.data_dir.mkdir(parents=True)
    store = SQLiteStore(settings.sqlite_path)
    files = EvidenceFiles(settings.evidence_dir)
    audit = open_audit(settings)
    shop = Shop(name="枸杞旗舰店", operator_name="新郑市某某食品有限公司", licence_text="JY14101020012345",
                region="新郑市")

    # shop listing: captured twice, the second capture shows the claims (history keeps the first)
    refs1 = _fetch(site, files, "/shop/1001", "1001")
    first = Listing(platform="demo-shop", url=site.url + "/shop/1001", item_id="1001", shop=shop,
                    title="野生黑枸杞 500克", text="宁夏产地直发", evidence=refs1, captured_at=refs1[-1].captured_at)
    store.upsert(ReviewItem.new(first, Analysis()))
    site.pages["/shop/1001"] = SHOP_V2
    refs2 = _fetch(site, files, "/shop/1001", "1001")
    hostile = f'<img src="{site.url}/leak.png"><script>alert(1)</script>'
    text = "每天一把，三天降血糖，根治糖尿病。" + hostile
    listing = Listing(platform="demo-shop", url=site.url + "/shop/1001", item_id="1001", shop=shop,
                      title="野生黑枸杞 降血糖 500克", text=text, evidence=refs2, captured_at=refs2[-1].captured_at)
    s, e = _span(text, "根治糖尿病")
    analysis = Analysis(findings=[
        Finding(type="disease_claim", rule_id="disease.diabetes.cure", list_version="kw-2024.06.1", field="text",
                start=s, end=e, text="根治糖尿病", severity="high", legal_basis="《食品安全法》第七十一条"),
        Finding(type="health_claim", rule_id="function.blood_sugar", list_version="kw-2024.06.1", field="title",
                start=5, end=8, text="降血糖", severity="high", legal_basis="《广告法》第十七条"),
    ], licence=Verdict(kind="licence", verdict="holder_mismatch",
                       identifiers=[{"type": "licence_no", "value": "JY14101020012345", "raw": "JY14101020012345",
                                     "field": "licence_text", "start": 0, "end": 16, "valid": True}],
                       record={"licence_no": "JY14101020012345", "operator": "郑州市另一家食品有限公司",
                               "valid_until": "2027-05-01"},
                       reasons=["页面声明的经营者与许可证登记的经营者不一致"]))
    store.upsert(ReviewItem.new(listing, analysis))
    item = store.get(listing.id)
    item.review.decisions.append(Decision(target="finding:0", action="confirm", reason_code="disease_claim",
                                          note="宣称根治糖尿病", user="审核员张三", at=refs2[-1].captured_at))
    item.review.status = "decided"
    store.replace(item)
    audit.append("审核员张三", "claim", target=f"item:{listing.id}")
    audit.append("审核员张三", "evidence_view", target=f"item:{listing.id}")
    audit.append("审核员张三", "decide", target=f"item:{listing.id}",
                 details={"target": "finding:0", "action": "confirm"})

    context = browser.new_context(viewport={"width": 800, "height": 600})
    page = context.new_page()
    try:
        # browser-rendered listing: the claim exists only after JavaScript ran
        refs = _browse(page, site, files, "/spa/2002", "2002", "demo-spa")
        rendered_text = "抗癌防癌，提高免疫力，三个疗程见效"
        rendered = Listing(platform="demo-spa", url=site.url + "/spa/2002", item_id="2002",
                           shop=Shop(name="健康小铺"), title="破壁灵芝孢子粉", text=rendered_text, evidence=refs,
                           captured_at=refs[-1].captured_at)
        s, e = _span(rendered_text, "抗癌防癌")
        store.upsert(ReviewItem.new(rendered, Analysis(findings=[
            Finding(type="disease_claim", rule_id="disease.cancer", list_version="kw-2024.06.1", field="text",
                    start=s, end=e, text="抗癌防癌", severity="high")])))

        # live room: screenshot, a real WebM segment recorded by Chromium, captions with offsets
        refs = _browse(page, site, files, "/live/3003", "3003", "demo-live", video=True)
        caption = "这个酵素喝了能治高血压"
        live = Listing(platform="demo-live", kind="live", url=site.url + "/live/3003", item_id="3003",
                       shop=Shop(name="老中医直播间"), title="老中医直播间", text=caption, evidence=refs,
                       segments=[Segment(offset_s=12.5, text=caption)], captured_at=refs[-1].captured_at)
        s, e = _span(caption, "治高血压")
        store.upsert(ReviewItem.new(live, Analysis(findings=[
            Finding(type="disease_claim", rule_id="disease.hypertension", list_version="kw-2024.06.1",
                    field="text", start=s, end=e, text="治高血压", severity="high", offset_s=12.5)])))
    finally:
        context.close()
    return Case(settings, store, files, audit, listing.id, rendered.id, live.id, site)


@pytest.fixture(scope="session")
def site():
    site = Site()
    yield site
    site.close()


@pytest.fixture(scope="session")
def tsa(tmp_path_factory):
    tsa = make_tsa(tmp_path_factory.mktemp("tsa") / "ca")
    yield tsa
    tsa.server.shutdown()
    tsa.server.server_close()


@pytest.fixture(scope="session")
def case(tmp_path_factory, site, browser):
    case = build_case(tmp_path_factory.mktemp("case"), browser, site)
    yield case
    case.store.close()


@pytest.fixture(scope="session")
def exported(case, tsa, tmp_path_factory):
    """The three items exported once, timestamped by the local TSA."""
    from shian.evidence.package import export_package
    out = tmp_path_factory.mktemp("out") / "case-2024-001.zip"
    result = export_package(case.store, case.ids, out, "执法人员李四", case_ref="新市监案〔2024〕001号",
                            settings=case.settings, files=case.files, audit=case.audit, tsa_urls=[tsa.url])
    return result


@pytest.fixture
def package_copy(exported, tmp_path) -> Path:
    target = tmp_path / "copy.zip"
    shutil.copyfile(exported.path, target)
    return target
