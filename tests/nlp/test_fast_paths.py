"""The shortcuts that make detection fast must not change what it finds."""
from __future__ import annotations

import re

import re2
import yaml
from hypothesis import given, settings, strategies as st

import nlp
from nlp.lexicon import CONFIG_DIR_DEFAULT, _re2_options, fast_regex, load_bundle
from nlp.scan import anchored, find_near, first_literals, max_width, python_syntax, required_literals

BUNDLE = load_bundle(CONFIG_DIR_DEFAULT)
_CONTEXT = yaml.safe_load((CONFIG_DIR_DEFAULT / "claim_context.yaml").read_text(encoding="utf-8"))
PATTERNS = [e.pattern for e in BUNDLE.entries if e.pattern] + \
    _CONTEXT.get("mask_patterns", []) + _CONTEXT.get("population_patterns", [])
# text made of the pieces the patterns are written with, so matches are frequent
PIECES = sorted({p for pat in PATTERNS for p in re.findall(r"[\u4e00-\u9fff]{1,3}|[0-9]+", pat)})
PIECES += [",", "。", "!", "?", "\n", " ", "a", "1"]
TEXTS = st.lists(st.sampled_from(PIECES), max_size=12).map("".join)


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(PATTERNS), TEXTS)
def test_python_twin_finds_what_re2_finds(pattern, text):
    slow = re2.compile(pattern, _re2_options())
    fast = fast_regex(pattern, slow)
    assert [m.span() for m in fast.finditer(text)] == [m.span() for m in slow.finditer(text)]
    for pos in range(len(text)):
        a, b = fast.match(text, pos), slow.match(text, pos)
        assert (a and a.span()) == (b and b.span())


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(PATTERNS), TEXTS)
def test_a_pattern_never_matches_without_its_required_literal(pattern, text):
    needed = required_literals(pattern)
    if needed is not None and re2.compile(pattern, _re2_options()).search(text):
        assert any(lit in text for lit in needed)


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(PATTERNS), TEXTS)
def test_every_match_starts_with_one_of_its_first_literals(pattern, text):
    lits = first_literals(pattern)
    if lits is None:
        return
    for m in re2.compile(pattern, _re2_options()).finditer(text):
        assert any(text.startswith(lit, m.start()) for lit in lits)


WINDOWED = [p for p in PATTERNS if required_literals(p) is not None and max_width(p) is not None]


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_searching_near_required_literals_finds_what_the_whole_text_search_finds(data):
    pattern = data.draw(st.sampled_from(WINDOWED))
    needed, width = required_literals(pattern), max_width(pattern)
    # the pattern's own pieces between runs of filler, so matches sit near window edges
    own = sorted(set(re.findall(r"[\u4e00-\u9fff]{1,4}|[0-9]+", pattern)) | needed)
    parts = data.draw(st.lists(st.one_of(st.sampled_from(own), st.sampled_from(PIECES),
                                         st.integers(0, 12).map("好".__mul__)), max_size=25))
    text = "".join(parts)
    spots = [(m.start(), m.start() + len(lit)) for lit in needed for m in re.finditer(re.escape(lit), text)]
    slow = re2.compile(pattern, _re2_options())
    for engine in (slow, fast_regex(pattern, slow)):
        whole = [m.span() for m in engine.finditer(text) if m.end() > m.start()]
        assert find_near(engine, text, spots, width) == whole


HEAVY = [e for e in BUNDLE.entries if e.twin is not None and e.work < float("inf")]


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_a_heavy_pattern_finds_the_same_on_its_python_twin_as_on_re2(data):
    """Heavy patterns run on Python's re while a text's backtracking budget lasts, then on RE2."""
    entry = data.draw(st.sampled_from(HEAVY))
    own = sorted(set(re.findall(r"[\u4e00-\u9fff]{1,4}|[0-9]+", entry.pattern)))
    text = "".join(data.draw(st.lists(st.one_of(st.sampled_from(own), st.sampled_from(PIECES),
                                                st.sampled_from(["\n", "好好", "$"])), max_size=20)))
    run = anchored(entry.regex, entry.pattern, entry.twin, entry.work)
    for pos in range(len(text)):
        assert run(text, pos, [float("inf")]) == run(text, pos, [0])


