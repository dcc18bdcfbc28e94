"""Fixtures for the demo-platform tests: a small dataset, running sites, real Chromium."""
from __future__ import annotations

import pytest

from demo.seed import generate
from demo.sites import start_site


@pytest.fixture(scope="session")
def dataset():
    return generate(400, seed=11)


@pytest.fixture
def shop_site(dataset):
    with start_site("shop", dataset) as site:
        yield site


