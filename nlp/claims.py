"""The spaCy pipeline: candidate matches in, typed claim spans out.

The Doc holds the normalised text of one field, cut at the boundaries of the
candidates that can be claims on the product. Candidates come from the
Aho-Corasick scan (nlp.scan), which doubles as a prefilter: a field with no
candidate never builds a Doc. jieba segments only the text around a short
candidate that survived every other check and may start inside a word. The
walks over characters (clause bounds, jieba's blocks and word graph) are
compiled in nlp/claims_core.pyx. Components, in order:

- ``claim_context``: drops candidates that are not claims in context (mandatory
  notices, GB 28050 sentences, population lines, negations, warnings, words that
  merely contain a phrase, matches that start inside another word);
- ``claim_types``: gives each survivor its type for this product kind and
  registration, then resolves overlaps by the eval precedence.

Results: ``doc._.claims`` (list of Claim) and ``doc.spans["claims"]``.
"""
from __future__ import annotations

import bisect
import math
import operator
import re
import threading
from dataclasses import dataclass, field

import ahocorasick_rs
import jieba
import spacy
from spacy.language import Language
from spacy.tokens import Doc, Span
from spacy.vocab import Vocab

from nlp.claims_core import clause_bounds, jieba_block, may_ask, starts_word
from nlp.normalize import is_cjk
from nlp.scan import find_near, max_width, required_literals

SENTENCE_BREAKS = "。;!?\n"
PRECEDENCE = ("illegal_additive", "disease_claim", "minors_targeting", "medical_endorsement",
              "efficacy_guarantee", "absolute_term", "unapproved_function", "health_function_on_ordinary_food")
RANK = {t: i for i, t in enumerate(PRECEDENCE)}
SPECIAL_KINDS = ("保健食品", "特殊医学用途配方食品", "婴幼儿配方食品")
NEGATION_WINDOW = 4


@dataclass(slots=True)
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
    candidates: list | None = None  # the hits that can be claims here (claim_candidates), once found


for _name in ("shian", "claims"):
    if not Doc.has_extension(_name):
        Doc.set_extension(_name, default=None)

# doc._.NAME keeps its value in doc.user_data under this key (spaCy's Underscore layout); the
# components use the keys directly, as building the doc._ proxy costs as much as a context check
SHIAN_KEY = ("._.", "shian", None, None)
CLAIMS_KEY = ("._.", "claims", None, None)
CUTS = "shian.cuts"                 # doc.user_data: the token boundaries field_doc cut at


# -- claim_context -------------------------------------------------------------

class ContextScan:
    """Every literal the context rules look for, found in one Aho-Corasick pass per field:
    the literal each mask pattern cannot match without (a pattern whose literal is absent is
    not run), nutrient sentences, protected words, negation and warning cues."""

    def __init__(self, ctx):
        words: dict[str, tuple[list, list]] = {}      # literal -> (masks needing it, cue lists it goes to)
        self.patterns = []                  # (regex, only for SPECIAL_KINDS, needs a literal, widest match)
        for rxs, special in ((ctx.mask, False), (ctx.population, True)):
            for rx in rxs:
                k = len(self.patterns)
                pattern = getattr(rx, "pattern", "")
                lits = required_literals(pattern)
                self.patterns.append((rx, special, lits is not None, max_width(pattern)))
                for lit in lits or ():
                    words.setdefault(lit, ([], []))[0].append(k)
        # the cue lists scan() returns, in its order: nutrient sentences, protected words, negation
        # cues, warning cues
        for j, cues in enumerate((ctx.nutrient_sentences, ctx.protected, ctx.negation_cues, ctx.warning_after)):
            for cue in cues:
                words.setdefault(cue, ([], []))[1].append(j)
        words.pop("", None)
        self.unconditional = [k for k, (_, _, needs, _) in enumerate(self.patterns) if not needs]
        self.words = list(words)
        self.payload = [words[w] for w in self.words]
        self.automaton = ahocorasick_rs.AhoCorasick(self.words, implementation=ahocorasick_rs.Implementation.DFA) \
            if self.words else None

    def scan(self, text: str):
        """(mask literal spots {mask: [(start, end)]}, nutrient sentences, protected words, negation
        cues, warning cues), the last four as lists of (start, end)."""
        found = self.automaton.find_matches_as_indexes(text, overlapping=True) if self.automaton else []
        cues: tuple[list, ...] = ([], [], [], [])
        spots: dict[int, list] = {}         # mask -> where its required literals are
        for i, a, b in found:
            ks, js = self.payload[i]
            for k in ks:
                if k in spots:
                    spots[k].append((a, b))
                else:
                    spots[k] = [(a, b)]
            for j in js:
                cues[j].append((a, b))
        return (spots, *cues)

    def masks(self, text: str, kind: str, spots: dict, near: list) -> list:
        """The mask pattern matches that may overlap one of the ``near`` spans, as (start, end).

        A windowed pattern is searched only in the windows around its literals (the windows
        find_near merges) that reach one of the spans: a match lies inside its window, so one in a
        window away from every span cannot touch them, and a window kept whole is searched as before."""
        special = kind in SPECIAL_KINDS
        n = len(text)
        out = []
        for k in self.unconditional:        # no literal to look for: the whole text
            rx, only_special, _, width = self.patterns[k]
            if special or not only_special:
                out += find_near(rx, text, None, width)
        for k, where in spots.items():
            rx, only_special, _, width = self.patterns[k]
            if only_special and not special:
                continue
            if width is not None:
                where = _spots_near(where, width, n, near)
                if not where:
                    continue
            out += find_near(rx, text, where, width)
        return out


