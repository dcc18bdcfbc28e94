"""Normalise listing text for matching, keeping a map back to the original offsets.

Steps (REFERENCE.md §5): NFKC (full-width forms), lower-case Latin, traditional ->
simplified (OpenCC t2s), read the emoji that stand for a character (``降🍬`` -> 降糖,
config/normalisation.yaml ``emoji_substitutions``), drop zero-width/format characters and
other emoji, drop the separators sellers put between Chinese characters (``降 - 糖``,
``抗.癌``), and rewrite known homophone/variant spellings (config/normalisation.yaml).

Every character of the normalised text remembers the original range it came
from, so a match can be cut out of the raw text for evidence. Every change also
records how the text was disguised; that is a signal in itself.

Speed: the text itself is built by one compiled pass (nlp/normalize_core.pyx: NFKC +
lower-case + emoji through a flat table, the separators and invisibles to drop, and whether
OpenCC or the vertical-text rules are needed at all), then OpenCC only when the text holds a
character it converts, and one Aho-Corasick pass for homophones. The offset map and the evasion
marks are built only when something asks for them, which is only when the field has a candidate
match.
"""
from __future__ import annotations

import bisect
import re
import unicodedata
from array import array
from functools import lru_cache

from nlp.normalize_core import T2S_FOUND, VARIANT_HINT, VERTICAL_HINT, Core

FULLWIDTH = "fullwidth"
TRADITIONAL = "traditional"
SEPARATOR = "separator"
HOMOPHONE = "homophone"
PINYIN = "pinyin"
EMOJI = "emoji"
# emoji presentation selectors: "⬇️" is "⬇" as far as the emoji map goes
EMOJI_SELECTORS = "\ufe0e\ufe0f"


class Normalized:
    """Normalised text; char i came from original[starts[i]:ends[i]].

    ``span`` and ``evasions`` answer for one range from the steps' records (where characters were
    dropped or replaced) by binary search. The per-character lists ``starts``, ``ends``, ``marks``
    (evasions touching char i) are built only when asked for; ``word_starts`` (Latin word starts
    where spaces were removed) on first access.
    """

    __slots__ = ("original", "text", "_map", "_starts", "_ends", "_marks", "_words")

    def __init__(self, original: str, text: str, steps):
        self.original = original
        self.text = text
        self._map = steps            # _Basic or _Substituted: how text came from original
        self._starts = None
        self._words = None

    def _maps(self):
        if self._starts is None:
            self._starts, self._ends, self._marks = self._map.lists()
        return self

    @property
    def starts(self) -> list[int]:
        return self._maps()._starts

    @property
    def ends(self) -> list[int]:
        return self._maps()._ends

    @property
    def marks(self) -> list[frozenset]:
        return self._maps()._marks

    @property
    def word_starts(self) -> set[int]:
        if self._words is None:
            self._words = self._map.word_starts()
        return self._words

    def span(self, start: int, end: int) -> tuple[int, int]:
        """Original [start, end) for normalised [start, end)."""
        if self._starts is not None:
            return self._starts[start], self._ends[end - 1]
        locate = self._map.locate
        return locate(start)[0], locate(end - 1)[1]

    def evasions(self, start: int, end: int) -> set[str]:
        """How the text of normalised [start, end) was disguised: the marks of its characters, and
        a separator when the original span holds a character the normaliser dropped."""
        return self._map.evasions(start, end)


def is_cjk(ch: str) -> bool:
    o = ord(ch)
    return 0x4E00 <= o <= 0x9FFF or 0x3400 <= o <= 0x4DBF or 0x20000 <= o <= 0x2EBEF or 0xF900 <= o <= 0xFAFF


def is_latin(ch: str) -> bool:
    return "a" <= ch <= "z"


# zero-width / format / combining characters, arrows, dingbats, emoji: never meaningful inside a phrase
# (nlp/normalize_core.pyx classifies characters outside the BMP by these same ranges)
INVISIBLE = ("[\u00ad\u034f\u203c\u2049\u0300-\u036f\u115f\u1160\u180b-\u180e\u200b-\u200f\u202a-\u202e"
             "\u2060-\u206f\u20d0-\u20ff\u2190-\u21ff\u2300-\u23ff\u25a0-\u27bf\u2900-\u2bff"
             "\u3164\ufe00-\ufe0f\ufeff\uffa0\U0001f000-\U0001faff\U000e0000-\U000e007f]")
