"""Evidence packages for case files: `export_package(store, item_ids, out_path, officer, case_ref=...)`.

One package is one WACZ 1.1.1 ZIP (see wacz.py for the container). Beside
archive/, indexes/ and pages/ it holds, all under the same manifest:

    screenshots/ video/ steps/ captures/   per capture: <item>-c<n>[-<k>].<ext>
    rendered/ bodies/ headers/ images/ files/   other captured files
    listings/ findings/ registry/ decisions/ audit/   per item: <item>.json
    case/case.json                         case reference, bureau, officer, items
    report/report.pdf                      电子数据提取笔录 with 电子数据清单

Captures are numbered c1, c2, ... oldest first (item.history, then the
current listing). Every file, name and date comes from the stored data, so
exporting the same items again gives the same manifest (and, without a
timestamp, the same ZIP bytes).
"""
from __future__ import annotations

import io
import json
import logging
import mimetypes
import uuid
from functools import lru_cache
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from zoneinfo import ZoneInfo

import yaml
from warcio.archiveiterator import ArchiveIterator
from warcio.warcwriter import WARCWriter

from shian.evidence import report, signature, timestamp, wacz
from shian.evidence.files import EvidenceFiles
from shian.models import EvidenceRef, ReviewItem
from shian.settings import Settings, get_settings
from shian.store.base import NotFound, Store

log = logging.getLogger(__name__)

BEIJING = ZoneInfo("Asia/Shanghai")
EXPORT_ACTION = "evidence.export"
REPORT_PATH = "report/report.pdf"

# kind -> (folder, default extension, label in the 电子数据清单)
KINDS = {
    "warc": ("archive", ".warc.gz", "网络请求与响应记录（WARC）"),
    "screenshot": ("screenshots", ".png", "页面截图"),
    "video": ("video", ".webm", "直播录屏片段"),
    "steps": ("steps", ".json", "提取步骤记录"),
    "capture": ("captures", ".json", "提取记录（机器可读）"),
    "html": ("rendered", ".html", "浏览器渲染后的页面"),
    "body": ("bodies", ".html", "原始响应内容"),
    "headers": ("headers", ".json", "请求与响应头"),
    "image": ("images", ".jpg", "图片"),
}
FOLDER_LABELS = {folder: label for folder, _, label in KINDS.values()} | {
    "files": "其他提取文件", "indexes": "WARC 索引（CDXJ）", "pages": "页面索引",
    "listings": "商品/直播间记录", "findings": "违法宣称识别结果（规则编号、词表版本）",
    "registry": "比对的许可证/注册登记记录", "decisions": "审核决定", "audit": "审计日志摘录",
    "case": "案件信息", "report": "电子数据提取笔录（PDF）"}
KIND_CN = {"listing": "网络商品页面", "live": "直播间"}
CHECK_TITLES = {"licence": "食品经营许可证比对", "health_reg": "保健食品注册/备案号比对"}


class ExportError(Exception):
    """The package cannot be made; the message (Chinese and English) says why. Nothing is written."""


@dataclass
class ExportResult:
    path: Path
    manifest_sha256: str
    package_sha256: str
    files: int
    bytes: int
    items: list[str]
    timestamp: str                   # granted | pending
    timestamp_problems: list[str] = field(default_factory=list)
    signed: bool = False


@dataclass
class _Capture:
    label: str
    refs: list[EvidenceRef]
    captured_at: datetime | None


def tool_version() -> str:
    try:
        return f"Shian {version('shian')}"
    except PackageNotFoundError:  # running from a source tree without install
        return "Shian (source)"