def _spots_near(spots: list, width: int, n: int, near: list) -> list:
    """The spots whose merged window (as find_near merges them) reaches one of the ``near`` spans,
    with one character of slack on each side as find_near searches."""
    if len(spots) == 1:                 # the common case: one window
        s, e = spots[0]
        a, b = max(0, e - width), min(n, s + width)
        return spots if any(x < b + 1 and a - 1 < y for x, y in near) else []
    kept: list = []
    group: list = []
    lo = hi = -1
    for s, e in sorted(spots):
        a, b = max(0, e - width), min(n, s + width)
        if group and a <= hi:
            hi = max(hi, b)
        else:
            if group and any(x < hi + 1 and lo - 1 < y for x, y in near):
                kept += group
            group, lo, hi = [], a, b
        group.append((s, e))
    if group and any(x < hi + 1 and lo - 1 < y for x, y in near):
        kept += group
    return kept


# an A-not-A question: the same character on both sides of 不/没 (能不能, 会不会, 是不是, 可不可以,
# 有没有, 降不降). It asks; it does not negate.
_A_NOT_A = re.compile(r"(.)[不没]\1")


def _a_not_a(text: str, a: int, b: int) -> bool:
    """The 不/没 of an A-not-A question lies in text[a:b]."""
    return _A_NOT_A.search(text, max(a - 1, 0), b + 1) is not None


def _negated(text: str, start: int, ctx, cues: list, claims: list = (), substance: bool = False) -> bool:
    """A negation right before the match: a negating character touching it, or a cue ending at most
    NEGATION_WINDOW characters before it inside the same clause. The 不 of an A-not-A question is
    none (能不能降血糖?): the question rule decides. A cue followed by a verb of telling
    (``negation_blockers``: 医生不会告诉你的降糖秘密) negates that verb, not the match. A match in
    an item of a 、 list is decided by _negated_in_list."""
    if start == 0:
        return False
    if text[start - 1] in ctx.negation_chars and not _a_not_a(text, start - 1, start):
        return True
    k = text.rfind("、", start - NEGATION_WINDOW - 1 if start > NEGATION_WINDOW else 0, start)
    if k >= 0 and (cues or substance and _LIST_HEAD.search(text, max(0, k - LIST_SPAN), k)):
        lo = clause_bounds(text, start, start, ctx.clause_breaks)[0]
        if lo <= k:
            return _negated_in_list(text, start, k, lo, ctx, cues, claims, substance)
    if not cues:
        return False
    lo = start
    while lo > 0 and start - lo < NEGATION_WINDOW + 4 and text[lo - 1] not in ctx.clause_breaks:
        lo -= 1
    return any(lo <= a and b <= start and start - b <= NEGATION_WINDOW and not _a_not_a(text, a, b) and
               not any(w in text[b:start] for w in ctx.negation_blockers)
               for a, b in cues)


def _cue_reaches(text: str, a: int, b: int, start: int, ctx) -> bool:
    return not _a_not_a(text, a, b) and not any(w in text[b:start] for w in ctx.negation_blockers)