WORD = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ebef" + "a-z"
_FULLWIDTH_RE = re.compile("[\uff10-\uff19\uff21-\uff3a\uff41-\uff5a\uff05]")

_NONE = frozenset()
_FW = frozenset((FULLWIDTH,))
_TRAD = frozenset((TRADITIONAL,))
_HOMOPHONE = frozenset((HOMOPHONE,))
_PINYIN = frozenset((PINYIN,))
_EMOJI = frozenset((EMOJI,))
_LATIN = frozenset("abcdefghijklmnopqrstuvwxyz")
_LATIN_RUN = re.compile("[a-z]+")


class _NfkcTable(dict):
    """str.translate table: code point -> its NFKC, lower-cased form, filled on first sight."""

    def __missing__(self, cp: int):
        ch = chr(cp)
        out = unicodedata.normalize("NFKC", ch).lower()
        value = cp if out == ch else (ord(out) if len(out) == 1 else out)
        self[cp] = value
        return value


_NFKC = _NfkcTable()
# ‼ and ⁉ are emoji sellers put between characters (抗‼️癌); NFKC would make them "!!", a clause break
_NFKC.update({0x203C: 0x203C, 0x2049: 0x2049})
# pinyin tone marks are dropped (血xiě糖 -> 血xie糖) so spellings with and without tones match
_TONES = {ord(c): b for b, cs in (("a", "āáǎà"), ("e", "ēéěè"), ("i", "īíǐì"), ("o", "ōóǒò"), ("u", "ūúǔù"),
                                  ("v", "üǖǘǚǜ")) for c in cs}
_NFKC.update(_TONES)
# vertical text: a line holding one Chinese character (降\n血\n压); three or more in a row are one word
_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
# three or more single characters, each set off by a comma (降，糖，神，器)
_SPELLED_RUN = re.compile(f"(?<![{_CJK}a-z0-9])[{_CJK}](?:[ \t\u3000]*[,、][ \t\u3000]*[{_CJK}]){{2,}}(?![{_CJK}a-z0-9])")
_SPELLED_GAP = re.compile("[ \t\u3000]*[,、][ \t\u3000]*")
_ONE_CHAR_LINE = re.compile("(?m)^[ \t\u3000]*[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff][ \t\u3000]*$")
# what every spelled-out run and every run of three one-character lines contains: a character
# between two commas, a line between two line breaks (cheap searches that start with a literal)
_SPELLED_HINT = re.compile(f"[,、][ \t\u3000]*[{_CJK}][ \t\u3000]*[,、]")
_LINES_HINT = re.compile(f"\n[ \t\u3000]*[{_CJK}][ \t\u3000]*\n")


def _nfkc_len(ch: str) -> int:
    """How many characters the translate table makes of ch (the table, not NFKC itself: ‼ stays one)."""
    value = _NFKC[ord(ch)]
    return 1 if isinstance(value, int) else len(value)


@lru_cache(maxsize=1)
def _expanding() -> re.Pattern:
    """Characters whose normal form is longer than one character (any non-BMP one may be)."""
    chars = "".join(chr(c) for c in range(0x80, 0x10000) if not 0xD800 <= c <= 0xDFFF and _nfkc_len(chr(c)) != 1)
    return re.compile("[" + re.escape(chars) + "]|[\U00010000-\U0010ffff]")


@lru_cache(maxsize=1)
def _t2s():
    from opencc import OpenCC
    return OpenCC("t2s")