def test_a_text_past_its_backtracking_budget_goes_to_re2():
    entry = max(HEAVY, key=lambda e: e.work)
    run = anchored(entry.regex, entry.pattern, entry.twin, entry.work)
    budget = [entry.work * 2.5]
    run("治疗糖尿病", 0, budget)
    run("治疗糖尿病", 0, budget)
    assert budget[0] == entry.work * 0.5
    run("治疗糖尿病", 0, budget)                    # not enough left: RE2, nothing spent
    assert budget[0] == entry.work * 0.5


def test_re2_end_of_text_is_pythons_end_of_string():
    from nlp.lexicon import python_dollar
    assert python_dollar(r"降(?:[^价$]|$)") == r"降(?:[^价$]|\Z)"
    assert python_dollar(r"a\$|[]$]$") == r"a\$|[]$]\Z"
    twin = re.compile(python_dollar("糖$"))
    assert twin.search("降糖\n") is None and re2.compile("糖$").search("降糖\n") is None


def test_re2_code_point_escapes_are_read_by_the_analyses():
    pattern = r"[\x{4e00}-\x{9fff}]{1,4}(?:堂|旗舰店)"
    assert python_syntax(pattern) == r"[\U00004e00-\U00009fff]{1,4}(?:堂|旗舰店)"
    assert required_literals(pattern) == {"堂", "旗舰店"} and max_width(pattern) == 7
    assert python_syntax(r"\\x{41}") == r"\\x{41}"          # an escaped backslash, then text


def test_heavy_backtracking_stays_on_re2():
    alts = "|".join(f"病{i:03d}" for i in range(300))
    pattern = f"(?:治|防){{0,3}}[^,。]{{0,12}}(?:{alts})[^,。]{{0,12}}(?:{alts})"
    slow = re2.compile(pattern, _re2_options())
    assert fast_regex(pattern, slow) is slow


def test_engine_specific_syntax_stays_on_re2():
    for pattern in (r"(?i)abc", r"\pN{2}"):
        slow = re2.compile(pattern, _re2_options())
        assert fast_regex(pattern, slow) is slow


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(PATTERNS), TEXTS)
def test_a_pattern_tried_at_a_trigger_ends_where_re2_ends(pattern, text):
    from nlp.scan import anchored
    slow = re2.compile(pattern, _re2_options())
    for regex in (slow, fast_regex(pattern, slow)):
        run = anchored(regex, pattern)
        for pos in range(len(text)):
            m = slow.match(text, pos)
            assert run(text, pos, [0]) == (m.end() if m and m.end() > pos else 0)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(["降", "血", "糖", "好", ",", "、", " ", "\n", "\u3000", "a", "1"]), max_size=16)
       .map("".join))
def test_vertical_and_spelled_out_text_is_found_with_or_without_its_quick_check(text):
    from nlp import normalize
    lines = [m.span() for m in normalize._ONE_CHAR_LINE.finditer(text)]
    runs = list(normalize._SPELLED_RUN.finditer(text))
    # runs of three one-character lines, and spelled-out words, need what the quick checks look for
    three = any(b + 1 == c and d + 1 == e for (a, b), (c, d), (e, f) in zip(lines, lines[1:], lines[2:]))
    assert not three or normalize._LINES_HINT.search(text)
    assert not runs or normalize._SPELLED_HINT.search(text)


def test_analysing_many_new_texts_keeps_the_vocabulary_bounded(listing, monkeypatch):
    from nlp import claims
    monkeypatch.setattr(claims, "MAX_VOCAB_STRINGS", 200)
    claims.reset_vocab()
    sizes = []
    for i in range(400):        # every text unique, each with a claim: every Doc interns new strings
        result = nlp.detect(listing(f"第{i}号店铺的新品{i * 7919}上市，坚持喝能降血糖，编号{i}"))
        assert any(f.type == "disease_claim" for f in result.findings)
        sizes.append(len(claims.field_vocab().strings))
    assert max(sizes) <= 200 + 10       # one Doc past the bound at most, then a fresh vocabulary
    assert min(sizes[200:]) < max(sizes)


WORDY = sorted({c for e in BUNDLE.entries for p in e.phrases for c in p if "\u4e00" <= c <= "\u9fff"})[:120] + \
    list("空降糖果的了是在和我你好吃喝茶")


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(WORDY), min_size=2, max_size=14).map("".join), st.data())
def test_a_word_start_found_without_cutting_the_block_is_where_jieba_cuts(block, data):
    import jieba

    from nlp.claims import _starts_word
    k = data.draw(st.integers(min_value=1, max_value=len(block) - 1))
    if _starts_word(block, k):
        s = 0
        for w in jieba.lcut(block):
            assert not s < k < s + len(w), (block, k, w)
            if s == k:
                assert len(w) > 1, (block, k, w)
            s += len(w)


