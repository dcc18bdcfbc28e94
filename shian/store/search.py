"""The production store: OpenSearch or Elasticsearch 8 (shian.store.engine picks the client).

Layout per prefix P: index templates P-items, P-registry, P-meta (mapping.json)
and versioned indices P-items-v1 ... behind the aliases P-items ... . Documents
carry the ReviewItem unindexed under `item` plus the derived fields of
shian.store.fields. Versions are "seq_no:primary_term"; every write of a stored
item is conditional (if_seq_no/if_primary_term), a new one is op_type=create.
Chinese substring search: bigram ngram field + match_phrase (one character:
the unigram sub-field).
"""
from __future__ import annotations

import json
import threading
from datetime import datetime
from pathlib import Path
from typing import Any, Iterable, Iterator

from shian.models import ReviewItem
from shian.store import fields
from shian.store.base import (TOTAL_BOUND, BulkError, Conflict, NotFound, Page, Query, Store, StoreError,
                              UpsertResult)
from shian.store.engine import Engine, Missing, VersionConflict

MAPPING = json.loads((Path(__file__).with_name("mapping.json")).read_text(encoding="utf-8"))
SORTS = {"risk": [{"risk": "desc"}, {"id": "asc"}], "due": [{"due_ms": "asc"}, {"id": "asc"}],
         "time": [{"last_seen_ms": "desc"}, {"id": "asc"}]}
BULK_CHUNK = 1000
ATTEMPTS = 5                         # conditional-write retries for our own read-modify-write loops


