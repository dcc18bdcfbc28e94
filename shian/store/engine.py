"""The one module that knows which search engine is on the other end.

GET / tells OpenSearch from Elasticsearch; the matching official client is
used (opensearch-py, or elasticsearch 8.x). Both accept the same REST bodies
through `body=`, so everything above this module is engine-neutral: it calls
`Engine.call("index", ...)` and sees plain dicts and three exceptions:
VersionConflict, Missing, and StoreError (unreachable or refused).
"""
from __future__ import annotations

import base64
import json
import logging
import ssl
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

from shian.store.base import StoreError

log = logging.getLogger(__name__)

RETRY_STATUS = {429, 502, 503, 504}  # overloaded or restarting: worth another try


class _ExpectedStatus(logging.Filter):
    """opensearch-py warns about every 404/409; for us those are answers (Missing, VersionConflict)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args if isinstance(record.args, tuple) else ()
        return not (len(args) >= 3 and str(args[2]) in ("404", "409"))


logging.getLogger("opensearch").addFilter(_ExpectedStatus())


class VersionConflict(Exception):
    """if_seq_no/if_primary_term (or op_type=create) lost."""


class Missing(Exception):
    """Document or index not found."""


@dataclass(frozen=True)
class Auth:
    """How to reach a secured cluster: basic auth or an API key, and which certificates to trust."""
    username: str = ""
    password: str = ""
    api_key: str = ""                # the base64 "id:key" form both engines issue
    ca_certs: str = ""
    verify_certs: bool = True

    @classmethod
    def from_settings(cls, settings: Any) -> "Auth":
        return cls(settings.search_username, settings.search_password, settings.search_api_key,
                   settings.search_ca_certs, settings.search_verify_certs)

    def header(self) -> dict[str, str]:
        """The Authorization header (the API key wins when both are set)."""
        if self.api_key:
            return {"Authorization": f"ApiKey {self.api_key}"}
        if self.username:
            token = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
            return {"Authorization": f"Basic {token}"}
        return {}

    def ssl_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=self.ca_certs or None)
        if not self.verify_certs:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context

    def client_options(self, distribution: str) -> dict[str, Any]:
        """Keyword arguments for the official client of `distribution`."""
        options: dict[str, Any] = {}
        if distribution == "opensearch":
            if self.api_key:
                options["headers"] = self.header()
            elif self.username:
                options["http_auth"] = (self.username, self.password)
        elif self.api_key:
            options["api_key"] = self.api_key
        elif self.username:
            options["basic_auth"] = (self.username, self.password)
        if self.ca_certs:
            options["ca_certs"] = self.ca_certs
        if not self.verify_certs:
            options["verify_certs"] = False
            options["ssl_show_warn"] = False
        return options


def detect(url: str, timeout: float = 10.0, auth: Auth = Auth()) -> dict:
    """The server's own answer to GET /: {"distribution": ..., "number": ...}."""
    request = urllib.request.Request(url.rstrip("/") + "/", headers=auth.header())
    context = auth.ssl_context() if url.startswith("https:") else None
    try:
        with urllib.request.urlopen(request, timeout=timeout, context=context) as resp:
            info = json.load(resp)
    except urllib.error.HTTPError as exc:
        if exc.code in (401, 403):
            raise StoreError(f"search engine at {url} refused the credentials (HTTP {exc.code}); "
                             "set SHIAN_SEARCH_USERNAME/SHIAN_SEARCH_PASSWORD or SHIAN_SEARCH_API_KEY") from exc
        raise StoreError(f"search engine at {url} answered HTTP {exc.code}") from exc
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise StoreError(f"search engine at {url} is unreachable: {exc}") from exc
    version = info.get("version", {})
    return {"distribution": version.get("distribution", "elasticsearch"), "number": version.get("number", "")}


class Engine:
    def __init__(self, url: str, retries: int = 4, backoff_s: float = 0.25, timeout_s: float = 30.0,
                 auth: Auth = Auth()):
        self.url = url
        self.retries = retries
        self.backoff_s = backoff_s
        info = detect(url, auth=auth)
        self.distribution, self.version = info["distribution"], info["number"]
        if self.distribution == "opensearch":
            import opensearchpy
            from opensearchpy import exceptions as exc
            # our own retry loop below does backoff; the client's would retry without waiting
            self.client = opensearchpy.OpenSearch(hosts=[url], timeout=timeout_s, max_retries=0,
                                                  **auth.client_options(self.distribution))
            self._conflict, self._missing = exc.ConflictError, exc.NotFoundError
            self._unreachable = (exc.ConnectionError, exc.ConnectionTimeout)
            self._api_error = exc.TransportError
        else:
            if not self.version.startswith("8."):
                raise StoreError(f"{url} runs Elasticsearch {self.version}; Shian speaks to Elasticsearch 8")
            import elastic_transport
            import elasticsearch
            self.client = elasticsearch.Elasticsearch(url, request_timeout=timeout_s, max_retries=0,
                                                      **auth.client_options(self.distribution))
            self._conflict, self._missing = elasticsearch.ConflictError, elasticsearch.NotFoundError
            self._unreachable = (elastic_transport.TransportError,)
            self._api_error = elasticsearch.ApiError
        log.debug("search engine %s %s at %s", self.distribution, self.version, url)

    def call(self, api: str, **kwargs: Any) -> dict:
        """Call a client API by dotted name ("search", "indices.create") with retries and backoff."""
        target: Any = self.client
        for part in api.split("."):
            target = getattr(target, part)
        for attempt in range(self.retries + 1):
            try:
                resp = target(**kwargs)
                return getattr(resp, "body", resp)
            except self._conflict as exc:
                raise VersionConflict(str(exc)) from None
            except self._missing as exc:
                raise Missing(str(exc)) from None
            except self._unreachable as exc:
                problem: Exception = exc
            except self._api_error as exc:
                if _status(exc) not in RETRY_STATUS:
                    raise StoreError(f"search engine refused {api}: {_reason(exc)}") from None
                problem = exc
            if attempt < self.retries:
                delay = self.backoff_s * 2 ** attempt
                log.warning("search engine %s failed (%s); retrying in %.2fs", api, problem, delay)
                time.sleep(delay)
        raise StoreError(f"search engine at {self.url} is unreachable or overloaded ({api}): {problem}")


def _status(exc: Exception) -> Any:
    return getattr(exc, "status_code", None) or getattr(getattr(exc, "meta", None), "status", None)


def _reason(exc: Exception) -> str:
    info = getattr(exc, "info", None) or getattr(exc, "body", None)
    if isinstance(info, dict) and isinstance(info.get("error"), dict):
        err = info["error"]
        return f"{err.get('type')}: {err.get('reason')}"
    return str(exc)[:500]
