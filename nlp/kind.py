"""What kind of food a listing sells; it decides what a health-function phrase means.

"有助于增强免疫力" is the approved claim of a registered health food and a
violation on a solid drink. Category laundering (a 压片糖果 sold as a cure) is
judged by what the product legally is, so name patterns of ordinary-food
categories win over the marketing.
"""
from __future__ import annotations

import re

from shian.models import Listing

HEALTH = "保健食品"
ORDINARY = "普通食品"
FSMP = "特殊医学用途配方食品"
INFANT = "婴幼儿配方食品"
FARM = "食用农产品"
OTHER = "其他"
KINDS = (ORDINARY, HEALTH, FSMP, INFANT, FARM, OTHER)

# category text -> kind, first match wins
CATEGORY_WORDS = [
    (re.compile(r"特殊医学|特医"), FSMP),
    (re.compile(r"婴幼儿配方|婴儿配方|较大婴儿|幼儿配方"), INFANT),
    (re.compile(r"保健食品|保健品|膳食营养补充|营养素补充"), HEALTH),
    (re.compile(r"食用农产品|农产品|生鲜|蔬菜|水果|鲜果|禽蛋|鲜肉|水产|粮油米面"), FARM),
    (re.compile(r"普通食品|食品|饮料|代用茶|糖果|零食|茶|酒|乳|粉|调味|糕点|饼干|方便"), ORDINARY),
    (re.compile(r"其他|其它"), OTHER),
]
HEALTH_REG = re.compile(r"国食健[注字]|食健备|卫(?:进)?食健字")
FSMP_REG = re.compile(r"国食注字\s*TY", re.I)
INFANT_REG = re.compile(r"国食注字\s*YP", re.I)
# legal names of ordinary-food categories that are often dressed up as medicine
ORDINARY_NAMES = re.compile(r"固体饮料|代用茶|压片糖果|凝胶糖果|糖果|调制乳粉|植物饮料|风味饮料|运动营养食品|果蔬汁|即食|冲调")
FSMP_NAMES = re.compile(r"特殊医学用途")
INFANT_NAMES = re.compile(r"婴儿配方|幼儿配方|较大婴儿配方")
BLUE_HAT = re.compile(r"蓝帽子|保健食品标志|小蓝帽")


def infer_kind(listing: Listing) -> tuple[str, str]:
    """(kind, how it was inferred)."""
    category = (listing.category or "").strip()
    if category in KINDS:
        return category, "category"
    for rx, kind in CATEGORY_WORDS:
        if category and rx.search(category):
            return kind, f"category:{category}"
    reg = listing.health_food_reg or ""
    if FSMP_REG.search(reg):
        return FSMP, "registration_number"
    if INFANT_REG.search(reg):
        return INFANT, "registration_number"
    if HEALTH_REG.search(reg):
        return HEALTH, "registration_number"
    title = listing.title or ""
    if ORDINARY_NAMES.search(title):
        return ORDINARY, "name_pattern:" + ORDINARY_NAMES.search(title).group()
    if FSMP_NAMES.search(title):
        return FSMP, "name_pattern"
    if INFANT_NAMES.search(title):
        return INFANT, "name_pattern"
    text = listing.text or ""
    if HEALTH_REG.search(text) or HEALTH_REG.search(title):
        return HEALTH, "registration_number_in_text"
    if BLUE_HAT.search(text) or BLUE_HAT.search(title):
        return HEALTH, "blue_hat"
    return ORDINARY, "default"
