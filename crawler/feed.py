"""`shian ingest FILE`: a platform's data feed (JSONL or CSV) through the one pipeline.

Rows use the flat listing schema of the evaluation set (id, platform, kind,
title, shop_name, operator_name, category, text, licence_text,
health_food_reg, price, url, region); labels and unknown columns are ignored.
A bad row is reported with its line number and reason and the rest are kept.
Each stored listing keeps its feed row and a capture record as evidence.
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Iterator
from zoneinfo import ZoneInfo

import click
from pydantic import ValidationError

from shian.models import Listing, utcnow
from shian.settings import get_settings

log = logging.getLogger(__name__)

FORMATS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl", ".csv": "csv"}
TEXT_COLUMNS = ("id", "item_id", "platform", "kind", "url", "title", "shop_name", "operator_name",
                "category", "text", "licence_text", "health_food_reg", "region")


class BadRow(ValueError):
    """A feed row that cannot become a listing; the message is the reason."""


@dataclass
class Report:
    path: str
    rows: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)   # created / changed / unchanged
    flagged: int = 0
    bad: list[tuple[int, str]] = field(default_factory=list)  # (line, reason)

    @property
    def stored(self) -> int:
        return sum(self.outcomes.values())

    def summary(self) -> dict:
        return {"file": self.path, "rows": self.rows, "stored": self.stored, **self.outcomes,
                "flagged": self.flagged, "bad": len(self.bad)}


def detect_format(path: Path, fmt: str | None = None) -> str:
    if fmt:
        return fmt
    try:
        return FORMATS[path.suffix.lower()]
    except KeyError:
        raise click.UsageError(f"cannot tell the format of {path.name}: use a .jsonl or .csv name, "
                               "or --format") from None


def read_jsonl(path: Path) -> Iterator[tuple[int, bytes, dict | BadRow]]:
    """(line, raw bytes, record or BadRow) for every non-blank line; each line decoded on its own."""
    with path.open("rb") as fh:
        for lineno, raw in enumerate(fh, 1):
            if lineno == 1 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]
            if not raw.strip():
                continue
            try:
                record = json.loads(raw.decode("utf-8"))
            except UnicodeDecodeError as exc:
                yield lineno, raw, BadRow(f"not UTF-8 ({exc.reason} at byte {exc.start})")
                continue
            except json.JSONDecodeError as exc:
                yield lineno, raw, BadRow(f"invalid JSON: {exc.msg} (column {exc.colno})")
                continue
            if not isinstance(record, dict):
                yield lineno, raw, BadRow(f"expected a JSON object, got {type(record).__name__}")
                continue
            yield lineno, raw, record


def read_csv(path: Path) -> Iterator[tuple[int, bytes, dict | BadRow]]:
    """CSV with a header row of the listing columns; line numbers are where each record starts."""
    try:
        content = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise click.ClickException(f"{path}: not UTF-8 (byte {exc.start}); save the CSV as UTF-8") from None
    reader = csv.DictReader(io.StringIO(content, newline=""))
    header = reader.fieldnames or []
    if not {"title", "text"} & set(header):
        raise click.ClickException(f"{path}: the header has neither a title nor a text column "
                                   f"(found: {', '.join(header) or 'nothing'})")
    start = 2
    for row in reader:
        lineno, start = start, reader.line_num + 1
        raw = _csv_line(header, row)
        if None in row:                       # more cells than header columns
            yield lineno, raw, BadRow(f"{len(header) + len(row[None])} cells for {len(header)} columns")
            continue
        if any(v is None for v in row.values()):
            yield lineno, raw, BadRow(f"fewer cells than the {len(header)} columns")
            continue
        if not any(v.strip() for v in row.values()):
            continue
        yield lineno, raw, row


def _csv_line(header: list[str], row: dict) -> bytes:
    """The row as a one-record CSV with its header, so the evidence file reads on its own."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    cells = [row.get(h) or "" for h in header] + list(row.get(None) or [])
    writer.writerow(cells)
    return out.getvalue().encode("utf-8")


