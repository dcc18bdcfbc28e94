"""Claim detection: unapproved health and disease claims in listing text.

    import nlp
    result = nlp.detect(listing, approved_functions=None)
    result.findings, result.product_kind, result.product_kind_source

Keyword lists live in config/keywords/*.yaml (owned by the enforcement team)
and are reloaded when they change.
"""
from __future__ import annotations

import gc
import re
import threading
from dataclasses import dataclass, field

from shian.models import Finding, Listing

__all__ = ["detect", "DetectResult", "lexicon_holder", "load", "scan_text"]

# fields that carry seller claims; licence and registration fields hold identifiers only
SKIP_FIELDS = ("licence_text", "health_food_reg")
TIMESTAMP = re.compile(r"\[(\d{1,2}):(\d{2}):(\d{2})\]")

_holder = None


@dataclass
class DetectResult:
    findings: list[Finding] = field(default_factory=list)
    product_kind: str = ""
    product_kind_source: str = ""


def lexicon_holder():
    """The process-wide keyword lists (reloaded when the files change)."""
    global _holder
    if _holder is None:
        from nlp.lexicon import Holder
        _holder = Holder()
    return _holder


_loaded = threading.Event()
_load_lock = threading.Lock()


def load() -> None:
    """Load what detect() needs (keyword lists, spaCy with jieba's dictionary, the kernels' tables)
    now rather than with the first listing, then move every object alive out of the garbage
    collector's way (gc.freeze). A process holds ~300k such long-lived objects, and every full
    collection walked them all: a stall of ~90 ms at random moments of a crawl. Once per process;
    objects made later are collected as usual."""
    if _loaded.is_set():
        return
    with _load_lock:
        if _loaded.is_set():
            return
        detect(Listing(platform="shop", item_id="load", text="治疗糖尿病，空降糖果"))   # builds the lazy parts
        gc.collect()
        gc.freeze()
        _loaded.set()


def approved_ids(bundle, approved_functions: list[str] | None) -> set[int] | None:
    if approved_functions is None:
        return None
    ids = set()
    for name in approved_functions:
        fid = bundle.functions.resolve(name, bundle.normalizer)
        if fid is not None:
            ids.add(fid)
    return ids


def scan_text(text: str, kind: str = "普通食品", approved: set[int] | None = None, bundle=None,
              only: set[str] | None = None) -> tuple[object, list]:
    """Normalise one text and return (Normalized, claims) — the core of detect()."""
    bundle = bundle or lexicon_holder().get()
    norm = bundle.normalizer(text)
    hits = bundle.scanner.scan(norm, only=only)
    if not hits:            # prefilter: no candidate, no Doc
        return norm, []
    from nlp import claims          # spaCy loads with the first field that has a candidate
    nlp_ = claims.get_nlp()
    claims.teach_jieba(bundle)
    fc = claims.FieldContext(norm=norm, bundle=bundle, kind=kind, approved=approved, hits=hits)
    doc = claims.run_components(nlp_, claims.field_doc(nlp_, norm.text, hits, fc))
    return norm, doc._.claims or []


def _offset_s(original: str, start: int) -> float | None:
    line_start = original.rfind("\n", 0, start) + 1
    m = TIMESTAMP.match(original, line_start)
    if not m:
        return None
    h, mi, s = (int(x) for x in m.groups())
    return float(h * 3600 + mi * 60 + s)


def detect(listing: Listing, approved_functions: list[str] | None = None) -> DetectResult:
    """Claims in every text field of a listing, with offsets into the original field text."""
    from nlp.kind import infer_kind
    bundle = lexicon_holder().get()
    kind, source = infer_kind(listing)
    approved = approved_ids(bundle, approved_functions)
    findings: list[Finding] = []
    for name, text in listing.fields().items():
        if name in SKIP_FIELDS or not text:
            continue
        norm, claims = scan_text(text, kind, approved, bundle)
        for c in claims:
            start, end = norm.span(c.start, c.end)
            evasion = sorted(norm.evasions(c.start, c.end) | c.how)
            e = c.entry
            # validated construction: pydantic-core checks these fields faster than model_construct skips them
            findings.append(Finding(
                type=c.type, rule_id=e.id, list_version=e.version, field=name, start=start, end=end,
                text=text[start:end], normalized=norm.text[c.start:c.end], severity=e.severity,
                legal_basis=e.legal_basis, evasion=evasion,
                offset_s=_offset_s(text, start) if listing.kind == "live" else None))
    return DetectResult(findings, kind, source)
