"""Normalise listing text for matching, keeping a map back to the original offsets.

Steps (REFERENCE.md §5): NFKC (full-width forms), lower-case Latin, traditional ->
simplified (OpenCC t2s), drop zero-width/format characters and emoji, drop the
separators sellers put between Chinese characters (``降 - 糖``, ``抗.癌``), and
rewrite known homophone/variant spellings (config/normalisation.yaml).

Every character of the normalised text remembers the original range it came
from, so a match can be cut out of the raw text for evidence. Every change also
records how the text was disguised; that is a signal in itself.
"""
from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache

FULLWIDTH = "fullwidth"
TRADITIONAL = "traditional"
SEPARATOR = "separator"
HOMOPHONE = "homophone"


@dataclass
class Normalized:
    """Normalised text; char i came from original[starts[i]:ends[i]]."""
    original: str
    text: str
    starts: list[int]
    ends: list[int]
    marks: list[frozenset] = field(default_factory=list)   # evasions touching char i
    word_starts: set[int] = field(default_factory=set)     # Latin word starts (spaces removed)

    def span(self, start: int, end: int) -> tuple[int, int]:
        """Original [start, end) for normalised [start, end)."""
        return self.starts[start], self.ends[end - 1]

    def evasions(self, start: int, end: int) -> set[str]:
        out: set[str] = set()
        for m in self.marks[start:end]:
            out |= m
        # a dropped separator inside the span shows as a gap between neighbours
        for i in range(start, end - 1):
            if self.starts[i + 1] > self.ends[i]:
                out.add(SEPARATOR)
        return out


def is_cjk(ch: str) -> bool:
    o = ord(ch)
    return 0x4E00 <= o <= 0x9FFF or 0x3400 <= o <= 0x4DBF or 0x20000 <= o <= 0x2EBEF or 0xF900 <= o <= 0xFAFF


def is_latin(ch: str) -> bool:
    return "a" <= ch <= "z"


def _invisible(ch: str) -> bool:
    """Zero-width / format characters and emoji: never meaningful inside a phrase."""
    cat = unicodedata.category(ch)
    if cat in ("Cf", "Mn", "Me"):
        return True
    o = ord(ch)
    return cat == "So" and (o >= 0x2190) or 0x1F000 <= o <= 0x1FAFF or 0xFE00 <= o <= 0xFE0F


@lru_cache(maxsize=1)
def _t2s():
    from opencc import OpenCC
    return OpenCC("t2s")


class Normalizer:
    """Configured once from config/normalisation.yaml; call it on any text."""

    def __init__(self, separators: str = "", substitutions: dict[str, str] | None = None):
        self.separators = set(separators) | {" ", "\t", "\u3000", "\xa0"}
        self.substitutions = {}
        for variant, canonical in (substitutions or {}).items():
            v = self._basic(variant).text
            c = self._basic(canonical).text
            if v and v != c:      # 降醣 is already 降糖 after t2s: not a homophone
                self.substitutions[v] = c
        self._sub_automaton = None
        if self.substitutions:
            import ahocorasick
            self._sub_automaton = ahocorasick.Automaton()
            for v, c in self.substitutions.items():
                self._sub_automaton.add_word(v, (v, c))
            self._sub_automaton.make_automaton()

    # -- steps ---------------------------------------------------------
    def _basic(self, text: str) -> Normalized:
        """NFKC + lower-case + t2s + invisible/separator removal."""
        chars: list[str] = []
        starts: list[int] = []
        ends: list[int] = []
        marks: list[frozenset] = []
        for i, ch in enumerate(text):
            n = unicodedata.normalize("NFKC", ch) if not ch.isascii() else ch
            # full-width letters and digits disguise a word; full-width punctuation is just Chinese typing
            mark = frozenset((FULLWIDTH,)) if (n != ch and 0xFF01 <= ord(ch) <= 0xFF5E
                                               and (n.isalnum() or n == "%")) else frozenset()
            for c in n.lower():
                chars.append(c)
                starts.append(i)
                ends.append(i + 1)
                marks.append(mark)
        joined = "".join(chars)
        simple = _t2s().convert(joined)
        if len(simple) != len(joined):   # phrase-level conversion changed length: go char by char
            simple = "".join(_t2s().convert(c) if len(_t2s().convert(c)) == 1 else c for c in chars)
        for k, (a, b) in enumerate(zip(joined, simple)):
            if a != b:
                chars[k] = b
                marks[k] = marks[k] | {TRADITIONAL}
        # drop invisibles anywhere, separators between two CJK chars (or Latin words)
        out_c, out_s, out_e, out_m = [], [], [], []
        word_starts: set[int] = set()
        n = len(chars)
        k = 0
        while k < n:
            c = chars[k]
            if _invisible(c):
                k += 1
                continue
            if c in self.separators and out_c:
                j = k
                while j < n and (chars[j] in self.separators or _invisible(chars[j])):
                    j += 1
                prev, nxt = out_c[-1], chars[j] if j < n else ""
                if nxt and ((is_cjk(prev) or is_latin(prev)) and (is_cjk(nxt) or is_latin(nxt))):
                    if is_latin(nxt) or is_latin(prev):
                        word_starts.add(len(out_c))
                    k = j
                    continue
            out_c.append(c)
            out_s.append(starts[k])
            out_e.append(ends[k])
            out_m.append(marks[k])
            k += 1
        for i, c in enumerate(out_c):
            if is_latin(c) and (i == 0 or not is_latin(out_c[i - 1])):
                word_starts.add(i)
        return Normalized(text, "".join(out_c), out_s, out_e, out_m, word_starts)

    def _substitute(self, norm: Normalized) -> Normalized:
        if self._sub_automaton is None or not norm.text:
            return norm
        picks: list[tuple[int, int, str]] = []
        last_end = -1
        # leftmost-longest, non-overlapping
        found = sorted(((end - len(v) + 1, end + 1, c) for end, (v, c) in self._sub_automaton.iter(norm.text)),
                       key=lambda t: (t[0], -(t[1] - t[0])))
        for s, e, c in found:
            if s >= last_end:
                picks.append((s, e, c))
                last_end = e
        if not picks:
            return norm
        text, starts, ends, marks = [], [], [], []
        words: set[int] = set()
        pos = 0
        shift = 0
        for s, e, c in picks:
            words |= {w + shift for w in norm.word_starts if pos <= w < s}
            if any(s <= w < e for w in norm.word_starts):
                words.add(s + shift)
            text.append(norm.text[pos:s])
            starts += norm.starts[pos:s]
            ends += norm.ends[pos:s]
            marks += norm.marks[pos:s]
            o_s, o_e = norm.starts[s], norm.ends[e - 1]
            m = frozenset().union(*norm.marks[s:e]) | {HOMOPHONE}
            text.append(c)
            starts += [o_s] * len(c)
            ends += [o_e] * len(c)
            marks += [m] * len(c)
            shift += len(c) - (e - s)
            pos = e
        words |= {w + shift for w in norm.word_starts if w >= pos}
        text.append(norm.text[pos:])
        starts += norm.starts[pos:]
        ends += norm.ends[pos:]
        marks += norm.marks[pos:]
        joined = "".join(text)
        return Normalized(norm.original, joined, starts, ends, marks, words)

    def __call__(self, text: str) -> Normalized:
        return self._substitute(self._basic(text))

    def plain(self, text: str) -> str:
        """Normalised text only (for config phrases)."""
        return self(text).text