def export_package(store: Store, item_ids: list[str], out_path: Path | str, officer: str,
                   case_ref: str = "", *, settings: Settings | None = None,
                   files: EvidenceFiles | None = None, audit=None,
                   tsa_urls: list[str] | None = None, record_audit: bool = True,
                   approver: str = "") -> ExportResult:
    """Write one package for the items and record the export in the audit log.

    Raises ExportError (nothing written) when an item is missing, an evidence
    file is absent or no longer matches its hash, or out_path already exists.
    A TSA that cannot be reached leaves the timestamp pending; the export
    still succeeds (add it later with add_timestamp()). `approver` is the second
    officer of a four-eyes export; the 笔录 names both.
    """
    settings = settings or get_settings()
    files = files or EvidenceFiles(settings.evidence_dir)
    out_path = Path(out_path)
    ids = sorted(set(i.strip() for i in item_ids if i and i.strip()))
    if not ids:
        raise ExportError("没有选择要导出的条目 / no items given")
    if not officer or not officer.strip():
        raise ExportError("必须注明导出人 / the exporting officer is required")
    if out_path.exists():
        raise ExportError(f"文件已存在，数据包不可覆盖 / {out_path} exists; packages are never overwritten")
    if not out_path.parent.is_dir():
        raise ExportError(f"目录不存在 / no such directory: {out_path.parent}")
    if audit is None and record_audit:
        from shian.audit import open_audit
        audit = open_audit(settings)

    items = []
    for item_id in ids:
        try:
            items.append(store.get(item_id))
        except NotFound:
            raise ExportError(f"未找到条目 / no such item: {item_id}") from None

    built = _Builder(files, audit, settings, officer.strip(), case_ref.strip(), approver.strip())
    for item in items:
        built.add_item(item)
    entries = built.finish()

    manifest_bytes = entries[wacz.MANIFEST]
    digest = wacz.sha256(manifest_bytes)
    urls = settings.evidence.tsa_urls if tsa_urls is None else tsa_urls
    stamp, problems = timestamp.obtain(urls, bytes.fromhex(digest)) if urls else (None, [])
    extra = {"timestamp": {"status": "granted" if stamp else "pending", "tokens": [stamp] if stamp else []}}
    if settings.evidence.signing_key:
        try:
            extra["signature"] = signature.sign(manifest_bytes, Path(settings.evidence.signing_key))
        except signature.SigningError as exc:
            raise ExportError(f"无法签名 / {exc}") from exc
    entries[wacz.DIGEST] = wacz.digest_file(manifest_bytes, extra)

    try:
        wacz.write_zip(out_path, entries, built.created)
    except FileExistsError as exc:
        raise ExportError(f"文件已存在，数据包不可覆盖 / {exc}") from exc
    package_sha = wacz.sha256(out_path.read_bytes())
    result = ExportResult(path=out_path, manifest_sha256=digest, package_sha256=package_sha,
                          files=len(entries), bytes=out_path.stat().st_size, items=ids,
                          timestamp=extra["timestamp"]["status"], timestamp_problems=problems,
                          signed="signature" in extra)
    if record_audit and audit is not None:
        details = {"case_ref": built.case_ref, "package": out_path.name, "manifest_sha256": digest,
                   "package_sha256": package_sha, "items": ids, "timestamp": result.timestamp}
        for item_id in ids:
            audit.append(built.officer, EXPORT_ACTION, target=f"item:{item_id}", details=details)
    log.info("exported %d items to %s (%d files, %d bytes, timestamp %s)", len(ids), out_path,
             result.files, result.bytes, result.timestamp)
    return result


def add_timestamp(path: Path | str, urls: list[str]) -> dict:
    """Add an RFC 3161 token to an existing package, keeping its manifest and every file.

    Raises ExportError when the package does not verify first, or no TSA answers.
    """
    from shian.evidence.verify import verify_package
    path = Path(path)
    outcome = verify_package(path)
    if not outcome.intact:
        raise ExportError("数据包校验未通过，不能加盖时间戳 / the package does not verify; not timestamping it")
    if not urls:
        raise ExportError("未配置时间戳服务 / no TSA configured (settings.evidence.tsa_urls)")
    entries = wacz.read_zip(path)
    manifest_bytes = entries[wacz.MANIFEST]
    stamp, problems = timestamp.obtain(urls, bytes.fromhex(wacz.sha256(manifest_bytes)))
    if stamp is None:
        raise ExportError("时间戳服务均不可用 / no TSA granted a timestamp: " + "; ".join(problems))
    digest_body = json.loads(entries[wacz.DIGEST])
    stamps = digest_body.setdefault("timestamp", {"status": "pending", "tokens": []})
    stamps["tokens"] = stamps.get("tokens", []) + [stamp]
    stamps["status"] = "granted"
    extra = {k: v for k, v in digest_body.items() if k not in ("path", "hash")}
    wacz.replace_entry(path, wacz.DIGEST, wacz.digest_file(manifest_bytes, extra))
    return stamp


