"""The candidate scan (nlp.scan + its kernel nlp/scan_core.pyx) finds exactly what the plain scan it
replaced found, in the same order: the gating of pattern tries and the compiled dispatch are
shortcuts, never a change of what is flagged."""
from __future__ import annotations

import re

import ahocorasick_rs
import pytest
from hypothesis import given, settings, strategies as st

from nlp import scan_core
from nlp.lexicon import CONFIG_DIR_DEFAULT, load_bundle
from nlp.normalize import Normalized
from nlp.scan import (BACKTRACK_BUDGET, Hit, Scanner, _latin_bounded, anchored, find_near, first_literals,
                      gate_groups, max_width, phrase_surfaces, required_literals)

BUNDLE = load_bundle(CONFIG_DIR_DEFAULT)
SCANNER = BUNDLE.scanner
PATTERNS = [e for e in BUNDLE.entries if e.regex is not None]


class ReferenceScanner:
    """The scan as it was before the kernel, in plain Python: every report of the automaton is
    dispatched through a dict of spots, a pattern is tried at each of its first literals whenever
    one of its required literals is anywhere in the text, anywhere patterns go through finditer."""

    def __init__(self, bundle):
        surfaces = phrase_surfaces(bundle)      # what the automaton looks for is unchanged
        self.anywhere = []
        triggers: dict[str, list] = {}
        requires: dict[str, list] = {}
        for e in bundle.entries:
            if e.regex is None:
                continue
            lits = first_literals(e.pattern)
            needed = required_literals(e.pattern)
            for lit in needed or ():
                requires.setdefault(lit, []).append(e.id)
            if lits is None:
                self.anywhere.append((e, needed is not None, max_width(e.pattern)))
            else:
                run = anchored(e.regex, e.pattern, e.twin, e.work)
                for lit in lits:
                    if not any(lit[:k] in lits for k in range(1, len(lit))):
                        triggers.setdefault(lit, []).append((e.id, e, run, needed is not None))
        words = sorted(set(surfaces) | set(triggers) | set(requires))
        self.payload = [(surfaces.get(w, ()), triggers.get(w, ()), requires.get(w, ())) for w in words]
        self.automaton = ahocorasick_rs.AhoCorasick(words, matchkind=ahocorasick_rs.MatchKind.Standard)

    def scan(self, norm, only=None):
        text = norm.text
        hits, pattern_hits, spots, tries = [], [], {}, []
        found = sorted(self.automaton.find_matches_as_indexes(text, overlapping=True), key=lambda m: (m[2], m[1]))
        for i, start, stop in found:
            targets, entries, ids = self.payload[i]
            for eid in ids:
                spots.setdefault(eid, []).append((start, stop))
            if entries:
                tries.append((start, entries))
            for entry, phrase, how in targets:
                if only is not None and entry.id not in only:
                    continue
                if how and not _latin_bounded(norm, start, stop):
                    continue
                hits.append((start, stop, entry.id, phrase, how))
        budget = [BACKTRACK_BUDGET]
        for start, entries in tries:
            for eid, entry, run, gated in entries:
                if (gated and eid not in spots) or (only is not None and eid not in only):
                    continue
                end = run(text, start, budget)
                if end:
                    pattern_hits.append((start, end, entry.id, text[start:end], ""))
        hits += pattern_hits
        for entry, gated, width in self.anywhere:
            if (gated and entry.id not in spots) or (only is not None and entry.id not in only):
                continue
            for s, e in _reference_near(entry.regex, text, spots.get(entry.id) if gated else None, width):
                hits.append((s, e, entry.id, text[s:e], ""))
        return hits


def _reference_near(regex, text, spots, width):
    """finditer over the whole text: what searching near the spots stands for."""
    return [m.span() for m in regex.finditer(text) if m.end() > m.start()]


REFERENCE = ReferenceScanner(BUNDLE)


class AsIs:
    """The normaliser's record for a text taken as it stands: nothing dropped or replaced."""

    @staticmethod
    def word_starts():
        return set()


def as_tuples(hits):
    return [(h.start, h.end, h.entry.id, h.phrase, h.how) for h in hits]


# texts made of the lists' own phrases and the pieces their patterns are written with, between noise
# of every kind a listing may carry
OWN = sorted({p for e in BUNDLE.entries for p in e.phrases if len(p) <= 6} |
             {p for e in PATTERNS for p in re.findall(r"[\u4e00-\u9fff]{1,4}|[0-9]+|[a-z]+", e.pattern)})
