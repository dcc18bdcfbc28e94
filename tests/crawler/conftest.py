"""Crawler tests run real crawls (child processes) against the demo platforms on 127.0.0.1."""
from __future__ import annotations

import shutil

import pytest

from shian.settings import CONFIG_DIR
from shian.store import open_store


@pytest.fixture(scope="session")
def dataset():
    from demo.seed import generate
    return generate(120, seed=11)


@pytest.fixture
def site_factory(dataset):
    from demo.sites import start_site
    sites = []

    def start(name, **kwargs):
        site = start_site(name, dataset, **kwargs)
        sites.append(site)
        return site

    yield start
    for site in sites:
        site.stop()


@pytest.fixture
def store(settings):
    s = open_store(settings)
    yield s
    s.close()


@pytest.fixture
def config_copy(settings, tmp_path):
    """A private copy of config/ (to add test platforms) that the crawl child also reads."""
    target = tmp_path / "config"
    shutil.copytree(CONFIG_DIR, target)
    settings.config_dir = target
    return target