@lru_cache(maxsize=1)
def _t2s_chars() -> str:
    """The BMP characters OpenCC t2s converts on their own; text without any (and without a
    supplementary-plane ideograph, U+20000-U+3FFFF) is left as it is.

    Found with one OpenCC call over every BMP character (about 0.1 s, once per process).
    A phrase-only form in otherwise simplified text (深沈 -> 深沉) is not converted: it never
    carries a claim.
    """
    cands = [chr(c) for c in range(0x80, 0x10000) if not 0xD800 <= c <= 0xDFFF and chr(c) != "\n"]
    out = _t2s().convert("\n".join(cands)).split("\n")
    if len(out) != len(cands):      # a separator got converted: check one by one
        out = [_t2s().convert(c) for c in cands]
    return "".join(c for c, o in zip(cands, out) if c != o)


def _simplified(text: str) -> str:
    """OpenCC t2s; where phrase-level conversion changed the length, character by character."""
    simple = _t2s().convert(text)
    if len(simple) != len(text):
        simple = "".join(c2 if len(c2 := _t2s().convert(c)) == 1 else c for c in text)
    return simple


# character classes of the compiled pass (bits of nlp/normalize_core.pyx)
_DROP, _INV, _WORD, _CJK_CLASS, _T2S, _BLANK = 1, 2, 4, 8, 16, 32
_ASK = 0xFFFFFFFF       # the table gives more than one character: the compiled pass asks it


@lru_cache(maxsize=1)
def _bmp_tables() -> tuple[array, bytes]:
    """The NFKC table (``_NFKC`` as one code point per BMP character, or _ASK) and the classes
    of every BMP character, flat for the compiled pass; built once per process (about 0.2 s).
    A lone surrogate (JSON input can carry one) reads as U+FFFD: OpenCC and the Aho-Corasick passes
    cannot encode it, and the original text keeps it for the evidence."""
    mapping = array("I", range(0x10000))
    for c in range(0x10000):
        if 0xD800 <= c <= 0xDFFF:
            mapping[c] = 0xFFFD
        else:
            value = _NFKC[c]
            mapping[c] = value if isinstance(value, int) else ord(value) if len(value) == 1 else _ASK
    classes = bytearray(0x10000)
    bmp = "".join(map(chr, range(0x10000)))
    for bits, pattern in ((_INV | _DROP, INVISIBLE), (_WORD, f"[{WORD}]"), (_CJK_CLASS, f"[{_CJK}]"),
                          (_T2S, "[" + re.escape(_t2s_chars()) + "]"), (_BLANK, "[ \t\u3000]")):
        for m in re.finditer(pattern, bmp):
            classes[m.start()] |= bits
    return mapping, bytes(classes)


