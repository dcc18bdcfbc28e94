"""Generalisation: claim families and disguises written fresh for these tests (not taken from any
eval set), one group per failure kind seen on held-out data, each with hard negatives."""
from __future__ import annotations

import pytest

import nlp


def hits_of(result, kind):
    return [f for f in result.findings if f.type == kind and f.field == "text"]


def assert_claim(result, text, kind, span):
    hits = hits_of(result, kind)
    i = text.index(span)
    assert any(f.start < i + len(span) and i < f.end for f in hits), \
        f"{kind} {span!r} not found; got {[(f.type, f.text) for f in result.findings]}"


# -- 1. everyday-language disease claims -----------------------------------------------
DISEASE = [
    ("老慢支咳了好些年，坚持喝这款梨膏，现在基本不咳了", "老慢支"),
    ("体检查出肺结节的朋友，喝三个月结节明显变小", "结节明显变小"),
    ("甲状腺囊肿、乳腺增生都能慢慢消掉", "乳腺增生都能慢慢消掉"),
    ("胆囊息肉吃了半年就没了", "胆囊息肉吃了半年就没了"),
    ("女生月经不调、痛经，喝它调理一个月", "痛经，喝它调理"),
    ("对付贫血、胃溃疡、浅表性胃炎效果很好", "胃溃疡"),
    ("关节炎老寒腿，吃了腿脚不疼了", "不疼了"),
    ("尿酸高的人喝这个，尿酸降到三百多", "尿酸降到"),
    ("孩子近视三百度，吃了两个月度数降了五十度", "度数降了"),
    ("老花眼戴了十年眼镜，吃完摘掉了老花镜", "摘掉了老花镜"),
    ("白内障早期吃这个能逆转", "白内障早期吃这个能逆转"),
    ("专门调理失眠症，多年顽固失眠的都说好", "调理失眠症"),
    ("前列腺的毛病，尿频尿急起夜多，喝一个疗程就改善", "尿频尿急"),
    ("肝硬化、酒精肝都能调好", "肝硬化、酒精肝都能调好"),
    ("癌症病人放化疗后吃它，白细胞很快升上来", "放化疗"),
    ("走出抑郁，重新找回快乐", "走出抑郁"),
    ("宝宝的湿疹吃了益生菌再也没复发", "湿疹"),
    ("慢性咽炎的克星，一含嗓子就不痒了", "慢性咽炎"),
    ("过敏性鼻炎喝了一个月，不打喷嚏了", "过敏性鼻炎"),
    ("糖尿病并发症手脚发麻的，坚持吃三个月", "糖尿病并发症"),
    ("心脑血管病的老人家常备", "心脑血管病"),
    ("用了这个之后，胰岛素都不用打了", "胰岛素都不用打了"),
    ("吃了半年，降压药已经停了", "降压药已经停了"),
    ("坚持吃，药可以慢慢停掉", "药可以慢慢停掉"),
    ("不用再吃二甲双胍了，血糖照样稳", "不用再吃二甲双胍"),
    ("三个疗程断根，药到病除", "断根"),
    ("血压从一百六降到了一百二", "血压从一百六降到了一百二"),
    ("喝了一个月，空腹血糖7点多下来了", "血糖7点多下来了"),
    ("这是纯天然的降糖药，比西药安全", "天然的降糖药"),
    ("甲亢甲减都可以调理", "甲亢甲减都可以调理"),
    ("痛风发作再也不用怕", "痛风"),
    ("哮喘三十年，喝了这个蜂蜜再也没犯过", "哮喘三十年"),
    ("能有效控制糖尿病", "控制糖尿病"),
    ("脂肪肝吃好了", "脂肪肝吃好了"),
    ("肿瘤患者的福音", "肿瘤患者的福音"),
]


@pytest.mark.parametrize("text,span", DISEASE)
def test_everyday_disease_claims(listing, text, span):
    assert_claim(nlp.detect(listing(text)), text, "disease_claim", span)