# -- the context stage (nlp.claims and its compiled walks, nlp/claims_core.pyx) ------------------
# Each compiled walk is checked against the plain Python it replaced, on arbitrary text.

KERNEL_CHARS = sorted(set(WORDY) | set("不没吗么嘛能会降糖空果") | set("aZz09") | set("Ａ１，？！") |
                      set(",。;!?\n: \t\u3000") | set("+#&._%-") |
                      {"😀", "\u200b", "\u200d", "\u0301", "\ufe0f", "\U00020000", "\u9fd6", "\u3400"})
ANY_TEXT = st.lists(st.sampled_from(KERNEL_CHARS), max_size=24).map("".join) | st.text(max_size=16)


_LONGEST: list[int] = []


def _python_starts_word(block: str, k: int) -> bool:
    """nlp.claims._starts_word as it was in Python: jieba's own get_DAG and calc."""
    import math

    import jieba
    dt = jieba.dt
    dt.check_initialized()
    freq = dt.FREQ
    if not _LONGEST:
        _LONGEST.append(max(map(len, freq)))
    longest = _LONGEST[0]
    n = len(block)
    for i in range(max(0, k - longest), k):
        j = i + 1
        frag = block[i:j]
        while j <= n and frag in freq:
            if j > k and freq[frag]:
                return False
            j += 1
            frag = block[i:j]
    rest = block[k:]
    route: dict = {}
    dt.calc(rest, dt.get_DAG(rest), route)
    assert math.isfinite(route[0][0])
    return route[0][1] > 0


@settings(max_examples=400, deadline=None)
@given(ANY_TEXT, st.data())
def test_the_compiled_word_start_walk_is_jiebas_own(block, data):
    from nlp.claims import _starts_word, teach_jieba
    teach_jieba(BUNDLE)                 # the dictionary as detection uses it
    k = data.draw(st.integers(min_value=0, max_value=len(block)))
    assert _starts_word(block, k) == _python_starts_word(block, k)


def _python_clause(text: str, start: int, end: int, breaks: str) -> tuple[int, int]:
    cuts = [i for i, c in enumerate(text) if c in breaks]
    lo = max([c + 1 for c in cuts if c < start], default=0)
    return lo, min([c for c in cuts if c >= end], default=len(text))


def _python_may_ask(text: str, lo: int, end: int, stop: int) -> bool:
    tail = text[end:stop].rstrip()
    return (stop < len(text) and text[stop] == "?") or bool(tail and tail[-1] in "吗么嘛") or \
        re.compile(r"(.)[不没]\1").search(text, lo, stop) is not None


@settings(max_examples=400, deadline=None)
@given(ANY_TEXT, st.data())
def test_the_clause_around_a_match_and_whether_it_asks_are_found_as_before(text, data):
    from nlp.claims_core import clause_bounds, may_ask
    start = data.draw(st.integers(min_value=0, max_value=len(text)))
    end = data.draw(st.integers(min_value=start, max_value=len(text)))
    breaks = BUNDLE.context.clause_breaks
    lo, stop = clause_bounds(text, start, end, breaks)
    assert (lo, stop) == _python_clause(text, start, end, breaks)
    assert may_ask(text, lo, end, stop) == _python_may_ask(text, lo, end, stop)


@settings(max_examples=400, deadline=None)
@given(ANY_TEXT, st.data())
def test_the_block_jieba_cuts_around_a_match_is_found_as_before(text, data):
    import bisect

    import jieba

    from nlp.claims_core import jieba_block
    start = data.draw(st.integers(min_value=0, max_value=len(text)))
    blocks = [m.span() for m in jieba.re_han_default.finditer(text)]
    i = bisect.bisect_right(blocks, (start, len(text) + 1)) - 1
    inside = i >= 0 and blocks[i][0] < start < blocks[i][1]
    assert jieba_block(text, start) == (blocks[i] if inside else None)


def test_the_compiled_walks_refuse_places_outside_the_text():
    import pytest

    from nlp.claims_core import clause_bounds, may_ask, starts_word
    with pytest.raises(ValueError):
        clause_bounds("降血糖", 2, 5, ",")
    with pytest.raises(ValueError):
        may_ask("降血糖", 2, 1, 3)
    with pytest.raises(ValueError):
        starts_word("降血糖", -1, {}, 1, 0.0)


