"""Every licence and health-registration verdict, against the registry in the real SQLite store."""
from __future__ import annotations

from datetime import date

import matcher
from tests.matcher.conftest import AS_OF, finding, listing


def licence(registry, listing_, kind="普通食品", findings=(), as_of=AS_OF):
    return matcher.check(listing_, list(findings), kind, registry, as_of=as_of)[0]


def health(registry, listing_, kind="普通食品", findings=(), as_of=AS_OF):
    return matcher.check(listing_, list(findings), kind, registry, as_of=as_of)[1]


# -- licence ---------------------------------------------------------------------
def test_ok_own_licence_in_date_with_scope(registry):
    v = licence(registry, listing("新郑市甲乙食品商行", "经营者：新郑市甲乙食品商行｜许可证编号：JY14101840000011"))
    assert v.verdict == "ok"
    assert v.record["holder_name"] == "新郑市甲乙食品商行"
    assert v.identifiers[0]["value"] == "JY14101840000011" and v.identifiers[0]["field"] == "licence_text"
    assert any("JY14101840000011" in r for r in v.reasons)


def test_holder_names_compare_after_nfkc_and_brackets(registry):
    v = licence(registry, listing("新郑市 甲乙食品商行", "ＪＹ１４１０１８４０００００１１"))
    assert v.verdict == "ok"


def test_missing_when_nothing_or_only_a_credit_code_is_shown(registry):
    assert licence(registry, listing("新郑市甲乙食品商行", "")).verdict == "missing"
    assert licence(registry, listing("新郑市甲乙食品商行", "证照信息请联系客服获取")).verdict == "missing"
    v = licence(registry, listing("新郑市甲乙食品商行", "统一社会信用代码：91350100M000100Y43"))
    assert v.verdict == "missing" and any("营业执照" in r for r in v.reasons)


def test_masked_number_counts_as_not_shown(registry):
    v = licence(registry, listing("新郑市甲乙食品商行", "许可证编号：JY141018****0011"))
    assert v.verdict == "missing" and any("遮挡" in r for r in v.reasons)


def test_malformed_wrong_length_and_letter_o(registry):
    assert licence(registry, listing("新郑市甲乙食品商行", "许可证编号：JY141018400000011")).verdict == "malformed"
    v = licence(registry, listing("新郑市甲乙食品商行", "许可证编号：JY141018400OOO11"))
    assert v.verdict == "malformed"
    assert any("新郑市甲乙食品商行" in r and "按数字读取" in r for r in v.reasons)


def test_letter_o_in_ocr_text_of_a_licence_image_is_read_as_zero(registry):
    item = listing("新郑市甲乙食品商行", "", ocr={"img1": "许可证编号 JY141018400OOO11"}, licence_images=["img1"])
    v = licence(registry, item)
    assert v.verdict == "ok" and any("识别误差" in r for r in v.reasons)


def test_obsolete_format_only(registry):
    v = licence(registry, listing("新郑市甲乙食品商行", "生产许可证：QS4101 2801 0573"))
    assert v.verdict == "obsolete_format"
    v = licence(registry, listing("新郑市甲乙食品商行", "餐饮服务许可证：豫餐证字（2014）410184000321"))
    assert v.verdict == "obsolete_format"


def test_current_licence_beside_an_obsolete_one_is_judged(registry):
    v = licence(registry, listing("新郑市甲乙食品商行", "QS410128010573 JY14101840000011"))
    assert v.verdict == "ok"


def test_not_in_registry_with_near_number_hint(registry):
    v = licence(registry, listing("新郑市甲乙食品商行", "许可证编号：JY14101840000012"))
    assert v.verdict == "not_in_registry"
    assert any("仅差一位" in r and "JY14101840000011" in r for r in v.reasons)
    assert v.candidates[0]["licence_no"] == "JY14101840000011" and v.candidates[0]["same_holder"]


