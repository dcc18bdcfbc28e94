"""Find keyword-list matches in normalised text: one Aho-Corasick pass for every phrase
(and its pinyin spellings), then the RE2 patterns.

Aho-Corasick finds matches inside jieba tokens too (血糖 inside 降血糖), which
spaCy's PhraseMatcher cannot, and scans all phrases in one pass.
"""
from __future__ import annotations

from dataclasses import dataclass
from itertools import product

import ahocorasick

from nlp.normalize import Normalized, is_cjk, is_latin

PINYIN = "pinyin"
INITIALS = "initials"
MAX_PINYIN_CHARS = 5


@dataclass
class Hit:
    start: int            # normalised offsets
    end: int
    entry: object         # nlp.lexicon.Entry
    phrase: str           # the normalised phrase or pattern match it stands for
    how: str = ""         # "", "pinyin" or "initials"


def pinyin_forms(phrase: str, initials: bool) -> list[tuple[str, str]]:
    """Spellings of a Chinese phrase with some or all characters in pinyin (jiang压, jiangya)."""
    if not phrase or len(phrase) > MAX_PINYIN_CHARS or not all(is_cjk(c) for c in phrase):
        return []
    from pypinyin import Style, lazy_pinyin
    sylls = lazy_pinyin(phrase)
    out = []
    for mask in product((False, True), repeat=len(phrase)):
        if not any(mask):
            continue
        form = "".join(s if m else c for c, s, m in zip(phrase, sylls, mask))
        out.append((form, PINYIN))
    if initials and len(phrase) >= 2:
        out.append(("".join(lazy_pinyin(phrase, style=Style.FIRST_LETTER)), INITIALS))
    return out


class Scanner:
    def __init__(self, bundle):
        self.automaton = ahocorasick.Automaton()
        surfaces: dict[str, list] = {}
        for entry in bundle.entries:
            for phrase in entry.phrases:
                surfaces.setdefault(phrase, []).append((entry, phrase, ""))
                if entry.pinyin or entry.initials:
                    for form, how in pinyin_forms(phrase, entry.initials):
                        if how == PINYIN and not entry.pinyin:
                            continue
                        surfaces.setdefault(form, []).append((entry, phrase, how))
        for surface, targets in surfaces.items():
            self.automaton.add_word(surface, (len(surface), targets))
        self.has_phrases = bool(surfaces)
        if self.has_phrases:
            self.automaton.make_automaton()
        self.patterns = [e for e in bundle.entries if e.regex is not None]
        # one RE2 pass says which patterns match at all; only those are run for positions
        self.pattern_set = None
        if self.patterns:
            from nlp.lexicon import _re2_options
            import re2
            self.pattern_set = re2.Set.SearchSet(_re2_options())
            for e in self.patterns:
                self.pattern_set.Add(e.pattern)
            self.pattern_set.Compile()

    def scan(self, norm: Normalized, only: set[str] | None = None) -> list[Hit]:
        text = norm.text
        hits: list[Hit] = []
        if self.has_phrases:
            for end, (length, targets) in self.automaton.iter(text):
                start, stop = end - length + 1, end + 1
                for entry, phrase, how in targets:
                    if only is not None and entry.id not in only:
                        continue
                    if how and not _latin_bounded(norm, start, stop):
                        continue
                    hits.append(Hit(start, stop, entry, phrase, how))
        matched = (self.pattern_set.Match(text) or []) if self.pattern_set is not None and text else []
        for entry in (self.patterns[i] for i in sorted(matched)):
            if only is not None and entry.id not in only:
                continue
            for m in entry.regex.finditer(text):
                if m.end() > m.start():
                    hits.append(Hit(m.start(), m.end(), entry, m.group()))
        return hits


def _latin_bounded(norm: Normalized, start: int, end: int) -> bool:
    """A pinyin spelling counts only as whole Latin words: kang ai, not the 'ai' inside 'thai'."""
    text = norm.text
    if is_latin(text[start]) and start > 0 and is_latin(text[start - 1]) and start not in norm.word_starts:
        return False
    if is_latin(text[end - 1]) and end < len(text) and is_latin(text[end]) and end not in norm.word_starts:
        return False
    return True
