"""`shian demo`: the three demo platforms, one crawl each into the data dir, then the review UI."""
from __future__ import annotations

import json
import logging
import secrets
from contextlib import ExitStack

import click

from shian.settings import get_settings

log = logging.getLogger(__name__)

PLATFORMS = ("shop", "spa", "live")
DEMO_USER = "demo"


def run_demo_crawls(listings: int, seed: int, stack: ExitStack, room_seconds: float = 8.0) -> dict:
    """Start the sites, import their registry, crawl each once. Sites stay up until `stack` closes."""
    from crawler import run_crawl
    from demo.seed import generate
    from demo.sites import start_site
    from matcher import import_registry
    from shian.store import open_store

    settings = get_settings()
    dataset = generate(listings, seed)
    store = open_store(settings)
    stack.callback(store.close)
    registry_dir = settings.data_dir / "demo-registry"
    registry_dir.mkdir(parents=True, exist_ok=True)
    licences, health_foods = dataset.write_registry(registry_dir)
    import_registry(store, licences=licences, health_foods=health_foods, progress=False)

    summary = {}
    for name in PLATFORMS:
        site = start_site(name, dataset, room_seconds=room_seconds)
        stack.callback(site.stop)
        click.echo(f"demo platform {name}: {site.url}")
        summary[name] = run_crawl(name, base_url=site.url, data_dir=settings.data_dir)
    return summary


def count_items(store) -> dict:
    from shian.store import Query
    page = store.search(Query(flagged_only=False, size=1, facets=("platform",)))
    flagged = store.search(Query(flagged_only=True, size=1, facets=("platform",)))
    return {"items": page.total, "flagged": flagged.total,
            "flagged_by_platform": flagged.facets.get("platform", {})}


@click.command()
@click.option("--once", is_flag=True, help="Crawl each demo platform once, print a summary and exit.")
@click.option("--listings", type=click.IntRange(100, 100_000), default=200, show_default=True,
              help="Listings in the generated demo dataset.")
@click.option("--seed", type=int, default=7, show_default=True, help="Seed of the generated dataset.")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=5000, show_default=True)
def demo(once: bool, listings: int, seed: int, host: str, port: int) -> None:
    """Run the demo: platforms on localhost, one crawl each, then serve the review UI."""
    from shian.store import open_store

    settings = get_settings()
    with ExitStack() as stack:
        crawls = run_demo_crawls(listings, seed, stack)
        store = open_store(settings)
        counts = count_items(store)
        store.close()
        click.echo(json.dumps({"crawls": crawls, **counts}, ensure_ascii=False, default=str, indent=1))
        if once:
            return
        from review_ui import create_app
        from review_ui.cli import serve_app
        from shian.users import Users

        password = secrets.token_urlsafe(9)
        users = Users(settings.data_dir)
        if users.get(DEMO_USER) is None:
            users.add(DEMO_USER, role="lead", password=password)
        else:
            users.set_password(DEMO_USER, password)
        # the demo platforms live on 127.0.0.1, which tip-off captures refuse by default
        settings.crawl.tipoff_allow = [*settings.crawl.tipoff_allow, "127.0.0.1"]
        serve_app(create_app(settings), host, port, banner=f"login: {DEMO_USER} / {password}")
