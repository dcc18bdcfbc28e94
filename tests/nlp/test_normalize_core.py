"""The compiled character pass (nlp/normalize_core.pyx) gives what the plain-Python normaliser it
replaced gave: the same translated, converted and cut text and the same dropped ranges, so every
offset and evasion mark built from them stays the same.

``Reference`` below is that Python code (nlp/normalize.py before the pass was compiled), kept here
as the oracle.
"""
from __future__ import annotations

import re

import pytest
import yaml
from hypothesis import given, settings, strategies as st

from nlp import normalize as N
from nlp.lexicon import CONFIG_DIR_DEFAULT
from nlp.normalize import EMOJI_SELECTORS, INVISIBLE, WORD, Normalizer


class Reference:
    """The regex passes of Normalizer._basic as they were (translate, t2s, drops, vertical text)."""

    def __init__(self, normalizer: Normalizer, emoji: dict | None):
        self._table = normalizer._table
        self._translate = lambda m: m.group().translate(self._table)
        changing = [chr(c) for c in range(0x41, 0x5B)]
        changing += [chr(c) for c in range(0x80, 0x10000) if not 0xD800 <= c <= 0xDFFF and N._NFKC[c] != c]
        emoji_chars = "".join(re.escape(k.strip(EMOJI_SELECTORS)) for k in emoji or ())
        self._changing = re.compile("[" + re.escape("".join(changing)) + emoji_chars + "\U00010000-\U0010ffff]+")
        seps = "".join(re.escape(c) for c in sorted(normalizer.separators))
        droppable = f"[{seps}{INVISIBLE[1:-1]}]"
        self._drop_re = re.compile(f"{droppable}(?:(?<=[{WORD}]{droppable}){droppable}*(?=[{WORD}])"
                                   f"|(?<={INVISIBLE}){INVISIBLE}*)")
        self._drop_runs = re.compile(f"(?:[{seps}]|{INVISIBLE})+")
        self._t2s_trigger = re.compile("[" + re.escape(N._t2s_chars()) + "]|[\U00020000-\U0003ffff]")

    def basic(self, text: str):
        conv = self._changing.sub(self._translate, text) if self._changing.search(text) else text
        simple = conv
        if self._t2s_trigger.search(conv):
            simple = N._t2s().convert(conv)
            if len(simple) != len(conv):
                simple = "".join(c2 if len(c2 := N._t2s().convert(c)) == 1 else c for c in conv)
        drops = [m.span() for m in self._drop_re.finditer(simple)] if self._drop_runs.search(simple) else []
        if "\n" in simple or "," in simple or "、" in simple:
            drops = N._vertical_drops(simple, drops)
        if drops:
            pieces, keep_from = [], 0
            for a, b in drops:
                pieces.append(simple[keep_from:a])
                keep_from = b
            pieces.append(simple[keep_from:])
            out = "".join(pieces)
        else:
            out = simple
        return conv, simple, drops, out


SURROGATE = re.compile("[\ud800-\udfff]")
_DATA = yaml.safe_load((CONFIG_DIR_DEFAULT / "normalisation.yaml").read_text(encoding="utf-8"))
_EMOJI = {**(_DATA.get("emoji_substitutions") or {}), "🍬": "糖", "⬇️": "降", "☆": "星"}
_SEPARATORS = _DATA.get("separators") or ""
CASES = {
    "config": (_SEPARATORS, None),
    "emoji": (_SEPARATORS, _EMOJI),
    # a separator outside the BMP, and separators that are word characters themselves (a Latin
    # letter, a CJK ideograph, a supplementary-plane ideograph): the regex backtracks onto them
    "odd separators": (_SEPARATORS + "x丨\U0001d11e\U00020001", None),
    "none": ("", None),
}
NORMALIZERS = {name: Normalizer(seps, None, (), emoji) for name, (seps, emoji) in CASES.items()}
REFERENCES = {name: Reference(NORMALIZERS[name], CASES[name][1]) for name in CASES}

# every class boundary the pass decides on: ideograph ranges and their neighbours, Latin and
# full-width letters and digits, the configured separators and blanks, invisible ranges at both
# ends and just outside, emoji and their selectors, characters that expand (℃ ① ﷺ), tone marks,
# traditional characters, supplementary-plane letters and ideographs, line breaks and commas
# (🉇 is 〔勝〕: an expansion holding a character t2s converts)
BOUNDARIES = (list("\u33ff\u3400\u4dbf\u4dc0\u4dff\u4e00\u9fff\ua000\uf8ff\uf900\ufaff\ufb00")
              + list("aAzZ09ｚＡ０％@`{") + list(_SEPARATORS[:40]) + list(" \t\u3000\xa0\r")
              + list("\u00ad\u034f\u0300\u036f\u0370\u115f\u1160\u180b\u180e\u200a\u200b\u200f\u2010\u202a"
                     "\u202e\u2060\u206f\u20d0\u20ff\u2190\u21ff\u2300\u23ff\u25a0\u27bf\u2900\u2bff\u2c00"
                     "\u3164\ufe00\ufe0f\ufeff\uffa0")
              + ["\U0001f000", "\U0001faff", "\U0001fb00", "\U000e0000", "\U000e007f", "\U000e0080",
                 "🔥", "🍬", "⬇", "‼", "⁉", "☆"]
              + list("℃①ﷺ㍿\U0001f247\U0001f248🈚āÁǕǖü") + list("療減壓醫發") + ["𝐀", "𝟏", "\U00020000", "\U0002ebef",
                                                          "\U0002ebf0", "\U0003ffff", "\U00040000", "x", "丨"]
              + list("\n,，、。降血糖压脂治癌\ud800")
              + ["\U0001d11e", "\U00020001"])