LIST_ITEM = 12                  # the longest item of a 、 list a negation covers
LIST_SPAN = 40                  # how far back a 、 list is followed to its negation
LIST_HEAD_CHARS = "无未"        # negating characters that head a list of substances (无蔗糖、色素); 不/非 negate verbs
_LIST_HEAD = re.compile(f"[{LIST_HEAD_CHARS}]")
_SUBSTANCE_CUE = re.compile("含|添加|检出")     # a cue saying "without" (不含, 无添加, 未检出), not "cannot"


def _negated_in_list(text: str, start: int, k: int, lo: int, ctx, cues: list, claims: list,
                     substance: bool) -> bool:
    """The match lies in an item of a 、 list (text[k] is the 、 before its item). A negation covers
    every item of the list that follows it in the clause (不含蔗糖、色素、西地那非; 不能降血糖、降血压、
    降血脂), but not an item that asserts (不含蔗糖、能降血糖): a modal word (能, 可以, 会: the ``ask``
    words) before the match in its item makes it a claim of its own. A cue that is part of a claim
    (无副作用、降血压 lists selling points) negates nothing. A cue saying "without" (不含, 无添加, a lone
    无/未) heads a list of substances: past its four-character window it covers a drug name
    (无蔗糖、色素、西地那非) but not an effect, which makes the list one of selling points
    (纯天然无公害、降血压; 不含蔗糖、低脂低卡、降血压); "cannot" (不能, 无法) covers effects (不能降血糖、
    降血压、降血脂). ``lo`` is where the clause starts."""
    floor = max(lo, k - LIST_SPAN)
    near = []                       # the cues before the 、, in the list's reach
    for a, b in cues:
        if a < floor or b > start:
            continue
        if a > k:                   # a cue inside the match's own item
            if start - b <= NEGATION_WINDOW and _cue_reaches(text, a, b, start, ctx):
                return True
        elif b < k:
            near.append((a, b))
    heads = [m.start() for m in _LIST_HEAD.finditer(text, floor, k - 1) if m.group() in ctx.negation_chars] \
        if substance else []
    if not near and not heads:
        return False                # nothing before the list negates (the usual list of claims)
    piece = text[k + 1:start]
    if any(w in piece for w in ctx.ask_words):
        return False
    item_end = k                    # walk the items back from the 、 before the match's item
    while True:
        j = text.rfind("、", floor, item_end)
        head = j + 1 if j >= 0 else floor
        for a, b in near:
            if head <= a and b < item_end and item_end - b <= LIST_ITEM and \
                    (substance or start - b <= NEGATION_WINDOW or not _SUBSTANCE_CUE.search(text, a, b)) and \
                    _cue_reaches(text, a, b, start, ctx) and not _in_claim(a, claims):
                return True
        for i in heads:
            if head <= i < item_end - 1 and item_end - i - 1 <= LIST_ITEM and not _in_claim(i, claims):
                return True
        if j < 0 or item_end - head > LIST_ITEM:
            return False
        item_end = j


def _in_claim(i: int, claims: list) -> bool:
    return any(h.start <= i < h.end for h in claims)


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


def _unanswered_question(text: str, start: int, end: int, ctx, norm=None) -> bool:
    """The match sits in a question that asks (能降血压吗?) and the next clause does not answer yes,
    or in any question the next clause answers no (治糖尿病? 不能!). An A-not-A form (能不能...)
    asks too, with or without a question mark, and so does a clause closed by a question particle
    without one (问:能降血糖吗 答:...; see _question_close). An answer given by a named speaker
    (答: / 客服: / 主播:) that does not say no is a yes: the seller answers, and anything but a
    refusal (坚持吃效果很好) confirms the claim. A question whether a population may eat the product
    (糖尿病人能吃吗) claims nothing for the words naming the population, whatever the answer."""
    if not ctx.answer_no and not ctx.ask_words:
        return False
    n, breaks = len(text), ctx.clause_breaks
    lo, stop = clause_bounds(text, start, end, breaks)
    close = _question_close(text, lo, end, stop, norm) if _PARTICLE.search(text, end, stop) else -1
    if close >= 0:
        stop = close
    # asked with a ?, a question particle, or an A-not-A form, which asks even without a question
    # mark (有人问能不能治病, 不知道会不会降血糖)
    elif not may_ask(text, lo, end, stop):
        return False
    if _asks_who_may_eat(text, lo, start, end, stop):
        return True
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