class Normalizer:
    """Configured once from config/normalisation.yaml; call it on any text."""

    def __init__(self, separators: str = "", substitutions: dict[str, str] | None = None,
                 pinyin_words: list[str] | tuple = (), emoji: dict[str, str] | None = None):
        # emoji that stand for one character (降🍬 -> 降糖): read in the NFKC translate pass, one
        # character for one, before the invisible ones are dropped
        self._table, self._emoji_re = _NFKC, None
        if emoji:
            table = _NfkcTable(_NFKC)
            for key, value in emoji.items():
                key, char = key.strip(EMOJI_SELECTORS), value.translate(_NFKC)
                if len(key) != 1 or len(char) != 1:
                    raise ValueError(f"emoji substitution {key!r}: {value!r} must map one emoji to one character")
                table[ord(key)] = ord(char)
            self._table = table
            self._emoji_re = re.compile("[" + "".join(re.escape(k.strip(EMOJI_SELECTORS)) for k in emoji) + "]")
        self.separators = set(separators) | {" ", "\t", "\u3000", "\xa0"}
        self._core = _core(self._table, self.separators)
        self.substitutions = {}
        for variant, canonical in (substitutions or {}).items():
            v = self._basic(variant).text
            c = self._basic(canonical).text
            if v and v != c:      # 降醣 is already 降糖 after t2s: not a homophone
                self.substitutions[v] = c
        # pinyin spellings of high-risk words, whole or for some characters (血tang, 三gao, xuetang)
        self._pinyin_variants = set()
        for word in pinyin_words:
            c = self._basic(word).text
            for form in _pinyin_spellings(c):
                if form not in self.substitutions:
                    self.substitutions[form] = c
                    self._pinyin_variants.add(form)
        self._sub_automaton = None
        self._core.watch(self.substitutions)    # text holding none of them skips the substitution pass
        if self.substitutions:
            import ahocorasick_rs
            self._sub_pairs = list(self.substitutions.items())
            # leftmost-longest, non-overlapping: 降三搞 before 三搞
            self._sub_automaton = ahocorasick_rs.AhoCorasick(
                [v for v, _ in self._sub_pairs], matchkind=ahocorasick_rs.MatchKind.LeftmostLongest,
                implementation=ahocorasick_rs.Implementation.DFA)

    # -- steps ---------------------------------------------------------
    def _basic(self, text: str) -> Normalized:
        """NFKC + lower-case + t2s + invisible/separator removal."""
        return self._basic_flagged(text)[0]

    def _basic_flagged(self, text: str) -> tuple[Normalized, int]:
        """_basic, and the compiled pass's flags (VARIANT_HINT: the text may hold a variant).

        The compiled pass gives ``text.translate(self._table)`` and the ranges to drop from it: the
        matches of the regex ``D(?:(?<=[WORD]D)D*(?=[WORD])|(?<=INVISIBLE)INVISIBLE*)``, D being a
        separator or an INVISIBLE character; that is, a stretch of separators and invisibles between
        two word characters, and any run of invisibles. (tests/nlp/test_normalize_core.py keeps
        the regex passes it replaced, as the oracle.)"""
        conv, out, drops, flags = self._core.run(text)
        expanded = len(conv) != len(text)       # ℃ -> °c, ① -> 1 ... : the map goes char by char
        simple = conv
        if flags & T2S_FOUND:
            simple = _simplified(conv)
            _, out, drops, flags = self._core.run(simple, False)
        if flags & VERTICAL_HINT:           # a character alone between line breaks or commas
            drops = _vertical_drops(simple, drops)
            pieces, keep_from = [], 0
            for a, b in drops:
                pieces.append(simple[keep_from:a])
                keep_from = b
            pieces.append(simple[keep_from:])
            out = "".join(pieces) if drops else simple
            flags |= VARIANT_HINT           # the filter saw the text before these drops
        return Normalized(text, out, _Basic(text, expanded, conv, simple, drops, out, self._emoji_re)), flags

    def _substitute(self, norm: Normalized) -> Normalized:
        if self._sub_automaton is None or not norm.text:
            return norm
        found = self._sub_automaton.find_matches_as_indexes(norm.text)
        if not found:
            return norm
        picks = []
        for i, s, e in found:
            v, c = self._sub_pairs[i]
            if not _latin_bounded(norm, v, s, e):
                continue
            picks.append((s, e, c, _PINYIN if v in self._pinyin_variants else _HOMOPHONE))
        if not picks:
            return norm
        pieces, pos = [], 0
        for s, e, c, _ in picks:
            pieces.append(norm.text[pos:s])
            pieces.append(c)
            pos = e
        pieces.append(norm.text[pos:])
        return Normalized(norm.original, "".join(pieces), _Substituted(norm, picks))

    def __call__(self, text: str) -> Normalized:
        norm, flags = self._basic_flagged(text)
        return self._substitute(norm) if flags & VARIANT_HINT else norm

    def plain(self, text: str) -> str:
        """Normalised text only (for config phrases)."""
        return self(text).text


def _core(table: dict, separators: set[str]) -> Core:
    """The compiled pass for one translate table and set of separators."""
    mapping, classes = _bmp_tables()
    if table is not _NFKC:          # emoji read as characters: their own entries
        mapping = array("I", mapping)
        for cp, value in table.items():
            if cp < 0x10000 and isinstance(value, int) and value != _NFKC[cp]:
                mapping[cp] = value
    classes = bytearray(classes)
    for sep in separators:
        if ord(sep) < 0x10000:
            classes[ord(sep)] |= _DROP
    return Core(mapping, classes, table, {sep for sep in separators if ord(sep) >= 0x10000})


