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
        # A pattern that must start with one of a few literals (治疗|预防|...) is tried, anchored,
        # only where the automaton saw one of them; the others scan the whole text.
        self.anywhere = []
        triggers: dict[str, list] = {}
        for e in self.patterns:
            lits = first_literals(e.pattern)
            if lits is None:
                self.anywhere.append(e)
            else:
                for lit in lits:
                    triggers.setdefault(lit, []).append(e)
        self.triggers = ahocorasick.Automaton()
        for lit, es in triggers.items():
            self.triggers.add_word(lit, (len(lit), es))
        self.has_triggers = bool(triggers)
        if self.has_triggers:
            self.triggers.make_automaton()

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
        seen = set()
        if self.has_triggers:
            for end, (length, entries) in self.triggers.iter(text):
                pos = end - length + 1
                for entry in entries:
                    if (entry.id, pos) in seen or (only is not None and entry.id not in only):
                        continue
                    seen.add((entry.id, pos))
                    m = entry.regex.match(text, pos)
                    if m and m.end() > m.start():
                        hits.append(Hit(m.start(), m.end(), entry, m.group()))
        for entry in self.anywhere:
            if only is not None and entry.id not in only:
                continue
            for m in entry.regex.finditer(text):
                if m.end() > m.start():
                    hits.append(Hit(m.start(), m.end(), entry, m.group()))
        return hits


def first_literals(pattern: str, limit: int = 400) -> set[str] | None:
    """The literal strings every match of the pattern starts with, or None when not that simple."""
    import re
    import re._constants as C
    try:
        tree = re._parser.parse(pattern)
    except re.error:
        return None

    def starts(seq) -> set[str] | None:
        if not len(seq):
            return None
        op, av = seq[0]
        if op == C.LITERAL:
            lit = [chr(av)]
            for op2, av2 in list(seq)[1:]:
                if op2 != C.LITERAL:
                    break
                lit.append(chr(av2))
            return {"".join(lit)}
        if op == C.IN and all(o == C.LITERAL for o, _ in av) and len(av) <= 10:
            return {chr(v) for _, v in av}
        if op == C.SUBPATTERN:
            return starts(av[-1])
        if op == C.BRANCH:
            out: set[str] = set()
            for alt in av[1]:
                got = starts(alt)
                if got is None:
                    return None
                out |= got
            return out
        return None

    lits = starts(tree)
    if lits is None or len(lits) > limit or any(not lit for lit in lits):
        return None
    return lits


def _latin_bounded(norm: Normalized, start: int, end: int) -> bool:
    """A pinyin spelling counts only as whole Latin words: kang ai, not the 'ai' inside 'thai'."""
    text = norm.text
    if is_latin(text[start]) and start > 0 and is_latin(text[start - 1]) and start not in norm.word_starts:
        return False
    if is_latin(text[end - 1]) and end < len(text) and is_latin(text[end]) and end not in norm.word_starts:
        return False
    return True
