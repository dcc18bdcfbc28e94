"""The normaliser: what it undoes, and that every character maps back to the original text."""
from __future__ import annotations

import pytest
import yaml
from hypothesis import example, given, settings, strategies as st

from nlp.lexicon import CONFIG_DIR_DEFAULT, LexiconError, load_normalizer
from nlp.normalize import Normalizer

NORMALIZER, _ = load_normalizer(CONFIG_DIR_DEFAULT / "normalisation.yaml")

# the configured data plus emoji that stand for a character and short Latin initials, whatever the
# lists hold today
_DATA = yaml.safe_load((CONFIG_DIR_DEFAULT / "normalisation.yaml").read_text(encoding="utf-8"))
EMOJI = {**(_DATA.get("emoji_substitutions") or {}), "🍬": "糖", "💊": "药", "⬇️": "降"}
WITH_EMOJI = Normalizer(_DATA.get("separators") or "", {**_DATA["substitutions"], "xt": "血糖", "ab": "抗癌"},
                        _DATA.get("pinyin_words") or [], EMOJI)

# text as sellers write it: Chinese, full-width and ASCII letters/digits, separators, emoji, zero-width
ALPHABET = st.sampled_from(list("降血糖压脂治療癌減肥绛ａＢ１２abcxt 12-*./·，。！？\n") +
                           ["\u200b", "\ufeff", "🔥", "😀", "\u3000", "①", "🍬", "💊", "⬇", "\ufe0f", "℃", "‼", "⁉"])


@pytest.mark.parametrize("normalizer", [NORMALIZER, WITH_EMOJI], ids=["config", "emoji"])
@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=ALPHABET, max_size=40))
@example("降℃a‼b糖")         # ‼ stays one character while ℃ expands: the maps once came out one too long
def test_every_normalised_char_maps_into_the_original(normalizer, text):
    norm = normalizer(text)
    assert len(norm.starts) == len(norm.ends) == len(norm.text) == len(norm.marks)
    for i in range(len(norm.text)):
        assert 0 <= norm.starts[i] < norm.ends[i] <= len(text)
        if i:
            assert norm.starts[i] >= norm.starts[i - 1]      # order is kept
        if normalizer is WITH_EMOJI and norm.ends[i] - norm.starts[i] == 1 and text[norm.starts[i]] in "🍬💊⬇":
            # an emoji read as a character maps back to exactly that emoji, and says so
            assert norm.text[i] == EMOJI[text[norm.starts[i]] if text[norm.starts[i]] != "⬇" else "⬇️"]
            assert "emoji" in norm.marks[i]
    for i in range(len(norm.text)):
        for j in range(i + 1, len(norm.text) + 1):
            s, e = norm.span(i, j)
            assert 0 <= s < e <= len(text)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=ALPHABET, max_size=30))
def test_plain_chinese_text_is_unchanged(text):
    plain = "".join(c for c in text if "\u4e00" <= c <= "\u9fff" and c not in "療減绛")
    norm = NORMALIZER(plain)
    assert norm.text == plain
    assert norm.evasions(0, len(norm.text)) == set()


def test_full_width_digits_and_traditional_characters():
    norm = NORMALIZER("１００％有效，治療失眠")
    assert norm.text == "100%有效,治疗失眠"
    assert {"fullwidth", "traditional"} <= norm.evasions(0, len(norm.text))


def test_separators_between_characters_are_removed_and_mapped_back():
    text = "本品 降 - 糖 效果好"
    norm = NORMALIZER(text)
    i = norm.text.index("降糖")
    s, e = norm.span(i, i + 2)
    assert text[s:e] == "降 - 糖"
    assert "separator" in norm.evasions(i, i + 2)


def test_separators_kept_in_numbers_and_latin_words_stay_bounded():
    assert NORMALIZER("5-8cm 价格 12.5").text == "5-8cm价格 12.5"
    norm = NORMALIZER("zhen hao 好")
    assert norm.text == "zhenhao好"
    assert {0, 4} <= norm.word_starts


def test_pinyin_spellings_of_listed_words_read_as_the_word():
    norm = NORMALIZER("能降血xiě糖, 三gao, kang ai")
    assert norm.text == "能降血糖, 三高, 抗癌"
    i = norm.text.index("三高")
    assert norm.original[slice(*norm.span(i, i + 2))] == "三gao"
    assert "pinyin" in norm.evasions(i, i + 2)
    assert NORMALIZER("gaokao").text == "gaokao"       # glued Latin letters: not 高


