"""The shortcuts that make detection fast must not change what it finds."""
from __future__ import annotations

import re

import re2
from hypothesis import given, settings, strategies as st

from nlp.lexicon import CONFIG_DIR_DEFAULT, _re2_options, fast_regex, load_bundle
from nlp.scan import first_literals, required_literals

BUNDLE = load_bundle(CONFIG_DIR_DEFAULT)
PATTERNS = [e.pattern for e in BUNDLE.entries if e.pattern] + \
    [rx.pattern for rx in BUNDLE.context.mask + BUNDLE.context.population]
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


def test_heavy_backtracking_stays_on_re2():
    alts = "|".join(f"病{i:03d}" for i in range(300))
    pattern = f"(?:治|防){{0,3}}[^,。]{{0,12}}(?:{alts})[^,。]{{0,12}}(?:{alts})"
    slow = re2.compile(pattern, _re2_options())
    assert fast_regex(pattern, slow) is slow


def test_engine_specific_syntax_stays_on_re2():
    for pattern in (r"[\x{4e00}-\x{9fff}]{1,4}堂", r"(?i)abc", r"\pN{2}"):
        slow = re2.compile(pattern, _re2_options())
        assert fast_regex(pattern, slow) is slow
