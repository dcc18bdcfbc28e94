"""Records that travel between the stages (see ARCHITECTURE.md, "Records").

Every stage imports these; none of them knows about any store or spider.
Pydantic models so they serialise to JSON for the stores and the API.
"""
from __future__ import annotations

import hashlib
from datetime import datetime, timezone
from typing import Any, Literal

from pydantic import BaseModel, Field

Kind = Literal["listing", "live"]


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def listing_id(platform: str, item_id: str) -> str:
    """Stable id: the same platform item always maps to the same id."""
    return hashlib.sha256(f"{platform}\x1f{item_id}".encode()).hexdigest()[:20]


class Shop(BaseModel):
    name: str = ""
    operator_name: str = ""          # the legal operator the shop declares
    licence_text: str = ""           # licence info shown as text
    licence_images: list[str] = []   # evidence sha256 (or URL) of licence images
    url: str = ""
    region: str = ""                 # 辖区, e.g. 新郑市


class EvidenceRef(BaseModel):
    """A file kept content-addressed under DATA_DIR/evidence (see shian.evidence.files)."""
    sha256: str
    kind: str                        # body, screenshot, html, headers, warc, steps, video, image, capture
    media_type: str = "application/octet-stream"
    size: int = 0
    name: str = ""                   # a human file name for exports
    captured_at: datetime | None = None


class Segment(BaseModel):
    """A line of a live room: host caption, pinned or viewer comment."""
    offset_s: float                  # seconds on the room's own clock when the platform shows one, else since the watch began
    source: Literal["caption", "pinned", "comment", "card"] = "caption"
    speaker: str = ""
    text: str


class Listing(BaseModel):
    id: str = ""
    platform: str
    kind: Kind = "listing"
    url: str = ""
    item_id: str = ""
    shop: Shop = Field(default_factory=Shop)
    title: str = ""
    text: str = ""                   # page text (for live: the transcript as rendered text)
    price: float | None = None
    category: str = ""               # category as the page states it, if it does
    health_food_reg: str = ""        # registration number as displayed
    images: list[str] = []
    ocr: dict[str, str] = {}         # image sha256/url -> text read from it
    segments: list[Segment] = []     # live rooms only
    shelf: list[str] = []            # live rooms: ids of the shelf Listings
    captured_at: datetime = Field(default_factory=utcnow)
    content_hash: str = ""
    evidence: list[EvidenceRef] = []
    capture_complete: bool = True
    capture_problem: str = ""        # why a capture is incomplete (login wall, truncated...)

    def model_post_init(self, _ctx: Any) -> None:
        if not self.id:
            self.id = listing_id(self.platform, self.item_id or self.url)
        if not self.content_hash:
            self.content_hash = self.compute_hash()

    def compute_hash(self) -> str:
        """Hash of what the seller controls; evidence and capture time excluded."""
        parts = [self.title, self.text, self.shop.name, self.shop.operator_name,
                 self.shop.licence_text, self.health_food_reg, self.category,
                 "" if self.price is None else f"{self.price:.2f}",
                 *sorted(self.ocr.values()), *(s.text for s in self.segments)]
        return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()

    def fields(self) -> dict[str, str]:
        """Every text field a claim can live in, by field name.

        Field names are what findings cite: title, text, licence_text,
        shop_name, operator_name, ocr:<image>.
        """
        out = {"title": self.title, "text": self.text, "licence_text": self.shop.licence_text,
               "health_food_reg": self.health_food_reg}
        for key, value in self.ocr.items():
            out[f"ocr:{key}"] = value
        return {k: v for k, v in out.items() if v}

    @classmethod
    def from_record(cls, rec: dict) -> "Listing":
        """Build from the flat listing schema of the eval set / platform feeds."""
        shop = Shop(name=rec.get("shop_name", ""), operator_name=rec.get("operator_name", ""),
                    licence_text=rec.get("licence_text", "") or "", region=rec.get("region", ""))
        item_id = str(rec.get("item_id") or rec.get("id") or rec.get("url") or "")
        return cls(id=str(rec.get("id") or ""), platform=rec.get("platform", "feed"),
                   kind=rec.get("kind", "listing"), url=rec.get("url", ""), item_id=item_id,
                   shop=shop, title=rec.get("title", "") or "", text=rec.get("text", "") or "",
                   category=rec.get("category", "") or "",
                   health_food_reg=rec.get("health_food_reg", "") or "",
                   price=rec.get("price"))