NOTICES = ["不适宜人群:", "适宜人群:", "咨询医生", "本品不能代替药物", "遵医嘱", "降血糖"]
MASK_TEXT = st.lists(st.one_of(st.sampled_from(PIECES), st.sampled_from(NOTICES), st.integers(0, 30).map("好".__mul__)),
                     max_size=20).map("".join)


def _spans_in(n: int):
    return st.lists(st.tuples(st.integers(0, n), st.integers(1, 6)).map(lambda p: (p[0], min(n, p[0] + p[1])))
                    .filter(lambda p: p[0] < p[1]), max_size=4)


@settings(max_examples=300, deadline=None)
@given(MASK_TEXT, st.sampled_from(["普通食品", "保健食品"]), st.data())
def test_masks_searched_near_the_surviving_matches_are_the_ones_that_touch_them(text, kind, data):
    """The masks are searched only in the windows that reach a surviving match: every mask that
    overlaps a survivor in the whole-text search is still found."""
    from nlp.claims import SPECIAL_KINDS, context_scan
    scan = context_scan(BUNDLE.context)
    near = data.draw(_spans_in(len(text))) if text else []
    spots = scan.scan(text)[0]
    found = scan.masks(text, kind, spots, near)
    everywhere = []
    for k, (rx, only_special, needs, _) in enumerate(scan.patterns):
        if (not only_special or kind in SPECIAL_KINDS) and (not needs or k in spots):
            everywhere += find_near(rx, text, None, None)

    def touching(masks):
        return {(s, e) for s, e in masks if any(s < b and a < e for a, b in near)}
    assert touching(found) == touching(everywhere)
    assert set(found) <= set(everywhere)


def _python_resolve(claims):
    """nlp.claims.resolve without its no-overlap shortcut."""
    from nlp.claims import RANK
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
    accepted.sort(key=lambda c: c.start)
    merged = []
    for c in accepted:
        if merged and merged[-1].type == c.type and merged[-1].end == c.start:
            merged[-1].end = c.end
            merged[-1].how |= c.how
        else:
            merged.append(c)
    return merged


@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 30), st.integers(1, 6), st.sampled_from(["disease_claim", "absolute_term",
                                                                                   "illegal_additive"]),
                          st.sampled_from(["", "pinyin", "homophone"])), max_size=6))
def test_claims_that_do_not_overlap_resolve_as_the_ranked_merge_does(raw):
    from nlp.claims import Claim, resolve

    def make():
        return [Claim(s, s + w, t, None, "x", {how} if how else set()) for s, w, t, how in raw]
    fast, slow = resolve(make()), _python_resolve(make())
    assert [(c.start, c.end, c.type, c.how) for c in fast] == \
        [(c.start, c.end, c.type, c.how) for c in slow]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(["坚持喝能降血糖", "提高免疫力", "全网销量第一", "本品不能代替药物", "三天见效", "，",
                                 "。", "好喝", "治疗糖尿病吗?", "能!", "西地那非", "辅助降血糖"]),
                min_size=1, max_size=8).map("".join), st.sampled_from(["普通食品", "保健食品"]))
def test_a_doc_cut_only_at_the_claim_candidates_holds_the_same_claims_and_exact_spans(text, kind):
    """field_doc given the field's context cuts fewer tokens; the claims, doc._.claims and the
    doc.spans["claims"] it ends with are those of a Doc cut at every match."""
    from nlp.claims import FieldContext, field_doc, get_nlp, run_components, teach_jieba
    nlp_ = get_nlp()
    teach_jieba(BUNDLE)
    norm = BUNDLE.normalizer(text)
    hits = BUNDLE.scanner.scan(norm)
    if not hits:
        return
    approved = {e.function for e in BUNDLE.entries if e.function is not None} if kind == "保健食品" else None
    out = []
    for with_fc in (True, False):
        fc = FieldContext(norm=norm, bundle=BUNDLE, kind=kind, approved=approved, hits=hits)
        if with_fc:
            doc = field_doc(nlp_, norm.text, hits, fc)
            assert doc._.shian is fc
        else:
            doc = field_doc(nlp_, norm.text, hits)
            doc._.shian = fc
        doc = run_components(nlp_, doc)
        claims = doc._.claims
        spans = list(doc.spans["claims"])
        assert [(s.start_char, s.end_char, s.label_) for s in spans] == [(c.start, c.end, c.type) for c in claims]
        assert all(s.text == norm.text[s.start_char:s.end_char] for s in spans)
        out.append([(c.start, c.end, c.type, c.entry.id, sorted(c.how)) for c in claims])
    assert out[0] == out[1]