def test_vertical_text_is_one_word_and_maps_back():
    text = "好茶\n降\n 血 \n压\n"
    norm = NORMALIZER(text)
    assert norm.text == "好茶\n降血压\n"
    i = norm.text.index("降血压")
    assert text[slice(*norm.span(i, i + 3))] == "降\n 血 \n压"
    assert NORMALIZER("净含量\n5\n好\n香").text == "净含量\n5\n好\n香"    # two one-char lines are not a word


def test_zero_width_and_emoji_are_invisible():
    assert NORMALIZER("降\u200b糖🔥效果").text == "降糖效果"


def test_homophone_substitution_maps_to_the_variant():
    norm = Normalizer(substitutions={"绛糖": "降糖"})("可以绛糖哦")
    assert norm.text == "可以降糖哦"
    assert norm.span(2, 4) == (2, 4)
    assert "homophone" in norm.evasions(2, 4)


def test_a_word_spelled_out_with_commas_is_one_word():
    norm = NORMALIZER("降，糖，神，器")
    assert norm.text == "降糖神器"
    assert norm.original[slice(*norm.span(0, 4))] == "降，糖，神，器"
    assert NORMALIZER("降，糖").text == "降,糖"          # two characters are not a spelled-out word


def test_emoji_standing_for_a_character_reads_as_it_and_maps_back():
    text = "控🍬茶，不用吃💊，⬇️血压"
    norm = WITH_EMOJI(text)
    assert norm.text == "控糖茶,不用吃药,降血压"
    i = norm.text.index("控糖")
    assert text[slice(*norm.span(i, i + 2))] == "控🍬"
    assert "emoji" in norm.evasions(i, i + 2)
    j = norm.text.index("降血压")
    assert text[slice(*norm.span(j, j + 3))] == "⬇️血压"
    assert "emoji" in norm.evasions(j, j + 3)
    assert WITH_EMOJI("好吃🔥").text == "好吃"               # emoji outside the map stay invisible


@pytest.mark.parametrize("emoji,why", [({"🍬🍭": "糖"}, "one emoji"), ({"🍬": "糖果"}, "one character")])
def test_an_emoji_map_entry_that_is_not_one_for_one_is_refused(tmp_path, emoji, why):
    path = tmp_path / "normalisation.yaml"
    path.write_text("separators: \"-\"\nsubstitutions: {}\nemoji_substitutions:\n"
                    + "".join(f'  "{k}": "{v}"\n' for k, v in emoji.items()), encoding="utf-8")
    with pytest.raises(LexiconError) as err:
        load_normalizer(path)
    assert err.value.line == 3 and why in err.value.reason


def test_latin_substitutions_count_only_as_whole_latin_words():
    n = Normalizer(substitutions={"xt": "血糖", "抗ab": "抗癌"})
    assert n("next text").text == "nexttext"                  # inside words: untouched
    assert n("抗abc").text == "抗abc"
    assert n("降xt, xt高").text == "降血糖, 血糖高"
    norm = n("ok xt")                                          # a removed space still ends a word
    assert norm.text == "ok血糖"
    assert norm.original[slice(*norm.span(2, 4))] == "xt"
    assert "homophone" in norm.evasions(2, 4)


@pytest.mark.parametrize("normalizer", [NORMALIZER, WITH_EMOJI], ids=["config", "emoji"])
@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(ALPHABET, st.sampled_from(["三搞", "降三搞", "jiang", "xue", "tang", "xt", " "])),
                max_size=25).map("".join))
def test_span_and_evasions_agree_with_the_per_character_maps(normalizer, text):
    """span() and evasions() answer from the steps' records without building the per-character
    lists; they must say what the lists say."""
    fast, full = normalizer(text), normalizer(text)
    full.starts                                     # build the lists on this one
    for i in range(len(fast.text)):
        for j in range(i + 1, len(fast.text) + 1):
            assert fast.span(i, j) == full.span(i, j)
            expected = set().union(*full.marks[i:j])
            if any(full.starts[k + 1] > full.ends[k] for k in range(i, j - 1)):
                expected.add("separator")
            assert fast.evasions(i, j) == expected
    assert fast.word_starts == full.word_starts



def test_a_lone_surrogate_reads_as_a_replacement_character_and_the_rest_is_converted():
    # JSON input can carry a lone surrogate, which OpenCC cannot encode
    text = "治療\ud800糖尿病"
    norm = NORMALIZER(text)
    assert norm.text == "治疗\ufffd糖尿病"
    assert norm.span(0, 2) == (0, 2) and norm.span(3, 6) == (3, 6)
    assert "traditional" in norm.evasions(0, 2)
