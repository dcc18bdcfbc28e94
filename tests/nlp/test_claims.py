"""Claim detection through nlp.detect, the same call the pipeline makes."""
from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

import nlp


def found(result, field="text"):
    return {(f.type, f.text) for f in result.findings if f.field == field}


def types(result):
    return {f.type for f in result.findings}


@pytest.mark.parametrize("text,kind,span", [
    ("苦瓜桑叶茶，坚持喝能降血糖", "disease_claim", "降血糖"),
    ("长期食用可以预防脑血栓", "disease_claim", "预防脑血栓"),
    ("很多顾客喝了血糖都降下来了", "disease_claim", "血糖都降下来了"),
    ("固体饮料，提高免疫力，熬夜必备", "health_function_on_ordinary_food", "提高免疫力"),
    ("黑枸杞原浆，补肾壮阳", "unapproved_function", "补肾壮阳"),
    ("全网销量第一的蜂蜜", "absolute_term", "全网销量第一"),
    ("三天见效，无效退款", "efficacy_guarantee", "三天见效"),
    ("三甲医院心内科主任推荐", "medical_endorsement", "三甲医院心内科主任推荐"),
    ("本品添加进口西地那非", "illegal_additive", "西地那非"),
    ("儿童长高奶粉，一周能长高5厘米", "minors_targeting", "长高5厘米"),
    ("配方奶粉，配方接近母乳", "minors_targeting", "接近母乳"),
])
def test_each_claim_type(listing, text, kind, span):
    result = nlp.detect(listing(text))
    hits = [f for f in result.findings if f.type == kind]
    assert hits, result.findings
    i = text.index(span)
    assert any(f.start < i + len(span) and i < f.end for f in hits)     # overlaps the claim
    for f in hits:
        assert f.text == text[f.start:f.end]
        assert f.rule_id and f.legal_basis and f.list_version.count("@") == 1


@pytest.mark.parametrize("text", [
    "保健食品不是药物，不能代替药物治疗疾病。",
    "本品不能代替药物。",
    "不适宜人群：少年儿童、孕妇、乳母。糖尿病患者不宜食用。",
    "配料：小麦粉。不含蔗糖，无添加防腐剂，不含西地那非。",
    "维生素C有抗氧化作用。维生素D可促进钙的吸收。钙是骨骼和牙齿的主要成分。",
    "今日直降压片糖果五元，糖醋排骨、夫妻肺片、毛血旺，产地灵宝。",
    "本品不具有治疗作用，如有不适请咨询医生。",
    "市场监管部门提醒：普通食品不能治疗糖尿病，谨防虚假宣传。",
    "我妈有高血压，买来给她当零食，味道不错。",
    "第一次买，最佳食用时间是早上，开封后最好冷藏。",
])
def test_must_not_flag(listing, text):
    assert nlp.detect(listing(text)).findings == []


def test_population_lines_are_fine_on_a_health_food(listing):
    text = "适宜人群：血脂偏高者、糖尿病患者的辅助调理人群\n不适宜人群：少年儿童"
    assert nlp.detect(listing(text, category="保健食品"), approved_functions=["有助于维持血脂健康水平"]).findings == []


def test_registered_function_is_not_a_claim_but_another_one_is(listing):
    text = "本品有助于增强免疫力。还能减肥瘦身。"
    approved = ["免疫调节"]            # old registry wording of function 1
    result = nlp.detect(listing(text, category="保健食品", reg="国食健注G20190457"), approved_functions=approved)
    assert found(result) == {("unapproved_function", "减肥瘦身")}


def test_same_function_on_an_ordinary_food_is_a_violation(listing):
    result = nlp.detect(listing("本品有助于增强免疫力", category="普通食品"))
    assert types(result) == {"health_function_on_ordinary_food"}


def test_disease_claim_on_registered_health_food_is_still_a_claim(listing):
    result = nlp.detect(listing("增强免疫力，还能抗癌", category="保健食品"), approved_functions=["增强免疫力"])
    assert types(result) == {"disease_claim"}