TEXT = st.one_of(
    st.text(alphabet=st.sampled_from(BOUNDARIES), max_size=40),
    st.text(max_size=40),                              # any character at all
    st.text(alphabet="降血糖压治療a1,，、\n \u3000\t\u200b", max_size=30),   # vertical and spelled-out text
    st.lists(st.sampled_from(["降\n血\n压", "降，糖，神，器", "\n 血 \n", "、", "降 - 糖", "抗‼️癌", "⬇️血压",
                              "ab c", "１００％", "治療", "℃", " ", "\u200b"] + BOUNDARIES),
             max_size=20).map("".join),
)


def _basic_records(normalizer: Normalizer, text: str):
    norm = normalizer._basic(text)
    steps = norm._map
    return steps.conv, steps.simple, steps.drops, norm.text, steps.expanded


@pytest.mark.parametrize("name", list(CASES))
@settings(max_examples=400, deadline=None)
@given(text=TEXT)
def test_compiled_pass_gives_what_the_python_passes_gave(name, text):
    # a lone surrogate reads as U+FFFD (OpenCC and Aho-Corasick cannot encode it; the original keeps it)
    expected = REFERENCES[name].basic(SURROGATE.sub("\ufffd", text))
    conv, simple, drops, out, expanded = _basic_records(NORMALIZERS[name], text)
    assert (conv, simple, drops, out) == expected
    assert expanded == (len(expected[0]) != len(text))


@pytest.mark.parametrize("text,out", [
    ("", ""),
    ("降 - 糖 5 - 8", "降糖 5 - 8"),                 # separators go only between word characters
    ("ａｂ　ｃ", "abc"),                               # full-width letters and space
    ("降\u200b\u200d糖🔥🔥好\ufe0f", "降糖好"),           # invisible runs go anywhere
    ("Ab ‼ cd", "abcd"),
    ("降x丨糖", "降糖"),                               # separators that are word characters:
    ("降xx", "降x"),                                   # the stretch ends at the last one before
    ("axxb", "ab"),                                    # a word character
    ("降 ax糖", "降a糖"),
    ("x降", "x降"),
    ("降\U0001d11e糖", "降糖"),
    ("\U00020001\U00020001", "\U00020001\U00020001"),
])
def test_examples_with_odd_separators(text, out):
    assert REFERENCES["odd separators"].basic(text)[3] == out
    assert NORMALIZERS["odd separators"](text).text == out


def test_the_normalised_text_of_generated_listings_is_unchanged():
    """Listings as the demo generator writes them (titles, details, live transcripts)."""
    from demo.seed import generate
    texts = ["治療失眠１００％有效，降\u200b糖🔥\n降\n血\n压\n", "降，糖，神，器 zhen hao 三gao"]
    for listing in generate(600, seed=11).listings:
        texts += [listing.title, listing.text]
    for name in ("config", "emoji"):
        normalizer, reference = NORMALIZERS[name], REFERENCES[name]
        for text in texts:
            assert _basic_records(normalizer, text)[:4] == reference.basic(text)


_CONFIGURED = Normalizer(_SEPARATORS, _DATA["substitutions"], _DATA.get("pinyin_words") or [], _EMOJI)
_VARIANTS = sorted(_CONFIGURED.substitutions)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.one_of(st.sampled_from(_VARIANTS), st.sampled_from([c for c in BOUNDARIES if c != "\ud800"]),
                          st.sampled_from([v for v in _VARIANTS if len(v) == 1]),
                          st.sampled_from(_VARIANTS).map(lambda v: v[0] + " " + v[1:])),
                max_size=12).map("".join))
def test_text_the_variant_filter_passes_over_holds_no_variant(text):
    """The compiled pass says when the text may hold a homophone or pinyin spelling; skipping the
    substitution pass otherwise changes nothing."""
    norm = _CONFIGURED(text)
    full = _CONFIGURED._substitute(_CONFIGURED._basic(text))
    assert norm.text == full.text
    assert (norm.starts, norm.ends, norm.marks, norm.word_starts) == (full.starts, full.ends, full.marks,
                                                                      full.word_starts)


def test_every_configured_variant_is_seen_by_the_filter():
    for variant in _VARIANTS:
        for text in (variant, "好" + variant, variant + "好", "a " + variant + " b"):
            assert _CONFIGURED(text).text == _CONFIGURED._substitute(_CONFIGURED._basic(text)).text, text