class SearchStore(Store):
    def __init__(self, url: str, prefix: str = "shian", version: int = 1, retries: int = 4):
        self.url = url
        self.retries = retries
        self.prefix = prefix
        self.index_version = version
        self._engine: Engine | None = None
        self._lock = threading.Lock()
        self._ready: set[str] = set()

    # -- setup -----------------------------------------------------------------
    def alias(self, name: str) -> str:
        return f"{self.prefix}-{name}"

    @property
    def engine(self) -> Engine:
        """Connect on first use, so a store can be opened while the node is still down."""
        if self._engine is None:
            with self._lock:
                if self._engine is None:
                    self._engine = Engine(self.url, retries=self.retries)
        return self._engine

    def index(self, name: str) -> str:
        """The alias to use for items/registry/meta; template and first index are set up on first use."""
        alias = self.alias(name)
        if name in self._ready:
            return alias
        engine = self.engine
        with self._lock:
            if name not in self._ready:
                self._setup(engine, name)
                self._ready.add(name)
        return alias

    def _setup(self, engine: Engine, name: str) -> None:
        alias = self.alias(name)
        try:
            engine.call("indices.get_alias", name=alias)
            return
        except Missing:
            pass
        engine.call("indices.put_index_template", name=alias, body={
            "index_patterns": [f"{alias}-v*"], "priority": 100, "template": MAPPING[name]})
        try:
            engine.call("indices.create", index=f"{alias}-v{self.index_version}",
                        body={"aliases": {alias: {"is_write_index": True}}})
        except StoreError as exc:
            if "resource_already_exists" not in str(exc):   # another process won the race
                raise

    def destroy(self) -> None:
        """Delete this prefix's indices and templates (tests, and `shian` demo resets)."""
        engine = self.engine
        for name in MAPPING:
            alias = self.alias(name)
            try:   # concrete names: Elasticsearch 8 refuses wildcard deletes by default
                indices = list(engine.call("indices.get_alias", name=alias))
                engine.call("indices.delete", index=",".join(indices))
            except Missing:
                pass
            try:
                engine.call("indices.delete_index_template", name=alias)
            except Missing:
                pass
        self._ready.clear()

    # -- documents ---------------------------------------------------------------
    @staticmethod
    def _source(item: ReviewItem) -> dict:
        return {"id": item.id, "item": item.model_dump(mode="json", exclude={"version"}),
                "f": fields.filter_terms(item), "flagged": fields.flagged(item),
                "risk": float(item.analysis.risk), "due_ms": fields.due_ms(item),
                "last_seen_ms": fields.epoch_ms(item.last_seen), "body": fields.body(item)}

    @staticmethod
    def _version(hit: dict) -> str:
        return f"{hit['_seq_no']}:{hit['_primary_term']}"

    def _from_hit(self, hit: dict) -> ReviewItem:
        return fields.from_json(hit["_source"]["item"], self._version(hit))

    @staticmethod
    def _cas(version: str) -> dict:
        try:
            seq, term = version.split(":")
            return {"if_seq_no": int(seq), "if_primary_term": int(term)}
        except ValueError:
            raise VersionConflict(f"not a version token: {version!r}") from None

    def _get_or_none(self, item_id: str) -> ReviewItem | None:
        try:
            hit = self.engine.call("get", index=self.index("items"), id=item_id)
        except Missing:
            return None
        return self._from_hit(hit) if hit.get("found") else None

    def _write(self, item: ReviewItem, expect: str | None) -> ReviewItem:
        """Create (expect None) or compare-and-set index; VersionConflict if someone got there first."""
        kwargs = {"op_type": "create"} if expect is None else self._cas(expect)
        resp = self.engine.call("index", index=self.index("items"), id=item.id, body=self._source(item), **kwargs)
        return item.model_copy(update={"version": self._version(resp)})

    # -- items -------------------------------------------------------------------
    def upsert(self, item: ReviewItem) -> UpsertResult:
        for _ in range(ATTEMPTS):
            stored = self._get_or_none(item.id)
            try:
                if stored is None:
                    return UpsertResult(self._write(item, None), "created")
                merged, outcome = fields.merge_recrawl(stored, item)
                return UpsertResult(self._write(merged, stored.version), outcome)
            except VersionConflict:
                continue
        raise StoreError(f"item {item.id} kept changing under the upsert; try again")

    def upsert_many(self, items: Iterable[ReviewItem]) -> list[UpsertResult]:
        results: list[UpsertResult] = []
        failures: dict[str, str] = {}
        chunk: list[ReviewItem] = []
        for item in items:
            chunk.append(item)
            if len(chunk) >= BULK_CHUNK:
                self._bulk_upsert(chunk, results, failures)
                chunk = []
        if chunk:
            self._bulk_upsert(chunk, results, failures)
        if failures:
            raise BulkError(failures, results)
        return results

    def _bulk_upsert(self, chunk: list[ReviewItem], results: list[UpsertResult],
                     failures: dict[str, str]) -> None:
        for item in chunk:
            if len(item.id.encode()) > 512:     # the engine would refuse the whole request
                failures[item.id] = "id longer than 512 bytes"
        chunk = [i for i in chunk if i.id not in failures]
        if not chunk:
            return
        ids = list(dict.fromkeys(i.id for i in chunk))
        found = self.engine.call("mget", index=self.index("items"), body={"ids": ids})["docs"]
        state: dict[str, tuple[ReviewItem, str | None]] = {}   # id -> (latest state, stored version)
        for doc in found:
            if doc.get("found"):
                stored = self._from_hit(doc)
                state[doc["_id"]] = (stored, stored.version)
        outcomes: list[tuple[ReviewItem, str]] = []
        for item in chunk:                   # duplicates in one chunk merge in order
            if item.id in state:
                merged, outcome = fields.merge_recrawl(state[item.id][0], item)
                state[item.id] = (merged, state[item.id][1])
            else:
                merged, outcome = item, "created"
                state[item.id] = (item, None)
            outcomes.append((merged, outcome))
        ops: list[dict] = []
        for item_id in ids:
            latest, expect = state[item_id]
            action = {"create": {"_id": item_id}} if expect is None else \
                {"index": {"_id": item_id, **self._cas(expect)}}
            ops += [action, self._source(latest)]
        resp = self.engine.call("bulk", index=self.index("items"), body=ops)
        written: dict[str, str] = {}
        retry: set[str] = set()
        for entry in resp["items"]:
            op = next(iter(entry.values()))
            if op.get("status", 500) < 300:
                written[op["_id"]] = self._version(op)
            elif op.get("status") == 409:
                retry.add(op["_id"])           # changed since the mget: merge again one by one
            else:
                failures[op["_id"]] = json.dumps(op.get("error"), ensure_ascii=False)[:500]
        for merged, outcome in outcomes:
            if merged.id in written:
                results.append(UpsertResult(merged.model_copy(update={"version": written[merged.id]}), outcome))
        for item in chunk:
            if item.id in retry:
                try:
                    results.append(self.upsert(item))
                except StoreError as exc:
                    failures[item.id] = str(exc)

    def get(self, item_id: str) -> ReviewItem:
        item = self._get_or_none(item_id)
        if item is None:
            raise NotFound(f"no item {item_id}")
        return item

    def replace(self, item: ReviewItem) -> ReviewItem:
        try:
            return self._write(item, item.version)
        except VersionConflict:
            current = self._get_or_none(item.id)
            if current is None:
                raise NotFound(f"no item {item.id}") from None
            raise Conflict(item.id, current) from None

    def mark_taken_down(self, item_id: str, when: datetime) -> None:
        for _ in range(ATTEMPTS):
            stored = self.get(item_id)
            if stored.taken_down_at is not None:
                return
            stored.taken_down_at = when
            try:
                self._write(stored, stored.version)
                return
            except VersionConflict:
                continue
        raise StoreError(f"item {item_id} kept changing; takedown not recorded, try again")

    def _scan(self, index: str, query: dict, sort: list, source: Any) -> Iterator[dict]:
        """Every hit of a query, paged with search_after."""
        after = None
        while True:
            body = {"query": query, "sort": sort, "size": 5000, "_source": source}
            if after is not None:
                body["search_after"] = after
            hits = self.engine.call("search", index=index, body=body)["hits"]["hits"]
            yield from hits
            if len(hits) < 5000:
                return
            after = hits[-1]["sort"]

    def ids(self, platform: str | None = None) -> Iterator[str]:
        query = {"term": {"f.platform": platform}} if platform else {"match_all": {}}
        return (hit["_id"] for hit in self._scan(self.index("items"), query, [{"id": "asc"}], False))

    # -- search ----------------------------------------------------------------
    @staticmethod
    def _filters(query: Query) -> list[dict]:
        out: list[dict] = []
        if query.flagged_only:
            out.append({"term": {"flagged": True}})
        seen: dict[str, int] = {}
        if query.since is not None:
            seen["gte"] = fields.epoch_ms(query.since)
        if query.until is not None:
            seen["lt"] = fields.epoch_ms(query.until)
        if seen:
            out.append({"range": {"last_seen_ms": seen}})
        if query.due_before is not None:
            out.append({"range": {"due_ms": {"lt": fields.epoch_ms(query.due_before)}}})
        text = query.text.strip()
        if len(text) == 1:
            out.append({"match": {"body.uni": text}})
        elif text:
            out.append({"match_phrase": {"body": text}})
        for key, values in query.filters.items():
            if values:
                out.append({"terms": {f"f.{key}": [str(v) for v in values]}})
        return out

    def search(self, query: Query) -> Page:
        fields.check_query(query)
        body: dict[str, Any] = {
            "query": {"bool": {"filter": self._filters(query)}}, "sort": SORTS[query.sort],
            "size": query.size + 1, "seq_no_primary_term": True,
            # an exact count visits every match; a bounded one lets the sort skip non-competitive ones
            "track_total_hits": True if query.exact_total else TOTAL_BOUND,
            "_source": ["item"],
            "aggs": {key: {"terms": {"field": f"f.{key}", "size": 1000}} for key in query.facets},
        }
        if query.after is not None:
            body["search_after"] = list(query.after)
        resp = self.engine.call("search", index=self.index("items"), body=body)
        hits = resp["hits"]["hits"]
        more = len(hits) > query.size
        hits = hits[:query.size]
        facets = {}
        for key in query.facets:
            buckets = resp.get("aggregations", {}).get(key, {}).get("buckets", [])
            facets[key] = {b["key"]: b["doc_count"] for b in sorted(buckets, key=lambda b: (-b["doc_count"], b["key"]))}
        total = resp["hits"]["total"]
        return Page(items=[self._from_hit(h) for h in hits], total=total["value"],
                    facets=facets, next_after=list(hits[-1]["sort"]) if more and hits else None,
                    total_exact=total.get("relation", "eq") == "eq")

    # -- registry and meta -------------------------------------------------------
    def put_registry(self, kind: str, records: Iterable[dict], key: str) -> int:
        records = list(records)
        for record in records:               # refuse the whole load before writing any of it
            if record.get(key) in (None, ""):
                raise StoreError(f"registry record without {key!r}: {str(record)[:200]}")
        failures: dict[str, str] = {}
        for start in range(0, len(records), BULK_CHUNK):
            ops: list[dict] = []
            for record in records[start:start + BULK_CHUNK]:
                value = str(record[key])
                ops += [{"index": {"_id": f"{kind}:{value}"}},
                        {"kind": kind, "key": value, "record": json.loads(json.dumps(record, default=str))}]
            resp = self.engine.call("bulk", index=self.index("registry"), body=ops)
            for entry in resp["items"]:
                op = next(iter(entry.values()))
                if op.get("status", 500) >= 300:
                    failures[op["_id"]] = json.dumps(op.get("error"), ensure_ascii=False)[:500]
        self.engine.call("indices.refresh", index=self.index("registry"))
        if failures:
            raise BulkError(failures, [])
        return len(records)

    def registry(self, kind: str) -> Iterator[dict]:
        hits = self._scan(self.index("registry"), {"term": {"kind": kind}}, [{"key": "asc"}], ["record"])
        return (hit["_source"]["record"] for hit in hits)

    def put_meta(self, key: str, value: dict) -> None:
        self.engine.call("index", index=self.index("meta"), id=key, refresh="true",
                         body={"key": key, "value": json.loads(json.dumps(value, default=str))})

    def get_meta(self, key: str) -> dict | None:
        try:
            hit = self.engine.call("get", index=self.index("meta"), id=key)
        except Missing:
            return None
        return hit["_source"]["value"] if hit.get("found") else None

    def list_meta(self, prefix: str) -> list[tuple[str, dict]]:
        query = {"prefix": {"key": prefix}} if prefix else {"match_all": {}}
        return [(h["_source"]["key"], h["_source"]["value"])
                for h in self._scan(self.index("meta"), query, [{"key": "asc"}], True)]

    # -- lifecycle ---------------------------------------------------------------
    def count(self) -> int:
        return int(self.engine.call("count", index=self.index("items"))["count"])

    def refresh(self) -> None:
        ready = [self.alias(n) for n in sorted(self._ready)]
        if ready:
            self.engine.call("indices.refresh", index=",".join(ready))

    def close(self) -> None:
        if self._engine is not None:
            self._engine.client.close()
            self._engine = None