NOT_CLAIMS = [
    "我在吃降压药，请问可以一起吃吗",
    "我爸有糖尿病，买来给他当早餐，口感不错",
    "高血压患者慎用，孕妇禁用",
    "三高人群请在医生指导下食用",
    "有人问这个能不能治糖尿病？不能！我们就是普通食品",
    "能降血压吗？不能，这就是一款普通的茶",
    "说喝茶能降血糖的都是骗人的，我们不这么说",
    "养胃堂旗舰店，老字号糕点",
    "店铺：护肝坊食品专营店",
    "东北乱炖、糖醋里脊、夫妻肺片都适合配这款米",
    "关节炎和近视是两回事，这里只卖大米",
    "第一时间发货，第一批新茶",
    "医生说我血糖偏高，要少吃甜食",
    "糖尿病人可以吃吗？请咨询医生",
    "高温瞬时灭菌，杀死细菌，保证安全",
    "独立包装，防止交叉感染",
    "高血压、糖尿病等慢性病患者请在医生指导下食用",
    "【评论区】我妈高血压，喝了说口感好多了",
    "老人小孩都爱吃，软糯好消化",
]


@pytest.mark.parametrize("text", NOT_CLAIMS)
def test_mentions_questions_denials_and_names_are_not_claims(listing, text):
    result = nlp.detect(listing(text))
    assert [(f.type, f.text) for f in result.findings if f.field == "text"] == []


def test_improving_sleep_is_a_function_but_curing_insomnia_is_a_disease_claim(listing):
    r = nlp.detect(listing("酸枣仁茶，有助于改善睡眠"))
    assert {f.type for f in r.findings} == {"health_function_on_ordinary_food"}
    r = nlp.detect(listing("酸枣仁茶，根治失眠"))
    assert {f.type for f in r.findings} == {"disease_claim"}


def test_relieving_constipation_is_a_function_curing_it_a_disease_claim(listing):
    r = nlp.detect(listing("西梅汁，缓解便秘"))
    assert {f.type for f in r.findings} == {"health_function_on_ordinary_food"}
    r = nlp.detect(listing("西梅汁，专治顽固性便秘"))
    assert "disease_claim" in {f.type for f in r.findings}


# -- 2. disguises ----------------------------------------------------------------------
@pytest.mark.parametrize("text,kind", [
    ("每天一杯\n降\n血\n压\n效果好", "disease_claim"),
    ("降\n糖\n神\n器", "disease_claim"),
    ("喝了能降血xiě糖", "disease_claim"),
    ("控制血táng，喝了能降血tang", "disease_claim"),
    ("三gao人群的福音，能降三gao", "disease_claim"),
    ("女生必备，丰xiong效果好", "unapproved_function"),
    ("j x t 效果好，可以降血糖", "disease_claim"),
    ("这款茶能j.x.t", "disease_claim"),
    ("降3高，一喝就灵", "disease_claim"),
    ("治療糖尿病", "disease_claim"),
    ("降，糖，神，器", "disease_claim"),
    ("降‧血‧糖", "disease_claim"),
    ("降丨血丨压", "disease_claim"),
    ("治liao糖尿病", "disease_claim"),
    ("糖niao病的克星", "disease_claim"),
    ("強腎壯陽", "unapproved_function"),
])
def test_disguised_claims(listing, text, kind):
    r = nlp.detect(listing(text))
    assert kind in {f.type for f in r.findings}, [(f.type, f.text) for f in r.findings]
    for f in r.findings:
        assert f.text == text[f.start:f.end]


def test_vertical_text_maps_back_to_the_original(listing):
    text = "好茶\n降\n血\n压\n"
    f = [f for f in nlp.detect(listing(text)).findings if f.type == "disease_claim"][0]
    assert f.text == "降\n血\n压"
    assert "separator" in f.evasion


def test_ordinary_lines_are_not_joined(listing):
    # two short lines are not vertical text when the lines hold words
    assert nlp.detect(listing("净含量\n500g\n降价\n促销")).findings == []


