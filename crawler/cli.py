"""`shian crawl PLATFORM`: one crawl, in its own process, with its stats printed."""
from __future__ import annotations

import json

import click


@click.command()
@click.argument("platform")
@click.option("--base-url", help="Base URL of the platform (replaces {base_url} in its start URLs).")
@click.option("--run-id", help="Resume this run (a killed crawl continues where it stopped). Default: a new run.")
@click.option("--max-items", type=click.IntRange(1), help="Stop after N items.")
@click.option("--timeout", type=float, help="Kill the crawl after this many seconds.")
def crawl(platform: str, base_url: str | None, run_id: str | None, max_items: int | None,
          timeout: float | None) -> None:
    """Crawl PLATFORM (config/platforms/PLATFORM.yaml) through the pipeline into the store."""
    from crawler.platforms import PlatformError
    from crawler.run import run_crawl

    try:
        stats = run_crawl(platform, base_url=base_url, run_id=run_id, max_items=max_items, timeout=timeout)
    except PlatformError as exc:
        raise click.UsageError(str(exc)) from exc
    click.echo(json.dumps(stats, ensure_ascii=False, indent=1))
    if stats.get("returncode"):
        raise SystemExit(stats["returncode"])