class Finding(BaseModel):
    type: str                        # disease_claim, health_function_on_ordinary_food, ...
    rule_id: str
    list_version: str = ""
    field: str = "text"
    start: int                       # offsets into the original (un-normalised) field text
    end: int
    text: str                        # original text of the span
    normalized: str = ""             # what the rule matched after normalisation
    severity: Literal["low", "medium", "high"] = "medium"
    legal_basis: str = ""
    evasion: list[str] = []          # how the text was disguised, e.g. ["traditional", "separator"]
    offset_s: float | None = None    # live captions: seconds into the room

    @property
    def key(self) -> str:
        """Stable name of this finding, so decisions survive a re-scan that adds or drops others."""
        return f"{self.rule_id}@{self.field}:{self.start}-{self.end}"


class Verdict(BaseModel):
    kind: Literal["licence", "health_reg"]
    verdict: str
    identifiers: list[dict] = []     # {"type", "value", "raw", "field", "start", "end", "valid"}
    record: dict | None = None       # the registry record compared with
    candidates: list[dict] = []      # closest registry records by name, with scores
    reasons: list[str] = []          # plain Chinese for the reviewer


class Analysis(BaseModel):
    findings: list[Finding] = []
    licence: Verdict | None = None
    health_reg: Verdict | None = None
    product_kind: str = ""           # 普通食品, 保健食品, ...
    product_kind_source: str = ""    # how it was inferred
    risk: float = 0.0
    analyzed_at: datetime = Field(default_factory=utcnow)

    def finding(self, key: str) -> Finding | None:
        """The finding a decision target "finding:<key>" names, if it is still there."""
        key = key.removeprefix("finding:")
        return next((f for f in self.findings if f.key == key), None)

    @property
    def flagged(self) -> bool:
        return bool(self.findings) or (self.licence is not None and self.licence.verdict != "ok") or \
            (self.health_reg is not None and self.health_reg.verdict not in ("ok", "n/a"))


class Decision(BaseModel):
    target: str                      # "finding:<Finding.key>", "licence", "health_reg", "item"
    action: Literal["confirm", "dismiss", "need_info", "escalate", "approve", "reject"]
    reason_code: str = ""
    note: str = ""
    user: str
    at: datetime = Field(default_factory=utcnow)
    batch_id: str = ""


class ReviewState(BaseModel):
    status: Literal["new", "claimed", "decided", "escalated", "closed", "clean"] = "new"
    assignee: str = ""
    lease_until: datetime | None = None
    due: datetime | None = None
    outcome: str = ""                # violation, no_violation, need_info
    decisions: list[Decision] = []


class ReviewItem(BaseModel):
    """What the store keeps: a listing, its analysis and its review state."""
    id: str
    listing: Listing
    analysis: Analysis = Field(default_factory=Analysis)
    review: ReviewState = Field(default_factory=ReviewState)
    first_seen: datetime = Field(default_factory=utcnow)
    last_seen: datetime = Field(default_factory=utcnow)
    taken_down_at: datetime | None = None
    history: list[dict] = []         # earlier content hashes: {"content_hash", "captured_at", "evidence"}
    version: str = ""                # store-assigned compare-and-set token ("" = never stored)

    @classmethod
    def new(cls, listing: Listing, analysis: Analysis) -> "ReviewItem":
        state = ReviewState(status="new" if analysis.flagged else "clean")
        return cls(id=listing.id, listing=listing, analysis=analysis, review=state,
                   first_seen=listing.captured_at, last_seen=listing.captured_at)
