"""The `shian` command. Each stage owns its subcommands; this file only wires them.

Subcommands are imported lazily so `shian --help` stays fast and a stage's
heavy imports (spaCy, Scrapy, Playwright) load only when that stage runs.
"""
from __future__ import annotations

import importlib
import logging
from pathlib import Path

import click

from shian.settings import configure

# command name -> "module:attribute" of a click command or group
COMMANDS = {
    "analyze": "shian.commands:analyze",
    "items": "shian.commands:items",
    "demo": "demo.cli:demo",
    "crawl": "crawler.cli:crawl",
    "scheduler": "crawler.scheduler:scheduler",
    "ingest": "crawler.feed:ingest",
    "capture": "crawler.tipoff:capture",
    "registry": "matcher.cli:registry",
    "keywords": "nlp.cli:keywords",
    "rescan": "shian.commands:rescan",
    "users": "review_ui.cli:users",
    "serve": "review_ui.cli:serve",
    "evidence": "shian.evidence.cli:evidence",
    "search-node": "shian.searchnode:search_node",
    "store": "shian.store.cli:store",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx):
        return sorted(COMMANDS)

    def get_command(self, ctx, name):
        target = COMMANDS.get(name)
        if target is None:
            return None
        module, _, attr = target.partition(":")
        return getattr(importlib.import_module(module), attr)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), envvar="SHIAN_DATA_DIR",
              help="Where the embedded store and evidence files live (default ./var).")
@click.option("--store", type=click.Choice(["sqlite", "search"]), envvar="SHIAN_STORE",
              help="sqlite (embedded, default) or search (Elasticsearch/OpenSearch at SHIAN_SEARCH_URL).")
@click.option("-v", "--verbose", is_flag=True, help="Log debug messages.")
@click.version_option(package_name="shian")
def main(data_dir: Path | None, store: str | None, verbose: bool) -> None:
    """Shian (食安网巡): watch online food listings for food-safety regulators."""
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    configure(data_dir=data_dir, store=store)
