"""The spaCy pipeline: candidate matches in, typed claim spans out.

The Doc holds the normalised text of one field, cut at the candidates'
boundaries. Candidates come from the Aho-Corasick scan (nlp.scan), which
doubles as a prefilter: a field with no candidate never builds a Doc. jieba
segments only the text around a short candidate that survived every other
check and may start inside a word. Components, in order:

- ``claim_context``: drops candidates that are not claims in context (mandatory
  notices, GB 28050 sentences, population lines, negations, warnings, words that
  merely contain a phrase, matches that start inside another word);
- ``claim_types``: gives each survivor its type for this product kind and
  registration, then resolves overlaps by the eval precedence.

Results: ``doc._.claims`` (list of Claim) and ``doc.spans["claims"]``.
"""
from __future__ import annotations

import bisect
import re
import threading
from dataclasses import dataclass, field

import ahocorasick_rs
import jieba
import spacy
from spacy.language import Language
from spacy.tokens import Doc
from spacy.vocab import Vocab

from nlp.normalize import is_cjk
from nlp.scan import find_near, max_width, required_literals

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

class ContextScan:
    """Every literal the context rules look for, found in one Aho-Corasick pass per field:
    the literal each mask pattern cannot match without (a pattern whose literal is absent is
    not run), nutrient sentences, protected words, negation and warning cues."""

    def __init__(self, ctx):
        words: dict[str, list] = {}
        self.masks = []                     # (regex, only for SPECIAL_KINDS, needs a literal, widest match)
        for rxs, special in ((ctx.mask, False), (ctx.population, True)):
            for rx in rxs:
                k = len(self.masks)
                pattern = getattr(rx, "pattern", "")
                lits = required_literals(pattern)
                self.masks.append((rx, special, lits is not None, max_width(pattern)))
                for lit in lits or ():
                    words.setdefault(lit, []).append(("mask", k))
        for sentence in ctx.nutrient_sentences:
            words.setdefault(sentence, []).append(("nutrient", 0))
        for w in ctx.protected:
            words.setdefault(w, []).append(("protected", 0))
        for cue in ctx.negation_cues:
            words.setdefault(cue, []).append(("negation", 0))
        for cue in ctx.warning_after:
            words.setdefault(cue, []).append(("warning", 0))
        words.pop("", None)
        self.words = list(words)
        self.payload = [words[w] for w in self.words]
        self.automaton = ahocorasick_rs.AhoCorasick(self.words, implementation=ahocorasick_rs.Implementation.DFA) \
            if self.words else None

    def scan(self, text: str, kind: str):
        """(masks, protected, negation cues, warning cues) as lists of (start, end)."""
        found = self.automaton.find_matches_as_indexes(text, overlapping=True) if self.automaton else []
        masks, protected, negation, warning = [], [], [], []
        spots: dict[int, list] = {}         # mask -> where its required literals are
        for i, a, b in found:
            for what, k in self.payload[i]:
                if what == "mask":
                    spots.setdefault(k, []).append((a, b))
                elif what == "nutrient":
                    masks.append((a, b))
                elif what == "protected":
                    protected.append((a, b))
                elif what == "negation":
                    negation.append((a, b))
                else:
                    warning.append((a, b))
        special = kind in SPECIAL_KINDS
        for k, (rx, only_special, needs, width) in enumerate(self.masks):
            if (only_special and not special) or (needs and k not in spots):
                continue
            masks += find_near(rx, text, spots.get(k), width)
        return masks, protected, negation, warning


# an A-not-A question: the same character on both sides of 不/没 (能不能, 会不会, 是不是, 可不可以,
# 有没有, 降不降). It asks; it does not negate.
_A_NOT_A = re.compile(r"(.)[不没]\1")


def _a_not_a(text: str, a: int, b: int) -> bool:
    """The 不/没 of an A-not-A question lies in text[a:b]."""
    return _A_NOT_A.search(text, max(a - 1, 0), b + 1) is not None


