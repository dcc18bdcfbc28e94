"""The licence and health-food registries in the form matching needs.

Exact lookup by number is a dict. Candidate search by holder name goes
through a character-bigram index over "core" names (region prefixes and
organisation forms stripped), and rapidfuzz scores only the few hundred
names that share the rarest bigrams: a linear rapidfuzz scan over a million
names costs about half a second per query, which the crawler cannot afford.
"""
from __future__ import annotations

import logging
import time
from collections import defaultdict
from typing import Iterable

import numpy as np
from rapidfuzz import fuzz, process

from matcher.records import HealthFoodRecord, LicenceRecord
from matcher.text import core_name, legal_name

log = logging.getLogger(__name__)

SHORTLIST = 300          # names rapidfuzz scores per query
MIN_SCORE = 60.0         # below this a name is not a candidate worth showing


def _grams(name: str) -> set[str]:
    return {name[i:i + 2] for i in range(len(name) - 1)} or ({name} if name else set())


class NameIndex:
    """Fuzzy candidate search over holder names."""

    def __init__(self, names: Iterable[str]):
        self.names: list[str] = []             # distinct legal names (verdict form)
        self.cores: list[str] = []             # their core names (search form)
        postings: dict[str, list[int]] = defaultdict(list)
        seen: dict[str, int] = {}
        for name in names:
            key = legal_name(name)
            if not key or key in seen:
                continue
            seen[key] = idx = len(self.names)
            core = core_name(key)
            self.names.append(key)
            self.cores.append(core)
            for g in _grams(core):
                postings[g].append(idx)
        self.postings = {g: np.asarray(ids, dtype=np.int32) for g, ids in postings.items()}
        # A bigram shared by this many names (食品, 商行) says little; skip it when rarer ones exist.
        self.common = max(2000, len(self.names) // 50)

    def __len__(self) -> int:
        return len(self.names)

    def search(self, name: str, limit: int = 5) -> list[tuple[str, float]]:
        """(legal name, score 0-100 on core names), best first."""
        core = core_name(name)
        lists = sorted((self.postings[g] for g in _grams(core) if g in self.postings), key=len)
        if not lists:
            return []
        useful = [p for p in lists if len(p) <= self.common] or lists[:1]
        ids = np.concatenate(useful)
        if len(useful) > 1:
            uniq, counts = np.unique(ids, return_counts=True)
            if len(uniq) > SHORTLIST:
                uniq = uniq[np.argpartition(-counts, SHORTLIST)[:SHORTLIST]]
            ids = uniq
        ids = ids[:self.common]          # only when every bigram is common
        choices = [self.cores[i] for i in ids]
        best = process.extract(core, choices, scorer=fuzz.ratio, limit=limit, score_cutoff=MIN_SCORE)
        return [(self.names[ids[k]], score) for _, score, k in best]

    def search_linear(self, name: str, limit: int = 5) -> list[tuple[str, float]]:
        """The naive baseline: rapidfuzz over every name (kept for the benchmark)."""
        best = process.extract(core_name(name), self.cores, scorer=fuzz.ratio, limit=limit,
                               score_cutoff=MIN_SCORE)
        return [(self.names[k], score) for _, score, k in best]


class Registry:
    """Licences by number, by holder name, and health-food registrations by number."""

    def __init__(self, licences: Iterable[LicenceRecord | dict] = (),
                 health_foods: Iterable[HealthFoodRecord | dict] = (), meta: dict | None = None):
        started = time.perf_counter()
        self.meta = meta or {}
        self.licences: dict[str, LicenceRecord] = {}
        self.by_holder: dict[str, list[str]] = defaultdict(list)
        for rec in licences:
            rec = rec if isinstance(rec, LicenceRecord) else LicenceRecord.from_dict(rec)
            self.licences[rec.licence_no] = rec
        for rec in self.licences.values():
            self.by_holder[legal_name(rec.holder_name)].append(rec.licence_no)
        self.names = NameIndex(self.by_holder)
        self.health_foods: dict[str, HealthFoodRecord] = {}
        for rec in health_foods:
            rec = rec if isinstance(rec, HealthFoodRecord) else HealthFoodRecord.from_dict(rec)
            self.health_foods[rec.reg_no] = rec
        log.info("registry ready: %d licences, %d health foods in %.1fs", len(self.licences),
                 len(self.health_foods), time.perf_counter() - started)

    @classmethod
    def load(cls, store) -> "Registry":
        """Everything the store holds (see matcher.importer for how it got there)."""
        meta = store.get_meta("registry") or {}
        return cls(store.registry("licence"), store.registry("health_food"), meta=meta)

    def reload_if_changed(self, store) -> "Registry":
        """Self, or a fresh Registry when an import happened since this one was loaded."""
        meta = store.get_meta("registry") or {}
        if meta.get("stamp") == self.meta.get("stamp"):
            return self
        log.info("registry changed (import %s); reloading", meta.get("stamp"))
        return Registry.load(store)

    # -- lookups -------------------------------------------------------------
    def licence(self, number: str) -> LicenceRecord | None:
        return self.licences.get(number)

    def health_food(self, number: str) -> HealthFoodRecord | None:
        return self.health_foods.get(number)

    def held_by(self, name: str) -> list[LicenceRecord]:
        """Licences registered to exactly this legal name (after NFKC/space/bracket normalisation)."""
        return [self.licences[n] for n in self.by_holder.get(legal_name(name), ())]

    def similar_holders(self, name: str, limit: int = 5) -> list[tuple[str, float]]:
        return self.names.search(name, limit=limit)

    def near_numbers(self, number: str) -> list[LicenceRecord]:
        """Registered numbers one digit away from number (a typo, or a doctored copy)."""
        out = []
        head, digits = number[:2], number[2:]
        for i, d in enumerate(digits):
            for c in "0123456789":
                if c != d:
                    rec = self.licences.get(head + digits[:i] + c + digits[i + 1:])
                    if rec:
                        out.append(rec)
        return out