def test_a_registered_functions_old_official_name_is_not_a_claim_on_that_product(listing):
    """辅助降血糖 is the pre-2023 name of 有助于维持血糖健康水平: the 降血糖 inside it is part of
    the allowed wording on a product registered for it, and a disease claim on any other."""
    text = "调节血糖，辅助降血糖"
    approved = ["有助于维持血糖健康水平"]
    registered = nlp.detect(listing(text, category="保健食品", reg="国食健注G20190457"), approved_functions=approved)
    assert registered.findings == []
    assert "disease_claim" in types(nlp.detect(listing(text, category="固体饮料")))


def test_a_negation_of_telling_does_not_negate_the_claim_told(listing):
    assert types(nlp.detect(listing("医生不会告诉你的降糖秘密"))) == {"disease_claim"}
    assert nlp.detect(listing("本品不会降糖")).findings == []


@pytest.mark.parametrize("text", ["抗‼️癌", "抗⁉癌", "抗‼癌"])
def test_emoji_exclamation_marks_between_characters_are_separators(listing, text):
    result = nlp.detect(listing(f"这款茶{text}效果好"))
    assert found(result) == {("disease_claim", text)}


@pytest.mark.parametrize("text,evasion", [
    ("这款茶可以降 - 血 - 糖", "separator"),
    ("長期飲用可降血壓", "traditional"),
    ("喝了能 jiang xue tang", "pinyin"),
    ("绝对能jiang压", "pinyin"),
    ("喝了可以绛糖", "homophone"),
    ("１００％有效", "fullwidth"),
])
def test_evasions_are_found_and_recorded(listing, text, evasion):
    result = nlp.detect(listing(text))
    assert result.findings, text
    f = result.findings[0]
    assert evasion in f.evasion
    assert f.text == text[f.start:f.end]


def test_pinyin_inside_an_english_word_is_not_a_match(listing):
    assert nlp.detect(listing("Thai style kangaroo jerky")).findings == []


def test_live_caption_offsets(listing):
    text = "【口播转写】\n[00:01:05] 主播：一罐三百克\n[00:03:26] 主播：驼奶预防老年痴呆"
    result = nlp.detect(listing(text, kind="live"))
    f = [f for f in result.findings if f.type == "disease_claim"][0]
    assert f.offset_s == 206.0


def test_title_and_ocr_fields_are_scanned(listing):
    result = nlp.detect(listing("普通描述", title="降糖神器苦瓜片", ocr={"img1": "三天见效"}))
    fields = {f.field for f in result.findings}
    assert {"title", "ocr:img1"} <= fields


@pytest.mark.parametrize("category,title,reg,text,kind", [
    ("保健食品", "", "", "", "保健食品"),
    ("", "", "国食健注G20190457", "", "保健食品"),
    ("", "", "国食注字TY20190001", "", "特殊医学用途配方食品"),
    ("", "人参苦瓜片 压片糖果", "", "", "普通食品"),
    ("", "某某胶囊", "", "包装有蓝帽子标志", "保健食品"),
    ("", "红枣", "", "", "普通食品"),
])
def test_product_kind(listing, category, title, reg, text, kind):
    result = nlp.detect(listing(text, category=category, title=title, reg=reg))
    assert result.product_kind == kind
    assert result.product_kind_source


@pytest.mark.parametrize("text,span", [
    # an A-not-A question (能不能) is no negation: the named speaker's answer says yes
    ("客服：能不能降血糖？答：大部分顾客反馈都降了", "降血糖"),
    ("问：降不降血压？\n主播：吃了一个月，指标好看多了", "降血压"),
    # a speaker's answer that is not a no is a yes, whatever words it uses
    ("问：吃了能降血脂吗？答：吃了一个月，指标好看多了", "降血脂"),
    ("问：能治糖尿病吗？客服：亲，我家老客户都在回购", "治糖尿病"),
])
def test_a_question_the_seller_answers_without_saying_no_is_a_claim(listing, text, span):
    hits = [f for f in nlp.detect(listing(text)).findings if f.type == "disease_claim"]
    i = text.index(span)
    assert any(f.start <= i < f.end for f in hits), hits


