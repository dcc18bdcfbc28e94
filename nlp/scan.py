"""Find keyword-list matches in normalised text: one Aho-Corasick pass finds every phrase
(and its pinyin spellings) and every literal a pattern must start with; the patterns
then run anchored only where one of their literals was seen.

Aho-Corasick finds matches inside jieba tokens too (血糖 inside 降血糖), which
spaCy's PhraseMatcher cannot, and scans all phrases in one pass. ahocorasick_rs
builds a DFA; pyahocorasick searches a node's children linearly, which is ten
times slower with a few hundred first characters.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import product

import ahocorasick_rs

from nlp.normalize import Normalized, is_cjk, is_latin

PINYIN = "pinyin"
INITIALS = "initials"
MAX_PINYIN_CHARS = 5
# Steps of Python-regex backtracking a text may spend on heavy patterns before they go to RE2
# (worst case some tens of milliseconds; an ordinary listing spends a small fraction of it).
BACKTRACK_BUDGET = 6_000_000


@dataclass(slots=True)
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
        surfaces: dict[str, list] = {}
        for entry in bundle.entries:
            for phrase in entry.phrases:
                surfaces.setdefault(phrase, []).append((entry, phrase, ""))
                if entry.pinyin or entry.initials:
                    for form, how in pinyin_forms(phrase, entry.initials):
                        if how == PINYIN and not entry.pinyin:
                            continue
                        surfaces.setdefault(form, []).append((entry, phrase, how))
        self.patterns = [e for e in bundle.entries if e.regex is not None]
        # A pattern that must start with one of a few literals (治疗|预防|...) is tried, anchored,
        # only where the automaton saw one of them. The others ("anywhere") run only near the
        # places where a literal they cannot match without was seen, or on the whole text when
        # no such literal is known. A gated pattern is skipped when none of its literals is there.
        self.anywhere = []                  # (entry, gated, widest match or None)
        triggers: dict[str, list] = {}
        requires: dict[str, list] = {}
        for e in self.patterns:
            lits = first_literals(e.pattern)
            needed = required_literals(e.pattern)
            for lit in needed or ():
                requires.setdefault(lit, []).append(e.id)
            if lits is None:
                self.anywhere.append((e, needed is not None, max_width(e.pattern)))
            else:
                run = anchored(e.regex, e.pattern, e.twin, e.work)
                for lit in lits:
                    # where a longer literal (治疗) matches, a shorter one of the same pattern (治)
                    # matches at the same start too: only the shortest triggers, so each start is
                    # tried once
                    if not any(lit[:k] in lits for k in range(1, len(lit))):
                        triggers.setdefault(lit, []).append((e.id, e, run, needed is not None))
        # one automaton for all: each word carries its phrase targets, its triggered patterns and
        # the ids of the patterns it lets run
        words = sorted(set(surfaces) | set(triggers) | set(requires))
        self.payload = [(tuple(surfaces.get(w, ())), tuple(triggers.get(w, ())), tuple(requires.get(w, ())))
                        for w in words]
        self.automaton = None
        if words:
            self.automaton = ahocorasick_rs.AhoCorasick(
                words, matchkind=ahocorasick_rs.MatchKind.Standard,
                implementation=ahocorasick_rs.Implementation.DFA)

    def scan(self, norm: Normalized, only: set[str] | None = None) -> list[Hit]:
        text = norm.text
        hits: list[Hit] = []
        pattern_hits: list[Hit] = []
        spots: dict[str, list] = {}         # pattern id -> where its required literals are
        if self.automaton is not None:
            found = self.automaton.find_matches_as_indexes(text, overlapping=True)
            found.sort(key=_end_then_start)     # by end, longest first: the order results are merged in
            payload = self.payload
            tries = []
            for i, start, stop in found:
                targets, entries, ids = payload[i]
                for eid in ids:
                    if eid in spots:
                        spots[eid].append((start, stop))
                    else:
                        spots[eid] = [(start, stop)]
                if entries:
                    tries.append((start, entries))
                for entry, phrase, how in targets:
                    if only is not None and entry.id not in only:
                        continue
                    if how and not _latin_bounded(norm, start, stop):
                        continue
                    hits.append(Hit(start, stop, entry, phrase, how))
            budget = [BACKTRACK_BUDGET]
            for start, entries in tries:
                for eid, entry, run, gated in entries:
                    if (gated and eid not in spots) or (only is not None and eid not in only):
                        continue
                    end = run(text, start, budget)
                    if end:
                        pattern_hits.append(Hit(start, end, entry, text[start:end]))
        hits += pattern_hits
        for entry, gated, width in self.anywhere:
            if (gated and entry.id not in spots) or (only is not None and entry.id not in only):
                continue
            near = spots.get(entry.id) if gated else None
            for s, e in find_near(entry.regex, text, near, width):
                hits.append(Hit(s, e, entry, text[s:e]))
        return hits


def find_near(regex, text: str, spots: list | None, width: int | None) -> list[tuple[int, int]]:
    """The non-empty matches of ``regex.finditer(text)`` as (start, end), searched only near
    ``spots``: the places of literals every match contains, when a match is at most ``width``
    characters wide. Every match then lies within ``width`` of a spot, so searching the merged
    windows around the spots finds exactly the matches of the whole text. One character of slack
    on each side keeps ^, $ and \\b as they are in the whole text."""
    if not spots or width is None:
        return [m.span() for m in regex.finditer(text) if m.end() > m.start()]
    n = len(text)
    windows: list[list[int]] = []
    for s, e in sorted(spots):
        a, b = max(0, e - width), min(n, s + width)
        if windows and a <= windows[-1][1]:
            windows[-1][1] = max(windows[-1][1], b)
        else:
            windows.append([a, b])
    out = []
    for a, b in windows:
        lo, hi = max(0, a - 1), min(n, b + 1)
        for m in regex.finditer(text[lo:hi], a - lo):
            if m.end() > m.start():
                out.append((m.start() + lo, m.end() + lo))
    return out


def anchored(regex, pattern: str, twin=None, work: float = 0):
    """A function (text, pos, budget) -> end of the regex's non-empty match at pos, or 0.

    google-re2's Python wrapper re-encodes the whole text and maps offsets back on every call,
    which costs more than the match. A pattern tried at a trigger can only see the characters a
    match can span, so RE2 gets just those (plus one neighbour each side, which keeps ^, $ and
    \\b exact) through the compiled object underneath the wrapper.

    RE2 builds its DFA state by state as it meets new text, which on unseen listings costs far
    more than the match. A heavy pattern with a Python ``twin`` therefore runs on the twin while
    the text's backtracking ``budget`` (a one-item list, in steps) covers the twin's worst case
    ``work``, and on RE2 after that: a hostile text cannot make matching super-linear.
    """
    rx = getattr(regex, "_regexp", None)
    if rx is None or not hasattr(rx, "Match"):          # a Python `re` twin, or an unknown wrapper
        match = regex.match

        def run(text: str, pos: int, budget: list) -> int:
            m = match(text, pos)
            return m.end() if m and m.end() > pos else 0
        return run
    import re2
    anchor = re2._Anchor.ANCHOR_START
    width = max_width(pattern)
    reach = width + 1 if width is not None else None

    def run_re2(text: str, pos: int, budget: list) -> int:
        lo = pos - 1 if pos else 0
        piece = text[lo:pos + reach] if reach is not None else text[lo:]
        data = piece.encode()
        at = len(piece[0].encode()) if lo < pos else 0
        s, e = rx.Match(anchor, data, at, len(data))[0]
        if s < 0 or e <= s:
            return 0
        return pos + len(data[at:e].decode())
    if twin is None or reach is None or not work < math.inf:
        return run_re2
    twin_match = twin.match

    def run_budgeted(text: str, pos: int, budget: list) -> int:
        if budget[0] < work:
            return run_re2(text, pos, budget)
        budget[0] -= work
        m = twin_match(text, pos, pos + reach)      # a match spans at most width: $ and \\b stay exact
        return m.end() if m and m.end() > pos else 0
    return run_budgeted


def python_syntax(pattern: str) -> str:
    """RE2's code point escape (\\x{4e00}) as Python writes it, so the parse-tree analyses below can
    read a pattern that uses it; both engines mean the same character by either."""
    import re
    return re.sub(r"(?<!\\)((?:\\\\)*)\\x\{([0-9a-fA-F]{1,6})\}",
                  lambda m: m.group(1) + "\\U%08x" % int(m.group(2), 16), pattern)


def max_width(pattern: str) -> int | None:
    """The most characters a match of the pattern can span, or None when unknown."""
    import re
    import re._constants as C
    import warnings
    from nlp.lexicon import _RE_UNSAFE_SYNTAX
    pattern = python_syntax(pattern)
    if any(tok in pattern for tok in _RE_UNSAFE_SYNTAX) or pattern.count("(?") != pattern.count("(?:"):
        return None                         # flags or syntax the two engines read differently
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            hi = re._parser.parse(pattern).getwidth()[1]
    except (re.error, Warning, RecursionError):
        return None
    return hi if hi < C.MAXREPEAT else None


def _end_then_start(match: tuple[int, int, int]) -> tuple[int, int]:
    return match[2], match[1]


def first_literals(pattern: str, limit: int = 2000) -> set[str] | None:
    """The literal strings every match of the pattern starts with, or None when not that simple."""
    import re
    import re._constants as C
    try:
        tree = re._parser.parse(python_syntax(pattern))
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


def required_literals(pattern: str) -> set[str] | None:
    """Literal strings one of which every match of the pattern contains, or None if unknown."""
    import re
    import re._constants as C
    from nlp.lexicon import _RE_UNSAFE_SYNTAX
    pattern = python_syntax(pattern)
    if any(tok in pattern for tok in _RE_UNSAFE_SYNTAX) or pattern.count("(?") != pattern.count("(?:"):
        return None                         # flags or syntax the two engines read differently
    try:
        tree = re._parser.parse(pattern)
    except (re.error, RecursionError):
        return None

    def alternatives(seq) -> set[str] | None:
        """The strings a sequence made only of literals and literal alternations can be."""
        out = {""}
        for op, av in seq:
            if op == C.LITERAL:
                out = {x + chr(av) for x in out}
            elif op == C.IN and len(av) <= 10 and all(o == C.LITERAL for o, _ in av):
                out = {x + chr(a) for x in out for _, a in av}
            elif op == C.SUBPATTERN:
                sub = alternatives(av[-1])
                if sub is None:
                    return None
                out = {x + y for x in out for y in sub}
            elif op == C.BRANCH:
                sub = set()
                for alt in av[1]:
                    got = alternatives(alt)
                    if got is None:
                        return None
                    sub |= got
                out = {x + y for x in out for y in sub}
            else:
                return None
            if len(out) > 200:
                return None
        return out

    def required(seq) -> set[str] | None:
        if len(seq) == 1 and seq[0][0] == C.BRANCH:      # a top-level alternation: one from each side
            out: set[str] = set()
            for alt in seq[0][1][1]:
                got = required(alt)
                if got is None:
                    return None
                out |= got
            return out
        best, run = None, None              # the most selective run of adjacent literal parts
        for item in seq:
            got = alternatives([item])
            if got is None or "" in got:
                run = None
                continue
            run = got if run is None else {x + y for x in run for y in got}
            if len(run) > 200:
                run = got
            if best is None or min(map(len, run)) >= min(map(len, best)):
                best = run                  # ties go to the later run: the first is often the trigger
        return best

    return required(tree)


def _latin_bounded(norm: Normalized, start: int, end: int) -> bool:
    """A pinyin spelling counts only as whole Latin words: kang ai, not the 'ai' inside 'thai'."""
    text = norm.text
    if is_latin(text[start]) and start > 0 and is_latin(text[start - 1]) and start not in norm.word_starts:
        return False
    if is_latin(text[end - 1]) and end < len(text) and is_latin(text[end]) and end not in norm.word_starts:
        return False
    return True
