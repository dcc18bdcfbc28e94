"""Find keyword-list matches in normalised text: one Aho-Corasick pass finds every phrase
(and its pinyin spellings), every literal a pattern must start with and the literal parts
its matches must contain; the patterns then run anchored only where one of their first
literals was seen with the parts a match needs close enough after it.

Aho-Corasick finds matches inside jieba tokens too (血糖 inside 降血糖), which
spaCy's PhraseMatcher cannot, and scans all phrases in one pass. The automaton and the
dispatch of its reports are compiled (nlp/scan_core.pyx); this module decides what each
word of the automaton stands for.
"""
from __future__ import annotations

import math
from functools import lru_cache
from itertools import product

from nlp import scan_core
from nlp.normalize import Normalized, is_cjk, is_latin
from nlp.scan_core import Hit

PINYIN = "pinyin"
INITIALS = "initials"
MAX_PINYIN_CHARS = 5
# Steps of Python-regex backtracking a text may spend on heavy patterns before they go to RE2
# (worst case some tens of milliseconds; an ordinary listing spends a small fraction of it).
BACKTRACK_BUDGET = 6_000_000
# Strings of one run of literal parts that gates a pattern's tries (see gate_groups): a disease
# list is some hundreds.
GATE_LIMIT = 3000


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


def phrase_surfaces(bundle) -> dict[str, list]:
    """Every spelling the automaton looks for -> the (entry, phrase, how) it stands for: the lists'
    phrases, and their pinyin forms where an entry allows them."""
    surfaces: dict[str, list] = {}
    for entry in bundle.entries:
        for phrase in entry.phrases:
            surfaces.setdefault(phrase, []).append((entry, phrase, ""))
            if entry.pinyin or entry.initials:
                for form, how in pinyin_forms(phrase, entry.initials):
                    if how == PINYIN and not entry.pinyin:
                        continue
                    surfaces.setdefault(form, []).append((entry, phrase, how))
    return surfaces


class Scanner:
    def __init__(self, bundle):
        surfaces = phrase_surfaces(bundle)
        self.patterns = [e for e in bundle.entries if e.regex is not None]
        # A pattern that must start with one of a few literals (治疗|预防|...) is tried, anchored,
        # only where the automaton saw one of them, and only if the rest of one of its alternatives
        # can be there: each run of literal parts it must contain was seen within the width of a
        # match from there. The others ("anywhere") run only near the places where a literal they
        # cannot match without was seen (or on the whole text when no such literal is known), and
        # only when every run of one of their alternatives was seen somewhere in the text.
        anywhere = []                       # (entry, gated, widest match or None)
        anywhere_groups = []                # [group] per anywhere pattern
        triggered = []                      # (entry, match function, plain re match)
        widths = []
        tries = []                          # (pattern, [group]) per trigger of a pattern
        groups = []                         # [gate set] per alternative of a pattern
        sets: dict[frozenset, int] = {}     # gate set -> its index
        per_word = {"targets": surfaces, "triggers": {}, "sets": {}, "spots": {}}
        for e in self.patterns:
            alts = []
            for firsts, runs in gate_groups(e.pattern):
                ids = []
                for run in runs:
                    key = frozenset(run)
                    if key not in sets:
                        sets[key] = len(sets)
                        for lit in run:
                            per_word["sets"].setdefault(lit, []).append(sets[key])
                    ids.append(sets[key])
                # the literals a try at which may go on into this alternative: its first literals'
                # prefixes (None: any)
                alts.append((None if firsts is None else {f[:k] for f in firsts for k in range(1, len(f) + 1)},
                             len(groups)))
                groups.append(ids)
            lits = first_literals(e.pattern)
            if lits is None:
                needed = required_literals(e.pattern)
                for lit in needed or ():
                    per_word["spots"].setdefault(lit, []).append(len(anywhere))
                anywhere.append((e, needed is not None, max_width(e.pattern)))
                anywhere_groups.append([g for _, g in alts])
                continue
            p = len(triggered)
            plain = _re2_object(e.regex) is None
            triggered.append((e, e.regex.match if plain else anchored(e.regex, e.pattern, e.twin, e.work), plain))
            width = max_width(e.pattern)
            widths.append(-1 if width is None else width)
            for lit in lits:
                # where a longer literal (治疗) matches, a shorter one of the same pattern (治)
                # matches at the same start too: only the shortest triggers, so each start is
                # tried once; there, the alternatives that start with it (or with a longer one)
                if not any(lit[:k] in lits for k in range(1, len(lit))):
                    per_word["triggers"].setdefault(lit, []).append(len(tries))
                    tries.append((p, [g for heads, g in alts if heads is None or lit in heads]))
        self.anywhere = anywhere
        # one automaton for all: each word carries its phrase targets, the patterns it triggers,
        # the gate sets it belongs to and the anywhere patterns that search near it
        words = sorted(set().union(*per_word.values()))
        flat = {name: ([], [0]) for name in per_word}
        for w in words:
            for name, table in per_word.items():
                items, off = flat[name]
                items.extend(table.get(w, ()))
                off.append(len(items))
        self.table = scan_core.Table(
            words=words, targets=flat["targets"], triggers=flat["triggers"], sets=flat["sets"], spots=flat["spots"],
            tries=([p for p, _ in tries], *_offsets([g for _, g in tries])),
            groups=_offsets(groups), nsets=len(sets), patterns=triggered, widths=widths,
            anywhere=anywhere, anywhere_groups=_offsets(anywhere_groups),
            find_near=find_near, latin_bounded=_latin_bounded)

    def scan(self, norm: Normalized, only: set[str] | None = None) -> list[Hit]:
        """Phrase hits (by end, longest first), then pattern hits (in the order of their trigger
        words), then the anywhere patterns' matches."""
        return self.table.hits(norm.text, only, norm, [BACKTRACK_BUDGET])