def _latin_bounded(norm: Normalized, variant: str, s: int, e: int) -> bool:
    """A variant that starts or ends with a Latin letter counts only as whole Latin words: not the
    "gao" inside "gaokao", not "xt" inside "next". A space the normaliser removed still bounds a
    word ("ok xt" reads "okxt"; the word starts are asked for only then)."""
    text = norm.text
    if variant[0] in _LATIN and s > 0 and text[s - 1] in _LATIN and s not in norm.word_starts:
        return False
    if variant[-1] in _LATIN and e < len(text) and text[e] in _LATIN and e not in norm.word_starts:
        return False
    return True


def _vertical_drops(simple: str, drops: list) -> list:
    """Add the line breaks (and blanks around them) inside runs of one-character lines, and the
    commas inside a word spelled out one character at a time (降，糖，神，器)."""
    lines = [m.span() for m in _ONE_CHAR_LINE.finditer(simple)] if _LINES_HINT.search(simple) else []
    extra, run = [], []
    if _SPELLED_HINT.search(simple):
        for m in _SPELLED_RUN.finditer(simple):
            extra += [g.span() for g in _SPELLED_GAP.finditer(simple, m.start(), m.end())]
    for span in lines + [(-2, -2)]:
        if run and span[0] == run[-1][1] + 1:
            run.append(span)
            continue
        if len(run) >= 3:
            for (a, b), (c, d) in zip(run, run[1:]):
                left = a + len(simple[a:b].rstrip(" \t\u3000"))          # just after the character
                right = c + len(simple[c:d]) - len(simple[c:d].lstrip(" \t\u3000"))
                extra.append((left, right))
        run = [span]
    if not extra:
        return drops
    merged: list[tuple[int, int]] = []
    for a, b in sorted(drops + extra):
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    return merged


@lru_cache(maxsize=4096)
def _pinyin_spellings(word: str) -> tuple[str, ...]:
    """Spellings of a Chinese word with some or all characters in pinyin (any common reading).

    All-pinyin spellings need six letters or more, so short syllables stay words of their own.
    """
    from itertools import product
    from pypinyin import Style, pinyin
    if not word or len(word) > 5 or not all("\u4e00" <= ch <= "\u9fff" for ch in word):
        return ()
    in_word = [r[0] for r in pinyin(word, style=Style.NORMAL)]
    readings = [list(dict.fromkeys([w] + pinyin(ch, style=Style.NORMAL, heteronym=True)[0]))[:2]
                for w, ch in zip(in_word, word)]
    options = [[ch] + [r.replace("ü", "v") for r in rs] for ch, rs in zip(word, readings)]
    out = []
    for combo in product(*options):
        if all(len(x) == 1 and x == ch for x, ch in zip(combo, word)):
            continue
        form = "".join(combo)
        if all(x != ch for x, ch in zip(combo, word)) and len(form) < 6:
            continue
        out.append(form)
    # a character followed by its own pinyin, as a reading aid that splits the word (血xie糖)
    for i, ch in enumerate(word):
        for r in options[i][1:]:
            out.append(word[:i + 1] + r + word[i + 1:])
    return tuple(out)


