"""Helpers for the nlp tests: listings built the way the crawler and feeds build them."""
from __future__ import annotations

import pytest

from shian.models import Listing


@pytest.fixture
def listing():
    def make(text: str, category: str = "普通食品", title: str = "", kind: str = "listing", reg: str = "",
             **extra) -> Listing:
        return Listing(platform="shop", kind=kind, item_id="t1", title=title, text=text, category=category,
                       health_food_reg=reg, **extra)
    return make
