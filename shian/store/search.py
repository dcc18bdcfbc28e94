"""The production store: OpenSearch or Elasticsearch 8 (shian.store.engine picks the client).

Layout per prefix P: index templates P-items, P-registry, P-meta (mapping.json)
and versioned indices P-items-v1 ... behind the aliases P-items ... . Documents
carry the ReviewItem unindexed under `item` plus the derived fields of
shian.store.fields. Versions are "seq_no:primary_term"; every write of a stored
item is conditional (if_seq_no/if_primary_term), a new one is op_type=create.
Chinese substring search: bigram ngram field + match_phrase (one character:
the unigram sub-field).

The items index is sorted on disk by the default queue order (risk desc, id),
so a first page with a bounded total stops early; facet counts go in a second,
hit-less request of the same msearch, which the node's request cache can keep.
MAPPING_VERSION names the current layout: when mapping.json changes in a way
existing indices cannot take, bump it (and add an UPGRADES script if a derived
field is new) and run `shian store migrate`, which copies into -vN+1 and swaps
the alias.
"""
from __future__ import annotations

import json
import logging
import re
import threading
import time
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any, Iterable, Iterator

from shian.models import ReviewItem
from shian.store import fields
from shian.store.base import (TOTAL_BOUND, BulkError, Conflict, NotFound, Page, Query, Store, StoreError,
                              UpsertResult)
from shian.store.engine import Auth, Engine, Missing, VersionConflict

log = logging.getLogger(__name__)

MAPPING = json.loads((Path(__file__).with_name("mapping.json")).read_text(encoding="utf-8"))
SORTS = {"risk": [{"risk": "desc"}, {"id": "asc"}], "due": [{"due_ms": "asc"}, {"id": "asc"}],
         "time": [{"last_seen_ms": "desc"}, {"id": "asc"}]}
BULK_CHUNK = 1000
ATTEMPTS = 5                         # conditional-write retries for our own read-modify-write loops
MAPPING_VERSION = 2                  # v2: lease_ms, index sorted by risk
# what a list page never shows: the bulk of a listing's document
BRIEF_EXCLUDES = ("item.listing.text", "item.listing.ocr", "item.listing.segments", "item.history")
# painless run on each document of an index copied from an older version: derived fields new in that version
UPGRADES = {
    ("items", 2): """
def l = ctx._source.item.review.lease_until;
if (l != null) {
  try { ctx._source.lease_ms = ZonedDateTime.parse(l).toInstant().toEpochMilli(); }
  catch (Exception e) { ctx._source.lease_ms = LocalDateTime.parse(l).toInstant(ZoneOffset.UTC).toEpochMilli(); }
}
""",
}