def _negated(text: str, start: int, ctx, cues: list) -> bool:
    """A negation right before the match: a negating character touching it, or a cue ending at most
    NEGATION_WINDOW characters before it inside the same clause. The 不 of an A-not-A question is
    none (能不能降血糖?): the question rule decides. A cue followed by a verb of telling
    (``negation_blockers``: 医生不会告诉你的降糖秘密) negates that verb, not the match."""
    if start == 0:
        return False
    if text[start - 1] in ctx.negation_chars and not _a_not_a(text, start - 1, start):
        return True
    if not cues:
        return False
    lo = start
    while lo > 0 and start - lo < NEGATION_WINDOW + 4 and text[lo - 1] not in ctx.clause_breaks:
        lo -= 1
    return any(lo <= a and b <= start and start - b <= NEGATION_WINDOW and not _a_not_a(text, a, b) and
               not any(w in text[b:start] for w in ctx.negation_blockers)
               for a, b in cues)


def _warning_after(text: str, end: int, ctx, cues: list) -> bool:
    """A warning cue (患者不宜...) within eight characters after the match, before the clause ends."""
    if not cues:
        return False
    stop = min(end + 8, len(text))
    for i in range(end, stop):
        if text[i] in ctx.clause_breaks:
            stop = i
            break
    return any(end <= a and b <= stop for a, b in cues)


_SPEAKER = re.compile(r"[ ]*(?:答|回复|回答|主播|客服|商家|掌柜|店主|卖家)[^:\n]{0,8}:[ ]*")
ANSWER_SPAN = 40                    # how far a speaker's answer is read for its yes or no


def _clause(text: str, start: int, end: int, cuts: list[int]) -> tuple[int, int]:
    """[lo, stop): the clause around text[start:end]; ``cuts`` are the clause breaks of the text."""
    k = bisect.bisect_left(cuts, start)
    lo = cuts[k - 1] + 1 if k else 0
    k = bisect.bisect_left(cuts, end, k)
    return lo, cuts[k] if k < len(cuts) else len(text)


_BREAKS: dict[str, re.Pattern] = {}        # clause-break characters -> their character class


def clause_cuts(text: str, ctx) -> list[int]:
    """Where the clause breaks are (one regex pass in C instead of walking characters in Python)."""
    rx = _BREAKS.get(ctx.clause_breaks)
    if rx is None:
        rx = _BREAKS[ctx.clause_breaks] = re.compile("[" + re.escape(ctx.clause_breaks) + "]")
    return [m.start() for m in rx.finditer(text)]


def _unanswered_question(text: str, start: int, end: int, ctx, cuts: list[int] | None = None) -> bool:
    """The match sits in a question that asks (能降血压吗?) and the next clause does not answer yes,
    or in any question the next clause answers no (治糖尿病? 不能!). An A-not-A form (能不能...)
    asks too, with or without a question mark. An answer given by a named speaker (答: / 客服: /
    主播:) that does not say no is a yes: the seller answers, and anything but a refusal
    (坚持吃效果很好) confirms the claim."""
    if not ctx.answer_no and not ctx.ask_words:
        return False
    n, breaks = len(text), ctx.clause_breaks
    lo, stop = _clause(text, start, end, cuts if cuts is not None else clause_cuts(text, ctx))
    asked = stop < n and text[stop] == "?"
    tail = text[end:stop].rstrip()
    # an A-not-A form asks even without a question mark (有人问能不能治病, 不知道会不会降血糖)
    if not asked and not (tail and tail[-1] in "吗么嘛") and not _A_NOT_A.search(text, lo, stop):
        return False
    j = stop
    while j < n and (text[j] in breaks or text[j] == " "):
        j += 1
    m = _SPEAKER.match(text, j)
    if m:
        return _answer_is_no(text, m.end(), ctx)
    answer = text[j:j + 12]
    if any(answer.startswith(w) for w in ctx.answer_no):
        return True
    if any(answer.startswith(w) for w in ctx.answer_yes):
        return False
    clause = text[lo:stop]
    return any(w in clause for w in ctx.ask_words)


def _answer_is_no(text: str, i: int, ctx) -> bool:
    """A speaker's answer from text[i]: its first clause that opens with a yes or a no word decides
    (亲，我们是普通食品，没有这个功效 is a no); one that never says no is a yes."""
    n = min(len(text), i + ANSWER_SPAN)
    while i < n:
        while i < n and text[i] == " ":
            i += 1
        if any(text.startswith(w, i) for w in ctx.answer_no):
            return True
        if any(text.startswith(w, i) for w in ctx.answer_yes):
            return False
        while i < n and text[i] not in ctx.clause_breaks:
            i += 1
        if i < n and text[i] in SENTENCE_BREAKS:
            break
        i += 1
    return False


