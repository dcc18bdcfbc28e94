"""Import official registry exports (CSV or XLSX, English or Chinese headers) into the store.

Bad rows are reported with file, line and reason and never stop the good
ones. Records are upserted by number, so importing the same file twice
leaves the same registry. The import is recorded in store meta "registry"
(when, which file, its sha256, counts) and its new stamp tells running
pipelines to reload.
"""
from __future__ import annotations

import csv
import hashlib
import io
import re
import unicodedata
import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

from tqdm import tqdm

from matcher.identifiers import extract, licence_number, normalize_number
from matcher.records import NO_END, parse_date, split_functions

BATCH = 5000

# canonical field -> accepted headers (compared after NFKC, without spaces, brackets' contents kept)
LICENCE_HEADERS = {
    "licence_no": ["licence_no", "license_no", "许可证编号", "备案编号", "登记证编号", "许可证号", "编号"],
    "holder_name": ["holder_name", "经营者名称", "生产者名称", "食品生产者名称", "企业名称", "主体名称", "名称"],
    "credit_code": ["credit_code", "社会信用代码", "统一社会信用代码", "社会信用代码(身份证号码)", "统一社会信用代码(身份证号码)"],
    "legal_rep": ["legal_rep", "法定代表人", "法定代表人(负责人)", "负责人"],
    "address": ["address", "住所"],
    "premises": ["premises", "经营场所", "生产地址"],
    "business_type": ["business_type", "主体业态"],
    "scope": ["scope", "经营项目", "食品类别", "经营种类"],
    "valid_from": ["valid_from", "有效期自", "发证日期", "签发日期", "备案日期"],
    "valid_until": ["valid_until", "有效期至", "有效期限"],
    "status": ["status", "状态"],
    "issuer": ["issuer", "发证机关", "备案机关"],
}
HEALTH_HEADERS = {
    "reg_no": ["reg_no", "注册号/备案号", "注册号", "备案号", "批准文号", "注册证号", "备案登记号"],
    "product_name": ["product_name", "产品名称"],
    "registrant": ["registrant", "注册人", "备案人", "注册人/备案人", "申请人", "备案人名称"],
    "functions": ["functions", "保健功能", "功能"],
    "valid_until": ["valid_until", "有效期至"],
    "status": ["status", "状态"],
}
REQUIRED = {"licence": ("licence_no", "holder_name"), "health_food": ("reg_no", "product_name")}
KEYS = {"licence": "licence_no", "health_food": "reg_no"}


class ImportFileError(Exception):
    """The whole file cannot be used (unreadable, or the required columns are missing)."""


@dataclass
class BadRow:
    file: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.reason}"


@dataclass
class FileReport:
    kind: str
    file: str
    sha256: str = ""
    rows: int = 0
    imported: int = 0
    bad: list[BadRow] = field(default_factory=list)
    error: str = ""                  # set when the whole file was refused


@dataclass
class ImportReport:
    files: list[FileReport] = field(default_factory=list)
    stamp: str = ""
    loaded_at: str = ""
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def bad_rows(self) -> list[BadRow]:
        return [b for f in self.files for b in f.bad]

    @property
    def failed(self) -> bool:
        return any(f.error for f in self.files)

    def as_dict(self) -> dict:
        return asdict(self)


def _header_key(text) -> str:
    t = unicodedata.normalize("NFKC", str(text or "")).strip().lower()
    return re.sub(r"[\s*]", "", t)


def _map_headers(row: list, kind: str) -> dict[int, str]:
    table = LICENCE_HEADERS if kind == "licence" else HEALTH_HEADERS
    lookup = {_header_key(alias): name for name, aliases in table.items() for alias in aliases}
    out: dict[int, str] = {}
    for col, cell in enumerate(row):
        name = lookup.get(_header_key(cell))
        if name and name not in out.values():
            out[col] = name
    return out


def _rows(path: Path, data: bytes) -> Iterator[tuple[int, list]]:
    """(line number as a person counts it, cells) for CSV or XLSX."""
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        from openpyxl import load_workbook
        try:
            book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        except Exception as exc:  # openpyxl raises many kinds for a broken file
            raise ImportFileError(f"{path}: 不是可读取的XLSX文件：{exc}") from exc
        try:
            for n, row in enumerate(book.worksheets[0].iter_rows(values_only=True), 1):
                yield n, ["" if c is None else c for c in row]
        finally:
            book.close()
        return
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise ImportFileError(f"{path}: 无法识别的文本编码（应为UTF-8或GB18030）")
    for n, row in enumerate(csv.reader(io.StringIO(text, newline="")), 1):
        yield n, row


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, datetime):
        return value
    return str(value).strip()         # kept as the registry wrote it; comparisons normalise


def _date_field(rec: dict, name: str, raw) -> None:
    try:
        d = parse_date(raw)
    except ValueError as exc:
        raise ValueError(f"{name}: {exc}") from None
    rec[name] = d.isoformat() if d else ""


