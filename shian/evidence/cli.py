"""`shian evidence export|verify|timestamp`."""
from __future__ import annotations

import sys
from pathlib import Path

import click

from shian.settings import get_settings


@click.group()
def evidence() -> None:
    """Evidence packages for case files (WACZ + 电子数据提取笔录 PDF + RFC 3161 timestamp)."""


@evidence.command()
@click.argument("item_ids", nargs=-1, required=True)
@click.option("-o", "--output", "output", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Package file to write (.zip / .wacz); never overwritten.")
@click.option("--officer", required=True, help="Who exports (recorded in the package and the audit log).")
@click.option("--case-ref", default="", help="Case reference (案件编号) printed in the report.")
@click.option("--tsa", "tsa_urls", multiple=True, help="TSA URL (repeatable); default settings.evidence.tsa_urls.")
def export(item_ids: tuple[str, ...], output: Path, officer: str, case_ref: str, tsa_urls: tuple[str, ...]) -> None:
    """Write one evidence package for ITEM_IDS."""
    from shian.evidence.package import ExportError, export_package
    from shian.store import StoreError, open_store

    settings = get_settings()
    try:
        store = open_store(settings)
    except StoreError as exc:
        raise click.ClickException(f"store unavailable: {exc}") from exc
    try:
        result = export_package(store, list(item_ids), output, officer, case_ref=case_ref, settings=settings,
                                tsa_urls=list(tsa_urls) or None)
    except ExportError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        store.close()
    click.echo(f"已导出 / exported {len(result.items)} items: {result.path}")
    click.echo(f"  files {result.files}, {result.bytes} bytes, manifest sha256 {result.manifest_sha256}")
    click.echo(f"  package sha256 {result.package_sha256}")
    if result.timestamp == "granted":
        click.echo("  时间戳已加盖 / RFC 3161 timestamp added")
    else:
        click.echo("  时间戳待加盖 / timestamp PENDING" +
                   (": " + "; ".join(result.timestamp_problems) if result.timestamp_problems else
                    " (no TSA configured)") + " — run `shian evidence timestamp` later")


@evidence.command()
@click.argument("package", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--require-timestamp", is_flag=True, help="Also fail when no timestamp has been added yet.")
@click.option("--trust-root", "trust_roots", multiple=True, type=click.Path(exists=True, dir_okay=False),
              help="PEM file of a trusted TSA root (repeatable); default settings.evidence.tsa_trusted_roots.")
def verify(package: Path, require_timestamp: bool, trust_roots: tuple[str, ...]) -> None:
    """Check every file of PACKAGE against its manifest, the manifest digest and the timestamps."""
    from shian.evidence.timestamp import TimestampError, load_roots
    from shian.evidence.verify import verify_package

    try:
        settings = get_settings()
        configured = [str(settings.config_dir / p) for p in settings.evidence.tsa_trusted_roots]  # abs stays abs
        roots = load_roots(list(trust_roots) or configured) or None
    except TimestampError as exc:
        raise click.ClickException(str(exc)) from exc
    result = verify_package(package, roots)
    for line in result.lines():
        click.echo(line)
    if not result.intact or (require_timestamp and not result.timestamps):
        sys.exit(1)


@evidence.command()
@click.argument("package", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--tsa", "tsa_urls", multiple=True, help="TSA URL (repeatable); default settings.evidence.tsa_urls.")
def timestamp(package: Path, tsa_urls: tuple[str, ...]) -> None:
    """Add an RFC 3161 timestamp to PACKAGE (its manifest and files stay as they are)."""
    from shian.evidence.package import ExportError, add_timestamp

    urls = list(tsa_urls) or get_settings().evidence.tsa_urls
    try:
        stamp = add_timestamp(package, urls)
    except ExportError as exc:
        raise click.ClickException(str(exc)) from exc
    from shian.audit import open_audit
    open_audit(get_settings()).append("cli", "evidence.timestamp", f"package:{package.name}",
                                      {"tsa_url": stamp["tsa_url"], "gen_time": stamp["gen_time"]})
    click.echo(f"时间戳已加盖 / timestamp added: {stamp['gen_time']} from {stamp['tsa_url']}")
