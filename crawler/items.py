"""What spiders yield besides shian.models.Listing."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass
class TakenDown:
    """A stored listing seen gone (404, 410, "已下架"): the store records when it was first seen gone."""
    listing_id: str
    url: str
    when: datetime
    reason: str
    key: str = ""                    # the done-journal key of the request that saw it