def _adult_consumer(text: str, start: int, end: int, ctx) -> bool:
    """A child-directed match whose clause names an adult consumer first (成人也能长高,
    孕妇吃了宝宝聪明): the claim is aimed at adults, so it is not minors_targeting."""
    lo = start
    while lo > 0 and text[lo - 1] not in ctx.clause_breaks:
        lo -= 1
    for marker in ctx.adult_markers:
        i = text.find(marker, lo, end)
        if i < 0 or i >= start:
            continue
        after = i + len(marker)            # 大学生 is an adult, and the 学生 in it no child
        if text[after:after + 1] in ("吃", "喝", "服", "食", "用", "补") or \
                not any(w in text[max(start, after):end] for w in ctx.child_words):
            return True
    return False


def _may_start_inside_word(h, text: str, breaks: str) -> bool:
    """A short literal match that a jieba word could swallow: it follows a Chinese character
    (so it does not start its clause; jieba words never span clause breaks)."""
    if h.entry.regex is not None or h.end - h.start > 3 or h.how or h.start == 0:
        return False
    return text[h.start] not in breaks and is_cjk(text[h.start - 1])


# jieba cuts each maximal run of Chinese, Latin letters and digits on its own
_JIEBA_BLOCK = jieba.re_han_default


def _inside_word(text: str, start: int, words: dict) -> bool:
    """A short phrase that starts in the middle of a jieba word belongs to that word (空降|糖果).

    Only the run of text jieba cuts as one block is segmented (the same words as cutting the whole
    field); ``words`` keeps the cuts of this field.
    """
    if "blocks" not in words:
        words["blocks"] = [m.span() for m in _JIEBA_BLOCK.finditer(text)]
    blocks = words["blocks"]
    i = bisect.bisect_right(blocks, (start, len(text) + 1)) - 1
    if i < 0 or not blocks[i][0] < start < blocks[i][1]:
        return False                    # first in its block: nothing before it to join
    a, b = blocks[i]
    if a not in words and _starts_word(text[a:b], start - a):
        return False
    if a not in words:
        words[a] = jieba.lcut(text[a:b])
    s = a
    for w in words[a]:
        e = s + len(w)
        if s < start < e:
            return all(is_cjk(c) for c in w)
        if e > start:
            break
        s = e
    return False


_longest_word = 0


def _starts_word(block: str, k: int) -> bool:
    """True when jieba's cut of the block certainly starts a word of two or more characters at k,
    found without cutting the whole block. No dictionary word spans k, so every path through the
    word graph passes k; the best path from k on depends only on the text from k (jieba scores
    paths from the end), and when it begins with a longer word no run of single characters (which
    jieba's HMM may join) reaches across k either."""
    global _longest_word
    dt = jieba.dt
    freq = dt.FREQ
    if not _longest_word:
        dt.check_initialized()
        _longest_word = max(map(len, freq))
    n = len(block)
    for i in range(max(0, k - _longest_word), k):      # the same walk as jieba's get_DAG
        j = i + 1
        frag = block[i:j]
        while j <= n and frag in freq:
            if j > k and freq[frag]:
                return False                            # a word from i spans k
            j += 1
            frag = block[i:j]
    rest = block[k:]
    route: dict = {}
    dt.calc(rest, dt.get_DAG(rest), route)
    return route[0][1] > 0


_taught: set[int] = set()
_taught_lock = threading.Lock()


def teach_jieba(bundle) -> None:
    """Add the lists' short phrases to jieba's dictionary once per list version, so jieba keeps
    them whole: without 护肝 in it, 熬夜党护肝 reads 熬夜|党护|肝 and the match looks swallowed."""
    if id(bundle) in _taught:
        return
    with _taught_lock:
        if id(bundle) in _taught:
            return
        for entry in bundle.entries:
            for phrase in entry.phrases:
                if 2 <= len(phrase) <= 4 and all(is_cjk(c) for c in phrase):
                    jieba.add_word(phrase)
        _taught.add(id(bundle))