NOISE = list("的了是在好,。!?;:、 \n\t1230５ａＢabcxyz-*./·") + \
    ["\u200b", "\u0301", "\U0001F600", "\U00020000", "\u3000", "ｋｇ", "jiang ya", "kang ai", "ai", "thai", ""]
TEXTS = st.lists(st.one_of(st.sampled_from(OWN), st.sampled_from(NOISE), st.text(max_size=3)),
                 max_size=24).map("".join)


@settings(max_examples=400, deadline=None)
@given(TEXTS)
def test_the_scan_finds_what_the_plain_scan_found_in_the_same_order(raw):
    norm = BUNDLE.normalizer(raw)
    assert as_tuples(SCANNER.scan(norm)) == REFERENCE.scan(norm)


@settings(max_examples=200, deadline=None)
@given(TEXTS)
def test_any_text_as_it_stands_is_scanned_like_the_plain_scan(raw):
    # not normalised: any code point at all reaches the kernel (zero-width, combining, astral, upper case)
    norm = Normalized(raw, raw, AsIs())
    assert as_tuples(SCANNER.scan(norm)) == REFERENCE.scan(norm)


@settings(max_examples=150, deadline=None)
@given(TEXTS, st.sets(st.sampled_from(sorted({e.id for e in BUNDLE.entries})), max_size=4))
def test_a_scan_for_some_entries_finds_what_the_plain_scan_finds_for_them(raw, only):
    norm = BUNDLE.normalizer(raw)
    assert as_tuples(SCANNER.scan(norm, only=only)) == REFERENCE.scan(norm, only=only)


def test_known_claims_are_found_in_order():
    norm = BUNDLE.normalizer("坚持喝能降血糖，适合糖尿病人群准备，代替降糖药，3天见效")
    got = as_tuples(SCANNER.scan(norm))
    assert got == REFERENCE.scan(norm)
    assert any(h[3] == "降血糖" for h in got) and any("代替降糖药" in h[3] for h in got)
    assert SCANNER.scan(BUNDLE.normalizer("")) == []


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(PATTERNS), TEXTS)
def test_a_pattern_matches_only_where_all_runs_of_one_alternative_are_inside_the_match(entry, raw):
    """What gates a try: a match at p contains a string of every run of one of the alternatives
    that start with a literal seen at p."""
    lits = first_literals(entry.pattern)
    if lits is None:
        return
    text = BUNDLE.normalizer(raw).text
    groups = gate_groups(entry.pattern)
    for p in range(len(text)):
        m = entry.regex.match(text, p)
        if not m or m.end() <= p:
            continue
        seen = [lit for lit in lits if text.startswith(lit, p)]
        assert seen
        piece = text[p:m.end()]
        assert any((firsts is None or any(text.startswith(f, p) for f in firsts)) and
                   all(any(s in piece for s in run) for run in runs) for firsts, runs in groups)


def test_a_gate_group_per_alternative():
    groups = gate_groups(r"(?:适合|适宜)[^,]{0,8}(?:糖尿病|高血压)(?:的)?(?:人群|患者)|(?:给|为)[^,]{0,4}(?:三高)准备")
    # Python's parser takes the common 适 out of 适合|适宜: that is the first literal
    assert groups == [({"适"}, [{"适合", "适宜"}, {"糖尿病", "高血压"}, {"人群", "患者"}]),
                      ({"给", "为"}, [{"给", "为"}, {"三高准备"}])]


def test_hits_read_like_the_dataclass_they_replace():
    entry = PATTERNS[0]
    h = Hit(1, 3, entry, "降糖")
    assert (h.start, h.end, h.entry, h.phrase, h.how) == (1, 3, entry, "降糖", "")
    assert h == Hit(1, 3, entry, "降糖", "") and h != Hit(1, 4, entry, "降糖")
    assert entry.id in repr(h)
    with pytest.raises(TypeError):
        hash(h)