class _Builder:
    """Collects the files of one package from the items, in a fixed order."""

    def __init__(self, files: EvidenceFiles, audit, settings: Settings, officer: str, case_ref: str,
                 approver: str = ""):
        self.files, self.audit, self.settings = files, audit, settings
        self.officer, self.case_ref, self.approver = officer, case_ref, approver
        self.entries: dict[str, bytes] = {}
        self.media: dict[str, str] = {}
        self.pages: list[dict] = []
        self.report_items: list[dict] = []
        self.times: list[datetime] = []
        self.item_ids: list[str] = []

    # -- per item --------------------------------------------------------------
    def add_item(self, item: ReviewItem) -> None:
        listing = item.listing
        self.item_ids.append(item.id)
        self.times.append(listing.captured_at)
        report_caps = []
        for cap in self._captures(item):
            report_caps.append(self._add_capture(item, cap))
        events = self._audit_excerpt(item.id)
        for decision in item.review.decisions:
            self.times.append(decision.at)
        self._put(f"listings/{item.id}.json", wacz.canonical_json(listing.model_dump(mode="json")))
        analysis = item.analysis.model_dump(mode="json")
        self._put(f"findings/{item.id}.json", wacz.canonical_json(
            {"item": item.id, "findings": analysis["findings"], "licence": analysis["licence"],
             "health_reg": analysis["health_reg"], "product_kind": analysis["product_kind"],
             "product_kind_source": analysis["product_kind_source"], "risk": analysis["risk"],
             "analyzed_at": analysis["analyzed_at"]}))
        compared = [{"check": kind, "verdict": v["verdict"], "record": v["record"], "candidates": v["candidates"]}
                    for kind, v in (("licence", analysis["licence"]), ("health_reg", analysis["health_reg"]))
                    if v is not None]
        self._put(f"registry/{item.id}.json", wacz.canonical_json({"item": item.id, "compared": compared}))
        self._put(f"decisions/{item.id}.json", wacz.canonical_json(
            {"item": item.id, "review": item.review.model_dump(mode="json"),
             "first_seen": item.first_seen.isoformat(), "last_seen": item.last_seen.isoformat(),
             "taken_down_at": item.taken_down_at.isoformat() if item.taken_down_at else None}))
        self._put(f"audit/{item.id}.json", wacz.canonical_json({"item": item.id, "events": events}))
        self.report_items.append(self._report_item(item, report_caps))

    def _captures(self, item: ReviewItem) -> list[_Capture]:
        groups: list[tuple[datetime | None, list[EvidenceRef]]] = []
        for old in item.history:
            groups += self._group([EvidenceRef.model_validate(r) for r in old.get("evidence") or []], item.id)
        groups += self._group(list(item.listing.evidence), item.id)
        if not groups:
            groups = [(item.listing.captured_at, [])]
        return [_Capture(f"c{n}", refs, when) for n, (when, refs) in enumerate(groups, 1)]

    def _group(self, refs: list[EvidenceRef], item_id: str) -> list[tuple[datetime | None, list[EvidenceRef]]]:
        """Split an item's files into captures: each capture record names its files.

        Files no capture record names (older crawlers, feeds) are grouped by their capture time.
        """
        groups, taken = [], set()
        records = [r for r in refs if r.kind == "capture"]
        for rec_ref in records:
            record = _load_json(self._read(item_id, rec_ref)) or {}
            listed = [f.get("sha256") for f in record.get("files", []) if isinstance(f, dict)] \
                if isinstance(record, dict) else []
            members = [rec_ref]
            taken.add(id(rec_ref))
            for sha in listed:
                ref = next((r for r in refs if r.sha256 == sha and id(r) not in taken), None)
                if ref is not None:
                    members.append(ref)
                    taken.add(id(ref))
            groups.append((rec_ref.captured_at, members))
        groups += _split_by_time([r for r in refs if id(r) not in taken])
        epoch = datetime.min.replace(tzinfo=timezone.utc)
        return sorted(groups, key=lambda g: g[0] or epoch)

    def _add_capture(self, item: ReviewItem, cap: _Capture) -> dict:
        base = f"{item.id}-{cap.label}"
        counts: dict[str, int] = {}
        for ref in cap.refs:
            counts[ref.kind] = counts.get(ref.kind, 0) + 1
        seen: dict[str, int] = {}
        placed: dict[str, list[tuple[str, EvidenceRef, bytes]]] = {}
        for ref in sorted(cap.refs, key=lambda r: (r.kind, r.captured_at or datetime.min.replace(tzinfo=timezone.utc),
                                                   r.name, r.sha256)):
            data = self._read(item.id, ref)
            seen[ref.kind] = seen.get(ref.kind, 0) + 1
            folder, default_ext, _ = KINDS.get(ref.kind, ("files", ".bin", ""))
            stem = base if counts[ref.kind] == 1 else f"{base}-{seen[ref.kind]}"
            if folder == "files":
                stem = f"{stem}-{_ascii(ref.kind)}"
            path = f"{folder}/{stem}{_extension(ref, data, default_ext)}"
            self._put(path, data, ref.media_type)
            placed.setdefault(ref.kind, []).append((path, ref, data))
            if ref.captured_at:
                self.times.append(ref.captured_at)

        warcs = placed.get("warc", [])
        if not warcs:
            warcs = self._fallback_warc(item, cap, base, placed)
        page = _first_page(warcs)
        if page:
            self.pages.append({"id": base, "url": page[0], "ts": page[1], "title": item.listing.title})

        if "capture" in placed:
            record = _load_json(placed["capture"][0][2]) or {}
        else:
            record = self._derived_capture(item, cap)
            self._put(f"captures/{base}.json", wacz.canonical_json(record))
        steps = []
        for _, _, data in placed.get("steps", []):
            value = _load_json(data)
            steps += value if isinstance(value, list) else []
        return _report_capture(cap, record, steps, placed, item)

    def _read(self, item_id: str, ref: EvidenceRef) -> bytes:
        try:
            data = self.files.read(ref.sha256)
        except (OSError, ValueError) as exc:
            raise ExportError(f"条目 {item_id} 的证据文件缺失 / evidence file missing for item {item_id}: "
                              f"{ref.kind} {ref.sha256} ({exc})") from exc
        if wacz.sha256(data) != ref.sha256:
            raise ExportError(f"条目 {item_id} 的证据文件已损坏（哈希不符）/ evidence file changed on disk for item "
                              f"{item_id}: {ref.kind} {ref.sha256}")
        return data

    def _fallback_warc(self, item, cap: _Capture, base: str, placed) -> list:
        """No WARC was captured (feeds, old captures): wrap the raw body as a WARC resource record."""
        bodies = placed.get("body", []) or placed.get("html", [])
        if not bodies:
            return []
        when = cap.captured_at or item.listing.captured_at
        buf = io.BytesIO()
        writer = WARCWriter(buf, gzip=True)
        for path, ref, data in bodies:
            headers = {"WARC-Record-ID": f"<urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, ref.sha256)}>",
                       "WARC-Date": _warc_date(when), "WARC-Source-URI": f"file:{path}"}
            record = writer.create_warc_record(item.listing.url or f"urn:shian:item:{item.id}", "resource",
                                               payload=io.BytesIO(data), warc_headers_dict=headers,
                                               warc_content_type=ref.media_type)
            writer.write_record(record)
        path = f"archive/{base}-body.warc.gz"
        self._put(path, buf.getvalue(), "application/warc")
        return [(path, None, buf.getvalue())]

    def _derived_capture(self, item: ReviewItem, cap: _Capture) -> dict:
        listing, when = item.listing, cap.captured_at or item.listing.captured_at
        return {"derived": "no capture record was stored; rebuilt from the listing record",
                "url": listing.url, "platform": listing.platform, "shop": listing.shop.name,
                "item_id": listing.item_id, "started_at": when.isoformat(),
                "started_at_beijing": when.astimezone(BEIJING).isoformat(),
                "complete": listing.capture_complete, "problem": listing.capture_problem,
                "files": sorted(f"{r.kind}:{r.sha256}" for r in cap.refs)}

    def _audit_excerpt(self, item_id: str) -> list[dict]:
        if self.audit is None:
            return []
        # what was done to the item (claims, decisions, escalations); who looked at or exported
        # it is left out, so exporting again from the same data gives the same package
        events = []
        for target in (f"item:{item_id}", item_id):
            events += [e for e in self.audit.events(target=target, newest_first=False, limit=100000)
                       if "export" not in e.action and "view" not in e.action]
        events.sort(key=lambda e: e.seq)
        for event in events:
            self.times.append(datetime.fromisoformat(event.at))
        return [e.as_dict() for e in events]

    def _report_item(self, item: ReviewItem, captures: list[dict]) -> dict:
        listing, analysis = item.listing, item.analysis
        texts = listing.fields()
        claims = []
        for f in analysis.findings:
            text = texts.get(f.field)
            pieces = report.highlight(text, [(f.start, f.end)]) if text and text[f.start:f.end] == f.text \
                else [(f.text, True)]
            claims.append({"type": _label("claim_types", f.type), "rule_id": f.rule_id, "list_version": f.list_version,
                           "severity": _label("severities", f.severity), "field": f.field, "offset_s": f.offset_s,
                           "pieces": pieces, "legal_basis": f.legal_basis})
        checks = []
        for kind in ("licence", "health_reg"):
            verdict = getattr(analysis, kind)
            if verdict is None:
                continue
            idents = [f"{i.get('type', '')}：{i.get('raw') or i.get('value', '')}"
                      f"{'' if i.get('valid', True) else '（格式无效）'}" for i in verdict.identifiers]
            record = [(str(k), _short(v)) for k, v in (verdict.record or {}).items()]
            checks.append({"title": CHECK_TITLES[kind], "verdict": _label("verdicts", verdict.verdict), "identifiers": idents,
                           "record": record, "reasons": verdict.reasons})
        decisions = [{"at": _both_times(d.at), "user": d.user, "target": d.target, "action": d.action,
                      "reason_code": d.reason_code, "note": d.note} for d in item.review.decisions]
        return {"id": item.id, "platform": listing.platform, "kind_cn": KIND_CN.get(listing.kind, listing.kind),
                "url": listing.url, "item_id": listing.item_id, "shop_name": listing.shop.name,
                "operator_name": listing.shop.operator_name, "title": listing.title or listing.url or item.id,
                "captures": captures, "claims": claims, "checks": checks, "decisions": decisions}

    # -- package level -----------------------------------------------------------
    def _put(self, path: str, data: bytes, media_type: str = "application/json") -> None:
        if path in self.entries and self.entries[path] != data:
            raise ExportError(f"two different files would share the name {path}")
        self.entries[path] = data
        self.media[path] = media_type

    @property
    def created(self) -> datetime:
        known = [t if t.tzinfo else t.replace(tzinfo=timezone.utc) for t in self.times if t]
        return max(known).astimezone(timezone.utc).replace(microsecond=0)

    def finish(self) -> dict[str, bytes]:
        if not any(p.startswith("archive/") for p in self.entries):
            self._put("archive/case.warc.gz", _warcinfo(self.created, self.item_ids), "application/warc")
        warcs = {p.split("/", 1)[1]: d for p, d in self.entries.items() if p.startswith("archive/")}
        self._put(wacz.INDEX, wacz.cdxj_index(warcs), "application/cdxj")
        self._put(wacz.PAGES, wacz.pages_jsonl(self.pages), "application/jsonl")
        created = self.created
        self._put("case/case.json", wacz.canonical_json({
            "case_ref": self.case_ref, "bureau": self.settings.evidence.bureau, "officer": self.officer,
            "approver": self.approver, "items": self.item_ids, "created": created.isoformat(), "tool": tool_version(),
            "format": "WACZ " + wacz.WACZ_VERSION + " with Shian case files"}))
        listed = [{"path": p, "sha256": wacz.sha256(d), "bytes": len(d), "kind": FOLDER_LABELS.get(p.split("/")[0], "")}
                  for p, d in sorted(self.entries.items())]
        images = {p: (d, self.media[p]) for p, d in self.entries.items() if p.startswith("screenshots/")}
        context = {"case_ref": self.case_ref, "bureau": self.settings.evidence.bureau, "officer": self.officer,
                   "approver": self.approver,
                   "created_iso": created.strftime("%Y-%m-%dT%H:%M:%SZ"),
                   "created_utc": created.strftime("%Y-%m-%d %H:%M:%S"),
                   "created_cn": created.astimezone(BEIJING).strftime("%Y年%m月%d日 %H:%M:%S"),
                   "tool": tool_version(), "wacz_version": wacz.WACZ_VERSION, "items": self.report_items,
                   "files": listed, "report_path": REPORT_PATH,
                   "pdf_identifier": wacz.sha256("".join(f["sha256"] for f in listed).encode())[:32]}
        self._put(REPORT_PATH, report.render_pdf(context, images), "application/pdf")
        first = self.pages[0] if self.pages else None
        meta = {"title": f"案件 {self.case_ref} 电子数据" if self.case_ref else "电子数据",
                "software": tool_version()}
        if first:
            meta |= {"mainPageURL": first["url"], "mainPageDate": first["ts"]}
        self.entries[wacz.MANIFEST] = wacz.manifest(self.entries, created, meta)
        return self.entries


