"""Claim detection through nlp.detect, the same call the pipeline makes."""
from __future__ import annotations

import pytest

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
