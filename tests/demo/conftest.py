"""Fixtures for the demo-platform tests: a small dataset, running sites, real Chromium."""
from __future__ import annotations

import pytest

from demo.seed import generate
from demo.sites import start_site

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="session")
def dataset():
    return generate(400, seed=11)


@pytest.fixture
def shop_site(dataset):
    with start_site("shop", dataset) as site:
        yield site


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        yield b
        b.close()