def to_listing(record: dict, default_platform: str) -> Listing:
    """A listing from one feed record, or BadRow saying what is wrong with it."""
    rec = {k: v for k, v in record.items() if k is not None}
    for key in TEXT_COLUMNS:
        value = rec.get(key)
        if value is not None and not isinstance(value, str):
            if isinstance(value, (int, float)) and not isinstance(value, bool) and key in ("id", "item_id"):
                rec[key] = str(value)
            else:
                raise BadRow(f"{key} must be text, got {type(value).__name__}")
    price = rec.get("price")
    if isinstance(price, str):
        price = price.strip().lstrip("¥￥").replace(",", "")
        try:
            rec["price"] = float(price) if price else None
        except ValueError:
            raise BadRow(f"price is not a number: {record.get('price')!r}") from None
    elif price is not None and (isinstance(price, bool) or not isinstance(price, (int, float))):
        raise BadRow(f"price is not a number: {price!r}")
    if not rec.get("platform"):
        rec["platform"] = default_platform
    if not rec.get("kind"):
        rec["kind"] = "listing"
    if not (rec.get("id") or rec.get("item_id") or rec.get("url")):
        raise BadRow("no id, item_id or url: the listing could not be told apart from others")
    if not ((rec.get("title") or "").strip() or (rec.get("text") or "").strip()):
        raise BadRow("empty listing: no title and no text")
    try:
        return Listing.from_record(rec)
    except ValidationError as exc:
        reasons = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'row'}: {e['msg']}" for e in exc.errors())
        raise BadRow(reasons) from None


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def attach_evidence(listing: Listing, files, raw: bytes, fmt: str, source: Path, source_sha: str,
                    lineno: int, when: datetime) -> None:
    """The feed row itself and a capture record saying where it came from."""
    media = "application/json" if fmt == "jsonl" else "text/csv"
    ext = "json" if fmt == "jsonl" else "csv"
    row = files.put(raw, kind="body", media_type=media, name=f"feed-{source.stem}-line{lineno}.{ext}",
                    captured_at=when)
    from importlib.metadata import version as dist_version
    version = dist_version("shian")
    record = {"source": "feed", "file": source.name, "file_sha256": source_sha, "line": lineno,
              "format": fmt, "platform": listing.platform, "item_id": listing.item_id, "url": listing.url,
              "started_at": when.isoformat(),
              "started_at_local": when.astimezone(ZoneInfo(get_settings().timezone)).isoformat(),
              "tool": {"name": "shian ingest", "version": version},
              "complete": True, "problem": ""}
    capture = files.put(json.dumps(record, ensure_ascii=False, indent=1).encode(), kind="capture",
                        media_type="application/json", name=f"capture-feed-line{lineno}.json",
                        captured_at=when)
    listing.evidence = [*listing.evidence, row, capture]


def ingest_file(path: Path, pipeline=None, fmt: str | None = None, platform: str = "feed") -> Report:
    """Run every good row of a feed file through the pipeline; bad rows go into the report."""
    from shian.evidence.files import EvidenceFiles
    from shian.pipeline import Pipeline
    from shian.store import StoreError

    path = Path(path)
    fmt = detect_format(path, fmt)
    rows = read_jsonl(path) if fmt == "jsonl" else read_csv(path)
    settings = get_settings()
    files = EvidenceFiles(settings.evidence_dir)
    source_sha = file_sha256(path)
    own = pipeline is None
    pipeline = pipeline or Pipeline(settings)
    report = Report(str(path))
    try:
        for lineno, raw, record in rows:
            report.rows += 1
            try:
                if isinstance(record, BadRow):
                    raise record
                listing = to_listing(record, platform)
            except BadRow as exc:
                report.bad.append((lineno, str(exc)))
                continue
            when = utcnow()
            listing.captured_at = when
            attach_evidence(listing, files, raw, fmt, path, source_sha, lineno, when)
            try:
                result = pipeline.process(listing)
            except StoreError as exc:
                raise click.ClickException(
                    f"{path}:{lineno}: the store failed ({exc}); {report.stored} rows before this line "
                    "are stored, run the same file again to continue (re-runs do not duplicate)") from exc
            except Exception as exc:  # an analysis bug must not drop the rest of the feed
                log.exception("%s:%d: analysis failed", path, lineno)
                report.bad.append((lineno, f"analysis failed: {type(exc).__name__}: {exc}"))
                continue
            report.outcomes[result.outcome] = report.outcomes.get(result.outcome, 0) + 1
            report.flagged += bool(result.item.analysis.flagged)
    finally:
        if own:
            pipeline.close()
    return report


@click.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv"]),
              help="Feed format (default: from the file name, .jsonl or .csv).")
@click.option("--platform", default="feed", show_default=True,
              help="Platform name for rows that do not give one.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def ingest(file: Path, fmt: str | None, platform: str, as_json: bool) -> None:
    """Take a platform data feed (JSONL or CSV, listing schema) through the analysis pipeline.

    Bad rows are reported as FILE:LINE: reason and skipped; every other row
    is analysed and stored. Exits with status 1 when any row was bad.
    """
    report = ingest_file(file, fmt=fmt, platform=platform)
    for lineno, reason in report.bad:
        click.echo(f"{file}:{lineno}: skipped: {reason}", err=True)
    summary = report.summary()
    if as_json:
        click.echo(json.dumps(summary, ensure_ascii=False))
    else:
        click.echo(f"{file}: {report.rows} rows, {report.stored} stored "
                   f"({summary.get('created', 0)} new, {summary.get('changed', 0)} changed, "
                   f"{summary.get('unchanged', 0)} unchanged), {report.flagged} flagged, "
                   f"{len(report.bad)} bad")
    if report.bad:
        raise SystemExit(1)
