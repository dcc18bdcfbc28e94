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

import re
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


# zero-width / format / combining characters, arrows, dingbats, emoji: never meaningful inside a phrase
INVISIBLE = ("[\u00ad\u034f\u0300-\u036f\u115f\u1160\u180b-\u180e\u200b-\u200f\u202a-\u202e"
             "\u2060-\u206f\u20d0-\u20ff\u2190-\u21ff\u2300-\u23ff\u25a0-\u27bf\u2900-\u2bff"
             "\u3164\ufe00-\ufe0f\ufeff\uffa0\U0001f000-\U0001faff\U000e0000-\U000e007f]")
WORD = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ebef" + "a-z"
_INVISIBLE_RE = re.compile(INVISIBLE)
_FULLWIDTH_RE = re.compile("[\uff10-\uff19\uff21-\uff3a\uff41-\uff5a\uff05]")


def _invisible(ch: str) -> bool:
    return _INVISIBLE_RE.fullmatch(ch) is not None


_NONE = frozenset()
_FW = frozenset((FULLWIDTH,))
_TRAD = frozenset((TRADITIONAL,))
_LATIN = frozenset("abcdefghijklmnopqrstuvwxyz")
_LATIN_RUN = re.compile("[a-z]+")


@lru_cache(maxsize=65536)
def _char_nfkc(ch: str) -> tuple[str, frozenset]:
    return unicodedata.normalize("NFKC", ch).lower(), (_FW if _FULLWIDTH_RE.fullmatch(ch) else _NONE)


@lru_cache(maxsize=1)
def _t2s():
    from opencc import OpenCC
    return OpenCC("t2s")


class Normalizer:
    """Configured once from config/normalisation.yaml; call it on any text."""

    def __init__(self, separators: str = "", substitutions: dict[str, str] | None = None):
        self.separators = set(separators) | {" ", "\t", "\u3000", "\xa0"}
        seps = "".join(re.escape(c) for c in sorted(self.separators))
        self._drop_re = re.compile(f"(?<=[{WORD}])(?:[{seps}]|{INVISIBLE})+(?=[{WORD}])|{INVISIBLE}+")
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
        n = len(text)
        conv = unicodedata.normalize("NFKC", text).lower()
        if len(conv) == n:          # the usual case: one character in, one out
            starts = list(range(n))
            ends = list(range(1, n + 1))
            marks = [_NONE] * n
            for m in _FULLWIDTH_RE.finditer(text):
                marks[m.start()] = _FW
        else:
            chars: list[str] = []
            starts, ends, marks = [], [], []
            for i, ch in enumerate(text):
                nf, mark = _char_nfkc(ch)
                for c in nf:
                    chars.append(c)
                    starts.append(i)
                    ends.append(i + 1)
                    marks.append(mark)
            conv = "".join(chars)
        simple = _t2s().convert(conv)
        if len(simple) != len(conv):   # phrase-level conversion changed length: go char by char
            simple = "".join(c2 if len(c2 := _t2s().convert(c)) == 1 else c for c in conv)
        if simple != conv:
            for k, (a, b) in enumerate(zip(conv, simple)):
                if a != b:
                    marks[k] = marks[k] | _TRAD
        # drop separator runs between two word characters, and invisibles anywhere
        keep_from, pieces, s_out, e_out, m_out = 0, [], [], [], []
        word_starts: set[int] = set()
        out_len = 0
        for m in self._drop_re.finditer(simple):
            a, b = m.start(), m.end()
            pieces.append(simple[keep_from:a])
            s_out += starts[keep_from:a]
            e_out += ends[keep_from:a]
            m_out += marks[keep_from:a]
            out_len += a - keep_from
            if a > 0 and b < len(simple) and (simple[a - 1] in _LATIN or simple[b] in _LATIN):
                word_starts.add(out_len)
            keep_from = b
        if keep_from == 0:
            out = simple
            s_out, e_out, m_out = starts, ends, marks
        else:
            pieces.append(simple[keep_from:])
            s_out += starts[keep_from:]
            e_out += ends[keep_from:]
            m_out += marks[keep_from:]
            out = "".join(pieces)
        for m in _LATIN_RUN.finditer(out):
            word_starts.add(m.start())
        return Normalized(text, out, s_out, e_out, m_out, word_starts)

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
