"""The spaCy pipeline: candidate matches in, typed claim spans out.

The Doc holds the normalised text of one field (jieba tokens). Candidates come
from the Aho-Corasick/RE2 scan (nlp.scan), which doubles as a prefilter: a
field with no candidate never pays for segmentation. Components, in order:

- ``claim_context``: drops candidates that are not claims in context (mandatory
  notices, GB 28050 sentences, population lines, negations, warnings, words that
  merely contain a phrase, matches that start inside another word);
- ``claim_types``: gives each survivor its type for this product kind and
  registration, then resolves overlaps by the eval precedence.

Results: ``doc._.claims`` (list of Claim) and ``doc.spans["claims"]``.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field

import ahocorasick
import spacy
from spacy.language import Language
from spacy.tokens import Doc

from nlp.normalize import is_cjk

SENTENCE_BREAKS = "。;!?\n"
PRECEDENCE = ("illegal_additive", "disease_claim", "minors_targeting", "medical_endorsement",
              "efficacy_guarantee", "absolute_term", "unapproved_function", "health_function_on_ordinary_food")
RANK = {t: i for i, t in enumerate(PRECEDENCE)}
SPECIAL_KINDS = ("保健食品", "特殊医学用途配方食品", "婴幼儿配方食品")
NEGATION_WINDOW = 4


@dataclass
class Claim:
    start: int                      # normalised offsets
    end: int
    type: str
    entry: object
    phrase: str
    how: set = field(default_factory=set)


@dataclass
class FieldContext:
    """What the components need besides the text."""
    norm: object                    # nlp.normalize.Normalized
    bundle: object                  # nlp.lexicon.Bundle
    kind: str
    approved: set | None            # approved function ids, None when unknown
    hits: list = field(default_factory=list)


for _name in ("shian", "claims"):
    if not Doc.has_extension(_name):
        Doc.set_extension(_name, default=None)


# -- claim_context -------------------------------------------------------------

def _intervals(doc_text: str, ctx, kind: str, protected_automaton) -> tuple[list, list]:
    masks = []
    for rx in ctx.mask:
        masks += [(m.start(), m.end()) for m in rx.finditer(doc_text) if m.end() > m.start()]
    if kind in SPECIAL_KINDS:
        for rx in ctx.population:
            masks += [(m.start(), m.end()) for m in rx.finditer(doc_text) if m.end() > m.start()]
    for s in ctx.nutrient_sentences:
        i = doc_text.find(s)
        while i >= 0:
            masks.append((i, i + len(s)))
            i = doc_text.find(s, i + 1)
    protected = []
    if protected_automaton is not None:
        protected = [(end - n + 1, end + 1) for end, n in protected_automaton.iter(doc_text)]
    return masks, protected


def _negated(text: str, start: int, ctx) -> bool:
    if start == 0:
        return False
    if text[start - 1] in ctx.negation_chars:
        return True
    lo = start
    while lo > 0 and start - lo < NEGATION_WINDOW + 4 and text[lo - 1] not in ctx.clause_breaks:
        lo -= 1
    before = text[lo:start]
    for cue in ctx.negation_cues:
        i = before.rfind(cue)
        if i >= 0 and len(before) - (i + len(cue)) <= NEGATION_WINDOW:
            return True
    return False


def _warning_after(text: str, end: int, ctx) -> bool:
    after = text[end:end + 8]
    for ch in ctx.clause_breaks:
        cut = after.find(ch)
        if cut >= 0:
            after = after[:cut]
    return any(cue in after for cue in ctx.warning_after)


def _inside_word(doc: Doc, start: int, end: int) -> bool:
    """A short phrase that starts in the middle of a jieba word belongs to that word (空降|糖果).

    The Doc's tokens are clauses; only the clause holding the match is segmented with jieba.
    """
    clause = doc.char_span(start, end, alignment_mode="expand")
    if clause is None:
        return False
    offset = clause.start_char
    for tok in get_nlp().tokenizer(clause.text):
        s = offset + tok.idx
        if s < start < s + len(tok.text):
            return all(is_cjk(c) for c in tok.text)
        if s >= start:
            break
    return False


def clause_doc(nlp_, text: str, breaks: str) -> Doc:
    """A Doc whose tokens are the clauses of the text and the punctuation between them."""
    words, cur = [], []
    for ch in text:
        if ch in breaks:
            if cur:
                words.append("".join(cur))
                cur = []
            words.append(ch)
        else:
            cur.append(ch)
    if cur:
        words.append("".join(cur))
    return Doc(nlp_.vocab, words=words, spaces=[False] * len(words))


_protected_cache: dict[int, object] = {}
_protected_lock = threading.Lock()


def _protected_automaton(ctx):
    key = id(ctx)
    with _protected_lock:
        if key not in _protected_cache:
            auto = None
            if ctx.protected:
                auto = ahocorasick.Automaton()
                for w in ctx.protected:
                    auto.add_word(w, len(w))
                auto.make_automaton()
            _protected_cache.clear()
            _protected_cache[key] = (ctx, auto)
        return _protected_cache[key][1]


@Language.component("claim_context")
def claim_context(doc: Doc) -> Doc:
    fc: FieldContext = doc._.shian
    ctx = fc.bundle.context
    text = doc.text
    masks, protected = _intervals(text, ctx, fc.kind, _protected_automaton(ctx))
    keep = []
    for h in fc.hits:
        if not h.entry.applies_to(fc.kind):
            continue
        if any(s < h.end and h.start < e for s, e in masks):
            continue
        if any(s < h.end and h.start < e and not (h.start <= s and e <= h.end) for s, e in protected):
            continue
        if h.entry.negatable and (_negated(text, h.start, ctx) or _warning_after(text, h.end, ctx)):
            continue
        if h.entry.regex is None and h.end - h.start <= 3 and not h.how and _inside_word(doc, h.start, h.end):
            continue
        keep.append(h)
    fc.hits = keep
    return doc


# -- claim_types ---------------------------------------------------------------

def type_for(entry, kind: str, approved: set | None) -> str | None:
    """The claim type of a surviving match on this product, or None when it is allowed."""
    if entry.type == "health_function":
        if kind == "保健食品":
            if approved is None or entry.function in approved:
                return None     # unknown registration: the matcher reports that; known: its own claim
            return "unapproved_function"
        return "health_function_on_ordinary_food"
    if entry.function and kind == "保健食品" and approved and entry.function in approved:
        return None             # old official wording of its registered function
    return entry.type


def resolve(claims: list[Claim]) -> list[Claim]:
    """One type per span: overlapping claims go to the strongest type; same-type overlaps merge."""
    accepted: list[Claim] = []
    for c in sorted(claims, key=lambda c: (RANK[c.type], -(c.end - c.start), c.start)):
        clash = [a for a in accepted if a.start < c.end and c.start < a.end]
        if not clash:
            accepted.append(c)
            continue
        if all(a.type == c.type for a in clash):
            base = clash[0]
            for a in clash[1:]:
                accepted.remove(a)
                base.start, base.end = min(base.start, a.start), max(base.end, a.end)
                base.how |= a.how
            base.start, base.end = min(base.start, c.start), max(base.end, c.end)
            base.how |= c.how
    accepted.sort(key=lambda c: c.start)
    merged: list[Claim] = []
    for c in accepted:           # 减肥瘦身: touching claims of one type are one span
        if merged and merged[-1].type == c.type and merged[-1].end == c.start:
            merged[-1].end = c.end
            merged[-1].how |= c.how
        else:
            merged.append(c)
    return merged


def absorb_drug_sentences(claims: list[Claim], text: str) -> list[Claim]:
    """A sentence that reveals a drug is one violation: what follows in it (its effect) joins it."""
    out: list[Claim] = []
    for c in claims:
        drug = out[-1] if out and out[-1].type == "illegal_additive" else None
        if drug is not None and not any(ch in SENTENCE_BREAKS for ch in text[drug.end:c.start]):
            drug.end = max(drug.end, c.end)
            continue
        out.append(c)
    return out


@Language.component("claim_types")
def claim_types(doc: Doc) -> Doc:
    fc: FieldContext = doc._.shian
    claims = []
    for h in fc.hits:
        t = type_for(h.entry, fc.kind, fc.approved)
        if t is not None:
            claims.append(Claim(h.start, h.end, t, h.entry, h.phrase, {h.how} if h.how else set()))
    claims = absorb_drug_sentences(resolve(claims), doc.text)
    doc._.claims = claims
    spans = []
    for c in claims:
        span = doc.char_span(c.start, c.end, label=c.type, alignment_mode="expand")
        if span is not None:
            spans.append(span)
    doc.spans["claims"] = spans
    return doc


_nlp = None
_nlp_lock = threading.Lock()


def get_nlp():
    """The spaCy pipeline, built once per process (jieba loads its dictionary once)."""
    global _nlp
    if _nlp is None:
        with _nlp_lock:
            if _nlp is None:
                import logging
                import warnings
                import jieba
                jieba.setLogLevel(logging.WARNING)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    nlp = spacy.blank("zh", config={"nlp": {"tokenizer": {"segmenter": "jieba"}}})
                nlp.add_pipe("claim_context")
                nlp.add_pipe("claim_types")
                _nlp = nlp
    return _nlp
