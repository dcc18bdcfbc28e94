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