# Field Docs intern every token, and the text between candidates is unique to its field: past this
# many strings the Docs get a fresh Vocab, so a long-lived process (crawler, review UI re-scans)
# does not grow without bound.
MAX_VOCAB_STRINGS = 100_000
_vocab: Vocab | None = None


def field_vocab() -> Vocab:
    """The Vocab field Docs are built on. It computes no lexical attributes: the components read
    character offsets only, and spaCy's attribute getters (shape, prefix, like_num...) run in Python
    over every new token, which cost more than the whole analysis on unseen text."""
    global _vocab
    vocab = _vocab
    if vocab is None or len(vocab.strings) > MAX_VOCAB_STRINGS:
        vocab = _vocab = Vocab()
    return vocab


def reset_vocab() -> None:
    """Start field Docs on a fresh Vocab (as if every text were new, as in a crawl)."""
    global _vocab
    _vocab = None


def field_doc(nlp_, text: str, hits: list) -> Doc:
    """A Doc over the field text whose token boundaries are the candidates' boundaries, so every
    claim is an exact Span; the text between candidates stays in a few long tokens."""
    cuts = sorted({0, len(text), *(h.start for h in hits), *(h.end for h in hits)})
    words = [text[a:b] for a, b in zip(cuts, cuts[1:])]
    return Doc(field_vocab(), words=words, spaces=[False] * len(words))


_scan_cache: dict[int, tuple] = {}
_scan_lock = threading.Lock()


def context_scan(ctx) -> ContextScan:
    """The ContextScan of the current context data (rebuilt when the lists are reloaded)."""
    cached = _scan_cache.get(id(ctx))
    if cached is not None and cached[0] is ctx:
        return cached[1]
    with _scan_lock:
        scan = ContextScan(ctx)
        _scan_cache.clear()
        _scan_cache[id(ctx)] = (ctx, scan)
        return scan


@Language.component("claim_context")
def claim_context(doc: Doc) -> Doc:
    fc: FieldContext = doc._.shian
    ctx = fc.bundle.context
    text = fc.norm.text             # == doc.text, without rebuilding it from the tokens
    masks, protected, negation, warning = context_scan(ctx).scan(text, fc.kind)
    words: dict = {}                # jieba cuts, made only for the candidates that get this far
    cuts = clause_cuts(text, ctx)
    # the type of each match on this product: "" when its entry does not apply, None when allowed
    typed = [(h, type_for(h.entry, fc.kind, fc.approved) if h.entry.applies_to(fc.kind) else "")
             for h in fc.hits]
    # a match this product's registration allows (辅助降血糖, the old official name of its function)
    # covers the shorter phrases inside it (降血糖): they are part of the allowed wording
    allowed = [(h.start, h.end) for h, t in typed if t is None]
    keep = []
    for h, t in typed:
        if not t:
            continue            # not a claim on this product: claim_types would drop it, skip the checks
        if allowed and any(a <= h.start and h.end <= b and b - a > h.end - h.start for a, b in allowed):
            continue
        if masks and any(s < h.end and h.start < e for s, e in masks):
            continue
        if protected and any(s < h.end and h.start < e and not (h.start <= s and e <= h.end) for s, e in protected):
            continue
        if h.entry.negatable and (_negated(text, h.start, ctx, negation) or
                                  _warning_after(text, h.end, ctx, warning) or
                                  _unanswered_question(text, h.start, h.end, ctx, cuts)):
            continue
        if h.entry.type == "minors_targeting" and _adult_consumer(text, h.start, h.end, ctx):
            continue
        if _may_start_inside_word(h, text, ctx.clause_breaks) and _inside_word(text, h.start, words):
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
    claims = absorb_drug_sentences(resolve(claims), fc.norm.text)
    doc._.claims = claims
    spans = []
    for c in claims:
        span = doc.char_span(c.start, c.end, label=c.type, alignment_mode="expand")   # exact: cut there
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


_components: tuple = (None, ())


def run_components(nlp_, doc: Doc) -> Doc:
    """The pipeline's components on a Doc built elsewhere, without Language.__call__'s per-call work
    (nor the `pipeline` property's, which builds a new list on every access)."""
    global _components
    owner, components = _components
    if owner is not nlp_:
        components = tuple(c for _, c in nlp_.pipeline)
        _components = (nlp_, components)
    for component in components:
        doc = component(doc)
    return doc