def synthetic_bundle():
    """A few short patterns over a small alphabet, so that random texts hit the edges of the gating:
    gate literals just inside or just past the widest match, alternatives that share a first literal,
    optional parts inside gate runs, anywhere patterns with and without a required literal."""
    from types import SimpleNamespace

    from nlp.lexicon import Entry
    patterns = [r"降[^,]{0,3}(?:血糖|血压)",
                r"(?:适合|适宜)[^,。]{0,4}(?:糖尿病|高血压)(?:的)?(?:人群|患者)|(?:给|为)[^,]{0,2}三高准备|适合三高",
                r"(?:[0-9]{1,2}|[一二三])天[^,]{0,2}(?:见效|有效)",
                r"治(?:好|愈)?(?:了)?糖尿病",
                r"\b降糖",
                r"[好]{2}"]
    entries = [Entry(id=f"p{i}", type="disease_claim", severity="high", legal_basis="", file="t", line=i,
                     version="t", pattern=p, regex=re.compile(p)) for i, p in enumerate(patterns)]
    entries.append(Entry(id="w", type="disease_claim", severity="high", legal_basis="", file="t", line=9,
                         version="t", phrases=["血糖", "降血糖", "三高"], pinyin=True))
    return SimpleNamespace(entries=entries)


SYNTH = synthetic_bundle()
SYNTH_SCANNER, SYNTH_REFERENCE = Scanner(SYNTH), ReferenceScanner(SYNTH)
SYNTH_TEXTS = st.lists(st.sampled_from(list("降血糖压适合宜糖尿病高血压的人群患者给为三高准备一二3天见效有治好愈了,。好 ")
                                       + ["jiang", "xue", "tang"]), max_size=20).map("".join)


@settings(max_examples=1500, deadline=None)
@given(SYNTH_TEXTS)
def test_gating_at_its_edges_finds_what_the_plain_scan_finds(text):
    norm = Normalized(text, text, AsIs())
    assert as_tuples(SYNTH_SCANNER.scan(norm)) == SYNTH_REFERENCE.scan(norm)


def test_a_gate_literal_at_the_far_end_of_the_widest_match_lets_the_try_run():
    norm = Normalized("降好好好血糖", "降好好好血糖", AsIs())
    assert ("降好好好血糖", "p0") in [(h.phrase, h.entry.id) for h in SYNTH_SCANNER.scan(norm)]


AUTOMATON_WORDS = sorted({w for w in OWN if w} | {"a", "ab", "b", "\U0001F600", "\U00020000糖", "降\u200b"})
AUTOMATON = scan_core.Automaton(AUTOMATON_WORDS)
AHO_REFERENCE = ahocorasick_rs.AhoCorasick(AUTOMATON_WORDS, matchkind=ahocorasick_rs.MatchKind.Standard)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.one_of(st.sampled_from(AUTOMATON_WORDS), st.sampled_from(NOISE), st.text(max_size=4)),
                max_size=30).map("".join))
def test_the_automaton_reports_what_ahocorasick_rs_reports_by_end_longest_first(text):
    want = sorted(AHO_REFERENCE.find_matches_as_indexes(text, overlapping=True), key=lambda m: (m[2], m[1]))
    assert AUTOMATON.matches(text) == want


def test_the_automaton_finds_overlapping_words_and_refuses_bad_ones():
    a = scan_core.Automaton(["血糖", "降血糖", "糖", "降糖"])
    assert a.matches("降血糖降糖") == [(1, 0, 3), (0, 1, 3), (2, 2, 3), (3, 3, 5), (2, 4, 5)]
    assert a.matches("") == [] and a.matches("abc") == []
    assert a.matches("\ud800降糖\U0001F600糖") == [(3, 1, 3), (2, 2, 3), (2, 4, 5)]    # any code point at all
    with pytest.raises(ValueError):
        scan_core.Automaton(["降", ""])
    with pytest.raises(ValueError):
        scan_core.Automaton(["降", "降"])


def test_a_table_with_bad_offsets_is_refused():
    empty = ([], [0])
    ok = dict(words=[], targets=empty, triggers=empty, sets=empty, spots=empty, tries=([], [], [0]), groups=([], [0]),
              nsets=0, patterns=[], widths=[], anywhere=[], anywhere_groups=([], [0]), find_near=find_near,
              latin_bounded=_latin_bounded)
    scan_core.Table(**ok)
    with pytest.raises(ValueError):
        scan_core.Table(**{**ok, "targets": ([], [0, 1])})
    with pytest.raises(ValueError):
        scan_core.Table(**{**ok, "words": ["降"], "triggers": ([5], [0, 1]), "targets": ([("e", "p", "")], [0, 1]),
                           "sets": ([], [0, 0]), "spots": ([], [0, 0])})