# -- 3. sexual-function euphemisms -------------------------------------------------------
@pytest.mark.parametrize("text", [
    "男人的加油站，喝出好状态",
    "喝了腰杆子硬，老婆都夸",
    "让夫妻生活更和谐",
    "中年男人重振雄风",
    "时间更持久，金枪不倒",
    "玛咖片，补肾壮阳，男人必备",
    "老公喝了一夜七次",
])
def test_virility_euphemisms(listing, text):
    assert "unapproved_function" in {f.type for f in nlp.detect(listing(text)).findings}, text


@pytest.mark.parametrize("text", ["口红持久不掉色", "香味持久，回甘明显", "夫妻俩开的小店，用心做好每一块饼"])
def test_lasting_flavour_is_not_virility(listing, text):
    assert nlp.detect(listing(text)).findings == []


# -- 4. functions described, not named -----------------------------------------------
@pytest.mark.parametrize("text,kind", [
    ("每天一杯，皮肤透亮白净", "unapproved_function"),
    ("坚持吃，白发转黑", "unapproved_function"),
    ("吃了一个月，小肚子平了", "health_function_on_ordinary_food"),
    ("大吃大喝也不长肉", "health_function_on_ordinary_food"),
    ("饭后一杯刮刮油", "health_function_on_ordinary_food"),
    ("把体内毒素排出去", "unapproved_function"),
    ("健身增肌塑形必备", "unapproved_function"),
    ("酒局前喝一瓶，千杯不醉", "unapproved_function"),
    ("有助于延缓衰老", "unapproved_function"),      # an anti-ageing claim; old name of function 2 only in registry text
    ("女人喝了胸部更挺", "unapproved_function"),
    ("熬夜党护肝必备", "unapproved_function"),
    ("减轻酒精对肝脏的损伤", "health_function_on_ordinary_food"),
    ("喝了晚上睡得踏实，一觉睡到天亮", "health_function_on_ordinary_food"),
    ("上班族提高抵抗力，不容易感冒", "health_function_on_ordinary_food"),
])
def test_functions_described(listing, text, kind):
    r = nlp.detect(listing(text))
    assert kind in {f.type for f in r.findings}, [(f.type, f.text) for f in r.findings]


def test_described_function_on_registered_health_food_beyond_registration(listing):
    r = nlp.detect(listing("本品有助于增强免疫力，还能让小肚子平了", category="保健食品",
                           reg="国食健注G20190457"), approved_functions=["增强免疫力"])
    assert {f.type for f in r.findings} == {"unapproved_function"}


# -- 5. children ------------------------------------------------------------------------
@pytest.mark.parametrize("text", [
    "孩子吃了期末考试进步了二十名",
    "小朋友上课注意力集中，坐得住",
    "宝宝吃了肠胃好，很少生病",
    "给孩子补补眼睛，看黑板更清楚",
    "青春期长个黄金期，别错过",
    "让孩子越吃越聪明",
    "中考冲刺提分必备",
    "这款奶粉营养跟母乳一样",
    "学生记性变好了，背书快",
])
def test_child_directed_claims(listing, text):
    assert "minors_targeting" in {f.type for f in nlp.detect(listing(text)).findings}, text


@pytest.mark.parametrize("text", ["孩子爱吃，当零食", "宝宝辅食米粉，细腻好冲", "儿童款小包装，方便带去学校"])
def test_children_as_buyers_are_not_claims(listing, text):
    assert nlp.detect(listing(text)).findings == []


@pytest.mark.parametrize("text,kind", [
    ("增高粉，骨骼二次生长", "unapproved_function"),
    ("成人也能长高5厘米", "unapproved_function"),
    ("大学生也能长个子", "unapproved_function"),
    ("孕妇吃了宝宝更聪明", "unapproved_function"),
    ("孩子喝了长高快", "minors_targeting"),
    ("宝妈给孩子喝，长高快", "minors_targeting"),
])
def test_height_and_brains_go_to_whoever_is_targeted(listing, text, kind):
    assert {f.type for f in nlp.detect(listing(text)).findings} == {kind}