def licence_record(raw: dict) -> dict:
    """A validated licence record with canonical keys; ValueError says what is wrong."""
    number, problem = licence_number(str(raw.get("licence_no") or ""))
    if not number:
        raise ValueError("许可证编号为空")
    if problem:
        raise ValueError(f"许可证编号{number}格式不正确：{problem}")
    holder = str(raw.get("holder_name") or "").strip()
    if not holder:
        raise ValueError("经营者名称为空")
    rec = {"licence_no": number, "holder_name": holder}
    for name in ("credit_code", "legal_rep", "address", "premises", "business_type", "scope", "status", "issuer"):
        rec[name] = str(raw.get(name) or "").strip()
    rec["credit_code"] = rec["credit_code"].upper()
    _date_field(rec, "valid_from", raw.get("valid_from"))
    _date_field(rec, "valid_until", raw.get("valid_until"))
    if number.startswith("YB") and not rec["valid_until"]:
        rec["valid_until"] = NO_END.isoformat()          # filings have no end date
    if not rec["valid_until"]:
        raise ValueError("有效期至为空")
    if rec["valid_from"] and rec["valid_from"] > rec["valid_until"]:
        raise ValueError(f"有效期起始{rec['valid_from']}晚于有效期至{rec['valid_until']}")
    return rec


def health_record(raw: dict) -> dict:
    number = normalize_number(str(raw.get("reg_no") or ""))
    if not number:
        raise ValueError("注册号/备案号为空")
    found = [i for i in extract({"n": number}) if i.group == "health"]
    if not found or not found[0].valid or found[0].value != number:
        problem = found[0].problem if found else "不是国食健注/国食健字/卫食健字/食健备编号"
        raise ValueError(f"注册号/备案号{number}格式不正确：{problem}")
    product = str(raw.get("product_name") or "").strip()
    if not product:
        raise ValueError("产品名称为空")
    rec = {"reg_no": number, "product_name": product, "registrant": str(raw.get("registrant") or "").strip(),
           "functions": split_functions(str(raw.get("functions") or "")), "status": str(raw.get("status") or "").strip()}
    _date_field(rec, "valid_until", raw.get("valid_until"))
    if not rec["valid_until"] and number.startswith("食健备"):
        rec["valid_until"] = NO_END.isoformat()
    return rec


def read_file(path: Path, kind: str, progress: bool = True) -> tuple[FileReport, list[dict]]:
    """Parse and validate one registry file; the report lists every refused row."""
    report = FileReport(kind=kind, file=str(path))
    try:
        data = path.read_bytes()
    except OSError as exc:
        report.error = f"{path}: 无法读取：{exc.strerror or exc}"
        return report, []
    report.sha256 = hashlib.sha256(data).hexdigest()
    build = licence_record if kind == "licence" else health_record
    records: dict[str, dict] = {}
    columns: dict[int, str] = {}
    bar = tqdm(desc=f"{kind} {path.name}", unit="行", disable=not progress, leave=False)
    try:
        for line, row in _rows(path, data):
            bar.update()
            if not columns:
                # Official exports may put a title above the header row: take the first row naming the keys.
                columns = _map_headers(row, kind)
                if not set(REQUIRED[kind]) <= set(columns.values()):
                    columns = {}
                    if line >= 10:
                        raise ImportFileError(f"{path}: 前10行中找不到表头（需要" +
                                              "、".join(REQUIRED[kind]) + "对应的列）")
                continue
            if not any(str(c).strip() for c in row):
                continue
            report.rows += 1
            raw = {name: _cell(row[col]) if col < len(row) else "" for col, name in columns.items()}
            try:
                rec = build(raw)
            except ValueError as exc:
                report.bad.append(BadRow(str(path), line, str(exc)))
                continue
            records[rec[KEYS[kind]]] = rec          # a number repeated in one file: the last row wins
    except ImportFileError as exc:
        report.error = str(exc)
        return report, []
    finally:
        bar.close()
    if not columns and not report.error:
        report.error = f"{path}: 文件为空或没有表头"
    return report, list(records.values())


def import_registry(store, licences: Path | None = None, health_foods: Path | None = None,
                    progress: bool = True) -> ImportReport:
    """Import either or both registry files into the store and record the import in meta."""
    report = ImportReport(stamp=uuid.uuid4().hex, loaded_at=datetime.now(timezone.utc).isoformat())
    meta = store.get_meta("registry") or {}
    sources = dict(meta.get("sources", {}))
    for kind, path in (("licence", licences), ("health_food", health_foods)):
        if path is None:
            continue
        file_report, records = read_file(Path(path), kind, progress=progress)
        report.files.append(file_report)
        if file_report.error:
            continue
        with tqdm(total=len(records), desc=f"写入{kind}", unit="条", disable=not progress, leave=False) as bar:
            for start in range(0, len(records), BATCH):
                chunk = records[start:start + BATCH]
                file_report.imported += store.put_registry(kind, chunk, key=KEYS[kind])
                bar.update(len(chunk))
        sources[kind] = {"file": str(Path(path).resolve()), "sha256": file_report.sha256,
                         "rows": file_report.rows, "imported": file_report.imported,
                         "bad_rows": len(file_report.bad), "loaded_at": report.loaded_at}
    if any(not f.error for f in report.files):
        report.counts = {kind: sum(1 for _ in store.registry(kind)) for kind in ("licence", "health_food")}
        store.put_meta("registry", {"stamp": report.stamp, "loaded_at": report.loaded_at,
                                    "sources": sources, "counts": report.counts})
    return report
