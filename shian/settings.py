"""The one settings object: config/settings.yaml, overridden by SHIAN_* environment variables.

Nothing else in the code base reads the environment. Nested values use a
double underscore: SHIAN_CRAWL__CONCURRENCY=4.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

ROOT = Path(__file__).resolve().parent.parent
CONFIG_DIR = ROOT / "config"


class CrawlSettings(BaseModel):
    user_agent: str = "ShianBot/0.1 (+food-safety monitoring; contact: ops@example.invalid)"
    concurrency: int = 8
    concurrency_per_domain: int = 4
    browser_pages: int = 4
    context_max_pages: int = 100
    timeout_s: int = 30
    closespider_timeout_s: int = 3600
    memusage_limit_mb: int = 3072
    max_page_bytes: int = 10 * 1024 * 1024
    chromium_path: str = "/usr/bin/chromium"
    screenshots: bool = True
    live_window_s: float = 20.0
    ocr_processes: int = 2           # licence images read in parallel (each process one core, ~0.5 s an image)
    scrapyd_url: str = ""            # empty: run crawls as local processes
    # tip-off captures (crawler.tipoff): hosts, IPs, networks or "non-public" (loopback, private,
    # link-local, ...) refused by resolved address; tipoff_allow lets listed ones through
    tipoff_deny: list[str] = ["non-public"]
    tipoff_allow: list[str] = []


class ReviewSettings(BaseModel):
    lease_s: int = 600
    due_hours: dict[str, int] = {"high": 24, "medium": 72, "low": 168, "live": 12}
    four_eyes: bool = True
    bulk_cap: int = 500
    login_attempts_per_minute: int = 10


class EvidenceSettings(BaseModel):
    tsa_urls: list[str] = []
    tsa_trusted_roots: list[str] = []   # PEM files; `evidence verify` requires a token chain to end at one
    bureau: str = "示例市市场监督管理局"
    signing_key: str = ""            # path to a PEM key; empty: no signature


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SHIAN_", env_nested_delimiter="__", extra="ignore")

    data_dir: Path = Path("var")
    store: Literal["sqlite", "search"] = "sqlite"
    search_url: str = "http://127.0.0.1:9200"
    search_index_prefix: str = "shian"
    # search-engine credentials and TLS; secrets come from SHIAN_SEARCH_PASSWORD / SHIAN_SEARCH_API_KEY
    search_username: str = ""
    search_password: str = ""
    search_api_key: str = ""         # Elasticsearch/OpenSearch API key (the base64 "id:key" form)
    search_ca_certs: str = ""        # PEM bundle to trust for an https:// search_url
    search_verify_certs: bool = True
    secret_key: str = ""             # Flask session key; required by `shian serve` outside demo/test
    timezone: str = "Asia/Shanghai"
    config_dir: Path = CONFIG_DIR
    crawl: CrawlSettings = CrawlSettings()
    review: ReviewSettings = ReviewSettings()
    evidence: EvidenceSettings = EvidenceSettings()

    @classmethod
    def settings_customise_sources(cls, settings_cls, init_settings, env_settings, dotenv_settings,
                                   file_secret_settings):
        return (init_settings, env_settings, YamlSource(settings_cls))

    @property
    def evidence_dir(self) -> Path:
        return self.data_dir / "evidence"

    @property
    def sqlite_path(self) -> Path:
        return self.data_dir / "shian.sqlite3"


class YamlSource(PydanticBaseSettingsSource):
    """config/settings.yaml: the lowest-priority source, below SHIAN_* variables and explicit overrides."""

    def __call__(self) -> dict[str, Any]:
        path = CONFIG_DIR / "settings.yaml"
        if not path.exists():
            return {}
        return yaml.safe_load(path.read_text(encoding="utf-8")) or {}

    def get_field_value(self, field, field_name):  # pragma: no cover - required by the ABC
        return None, field_name, False


_current: Settings | None = None


def get_settings() -> Settings:
    """The process-wide settings; the CLI replaces them with configure()."""
    global _current
    if _current is None:
        _current = Settings()
    return _current


def configure(**overrides: Any) -> Settings:
    """Rebuild settings with explicit overrides (e.g. --data-dir from the CLI)."""
    global _current
    _current = Settings(**{k: v for k, v in overrides.items() if v is not None})
    return _current
