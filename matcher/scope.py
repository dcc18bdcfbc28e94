"""Does a licence's 经营项目 cover what the listing sells? Rules are data: config/licence_rules.yaml."""
from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

import yaml

from matcher.records import LicenceRecord
from shian.settings import get_settings

_NEGATED = re.compile(r"不含[^，,；;、。)）]*")


@lru_cache(maxsize=1)
def rules() -> dict:
    path = Path(get_settings().config_dir) / "licence_rules.yaml"
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def in_force_status(status: str) -> bool:
    return status.strip() in rules()["valid_statuses"] or not status.strip()


def licence_kind(rec: LicenceRecord) -> str:
    """producer, catering, filing, workshop or sales."""
    number, btype = rec.licence_no, rec.business_type
    if number.startswith("SC") or "生产" in btype:
        return "producer"
    if number.startswith("YB") or "备案" in btype or rec.scope.startswith("仅销售预包装"):
        return "filing"
    if any(w in btype for w in ("小作坊", "小经营店", "小摊点", "小餐饮")) or number.startswith("TD"):
        return "workshop"
    if number.startswith(("JY2", "JY3")) or "餐饮" in btype or "食堂" in btype:
        return "catering"
    return "sales"


def positive_scope(scope: str) -> str:
    """The scope with its 不含… exclusions cut out, so 不含特殊食品 never reads as 含特殊食品."""
    return _NEGATED.sub("", scope)


def _mentions(text: str, words) -> list[str]:
    return [w for w in words if w in text]


def sells_bulk(listing_text: str) -> list[str]:
    bulk = rules()["bulk"]
    text = listing_text
    for neg in bulk["negations"]:
        text = text.replace(neg, "")
    return _mentions(text, bulk["signals"])


def covers(rec: LicenceRecord, product_kind: str, listing_text: str) -> str:
    """'' when the licence covers the product, else the reason in plain Chinese."""
    r = rules()
    if product_kind in r["no_scope_needed"]:
        return ""
    kind = licence_kind(rec)
    scope = positive_scope(rec.scope)
    shown = rec.scope or "（登记库未载明）"
    special = r["special_food_items"].get(product_kind)
    if kind == "producer":
        cat = r["producer_categories"].get(product_kind)
        if cat and not (_mentions(scope, cat["words"]) or rec.licence_no[3:5] in cat["codes"]):
            return f"生产许可的食品类别为「{shown}」，不含{product_kind}"
        return ""
    if kind == "workshop" and product_kind in r["workshop_forbidden"]:
        return f"食品小作坊/小经营店不得生产经营{product_kind}"
    if kind == "catering":
        if special:
            return f"餐饮服务许可（经营项目「{shown}」）不能销售{product_kind}"
        cat = r["catering"]
        fresh = _mentions(listing_text, cat["fresh_signals"])
        packed = _mentions(listing_text, cat["prepackaged_signals"])
        if packed and not fresh and not _mentions(scope, cat["prepackaged_items"]):
            return (f"餐饮服务许可的经营项目为「{shown}」，只涵盖现场制售食品；该商品为预包装食品"
                    f"（页面出现：{'、'.join(packed[:3])}），网络销售预包装食品须有食品销售许可")
        return ""
    if special and not _mentions(scope, special):
        return f"经营项目为「{shown}」，未包含{special[0]}，不能销售{product_kind}"
    bulk = sells_bulk(listing_text)
    if bulk:
        if kind == "filing":
            return f"仅销售预包装食品备案不能销售散装食品（页面出现：{'、'.join(bulk[:3])}）"
        if not _mentions(scope, r["bulk"]["items"]):
            return f"经营项目为「{shown}」，不含散装食品销售（页面出现：{'、'.join(bulk[:3])}）"
    return ""