@lru_cache(maxsize=1)
def _labels() -> dict:
    path = get_settings().config_dir / "evidence" / "labels.yaml"
    if not path.exists():
        return {}
    return yaml.safe_load(path.read_text(encoding="utf-8")) or {}


def _label(group: str, code: str) -> str:
    """Chinese label with the code kept beside it, e.g. 已过有效期（expired）."""
    label = (_labels().get(group) or {}).get(code)
    return f"{label}（{code}）" if label else code


def _split_by_time(refs: list[EvidenceRef]) -> list[tuple[datetime | None, list[EvidenceRef]]]:
    """One capture's files share its captured_at; re-crawls append files with a later time."""
    groups: dict[str, list[EvidenceRef]] = {}
    whens: dict[str, datetime | None] = {}
    for ref in refs:
        key = ref.captured_at.isoformat() if ref.captured_at else ""
        groups.setdefault(key, []).append(ref)
        whens[key] = ref.captured_at
    return [(whens[k], groups[k]) for k in sorted(groups)]


def _report_capture(cap: _Capture, record: dict, steps: list, placed: dict, item: ReviewItem) -> dict:
    started = _time_of(record.get("started_at")) or cap.captured_at or item.listing.captured_at
    ended = _time_of(record.get("ended_at")) or started
    return {"label": cap.label, "started_utc": _fmt(started, timezone.utc), "started_bj": _fmt(started, BEIJING),
            "ended_utc": _fmt(ended, timezone.utc), "ended_bj": _fmt(ended, BEIJING),
            "url": _pick(record, "url") or item.listing.url,
            "host": _pick(record, "capture_host", "host", "hostname"),
            "ip": _pick(record, "capture_ip", "ip", "host_ip"),
            "user_agent": _pick(record, "user_agent"),
            "browser": _pick(record, "browser_version", "browser"),
            "tool": _tool_text(record.get("tool")) or _pick(record, "tool_version"),
            "config_hash": _pick(record, "config_hash"),
            "complete": bool(record.get("complete", item.listing.capture_complete)),
            "problem": _pick(record, "problem") or item.listing.capture_problem,
            "steps": [{"at": str(s.get("at", "")), "action": str(s.get("action", "")),
                       "detail": _short(s.get("detail", ""))} for s in steps if isinstance(s, dict)],
            "screenshots": [{"path": p, "sha256": r.sha256} for p, r, _ in placed.get("screenshot", [])],
            "videos": [{"path": p, "sha256": r.sha256, "bytes": len(d)} for p, r, d in placed.get("video", [])]}


