"""Suite-wide fixtures: every test gets its own data dir, so nothing touches ./var."""
from __future__ import annotations

import pytest

from shian.settings import configure


@pytest.fixture(autouse=True)
def settings(tmp_path):
    """Fresh settings per test, data dir under the test's tmp_path, embedded store."""
    return configure(data_dir=tmp_path / "data", store="sqlite", secret_key="test-secret-key")