def test_holder_mismatch_near_identical_names_are_different_entities(registry):
    # The operator shows the licence of 新郑市甲乙食品有限公司 but is 新郑市甲乙食品商行.
    v = licence(registry, listing("新郑市甲乙食品商行", "许可证编号：JY14101840000022"))
    assert v.verdict == "holder_mismatch"
    assert v.record["holder_name"] == "新郑市甲乙食品有限公司"
    own = [c for c in v.candidates if c["same_holder"]]
    assert own and own[0]["licence_no"] == "JY14101840000011"
    assert any("本身在登记库中持有" in r and "JY14101840000011" in r for r in v.reasons)


def test_holder_mismatch_one_character_off_is_flagged_as_likely_forgery(registry):
    v = licence(registry, listing("新郑市甲乙食品商店", "许可证编号：JY14101840000011"))
    assert v.verdict == "holder_mismatch"
    assert any("仅差一个字" in r for r in v.reasons)
    assert any("没有经营者" in r for r in v.reasons)


def test_holder_mismatch_wins_over_expired(registry):
    v = licence(registry, listing("新郑市甲乙食品商行", "JY14101840000033"))
    assert v.verdict == "holder_mismatch"


def test_expired_by_date_and_by_status(registry):
    v = licence(registry, listing("新郑市丙丁商行", "JY14101840000033"))
    assert v.verdict == "expired" and any("2024-01-01" in r for r in v.reasons)
    assert licence(registry, listing("新郑市丙丁商行", "JY14101840000033"), as_of=date(2023, 6, 1)).verdict == "ok"
    v = licence(registry, listing("新郑市戊己商行", "JY14101840000044"))
    assert v.verdict == "expired" and any("吊销" in r for r in v.reasons)


def test_scope_mismatch_special_food_without_the_item(registry):
    item = listing("新郑市庚辛商行", "JY14101840000055")
    assert licence(registry, item, kind="保健食品").verdict == "scope_mismatch"
    assert licence(registry, item, kind="婴幼儿配方食品").verdict == "scope_mismatch"
    assert licence(registry, item, kind="普通食品").verdict == "ok"
    assert licence(registry, listing("新郑市甲乙食品商行", "JY14101840000011"), kind="保健食品").verdict == "ok"


def test_listing_category_is_used_as_given(registry):
    item = listing("新郑市庚辛商行", "JY14101840000055", category="保健食品")
    assert licence(registry, item, kind="普通食品").verdict == "scope_mismatch"


def test_catering_licence_covers_fresh_food_not_prepackaged_goods(registry):
    fresh = listing("新郑市壬癸面馆", "JY24101840000066", title="羊肉烩面 外卖 现做")
    assert licence(registry, fresh).verdict == "ok"
    packed = listing("新郑市壬癸面馆", "JY24101840000066", title="黑苦荞茶 300g 罐装", text="净含量：300g 保质期：18个月")
    v = licence(registry, packed)
    assert v.verdict == "scope_mismatch" and any("预包装" in r for r in v.reasons)


def test_bulk_goods_need_bulk_scope_and_never_a_filing(registry):
    loose = dict(title="散装红枣 称重计价", text="散装，按重量计价")
    assert licence(registry, listing("新郑市子丑茶叶店", "备案编号：YB14101840000077", **loose)).verdict == \
        "scope_mismatch"
    assert licence(registry, listing("新郑市庚辛商行", "JY14101840000055", **loose)).verdict == "scope_mismatch"
    assert licence(registry, listing("郑州辰巳散货店", "JY14101840000099", **loose)).verdict == "ok"
    assert licence(registry, listing("新郑市子丑茶叶店", "YB14101840000077", title="信阳毛尖 250g")).verdict == "ok"


def test_edible_farm_produce_needs_no_scope(registry):
    assert licence(registry, listing("新郑市庚辛商行", "JY14101840000055"), kind="食用农产品").verdict == "ok"


