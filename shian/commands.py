"""Core subcommands: analyze (the evaluation contract), items, rescan."""
from __future__ import annotations

import json
import sys
from datetime import date

import click

from shian.settings import get_settings


def _parse_date(value: str | None) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise click.BadParameter(f"expected YYYY-MM-DD, got {value!r}") from exc


def prediction(record_id: str, analysis) -> dict:
    """One line of `shian analyze` output, in the shape ../shared/eval/score.py reads."""
    return {
        "id": record_id,
        "claims": [f.model_dump(mode="json") for f in analysis.findings],
        "licence_verdict": analysis.licence.verdict if analysis.licence else None,
        "health_reg_verdict": analysis.health_reg.verdict if analysis.health_reg else None,
        "product_kind": analysis.product_kind,
        "product_kind_source": analysis.product_kind_source,
        "risk": analysis.risk,
        "licence": analysis.licence.model_dump(mode="json") if analysis.licence else None,
        "health_reg": analysis.health_reg.model_dump(mode="json") if analysis.health_reg else None,
    }


@click.command()
@click.argument("listings", type=click.File("r", encoding="utf-8"))
@click.option("--as-of", help="Judge dates as of this day (YYYY-MM-DD; default today).")
def analyze(listings, as_of: str | None) -> None:
    """Analyse listings (JSONL, eval/feed schema) and print one JSON verdict per line.

    Uses the registry already imported into --data-dir, and exactly the
    crawler pipeline's analysis code.
    """
    import matcher
    import nlp
    from shian.models import Listing
    from shian.pipeline import analyze as analyze_listing
    from shian.store import open_store

    day = _parse_date(as_of)
    store = open_store(get_settings())
    registry = matcher.Registry.load(store)
    nlp.load()
    bad = 0
    for lineno, line in enumerate(listings, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            listing = Listing.from_record(record)
        except (ValueError, TypeError) as exc:
            bad += 1
            click.echo(f"{listings.name}:{lineno}: skipped, not a listing: {exc}", err=True)
            continue
        out = prediction(record.get("id") or listing.id, analyze_listing(listing, registry, as_of=day))
        sys.stdout.write(json.dumps(out, ensure_ascii=False) + "\n")
    store.close()
    if bad:
        raise SystemExit(1)


@click.group()
def items() -> None:
    """Stored items."""


def item_summary(item) -> dict:
    a = item.analysis
    return {
        "id": item.id, "platform": item.listing.platform, "kind": item.listing.kind,
        "url": item.listing.url, "title": item.listing.title, "status": item.review.status,
        "findings": [{"type": f.type, "text": f.text, "field": f.field, "severity": f.severity,
                      "rule_id": f.rule_id} for f in a.findings],
        "licence_verdict": a.licence.verdict if a.licence else None,
        "health_reg_verdict": a.health_reg.verdict if a.health_reg else None,
        "risk": a.risk, "evidence_files": len(item.listing.evidence),
        "taken_down_at": item.taken_down_at.isoformat() if item.taken_down_at else None,
        "last_seen": item.last_seen.isoformat(),
    }


@items.command("list")
@click.option("--flagged", is_flag=True, help="Only items with findings or verdict problems.")
@click.option("--platform", multiple=True, help="Only these platforms.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@click.option("--limit", type=int, default=0, help="Stop after N items (0: all).")
def list_items(flagged: bool, platform: tuple[str, ...], as_json: bool, limit: int) -> None:
    """List stored items, highest risk first."""
    from shian.store import Query, open_store

    store = open_store(get_settings())
    query = Query(flagged_only=flagged, filters={"platform": list(platform)} if platform else {},
                  sort="risk", size=500)
    try:
        for shown, item in enumerate(iter_items(store, query), 1):
            row = item_summary(item)
            if as_json:
                click.echo(json.dumps(row, ensure_ascii=False))
            else:
                types = ",".join(sorted({f["type"] for f in row["findings"]})) or "-"
                click.echo(f"{row['id']}  {row['platform']:5s} {row['status']:9s} risk={row['risk']:<6} "
                           f"licence={row['licence_verdict']}  {types}  {row['title'][:40]}")
            if limit and shown >= limit:
                break
    finally:
        store.close()


def iter_items(store, query):
    """Every item the query matches, page by page with search_after."""
    while True:
        page = store.search(query)
        yield from page.items
        if page.next_after is None:
            return
        query.after = page.next_after


@click.command()
@click.option("--platform", multiple=True, help="Only items of these platforms.")
def rescan(platform: tuple[str, ...]) -> None:
    """Re-analyse every stored item with the current keyword lists and registry."""
    from shian.rescan import rescan_store
    from shian.store import open_store

    store = open_store(get_settings())
    with click.progressbar(length=store.count(), label="re-scanning") as bar:
        report = rescan_store(store, platforms=set(platform) or None, progress=bar.update)
    click.echo(json.dumps(report, ensure_ascii=False))
    store.close()