def _offsets(lists: list) -> tuple[list, list]:
    """Lists as one flat list and the offsets where each starts (and the last ends)."""
    flat, off = [], [0]
    for items in lists:
        flat.extend(items)
        off.append(len(flat))
    return flat, off


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
    rx = _re2_object(regex)
    if rx is None:                                      # a Python `re` twin, or an unknown wrapper
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


def _re2_object(regex):
    """The compiled RE2 object under google-re2's wrapper, or None for other engines."""
    rx = getattr(regex, "_regexp", None)
    return rx if rx is not None and hasattr(rx, "Match") else None


def python_syntax(pattern: str) -> str:
    """RE2's code point escape (\\x{4e00}) as Python writes it, so the parse-tree analyses below can
    read a pattern that uses it; both engines mean the same character by either."""
    import re
    return re.sub(r"(?<!\\)((?:\\\\)*)\\x\{([0-9a-fA-F]{1,6})\}",
                  lambda m: m.group(1) + "\\U%08x" % int(m.group(2), 16), pattern)


def max_width(pattern: str) -> int | None:
    """The most characters a match of the pattern can span, or None when unknown."""
    import re._constants as C
    tree = _parse_safe(pattern, strict=True)
    if tree is None:
        return None
    try:
        hi = tree.getwidth()[1]
    except RecursionError:
        return None
    return hi if hi < C.MAXREPEAT else None


def first_literals(pattern: str, limit: int = 2000) -> set[str] | None:
    """The literal strings every match of the pattern starts with, or None when not that simple."""
    tree = _parse(pattern)[0]
    if tree is None:
        return None
    lits = _first_strings(tree)
    if lits is None or len(lits) > limit or any(not lit for lit in lits):
        return None
    return lits


def _first_strings(seq) -> set[str] | None:
    """The literal strings every match of a parsed sequence starts with (its first run of literals,
    through alternations), or None."""
    import re._constants as C
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
        return _first_strings(av[-1])
    if op == C.BRANCH:
        out: set[str] = set()
        for alt in av[1]:
            got = _first_strings(alt)
            if got is None:
                return None
            out |= got
        return out
    return None