def _pick(record: dict, *names: str) -> str:
    """First present value among names, looked up at the top level and one level down."""
    for name in names:
        if record.get(name) not in (None, ""):
            return _short(record[name])
    for value in record.values():
        if isinstance(value, dict):
            for name in names:
                if value.get(name) not in (None, ""):
                    return _short(value[name])
    return ""


def _short(value, limit: int = 400) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, sort_keys=True)
    return text if len(text) <= limit else text[:limit] + "…"


def _time_of(value) -> datetime | None:
    """A capture-record time: an ISO string or {"utc": ..., "beijing": ...}."""
    if isinstance(value, dict):
        value = value.get("utc") or value.get("beijing")
    return _parse_time(value) if isinstance(value, str) else None


def _tool_text(value) -> str:
    if isinstance(value, dict):
        versions = value.get("versions") or {}
        parts = [f"{k} {v}" for k, v in versions.items() if v] if isinstance(versions, dict) else []
        return "；".join([str(value.get("name", ""))] + parts) if parts else str(value.get("name", ""))
    return value if isinstance(value, str) else ""


def _parse_time(value: str) -> datetime | None:
    if not value:
        return None
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


def _fmt(when: datetime, tz) -> str:
    when = when if when.tzinfo else when.replace(tzinfo=timezone.utc)
    return when.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S")