class SearchStore(Store):
    def __init__(self, url: str, prefix: str = "shian", version: int = MAPPING_VERSION, retries: int = 4,
                 auth: Auth = Auth()):
        self.url = url
        self.retries = retries
        self.auth = auth
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
                    self._engine = Engine(self.url, retries=self.retries, auth=self.auth)
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
            found = engine.call("indices.get_alias", name=alias)
        except Missing:
            found = None
        if found is not None:
            if any(_index_version(i) < self.index_version for i in found):
                # new fields can be added in place, so writes keep working until the migration
                # (which also brings what cannot change in place, such as the index sort)
                engine.call("indices.put_mapping", index=alias, body=MAPPING[name]["mappings"])
                log.warning("%s is behind mapping v%d (%s); run `shian store migrate`", alias, self.index_version,
                            ", ".join(found))
            return
        self._put_template(engine, name)
        try:
            engine.call("indices.create", index=f"{alias}-v{self.index_version}",
                        body={"aliases": {alias: {"is_write_index": True}}})
        except StoreError as exc:
            if "resource_already_exists" not in str(exc):   # another process won the race
                raise

    def _put_template(self, engine: Engine, name: str) -> None:
        alias = self.alias(name)
        engine.call("indices.put_index_template", name=alias, body={
            "index_patterns": [f"{alias}-v*"], "priority": 100, "template": MAPPING[name]})

    def migrate(self, say=lambda message: None, keep_old: bool = False) -> dict[str, str]:
        """Move every index behind an older mapping version onto -v{index_version}: returns alias -> outcome.

        Writes to the old index are blocked while it is copied (a writer gets a clear refusal, and
        readers keep working); the alias then moves in one atomic update and the old index is deleted.
        On any failure the new index is removed and the old one unblocked, so nothing is lost.
        """
        engine = self.engine
        outcome: dict[str, str] = {}
        for name in MAPPING:
            alias = self.alias(name)
            target = f"{alias}-v{self.index_version}"
            try:
                current = sorted(engine.call("indices.get_alias", name=alias))
            except Missing:
                self.index(name)
                outcome[alias] = f"created {target}"
                continue
            if current == [target]:
                outcome[alias] = f"up to date ({target})"
                continue
            if any(_index_version(i) > self.index_version for i in current):
                raise StoreError(f"{alias} points at {', '.join(current)}, newer than this code's v{self.index_version}")
            self._put_template(engine, name)
            self._copy(engine, name, current, target, say)
            if not keep_old:
                engine.call("indices.delete", index=",".join(current))
            outcome[alias] = f"migrated {', '.join(current)} -> {target}"
            say(outcome[alias])
        self._ready.clear()
        return outcome

    def _copy(self, engine: Engine, name: str, current: list[str], target: str, say) -> None:
        alias = self.alias(name)
        old_version = min(_index_version(i) for i in current)
        script = "".join(UPGRADES.get((name, v), "") for v in range(old_version + 1, self.index_version + 1)).strip()
        # a copy can be redone from the old index, so it needs no refreshes and no fsync per bulk request
        engine.call("indices.create", index=target, body={"settings": {"index": {
            "refresh_interval": "-1", "translog.durability": "async"}}})
        engine.call("indices.put_settings", index=",".join(current), body={"index": {"blocks.write": True}})
        try:
            body: dict[str, Any] = {"source": {"index": ",".join(current), "size": 2000},
                                    "dest": {"index": target, "op_type": "create"}}
            if script:
                body["script"] = {"lang": "painless", "source": script}
            reindex(engine, body, lambda done, total: say(f"{alias}: copied {done:,} of {total:,}"))
            engine.call("indices.put_settings", index=target, body={"index": {
                "refresh_interval": None, "translog.durability": None}})
            engine.call("indices.refresh", index=target)
            old_n = int(engine.call("count", index=",".join(current))["count"])
            new_n = int(engine.call("count", index=target)["count"])
            if old_n != new_n:
                raise StoreError(f"copy of {alias} has {new_n} documents, the old index {old_n}; nothing switched")
            actions = [{"remove": {"index": i, "alias": alias}} for i in current]
            actions.append({"add": {"index": target, "alias": alias, "is_write_index": True}})
            engine.call("indices.update_aliases", body={"actions": actions})
        except BaseException:
            try:
                engine.call("indices.delete", index=target)
            finally:
                engine.call("indices.put_settings", index=",".join(current), body={"index": {"blocks.write": None}})
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
                "lease_ms": fields.epoch_ms(item.review.lease_until),
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
    def _filters(query: Query, skip: set[str] = frozenset()) -> list[dict]:
        """The query's conditions as filter clauses, without the filter keys in skip."""
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
        if query.lease_before is not None:
            out.append({"bool": {"minimum_should_match": 1, "should": [
                {"range": {"lease_ms": {"lt": fields.epoch_ms(query.lease_before)}}},
                {"bool": {"must_not": {"exists": {"field": "lease_ms"}}}}]}})
        text = query.text.strip()
        if len(text) == 1:
            out.append({"match": {"body.uni": text}})
        elif text:
            out.append({"match_phrase": {"body": text}})
        for key, values in query.filters.items():
            if values and key not in skip:
                out.append(_terms(key, values))
        return out

    def search(self, query: Query) -> Page:
        fields.check_query(query)
        page: dict[str, Any] = {
            "query": {"bool": {"filter": self._filters(query)}}, "sort": SORTS[query.sort],
            "size": query.size + 1, "seq_no_primary_term": True,
            # an exact count visits every match; a bounded one lets the sort skip non-competitive ones
            "track_total_hits": True if query.exact_total else TOTAL_BOUND,
            "_source": {"includes": ["item"], "excludes": list(BRIEF_EXCLUDES) if query.brief else []},
        }
        if query.after is not None:
            page["search_after"] = list(query.after)
        index = self.index("items")
        if not query.facets:
            resp = self.engine.call("search", index=index, body=page)
            total, exact, aggs = resp["hits"]["total"]["value"], resp["hits"]["total"].get("relation") == "eq", {}
        else:
            # facets visit every match anyway, so their request also gives the exact total
            page["track_total_hits"] = False
            resp, counts = self._msearch(index, [page, self._facet_body(query)])
            total, exact, aggs = counts["hits"]["total"]["value"], True, counts.get("aggregations", {})
        facets = {}
        for key in query.facets:
            agg = aggs.get(key, {})
            agg = agg.get("m", agg).get("v", agg.get("m", agg))
            facets[key] = {b["key"]: b["doc_count"] for b in agg.get("buckets", [])}
        return self._page(query, resp, total, exact, facets)

    def _page(self, query: Query, resp: dict, total: int, exact: bool, facets: dict) -> Page:
        hits = resp["hits"]["hits"]
        more = len(hits) > query.size
        hits = hits[:query.size]
        facets = {key: dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))) for key, counts in facets.items()}
        return Page(items=[self._from_hit(h) for h in hits], total=total,
                    facets=facets, next_after=list(hits[-1]["sort"]) if more and hits else None,
                    total_exact=exact)

    def _split(self, query: Query) -> set[str]:
        return {k for k in query.facets if query.filters.get(k)} if query.multi_select else set()

    def _facet_body(self, query: Query) -> dict:
        """A hit-less request for the exact total and the facet counts. Facets of unfiltered keys count
        the query's matches; multi-select facets of a filtered key count, from all documents, the
        matches of every other filter (few keys are filtered at once, so few such scans)."""
        split = self._split(query)
        body: dict[str, Any] = {"query": {"bool": {"filter": self._filters(query)}},
                                "size": 0, "track_total_hits": True, "aggs": {}}
        for key in query.facets:
            terms = {"terms": {"field": f"f.{key}", "size": 1000}}
            if key in split:
                others = self._filters(replace(query, filters={k: v for k, v in query.filters.items() if k != key}))
                body["aggs"][key] = {"global": {}, "aggs": {
                    "m": {"filter": {"bool": {"filter": others}}, "aggs": {"v": terms}}}}
            else:
                body["aggs"][key] = terms
        return body

    def _msearch(self, index: str, bodies: list[dict]) -> list[dict]:
        lines: list[dict] = []
        for body in bodies:
            lines += [{"index": index}, body]
        responses = self.engine.call("msearch", body=lines)["responses"]
        for resp in responses:
            if "error" in resp:
                err = resp["error"]
                reason = f"{err.get('type')}: {err.get('reason')}" if isinstance(err, dict) else str(err)
                raise StoreError(f"search engine refused search: {reason}"[:600])
        return responses

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


def _terms(key: str, values: list[str]) -> dict:
    return {"terms": {f"f.{key}": [str(v) for v in values]}}


def _index_version(index: str) -> int:
    match = re.search(r"-v(\d+)$", index)
    return int(match.group(1)) if match else 0


def reindex(engine: Engine, body: dict, progress=lambda done, total: None) -> dict:
    """Run a _reindex as a node task and wait for it (a long one held open over HTTP can outlive the
    client's timeout, and a retried request would copy twice). Returns the task's response."""
    task = engine.call("reindex", body=body, wait_for_completion=False)["task"]
    while True:
        state = engine.call("tasks.get", task_id=task)
        status = state.get("task", {}).get("status", {})
        if state.get("completed"):
            break
        progress(status.get("created", 0), status.get("total", 0))
        time.sleep(2)
    response = state.get("response") or {}
    failures = response.get("failures") or state.get("error")
    if failures:
        raise StoreError(f"copying {body['source']['index']} to {body['dest']['index']} failed: "
                         f"{json.dumps(failures, ensure_ascii=False)[:500]}")
    return response