@lru_cache(maxsize=4096)
def _parse(pattern: str) -> tuple:
    """(Python's parse tree of the pattern or None, whether the parser warned). Cached: a list load
    asks for the same pattern's tree several times; the trees are only read."""
    import re
    import warnings
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            tree = re._parser.parse(python_syntax(pattern))
        except (re.error, RecursionError):
            tree = None
    return tree, bool(caught)


def _parse_safe(pattern: str, strict: bool = False):
    """The parse tree of a pattern both engines read alike, or None (``strict``: also None when the
    parser warned)."""
    from nlp.lexicon import _RE_UNSAFE_SYNTAX
    text = python_syntax(pattern)
    if any(tok in text for tok in _RE_UNSAFE_SYNTAX) or text.count("(?") != text.count("(?:"):
        return None                         # flags or syntax the two engines read differently
    tree, warned = _parse(pattern)
    return None if strict and warned else tree


def _strings(seq, limit: int, optional: bool = False) -> set[str] | None:
    """The strings a sequence made only of literals and literal alternations (and, if ``optional``,
    optional parts) can be; None when there are other parts or more than ``limit`` strings."""
    import re._constants as C
    out = {""}
    for op, av in seq:
        if op == C.LITERAL:
            out = {x + chr(av) for x in out}
        elif op == C.IN and len(av) <= 10 and all(o == C.LITERAL for o, _ in av):
            out = {x + chr(a) for x in out for _, a in av}
        elif op in (C.SUBPATTERN, C.BRANCH) or (optional and op == C.MAX_REPEAT and av[:2] == (0, 1)):
            if op == C.BRANCH:
                sub: set[str] | None = set()
                for alt in av[1]:
                    got = _strings(alt, limit, optional)
                    if got is None:
                        return None
                    sub |= got
            else:
                sub = _strings(av[-1], limit, optional)
                if sub is None:
                    return None
                if op == C.MAX_REPEAT:
                    sub = sub | {""}
            if len(out) * len(sub) > limit * 200:
                return None                 # not worth building (cannot happen for a limit of 200)
            out = {x + y for x in out for y in sub}
        else:
            return None
        if len(out) > limit:
            return None
    return out


def required_literals(pattern: str) -> set[str] | None:
    """Literal strings one of which every match of the pattern contains, or None if unknown."""
    import re._constants as C
    tree = _parse_safe(pattern)
    if tree is None:
        return None

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
            got = _strings([item], 200)
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


def gate_groups(pattern: str) -> list[tuple[set[str] | None, list[set[str]]]]:
    """What a try of the pattern at one of its first literals needs, per alternative of a top-level
    alternation (else the whole pattern): the alternative's first literals (None: unknown) and its
    runs of adjacent literal parts, a string of each of which every match of the alternative
    contains. A try where one run has no string within the width of a match cannot match."""
    import re._constants as C
    tree = _parse_safe(pattern)
    if tree is None:
        return [(None, [])]
    alts = tree[0][1][1] if len(tree) == 1 and tree[0][0] == C.BRANCH else [tree]
    groups = []
    for alt in alts:
        firsts = _first_strings(alt)
        if firsts is not None and any(not f for f in firsts):
            firsts = None
        runs, run = [], None
        for item in alt:
            got = _strings([item], GATE_LIMIT, optional=True)
            if got is not None and "" not in got and run is not None and len(run) * len(got) <= GATE_LIMIT:
                run = {x + y for x in run for y in got}
                continue
            if run is not None:
                runs.append(run)
            run = got if got is not None and "" not in got else None
        if run is not None:
            runs.append(run)
        groups.append((firsts, runs))
    return groups


def _latin_bounded(norm: Normalized, start: int, end: int) -> bool:
    """A pinyin spelling counts only as whole Latin words: kang ai, not the 'ai' inside 'thai'."""
    text = norm.text
    if is_latin(text[start]) and start > 0 and is_latin(text[start - 1]) and start not in norm.word_starts:
        return False
    if is_latin(text[end - 1]) and end < len(text) and is_latin(text[end]) and end not in norm.word_starts:
        return False
    return True
