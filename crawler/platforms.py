"""Platforms as configuration: config/platforms/<name>.yaml -> Platform.

A platform of a known shape is a new YAML file; `spider` names the spider
class that knows the shape (listing: list pages -> item pages).
Selectors are strings: CSS by default, "xpath:..." for XPath, "json:..." for a
JMESPath into the JSON the page fetched (browser pages) or returned (API pages).
"""
from __future__ import annotations

import hashlib
from pathlib import Path
from urllib.parse import urlsplit

import yaml
from pydantic import BaseModel, ConfigDict, Field

from shian.settings import get_settings

Selector = str | list[str]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Rate(Strict):
    concurrency_per_domain: int | None = None   # None: settings.crawl.concurrency_per_domain
    download_delay_s: float = 0.0
    autothrottle: bool = True
    autothrottle_target: float = 4.0
    autothrottle_start_delay_s: float = 0.5
    autothrottle_max_delay_s: float = 30.0
    retry_times: int = 3
    max_retry_after_s: float = 120.0            # cap on a server's Retry-After


class Browser(Strict):
    lists: bool = False                          # list pages need a browser
    items: bool = False                          # item pages need a browser
    wait_for: str = ""                           # selector that says the page has its data
    scroll_until: str = ""                       # infinite scroll: scroll until this selector exists
    max_scrolls: int = 500
    screenshot: bool = True
    block_resources: list[str] = ["font", "media"]
    block_hosts: list[str] = []                  # tracker hosts (suffix match)


class ListApi(Strict):
    """List pages that are a JSON API (start_urls are its first pages): read without a browser."""
    items: str                                   # JMESPath: item page URLs (relative or absolute)
    next_cursor: str = ""                        # JMESPath: the next page's cursor; null = last page
    cursor_param: str = "cursor"                 # query parameter the cursor goes into


class Lists(Strict):
    follow: list[str] = []                       # links to more list pages (categories, next page)
    items: list[str] = []                        # links to item pages
    api: ListApi | None = None                   # lists are JSON (items and follow are then unused)


class ShopFields(Strict):
    id: Selector = ""
    name: Selector = ""
    url: Selector = ""
    operator_name: Selector = ""
    licence_text: Selector = ""
    licence_image: Selector = ""


class Removed(Strict):
    status: list[int] = [404, 410]
    selectors: list[str] = []
    text: list[str] = ["该商品已下架"]


class Incomplete(Strict):
    login_wall: list[str] = ["请登录后查看", "登录后查看更多"]
    required: list[str] = ["title"]              # item fields that must not be empty


class Item(Strict):
    id_from_url: str = r"/item/(?P<id>[^/?#]+)"
    fields: dict[str, Selector] = {}             # title, text, price, category, health_food_reg, images
    shop: ShopFields = Field(default_factory=ShopFields)
    api: str = ""                                # browser pages: URL substring of the JSON the json: fields read
    removed: Removed = Field(default_factory=Removed)
    incomplete: Incomplete = Field(default_factory=Incomplete)


class Platform(Strict):
    name: str
    title: str = ""
    spider: str = "listing"
    base_url: str = ""                           # default when no --base-url is given
    start_urls: list[str]
    allowed_domains: list[str] = []              # empty: the hosts of start_urls
    region: str = ""
    schedule: str = ""                           # cron expression (the scheduler reads it)
    rate: Rate = Field(default_factory=Rate)
    browser: Browser = Field(default_factory=Browser)
    lists: Lists = Field(default_factory=Lists)
    item: Item = Field(default_factory=Item)
    live: dict = {}                              # live-room platforms: their spider's own options
    config_hash: str = ""                        # sha256 of the YAML file as read

    @property
    def needs_browser(self) -> bool:
        return self.browser.lists or self.browser.items

    def domains(self) -> list[str]:
        return self.allowed_domains or sorted({urlsplit(u).hostname for u in self.start_urls if u})


class PlatformError(ValueError):
    pass


def platforms_dir() -> Path:
    return get_settings().config_dir / "platforms"


def list_platforms() -> list[str]:
    return sorted(p.stem for p in platforms_dir().glob("*.yaml"))


def load_platform(name: str, base_url: str | None = None) -> Platform:
    """Read config/platforms/<name>.yaml; {base_url} in URLs becomes base_url (or the file's default)."""
    path = platforms_dir() / f"{name}.yaml"
    if not path.is_file():
        raise PlatformError(f"unknown platform {name!r}: no {path} (known: {', '.join(list_platforms())})")
    raw = path.read_bytes()
    try:
        data = yaml.safe_load(raw) or {}
        data["config_hash"] = hashlib.sha256(raw).hexdigest()
        platform = Platform(**data)
    except (yaml.YAMLError, TypeError, ValueError) as exc:
        raise PlatformError(f"{path}: {exc}") from exc
    base = (base_url or platform.base_url).rstrip("/")
    if any("{base_url}" in u for u in platform.start_urls) and not base:
        raise PlatformError(f"platform {name!r} needs --base-url (its start URLs use {{base_url}})")
    platform.base_url = base
    platform.start_urls = [u.replace("{base_url}", base) for u in platform.start_urls]
    return platform