@pytest.mark.parametrize("text", [
    "有人问能不能治病，我们是食品，不能治病",          # A-not-A asks even without a question mark
    "有没有降血糖的效果？",
    "会不会降血压？不会",
    "问：能降血压吗？答：亲，不能哦",                  # an address before the no
    "问：能降血糖吗？\n答：亲，我们是普通食品，没有这个功效",
    "问：能治糖尿病吗？答：本品是食品，不能替代药物",
    "这茶能降血糖吗？谢谢",                           # no speaker, no yes: still only a question
])
def test_a_question_left_open_or_answered_no_is_not_a_claim(listing, text):
    assert nlp.detect(listing(text)).findings == []


# -- a question without a question mark -----------------------------------------

@pytest.mark.parametrize("text", [
    "问：喝了能降血糖吗 答：这个不好说，因人而异",       # a hedge is no yes
    "问：这个茶能降血压吗 客服：亲，不能哦",
    "[00:12:01] 观众：能治糖尿病吗 主播：我们是食品，治不了病",
    "能降血糖吗 谢谢",                                   # asked, never answered
    "能不能降血糖呢 答：不能",
])
def test_a_question_closed_by_its_particle_is_a_question(listing, text):
    assert nlp.detect(listing(text, kind="live" if text.startswith("[") else "listing")).findings == []


@pytest.mark.parametrize("text,span", [
    ("问：喝了能降血糖吗 答：可以的，很多顾客血糖都降了", "降血糖"),
    ("问：能降血压吗答：坚持喝三个月效果很明显", "降血压"),     # the answer's label right after 吗
    ("[00:03:10] 主播：家人们这个能降血糖吗 能！\n", "降血糖"),  # the host answers herself
    ("主播：这个茶喝了就能降血糖呢\n", "降血糖"),               # 呢 asserts: no yes-no question
    ("喝了能降血压就这么简单 大家快来买", "降血压"),            # the 么 of 这么 is no particle
])
def test_a_particle_that_closes_no_open_question_keeps_the_claim(listing, text, span):
    hits = [f for f in nlp.detect(listing(text)).findings if f.type == "disease_claim"]
    i = text.index(span)
    assert any(f.start <= i < f.end for f in hits), hits


# -- a negation over a 、 list ----------------------------------------------------

@pytest.mark.parametrize("text", [
    "本品不能降血糖、降血压、降血脂",
    "本品不含蔗糖、色素、香精、西地那非",
    "无蔗糖、色素、香精、防腐剂、西地那非",
    "未添加香精、色素、西地那非",
])
def test_a_negation_covers_every_item_of_the_list_after_it(listing, text):
    assert nlp.detect(listing(text)).findings == []


@pytest.mark.parametrize("text,span", [
    ("不含蔗糖、能降血糖", "降血糖"),                   # the item says 能: a claim of its own
    ("不添加防腐剂、可以降血压", "降血压"),
    ("不含蔗糖、香精、还能降血脂", "降血脂"),
    ("无副作用、降血压", "降血压"),                     # 无副作用 is a selling point, not a negation
    ("零添加、不上火、降血压", "降血压"),               # 不 negates 上火 only
    ("纯天然无公害、降血压", "降血压"),                 # "without" heads substances, not effects
    ("没添加蔗糖、低脂低卡、降血压", "降血压"),
    ("不含蔗糖、低脂低卡、降血压", "降血压"),           # a list of selling points ending in a claim
])
def test_a_negation_does_not_reach_an_item_that_asserts(listing, text, span):
    hits = [f for f in nlp.detect(listing(text)).findings if f.type == "disease_claim"]
    assert [f.text for f in hits] == [span]


# -- a question about who may eat it -----------------------------------------------