_PARTICLE = re.compile("[吗么嘛呢]")    # question particles
NOT_PARTICLE = "什怎这那多"          # 什么, 怎么, 这么, 那么, 多么: words, not a question's end


def _question_close(text: str, lo: int, end: int, stop: int, norm) -> int:
    """Where a question without a question mark ends inside the clause after the match: just past
    a question particle (吗/么/嘛/呢) followed by a space, a line end, the end of the text or a
    speaker label (喝了能降血糖吗 答:...; sellers and speech captions leave the ? out). Spaces
    between Chinese characters are gone from the normalised text, so the original is read for them.
    呢 makes no yes-no question by itself (喝了能降血糖呢 asserts): it closes one only after an
    A-not-A form (能不能降血糖呢). -1 when there is none."""
    i = _PARTICLE.search(text, end, stop)
    while i is not None:
        k = i.start()
        if _closes_question(text, k, norm) and (text[k] != "呢" or may_ask(text, lo, end, k)):
            return k + 1
        i = _PARTICLE.search(text, k + 1, stop)
    return -1


def _closes_question(text: str, i: int, norm) -> bool:
    if text[i] == "么" and i > 0 and text[i - 1] in NOT_PARTICLE:
        return False
    j = i + 1
    if j == len(text) or text[j] == "\n" or text[j].isspace() or _SPEAKER.match(text, j):
        return True
    if norm is None:
        return False
    e = norm.span(i, j)[1]
    return e < len(norm.original) and norm.original[e].isspace()


# the end of a question whether someone may eat the product: 能吃吗, 可以喝吗, 适合吗, 能不能吃
_WHO_MAY_EAT = re.compile(r"(?:能不能|可不可以|适不适合|能|可以|可|适合)(?:吃|喝|食用|饮用|服用|用)?[吗么嘛呢]?$")
MODALS = ("能", "可以", "可")
# how a word becomes the one who eats: 糖尿病人, 高血压患者, 三高人群, 减肥的时候, 有糖尿病的
WHO = ("人", "者", "人群", "的", "时候", "期间", "期", "朋友", "们", "族", "党", "宝宝", "老人")


def _asks_who_may_eat(text: str, lo: int, start: int, end: int, stop: int) -> bool:
    """The question text[lo:stop] asks whether someone may eat the product (糖尿病人能吃吗, 减肥期间
    可以喝吗) and the match names that someone: it lies before the question's ending and is not the
    effect of a 能/可以 (能降血糖吗 asks for the effect: the ordinary question rule decides)."""
    m = _WHO_MAY_EAT.search(text[max(lo, stop - 8):stop])
    if m is None:
        return False
    gap = text[end:stop - len(m.group())]       # between the match and the question's ending
    if end > stop - len(m.group()) or (gap and not gap.endswith(WHO)):
        return False                # 降血糖的茶可以喝吗 asks about a product named for its effect
    return not text[lo:start].endswith(MODALS)


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


def _inside_word(text: str, start: int, words: dict) -> bool:
    """A short phrase that starts in the middle of a jieba word belongs to that word (空降|糖果).

    Only the run of text jieba cuts as one block is segmented (the same words as cutting the whole
    field); ``words`` keeps the cuts of this field.
    """
    block = jieba_block(text, start)
    if block is None:
        return False                    # first in its block: nothing before it to join
    a, b = block
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
    jieba's HMM may join) reaches across k either. The walk is compiled (nlp/claims_core.pyx)."""
    global _longest_word
    dt = jieba.dt
    if not _longest_word:
        dt.check_initialized()
        _longest_word = max(map(len, dt.FREQ))
    return starts_word(block, k, dt.FREQ, _longest_word, math.log(dt.total))


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


def field_doc(nlp_, text: str, hits: list, fc: FieldContext | None = None) -> Doc:
    """A Doc over the field text whose token boundaries are the candidates' boundaries, so every
    claim is an exact Span; the text between candidates stays in a few long tokens.

    Given the field's context, the Doc carries it (doc._.shian) and is cut only where a claim can
    start or end: at the claim candidates of this product (claims come from no other match)."""
    if fc is not None:
        hits = claim_candidates(fc)
    cuts = sorted({0, len(text), *(h.start for h in hits), *(h.end for h in hits)})
    words = [text[a:b] for a, b in zip(cuts, cuts[1:])]
    doc = Doc(field_vocab(), words=words, spaces=[False] * len(words), user_data={CUTS: cuts})
    if fc is not None:
        doc.user_data[SHIAN_KEY] = fc
    return doc


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


