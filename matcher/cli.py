"""`shian registry import|status`: load the official licence and health-food registries."""
from __future__ import annotations

import json
from pathlib import Path

import click

from shian.settings import get_settings

SHOW_BAD = 50   # bad rows printed one per line; the rest are counted


@click.group()
def registry() -> None:
    """Licence and health-food registries used for matching."""


@registry.command("import")
@click.option("--licences", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Food licence registry export (CSV or XLSX; English or Chinese headers).")
@click.option("--health-foods", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Health-food registration/filing registry export (CSV or XLSX).")
@click.option("--progress/--no-progress", default=True, help="Show a progress bar.")
@click.option("--json", "as_json", is_flag=True, help="Print the import report as JSON.")
def import_cmd(licences: Path | None, health_foods: Path | None, progress: bool, as_json: bool) -> None:
    """Import registry files. Bad rows are listed (file:line: reason); good rows are kept.

    Re-importing a file is idempotent: records are keyed by their number.
    """
    from matcher.importer import import_registry
    from shian.store import open_store

    if not licences and not health_foods:
        raise click.UsageError("give --licences FILE and/or --health-foods FILE")
    store = open_store(get_settings())
    try:
        report = import_registry(store, licences=licences, health_foods=health_foods, progress=progress)
    finally:
        store.close()
    if as_json:
        click.echo(json.dumps(report.as_dict(), ensure_ascii=False))
    else:
        for f in report.files:
            if f.error:
                click.echo(f"refused {f.file}: {f.error}", err=True)
                continue
            click.echo(f"{f.kind}: {f.file}: {f.rows} rows, {f.imported} imported, {len(f.bad)} bad "
                       f"(sha256 {f.sha256[:12]})")
            for bad in f.bad[:SHOW_BAD]:
                click.echo(f"  bad row {bad}", err=True)
            if len(f.bad) > SHOW_BAD:
                click.echo(f"  ... and {len(f.bad) - SHOW_BAD} more bad rows (use --json for all)", err=True)
        if report.counts:
            click.echo("registry now holds: " + ", ".join(f"{k} {v}" for k, v in report.counts.items()))
    if report.failed:
        raise SystemExit(1)


@registry.command("status")
@click.option("--json", "as_json", is_flag=True)
def status(as_json: bool) -> None:
    """When and from which files the registry was loaded, and how many records it holds."""
    from shian.store import open_store

    store = open_store(get_settings())
    try:
        meta = store.get_meta("registry")
    finally:
        store.close()
    if as_json:
        click.echo(json.dumps(meta or {}, ensure_ascii=False))
        return
    if not meta:
        click.echo("no registry imported yet (shian registry import --licences FILE --health-foods FILE)")
        return
    click.echo(f"last import: {meta.get('loaded_at')} (stamp {meta.get('stamp')})")
    for kind, count in meta.get("counts", {}).items():
        click.echo(f"{kind}: {count} records")
    for kind, src in meta.get("sources", {}).items():
        click.echo(f"  {kind} from {src['file']} (sha256 {src['sha256']}), loaded {src['loaded_at']}: "
                   f"{src['rows']} rows, {src['imported']} imported, {src['bad_rows']} bad")