class _Basic:
    """How _basic's output came from the original: the characters dropped (``drops``, ranges of
    ``simple``, which is one character per original character unless ``expanded``)."""

    __slots__ = ("text", "expanded", "conv", "simple", "drops", "out", "emoji_re", "_seg_out", "_seg_src", "_lists")

    def __init__(self, text, expanded, conv, simple, drops, out, emoji_re):
        self.text, self.expanded, self.conv, self.simple = text, expanded, conv, simple
        self.drops, self.out, self.emoji_re = drops, out, emoji_re
        self._seg_out = None
        self._lists = None

    def lists(self):
        if self._lists is None:
            self._lists = _basic_maps(self.text, self.expanded, self.conv, self.simple, self.drops, self.emoji_re)
        return self._lists

    def _segments(self):
        """Where each run of kept characters starts, in the output and in the original."""
        seg_out, seg_src, kept, keep_from = [0], [0], 0, 0
        for a, b in self.drops:
            kept += a - keep_from
            seg_out.append(kept)
            seg_src.append(b)
            keep_from = b
        self._seg_out, self._seg_src = seg_out, seg_src

    def locate(self, i: int) -> tuple[int, int]:
        """The original range of output character i."""
        if self.expanded:
            starts, ends, _ = self.lists()
            return starts[i], ends[i]
        if self._seg_out is None:
            self._segments()
        k = bisect.bisect_right(self._seg_out, i) - 1
        src = self._seg_src[k] + i - self._seg_out[k]
        return src, src + 1

    def _dropped(self, pos: int) -> bool:
        k = bisect.bisect_right(self.drops, (pos, len(self.simple) + 1)) - 1
        return k >= 0 and self.drops[k][0] <= pos < self.drops[k][1]

    def evasions(self, start: int, end: int) -> set[str]:
        if self.expanded:           # rare (℃, ①): read the per-character lists
            starts, ends, marks = self.lists()
            out: set[str] = set().union(*marks[start:end])
            if any(starts[i + 1] > ends[i] for i in range(start, end - 1)):
                out.add(SEPARATOR)
            return out
        a, b = self.locate(start)[0], self.locate(end - 1)[1]
        out = set()
        text = self.text
        if any(not self._dropped(m.start()) for m in _FULLWIDTH_RE.finditer(text, a, b)):
            out.add(FULLWIDTH)
        if self.emoji_re is not None and self.emoji_re.search(text, a, b):
            out.add(EMOJI)
        if self.simple is not self.conv and self.conv[a:b] != self.simple[a:b]:
            out.add(TRADITIONAL)
        k = bisect.bisect_right(self.drops, (a, len(self.simple) + 1))
        if k < len(self.drops) and self.drops[k][0] < b:
            out.add(SEPARATOR)
        return out

    def word_starts(self) -> set[int]:
        simple, words, kept, keep_from = self.simple, set(), 0, 0
        for a, b in self.drops:
            kept += a - keep_from
            if a > 0 and b < len(simple) and (simple[a - 1] in _LATIN or simple[b] in _LATIN):
                words.add(kept)
            keep_from = b
        words.update(m.start() for m in _LATIN_RUN.finditer(self.out))
        return words


class _Substituted:
    """How _substitute's output came from its input ``norm``: ``picks`` are (start, end, canonical,
    mark) in the input; each replacement maps back to the whole variant it replaced."""

    __slots__ = ("norm", "picks", "_at", "_after", "_shift")

    def __init__(self, norm, picks):
        self.norm, self.picks = norm, picks
        self._at = None

    def lists(self):
        return _substitute_maps(self.norm, self.picks)

    def _index(self):
        at, after, shift = [], [], [0]
        for s, e, c, _ in self.picks:
            at.append(s + shift[-1])
            after.append(s + shift[-1] + len(c))
            shift.append(shift[-1] + len(c) - (e - s))
        self._at, self._after, self._shift = at, after, shift

    def _source(self, i: int, last: bool) -> int:
        """The input position output character i stands for (a replacement: the first or the last
        character of its variant)."""
        if self._at is None:
            self._index()
        k = bisect.bisect_right(self._at, i) - 1
        if k >= 0 and i < self._after[k]:
            s, e = self.picks[k][0], self.picks[k][1]
            return e - 1 if last else s
        return i - self._shift[k + 1]

    def locate(self, i: int) -> tuple[int, int]:
        locate = self.norm._map.locate
        return locate(self._source(i, False))[0], locate(self._source(i, True))[1]

    def evasions(self, start: int, end: int) -> set[str]:
        """The input's evasions over the runs of [start, end) that were not replaced; a replacement
        adds its own mark and its variant's marks (spaces between pinyin syllables inside a variant
        are part of its spelling, not a separator); gaps between the runs are separators."""
        if self._at is None:
            self._index()
        pieces = []                             # (input start, input end, mark or None)
        at, after, n = self._at, self._after, len(self._at)
        i = start
        k = bisect.bisect_right(at, i) - 1      # the last replacement starting at or before i
        while i < end:
            if 0 <= k < n and i < after[k]:
                s, e, _, mark = self.picks[k]
                pieces.append((s, e, mark))
                i = after[k]
                continue
            stop = min(end, at[k + 1]) if k + 1 < n else end
            if stop > i:
                shift = self._shift[k + 1]
                pieces.append((i - shift, stop - shift, None))
            i = stop
            k += 1
        norm, out = self.norm, set()
        for n, (s, e, mark) in enumerate(pieces):
            if mark is None:
                out |= norm.evasions(s, e)
            else:
                out |= (norm.evasions(s, e) - {SEPARATOR}) | mark
            if n and norm.span(pieces[n - 1][1] - 1, pieces[n - 1][1])[1] < norm.span(s, s + 1)[0]:
                out.add(SEPARATOR)
        return out

    def word_starts(self) -> set[int]:
        return _substituted_words(self.norm.word_starts, self.picks)


