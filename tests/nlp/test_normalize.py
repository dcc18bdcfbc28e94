"""The normaliser: what it undoes, and that every character maps back to the original text."""
from __future__ import annotations

from hypothesis import given, settings, strategies as st

from nlp.lexicon import CONFIG_DIR_DEFAULT, load_normalizer
from nlp.normalize import Normalizer

NORMALIZER, _ = load_normalizer(CONFIG_DIR_DEFAULT / "normalisation.yaml")

# text as sellers write it: Chinese, full-width and ASCII letters/digits, separators, emoji, zero-width
ALPHABET = st.sampled_from(list("降血糖压脂治療癌減肥绛ａＢ１２abc 12-*./·，。！？\n") +
                           ["\u200b", "\ufeff", "🔥", "😀", "\u3000", "①"])


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=ALPHABET, max_size=40))
def test_every_normalised_char_maps_into_the_original(text):
    norm = NORMALIZER(text)
    assert len(norm.starts) == len(norm.ends) == len(norm.text) == len(norm.marks)
    for i in range(len(norm.text)):
        assert 0 <= norm.starts[i] < norm.ends[i] <= len(text)
        if i:
            assert norm.starts[i] >= norm.starts[i - 1]      # order is kept
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
