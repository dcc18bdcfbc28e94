"""`shian store status|migrate`: the search-engine store's indices and their mapping version."""
from __future__ import annotations

import click

from shian.settings import get_settings
from shian.store.base import StoreError
from shian.store.engine import Auth, Missing
from shian.store.search import MAPPING, MAPPING_VERSION, SearchStore


def _search_store() -> SearchStore:
    settings = get_settings()
    if settings.store != "search":
        raise click.ClickException("the store is SQLite (it migrates itself on open); "
                                   "use --store search or SHIAN_STORE=search for the search engine")
    return SearchStore(settings.search_url, prefix=settings.search_index_prefix, auth=Auth.from_settings(settings))


@click.group("store")
def store() -> None:
    """The search-engine store: mapping versions and migrations."""


@store.command()
def status() -> None:
    """Print each alias, the indices behind it and whether they are on this code's mapping version."""
    search = _search_store()
    try:
        for name in MAPPING:
            alias = search.alias(name)
            try:
                indices = sorted(search.engine.call("indices.get_alias", name=alias))
            except Missing:
                indices = []
            except StoreError as exc:
                raise click.ClickException(str(exc)) from exc
            current = indices == [f"{alias}-v{MAPPING_VERSION}"]
            state = "current" if current else ("absent" if not indices else f"needs migrate to v{MAPPING_VERSION}")
            click.echo(f"{alias}: {', '.join(indices) or '-'} ({state})")
    finally:
        search.close()


@store.command()
@click.option("--keep-old", is_flag=True, help="Keep the old indices after the alias moved (default: delete).")
def migrate(keep_old: bool) -> None:
    """Copy indices on an older mapping into -vN, then move the alias in one atomic step.

    Writes to an index being copied are refused until its alias has moved; searches keep working.
    """
    search = _search_store()
    try:
        outcome = search.migrate(say=lambda m: click.echo(m, err=True), keep_old=keep_old)
    except StoreError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        search.close()
    for alias, what in outcome.items():
        click.echo(f"{alias}: {what}")


if __name__ == "__main__":   # `python -m shian.store.cli migrate` until `shian store` is wired into shian.cli
    store()