def claim_candidates(fc: FieldContext) -> list:
    """The hits that can be claims on this product, in order. A match whose entry does not apply
    to it, or that its registration allows, is none (claim_types would drop it): it gets no checks
    and no token boundaries. Found once per field (field_doc and claim_context both need them)."""
    if fc.candidates is not None:
        return fc.candidates
    kind, approved = fc.kind, fc.approved
    candidates, allowed = [], []
    for h in fc.hits:
        if h.entry.applies_to(kind):
            t = type_for(h.entry, kind, approved)
            if t is None:
                allowed.append((h.start, h.end))
            elif t:
                candidates.append(h)
    # a match this product's registration allows (辅助降血糖, the old official name of its function)
    # covers the shorter phrases inside it (降血糖): they are part of the allowed wording
    if allowed:
        candidates = [h for h in candidates
                      if not any(a <= h.start and h.end <= b and b - a > h.end - h.start for a, b in allowed)]
    fc.candidates = candidates
    return candidates


@Language.component("claim_context")
def claim_context(doc: Doc) -> Doc:
    """Keeps in fc.hits the candidates that are claims in context. Every check can only drop a
    candidate, so the cheap ones run first and each later one sees only the survivors."""
    fc: FieldContext = doc.user_data[SHIAN_KEY]
    candidates = claim_candidates(fc)
    if not candidates:
        fc.hits = []
        return doc
    kind = fc.kind
    ctx = fc.bundle.context
    text = fc.norm.text             # == doc.text, without rebuilding it from the tokens
    scan = context_scan(ctx)
    spots, nutrient, protected, negation, warning = scan.scan(text)
    keep = []
    for h in candidates:
        if nutrient and any(s < h.end and h.start < e for s, e in nutrient):
            continue
        if protected and any(s < h.end and h.start < e and not (h.start <= s and e <= h.end) for s, e in protected):
            continue
        if h.entry.negatable:
            substance = h.entry.type == "illegal_additive"
            if _negated(text, h.start, ctx, negation, candidates, substance) or \
                    _warning_after(text, h.end, ctx, warning) or _unanswered_question(text, h.start, h.end, ctx, fc.norm):
                continue
        if h.entry.type == "minors_targeting" and _adult_consumer(text, h.start, h.end, ctx):
            continue
        keep.append(h)
    if keep:                        # mandatory notices, population lines: only near the survivors
        masks = scan.masks(text, kind, spots, [(h.start, h.end) for h in keep])
        if masks:
            keep = [h for h in keep if not any(s < h.end and h.start < e for s, e in masks)]
    words: dict = {}                # jieba cuts, made only for the candidates that get this far
    breaks = ctx.clause_breaks
    fc.hits = [h for h in keep if not (_may_start_inside_word(h, text, breaks) and _inside_word(text, h.start, words))]
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


_START = operator.attrgetter("start")


def resolve(claims: list[Claim]) -> list[Claim]:
    """One type per span: overlapping claims go to the strongest type; same-type overlaps merge."""
    accepted = sorted(claims, key=_START)
    if all(a.end <= b.start and a.start < b.start for a, b in zip(accepted, accepted[1:])):
        return _merge_touching(accepted)        # no overlaps: nothing to rank
    accepted = []
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
    accepted.sort(key=_START)
    return _merge_touching(accepted)


def _merge_touching(accepted: list[Claim]) -> list[Claim]:
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
    fc: FieldContext = doc.user_data[SHIAN_KEY]
    kind, approved = fc.kind, fc.approved
    claims = []
    for h in fc.hits:
        t = type_for(h.entry, kind, approved)
        if t is not None:
            claims.append(Claim(h.start, h.end, t, h.entry, h.phrase, {h.how} if h.how else set()))
    claims = absorb_drug_sentences(resolve(claims), fc.norm.text)
    doc.user_data[CLAIMS_KEY] = claims
    cuts = doc.user_data.get(CUTS)
    spans = []
    for c in claims:
        i = bisect.bisect_left(cuts, c.start) if cuts else -1
        j = bisect.bisect_left(cuts, c.end, i) if i >= 0 else -1
        if 0 <= i < j < len(cuts) and cuts[i] == c.start and cuts[j] == c.end:
            spans.append(Span(doc, i, j, label=c.type))         # token i starts at cuts[i]
        else:                   # a Doc not cut by field_doc
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