def _basic_maps(text: str, expanded: bool, conv: str, simple: str, drops: list, emoji_re=None):
    """Offsets and marks of _basic's output (built only when a match needs them)."""
    if not expanded:                # one character in, one out
        n = len(text)
        starts = list(range(n))
        ends = list(range(1, n + 1))
        marks = [_NONE] * n
        for m in _FULLWIDTH_RE.finditer(text):
            marks[m.start()] = _FW
        if emoji_re is not None:
            for m in emoji_re.finditer(text):
                marks[m.start()] = _EMOJI
    else:                           # walk only the characters that may expand (℃ -> °c)
        starts, ends, marks = [], [], []
        pos = 0
        for m in _expanding().finditer(text):
            i = m.start()
            k = _nfkc_len(text[i])
            if k == 1:
                continue
            starts += range(pos, i)
            ends += range(pos + 1, i + 1)
            starts += [i] * k
            ends += [i + 1] * k
            pos = i + 1
        starts += range(pos, len(text))
        ends += range(pos + 1, len(text) + 1)
        marks = [_NONE] * len(starts)
        for m in _FULLWIDTH_RE.finditer(text):      # one character in, one out: find where it went
            i = m.start()
            j = bisect.bisect_left(starts, i)
            marks[j] = _FW
        if emoji_re is not None:
            for m in emoji_re.finditer(text):
                marks[bisect.bisect_left(starts, m.start())] = _EMOJI
    if simple is not conv:
        for k, (a, b) in enumerate(zip(conv, simple)):
            if a != b:
                marks[k] = marks[k] | _TRAD
    if drops:
        keep_from, s_out, e_out, m_out = 0, [], [], []
        for a, b in drops:
            s_out += starts[keep_from:a]
            e_out += ends[keep_from:a]
            m_out += marks[keep_from:a]
            keep_from = b
        s_out += starts[keep_from:]
        e_out += ends[keep_from:]
        m_out += marks[keep_from:]
        starts, ends, marks = s_out, e_out, m_out
    return starts, ends, marks


def _substitute_maps(norm: Normalized, picks: list):
    """Offsets and marks after homophone substitution: a replacement maps to the whole variant."""
    n_starts, n_ends, n_marks = norm.starts, norm.ends, norm.marks
    starts, ends, marks = [], [], []
    pos = 0
    for s, e, c, mark in picks:
        starts += n_starts[pos:s]
        ends += n_ends[pos:s]
        marks += n_marks[pos:s]
        o_s, o_e = n_starts[s], n_ends[e - 1]
        m = frozenset().union(*n_marks[s:e]) | mark
        starts += [o_s] * len(c)
        ends += [o_e] * len(c)
        marks += [m] * len(c)
        pos = e
    starts += n_starts[pos:]
    ends += n_ends[pos:]
    marks += n_marks[pos:]
    return starts, ends, marks


def _substituted_words(n_words: set[int], picks: list) -> set[int]:
    """Latin word starts after substitution: shifted, and a replacement starts a word when its
    variant held one."""
    words: set[int] = set()
    pos = 0
    shift = 0
    for s, e, c, _ in picks:
        words |= {w + shift for w in n_words if pos <= w < s}
        if any(s <= w < e for w in n_words):
            words.add(s + shift)
        shift += len(c) - (e - s)
        pos = e
    words |= {w + shift for w in n_words if w >= pos}
    return words