# -- 6. absolute terms and endorsements ------------------------------------------------
@pytest.mark.parametrize("text,kind", [
    ("送礼首选，品质保证", "absolute_term"),
    ("回购率第一的枸杞", "absolute_term"),
    ("口碑第一", "absolute_term"),
    ("顶级原料，极品好茶", "absolute_term"),
    ("人民大会堂专供", "absolute_term"),
    ("老专家亲自把关的配方", "medical_endorsement"),
    ("医院同款营养粉", "medical_endorsement"),
    ("医生都在用的调理方法", "medical_endorsement"),
    ("院士团队研发", "medical_endorsement"),
    ("宫廷秘方，代代相传", "medical_endorsement"),
    ("三甲医院都在推荐", "medical_endorsement"),
])
def test_absolute_and_endorsement_variants(listing, text, kind):
    r = nlp.detect(listing(text))
    assert kind in {f.type for f in r.findings}, [(f.type, f.text) for f in r.findings]


# -- 7. type choice ---------------------------------------------------------------------
def test_drug_ingredient_is_illegal_additive_stopping_a_drug_is_disease_claim(listing):
    r = nlp.detect(listing("配方里加了西药成分，效果快"))
    assert "illegal_additive" in {f.type for f in r.findings}
    r = nlp.detect(listing("吃了它，二甲双胍可以停了"))
    assert {f.type for f in r.findings} == {"disease_claim"}
    r = nlp.detect(listing("我每天吃二甲双胍，顺便买点杂粮"))
    assert r.findings == []


def test_claims_in_a_later_sentence_than_a_drug_keep_their_own_type(listing):
    # inside the drug's sentence its effect is part of the drug finding; after it, claims stand alone
    text = "含西地那非。补肾壮阳，三天见效"
    types = {f.type for f in nlp.detect(listing(text)).findings}
    assert {"illegal_additive", "unapproved_function", "efficacy_guarantee"} <= types


# -- broader families -------------------------------------------------------------------
@pytest.mark.parametrize("text,kind", [
    ("颈椎不好、腰椎不好的人都适合", "disease_claim"),
    ("胃不好的喝一段时间，胃就不反酸了", "disease_claim"),
    ("对前列腺有很好的保养作用", "disease_claim"),
    ("能把血管里的垃圾清理干净", "disease_claim"),
    ("糖友们放心吃", "disease_claim"),
    ("肝功能指标都正常了", "disease_claim"),
    ("帮助术后伤口愈合", "disease_claim"),
    ("提高机体免疫力", "health_function_on_ordinary_food"),
    ("燃烧多余脂肪", "health_function_on_ordinary_food"),
    ("改善您的睡眠", "health_function_on_ordinary_food"),
    ("排出体内重金属", "health_function_on_ordinary_food"),
    ("调理五脏六腑", "unapproved_function"),
    ("一喝就见效", "efficacy_guarantee"),
])
def test_broader_families(listing, text, kind):
    r = nlp.detect(listing(text))
    assert kind in {f.type for f in r.findings}, [(f.type, f.text) for f in r.findings]


def test_question_answered_yes_is_a_claim(listing):
    text = "问：高血压能喝吗？答（客服）：可以的，喝一个月血压就降下来了"
    assert "disease_claim" in {f.type for f in nlp.detect(listing(text)).findings}


def test_registered_function_described_in_everyday_words_is_allowed(listing):
    r = nlp.detect(listing("本品有助于增强免疫力，提高机体抵抗力", category="保健食品", reg="国食健注G20190457"),
                   approved_functions=["增强免疫力"])
    assert r.findings == []


def test_visual_fatigue_is_not_physical_fatigue(listing):
    r = nlp.detect(listing("本品经注册的保健功能：缓解视觉疲劳", category="保健食品", reg="国食健注G20190457"),
                   approved_functions=["缓解视觉疲劳"])
    assert r.findings == []
