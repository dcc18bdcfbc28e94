"""Suite-wide fixtures: every test gets its own data dir, so nothing touches ./var."""
from __future__ import annotations

import pytest

from shian.settings import configure


@pytest.fixture(autouse=True)
def settings(tmp_path):
    """Fresh settings per test, data dir under the test's tmp_path, embedded store."""
    return configure(data_dir=tmp_path / "data", store="sqlite", secret_key="test-secret-key")


CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="session")
def browser():
    """One real Chromium (Debian's) for every browser test of the run.

    Playwright's sync API allows one driver per thread, so folders must share this
    rather than each start their own.
    """
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()
