"""Identifier extraction and validation: every kind, valid and invalid, with raw offsets."""
from __future__ import annotations

import pytest

from matcher.checkdigits import regno15_valid, uscc_check_char, uscc_valid
from matcher.identifiers import extract


def one(text: str, field: str = "licence_text", kind: str | None = None):
    found = [i for i in extract({field: text}) if kind is None or i.type == kind]
    assert len(found) == 1, found
    ident = found[0]
    assert text[ident.start:ident.end] == ident.raw      # offsets point into the raw text
    return ident


@pytest.mark.parametrize("text,kind,value", [
    ("食品经营许可证编号：JY14101840058622；发证机关", "jy", "JY14101840058622"),
    ("生产许可证SC12744040400094", "sc", "SC12744040400094"),
    ("备案编号：YB14401150078431", "yb", "YB14401150078431"),
    ("许可证：ＪＹ１４１０１８４００５８６２２", "jy", "JY14101840058622"),          # full-width
    ("许可证 JY 1410-1840-0586-22 有效期至2029-01-07", "jy", "JY14101840058622"),   # separators inside
    ("小摊点备案卡 TD1130102001000123", "workshop", "TD1130102001000123"),
    ("食品小作坊登记证编号：豫41018420230015", "workshop", "豫41018420230015"),
])
def test_current_licence_numbers_are_read_and_valid(text, kind, value):
    ident = one(text, kind=kind)
    assert ident.valid and ident.value == value and ident.group == "licence"


@pytest.mark.parametrize("text,problem", [
    ("许可证编号：JY141018400078917", "15位"),
    ("许可证编号：JY1410180488296", "13位"),
    ("许可证编号：JY44101840058622", "主体业态"),
    ("许可证编号：JY19901840058622", "省级行政区划代码"),
    ("生产许可证SC13241018400088", "食品类别"),
    ("生产许可证SC31641018400088", "第1位"),
])
def test_malformed_licence_numbers_say_why(text, problem):
    ident = one(text)
    assert not ident.valid and problem in ident.problem


def test_letter_o_typed_by_the_seller_is_malformed_but_read_by_ocr_is_a_reading_error():
    typed = one("许可证编号：JY1410184O898840")
    assert not typed.valid and typed.value == "JY14101840898840" and "字母O" in typed.confusions[0]
    read = one("许可证编号：JY1410184O898840", field="ocr:abc")
    assert read.valid and read.value == "JY14101840898840" and read.confusions


def test_masked_number_is_partially_shown_not_valid():
    ident = one("许可证编号：JY141018****0011")
    assert ident.masked and not ident.valid


def test_words_that_merely_start_like_a_prefix_are_not_identifiers():
    assert extract({"text": "SCOTT牌 JYM 2000 YBX"}) == []


@pytest.mark.parametrize("text,kind,value", [
    ("生产许可证：QS4101 2801 0573", "qs", "QS410128010573"),
    ("全国工业产品生产许可证 QS410114010235（本店合作工厂）", "qs", "QS410114010235"),
    ("食品流通许可证 SP4101841010012345", "sp", "SP4101841010012345"),
    ("餐饮服务许可证：豫餐证字（2014）410184000321", "catering_permit", "豫餐证字(2014)410184000321"),
    ("桂餐证字2010110108002888", "catering_permit", "桂餐证字2010110108002888"),
    ("豫卫食证字(2008)第410184000123号", "hygiene_permit", "豫卫食证字(2008)第410184000123号"),
])
def test_obsolete_formats_are_recognised(text, kind, value):
    ident = one(text, kind=kind)
    assert ident.group == "obsolete" and ident.value == value


def test_unknown_format_after_a_licence_label_is_licence_like_and_invalid():
    ident = one("许可证编号：41018400078917")
    assert ident.type == "licence_like" and not ident.valid


@pytest.mark.parametrize("code", ["91350100M000100Y43", "91110000600037341L", "91512081MA62K0260E"])
def test_uscc_published_examples_pass_gb32100(code):
    assert uscc_valid(code)
    assert uscc_check_char(code[:17]) == code[17]
    ident = one(f"统一社会信用代码：{code}", kind="uscc")
    assert ident.valid and not ident.problem


@pytest.mark.parametrize("code", ["91350100M000100Y4Z", "91350100M000100Y44", "91350100M0001TGQXM"])
def test_uscc_with_wrong_check_character_is_flagged_for_verification(code):
    assert not uscc_valid(code)
    ident = one(f"统一社会信用代码：{code}", kind="uscc")
    assert not ident.valid and "需核实" in ident.problem


def test_old_15_digit_registration_number_check():
    assert regno15_valid("110108000000016") and not regno15_valid("110108000000017")
    assert one("营业执照注册号：110108000000016", kind="regno15").valid


@pytest.mark.parametrize("text,kind,value,valid", [
    ("【保健食品批准文号】国食健注G20190457", "hf_reg", "国食健注G20190457", True),
    ("国食健注J20180012", "hf_reg", "国食健注J20180012", True),
    ("国食健注G2019045", "hf_reg", "国食健注G2019045", False),
    ("国食健注X20190457", "hf_reg", "国食健注X20190457", False),
    ("国食健字G20120388", "hf_old", "国食健字G20120388", True),
    ("卫食健字（2003）第0038号", "hf_moh", "卫食健字(2003)第0038号", True),
    ("卫进食健字(1997)第053号", "hf_moh", "卫进食健字(1997)第053号", True),
    ("食健备G202141000387", "hf_filing", "食健备G202141000387", True),
    ("食健备J201800123456", "hf_filing", "食健备J201800123456", True),
    ("食健备J201812123456", "hf_filing", "食健备J201812123456", False),
    ("国食注字TY20230018", "fsmp", "国食注字TY20230018", True),
    ("国食注字YP20190135", "infant_formula", "国食注字YP20190135", True),
])
def test_health_and_special_food_numbers(text, kind, value, valid):
    ident = one(text, field="text")
    assert (ident.type, ident.value, ident.valid) == (kind, value, valid)


def test_all_fields_are_searched_and_each_hit_names_its_field():
    fields = {"title": "灵芝胶囊 国食健注G20190001", "licence_text": "JY14101840000011",
              "ocr:img1": "食品经营许可证 JY14101840000022"}
    found = {(i.field, i.value) for i in extract(fields)}
    assert found == {("title", "国食健注G20190001"), ("licence_text", "JY14101840000011"),
                     ("ocr:img1", "JY14101840000022")}