@pytest.mark.parametrize("text", [
    "想减肥的人能吃吗？答：可以",
    "减脂的时候可以喝吗 主播：可以，零脂肪",
    "补肾的时候能吃吗？能",
    "减肥的时候能吃吗？能",
    "痛风能不能吃？可以",
    "高血压患者可以喝吗 客服：可以的",
])
def test_asking_whether_a_population_may_eat_it_claims_nothing(listing, text):
    assert nlp.detect(listing(text)).findings == []


@pytest.mark.parametrize("text,span", [
    ("糖尿病能吃吗 答：能吃，还能降血糖", "降血糖"),      # the answer claims
    ("问：喝了能降血糖吗？答：当然可以", "降血糖"),        # the effect after 能: the ordinary rule
    ("失眠的人能喝吗？答：能，喝了一觉到天亮", "一觉到天亮"),
    ("这个降血糖的茶可以喝吗？可以", "降血糖"),            # names the product by its effect
])
def test_a_population_question_leaves_the_effects_claimed_around_it(listing, text, span):
    hits = nlp.detect(listing(text)).findings
    i = text.index(span)
    assert any(f.start <= i < f.end for f in hits), hits


# -- the list and question rules on arbitrary text ---------------------------------

RULE_PIECES = ["不含", "不能", "无", "未添加", "没有", "蔗糖", "色素", "西地那非", "降血糖", "降血压", "能", "可以", "还",
               "、", "，", "。", "?", "\n", " ", "吗", "呢", "么", "这么", "能不能", "能吃吗", "可以喝吗", "答:", "客服:",
               "主播:", "不好说", "可以的", "糖尿病人", "减肥", "副作用", "好", "😀", "\u200b", "ｑ", "𠀀"]
RULE_TEXTS = st.lists(st.sampled_from(RULE_PIECES), max_size=16).map("".join)


def _window_negated(text: str, start: int, ctx, cues: list) -> bool:
    """The negation rule as it was before lists: a touching negating character, or a cue ending at
    most four characters before the match in its clause."""
    from nlp.claims import NEGATION_WINDOW, _a_not_a
    if start == 0:
        return False
    if text[start - 1] in ctx.negation_chars and not _a_not_a(text, start - 1, start):
        return True
    lo = start
    while lo > 0 and start - lo < NEGATION_WINDOW + 4 and text[lo - 1] not in ctx.clause_breaks:
        lo -= 1
    return any(lo <= a and b <= start and start - b <= NEGATION_WINDOW and not _a_not_a(text, a, b) and
               not any(w in text[b:start] for w in ctx.negation_blockers) for a, b in cues)


@settings(max_examples=300, deadline=None)
@given(RULE_TEXTS, st.data())
def test_a_match_with_no_list_before_it_is_negated_by_the_window_rule_alone(text, data):
    from nlp.claims import _negated, context_scan
    ctx = nlp.lexicon_holder().get().context
    norm = nlp.lexicon_holder().get().normalizer(text)
    t = norm.text
    start = data.draw(st.integers(min_value=0, max_value=len(t)))
    cues = context_scan(ctx).scan(t)[3]
    if "、" not in t[max(0, start - 5):start]:
        assert _negated(t, start, ctx, cues) == _window_negated(t, start, ctx, cues)


@settings(max_examples=200, deadline=None)
@given(RULE_TEXTS, st.sampled_from(["普通食品", "保健食品"]))
def test_findings_on_arbitrary_lists_and_questions_point_into_the_text(text, category):
    from shian.models import Listing
    item = Listing(platform="shop", kind="listing", item_id="t1", title="", text=text, category=category)
    for f in nlp.detect(item).findings:
        assert 0 <= f.start < f.end <= len(text) and f.text == text[f.start:f.end]


# -- shop and brand names ------------------------------------------------------

def test_a_shop_name_is_no_claim_but_a_word_ending_in_tang_is_not_a_shop_name(listing):
    assert nlp.detect(listing("养胃堂出品，护肝坊食品专营店发货")).findings == []
    found = nlp.detect(listing("孩子吃了课堂上注意力集中")).findings      # 课堂 is a classroom, not a shop
    assert [f.type for f in found] == ["minors_targeting"]