def test_producer_licence_covers_its_own_category(registry):
    item = listing("河南寅卯生物科技有限公司", "生产者：河南寅卯生物科技有限公司 SC12741018400088")
    assert licence(registry, item, kind="保健食品").verdict == "ok"
    assert licence(registry, item, kind="特殊医学用途配方食品").verdict == "scope_mismatch"


def test_a_product_label_sc_number_in_the_text_is_the_manufacturers_not_the_sellers(registry):
    item = listing("新郑市甲乙食品商行", "", text="【生产许可证编号】SC12741018400088")
    assert licence(registry, item).verdict == "missing"
    own = listing("河南寅卯生物科技有限公司", "", text="生产许可证编号：SC12741018400088")
    assert licence(registry, own, kind="保健食品").verdict == "ok"


def test_not_in_registry_operator_one_character_off_a_registered_holder(registry):
    v = licence(registry, listing("新郑市丙丁商店", "JY14101840999999"))
    assert v.verdict == "not_in_registry"
    assert any("仅差一个字" in r and "新郑市丙丁商行" in r for r in v.reasons)


# -- health-food registration -----------------------------------------------------------
def test_health_na_for_ordinary_food_without_claims(registry):
    assert health(registry, listing(title="红枣 500g")).verdict == "n/a"


def test_health_ok_registered_in_date_for_this_product(registry):
    item = listing(title="寅卯牌灵芝胶囊 60粒", health_food_reg="国食健注G20190001")
    v = health(registry, item, kind="保健食品")
    assert v.verdict == "ok" and v.record["functions"] == ["有助于增强免疫力"]
    assert matcher.registered_functions(item, registry, as_of=AS_OF) == ["有助于增强免疫力"]


def test_health_filing_without_brand_in_title(registry):
    item = listing(title="钙片 60片", text="食健备G202141000003")
    assert health(registry, item, kind="保健食品").verdict == "ok"


def test_health_missing_for_health_food_without_number_and_ordinary_food_with_claims(registry):
    assert health(registry, listing(title="灵芝胶囊"), kind="保健食品").verdict == "missing_for_health_claims"
    v = health(registry, listing(title="酵素果冻"), findings=[finding("health_function_on_ordinary_food", "瘦身")])
    assert v.verdict == "missing_for_health_claims" and any("瘦身" in r for r in v.reasons)


def test_health_not_in_registry_unknown_expired_other_product_or_on_ordinary_food(registry):
    unknown = listing(title="寅卯牌灵芝胶囊", health_food_reg="国食健注G20199999")
    assert health(registry, unknown, kind="保健食品").verdict == "not_in_registry"
    expired = listing(title="寅卯牌鱼油软胶囊", health_food_reg="国食健注G20150002")
    v = health(registry, expired, kind="保健食品")
    assert v.verdict == "not_in_registry" and any("2020-01-01" in r for r in v.reasons)
    other = listing(title="寅卯牌鱼油软胶囊", health_food_reg="国食健注G20190001")
    v = health(registry, other, kind="保健食品")
    assert v.verdict == "not_in_registry" and any("寅卯牌灵芝胶囊" in r for r in v.reasons)
    assert matcher.registered_functions(other, registry, as_of=AS_OF) is None
    candy = listing(title="压片糖果", text="【保健食品批准文号】国食健注G20190001")
    assert health(registry, candy, kind="普通食品").verdict == "not_in_registry"


def test_health_functions_exceeded(registry):
    item = listing(title="寅卯牌灵芝胶囊", health_food_reg="国食健注G20190001")
    v = health(registry, item, kind="保健食品", findings=[finding("unapproved_function", "抗衰老")])
    assert v.verdict == "functions_exceeded" and any("抗衰老" in r for r in v.reasons)


def test_health_missing_outranks_not_in_registry_for_ordinary_food(registry):
    item = listing(title="压片糖果", text="国食健注G20199999")
    v = health(registry, item, findings=[finding("health_function_on_ordinary_food")])
    assert v.verdict == "missing_for_health_claims"