def _both_times(when: datetime) -> str:
    return f"{_fmt(when, BEIJING)}（北京时间）"


def _warc_date(when: datetime) -> str:
    when = when if when.tzinfo else when.replace(tzinfo=timezone.utc)
    return when.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _ascii(text: str) -> str:
    return "".join(c if c.isascii() and (c.isalnum() or c in "-_") else "_" for c in text.lower()) or "file"


def _extension(ref: EvidenceRef, data: bytes, default: str) -> str:
    if ref.kind == "warc":
        return ".warc.gz" if data[:2] == b"\x1f\x8b" else ".warc"
    media = (ref.media_type or "").split(";")[0].strip().lower()
    guessed = {"image/jpeg": ".jpg", "text/html": ".html", "application/json": ".json", "video/mp2t": ".ts",
               "text/plain": ".txt"}.get(media) or (mimetypes.guess_extension(media) if media else None)
    if not guessed or media == "application/octet-stream":
        suffix = Path(ref.name).suffix.lower()
        guessed = suffix if suffix and _ascii(suffix[1:]) == suffix[1:] else default
    return guessed


def _load_json(data: bytes):
    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError):
        return None


def _first_page(warcs: list) -> tuple[str, str] | None:
    """URL and WARC-Date of the first page-like record: the capture's main page for the pages index."""
    fallback = None
    for _, _, data in warcs:
        try:
            for record in ArchiveIterator(io.BytesIO(data)):
                url = record.rec_headers.get_header("WARC-Target-URI") or ""
                date = record.rec_headers.get_header("WARC-Date") or ""
                if record.rec_type == "response" and url.startswith(("http://", "https://")):
                    return url, date
                if record.rec_type == "resource" and url and fallback is None:
                    fallback = (url, date)
        except Exception as exc:  # a damaged WARC is still evidence; it just gets no page entry
            log.warning("cannot read WARC for the pages index: %s", exc)
    return fallback


def _warcinfo(created: datetime, item_ids: list[str]) -> bytes:
    buf = io.BytesIO()
    writer = WARCWriter(buf, gzip=True)
    info = {"software": tool_version(), "format": "WARC File Format 1.1",
            "description": "no page was archived for these items: " + ", ".join(item_ids)}
    record = writer.create_warcinfo_record("case.warc.gz", info)
    record.rec_headers.replace_header("WARC-Record-ID", f"<urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, ','.join(item_ids))}>")
    record.rec_headers.replace_header("WARC-Date", _warc_date(created))
    writer.write_record(record)
    return buf.getvalue()
