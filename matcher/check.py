"""Licence and health-food registration verdicts (definitions and precedence: eval README).

Licence: ok, missing, malformed, obsolete_format, not_in_registry, and for a
registered number the first of holder_mismatch > expired > scope_mismatch.
Health registration: missing_for_health_claims > not_in_registry >
functions_exceeded > ok, or n/a.
"""
from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime
from zoneinfo import ZoneInfo

from rapidfuzz import fuzz

from matcher import scope
from matcher.identifiers import LABELS, Identifier, extract
from matcher.records import NO_END, HealthFoodRecord, LicenceRecord
from matcher.registry import Registry
from matcher.text import edit_distance_one, legal_name
from shian.models import Finding, Listing, Verdict
from shian.settings import get_settings

HEALTH_FOOD = "保健食品"
_RANK = {"ok": 0, "scope_mismatch": 1, "expired": 2, "holder_mismatch": 3, "not_in_registry": 4}
_SHOWN_NAME = re.compile(r"(?:经营者名称|经营者|生产者名称|生产者|营业执照|企业名称|主体名称|名称)[:：\s]*"
                         r"([^\s|｜;；,，:：]{4,60})")
_BRAND = re.compile(r"^[\u4e00-\u9fff]{1,8}牌")


def today() -> date:
    return datetime.now(ZoneInfo(get_settings().timezone)).date()


def _fmt(d: date | None) -> str:
    if d is None:
        return "未载明"
    return "长期" if d >= NO_END else d.isoformat()


def _licence_fields(listing: Listing) -> set[str]:
    """Fields that are the shop's own qualification display (not product label text)."""
    return {"licence_text"} | {f"ocr:{k}" for k in listing.shop.licence_images}


def _operator(listing: Listing) -> tuple[str, str]:
    """The declared legal operator and where it came from."""
    if listing.shop.operator_name.strip():
        return listing.shop.operator_name.strip(), "店铺公示的经营者"
    m = _SHOWN_NAME.search(unicodedata.normalize("NFKC", listing.shop.licence_text))
    if m:
        return m.group(1), "资质信息中的经营者名称"
    return "", ""


def _candidates(registry: Registry, operator: str, exclude: str = "") -> list[dict]:
    """Registry holders closest to the operator's name, each with its licences."""
    if not operator:
        return []
    out = []
    own = legal_name(operator)
    for name, score in registry.similar_holders(operator, limit=5):
        for rec in registry.held_by(name)[:3]:
            if rec.licence_no == exclude:
                continue
            out.append({"licence_no": rec.licence_no, "holder_name": rec.holder_name,
                        "score": round(score, 1),
                        "name_similarity": round(fuzz.ratio(own, legal_name(rec.holder_name)), 1),
                        "same_holder": legal_name(rec.holder_name) == own,
                        "one_char_off": edit_distance_one(own, legal_name(rec.holder_name)),
                        "status": rec.status, "valid_until": _fmt(rec.valid_until)})
    out.sort(key=lambda c: (not c["same_holder"], -c["score"]))
    return out[:8]


def _in_date(valid_from: date | None, valid_until: date | None, as_of: date) -> bool:
    return (valid_from is None or valid_from <= as_of) and (valid_until is None or as_of <= valid_until)


def _judge_licence(ident: Identifier, rec: LicenceRecord | None, operator: str, product_kind: str,
                   listing_text: str, as_of: date) -> tuple[str, list[str]]:
    """Verdict and reasons for one well-formed licence number."""
    if rec is None:
        return "not_in_registry", [f"许可证编号{ident.value}在许可登记库中不存在，疑似伪造或编造"]
    reasons = [f"登记库记录：{rec.licence_no}，持证主体「{rec.holder_name}」，主体业态「{rec.business_type or '未载明'}」，"
               f"经营项目「{rec.scope or '未载明'}」，有效期{_fmt(rec.valid_from)}至{_fmt(rec.valid_until)}，"
               f"状态「{rec.status or '未载明'}」"]
    if operator and legal_name(rec.holder_name) != legal_name(operator):
        similarity = fuzz.ratio(legal_name(rec.holder_name), legal_name(operator))
        reasons.append(f"许可证登记在「{rec.holder_name}」名下，与经营者「{operator}」不是同一主体"
                       f"（名称相似度{similarity:.0f}%；名称须完全一致，相近名称属于不同法人）")
        if edit_distance_one(legal_name(rec.holder_name), legal_name(operator)):
            reasons.append("两个名称仅差一个字，疑似冒用他人许可证或仿冒登记主体名称")
        return "holder_mismatch", reasons
    if not operator:
        reasons.append("店铺未公示经营者名称，无法核对持证主体")
    if not scope.in_force_status(rec.status):
        reasons.append(f"许可证状态为「{rec.status}」，已不在有效状态")
        return "expired", reasons
    if not _in_date(rec.valid_from, rec.valid_until, as_of):
        reasons.append(f"核查日期{as_of.isoformat()}不在有效期{_fmt(rec.valid_from)}至{_fmt(rec.valid_until)}内")
        return "expired", reasons
    problem = scope.covers(rec, product_kind, listing_text)
    if problem:
        reasons.append(problem)
        return "scope_mismatch", reasons
    reasons.append(f"持证主体与经营者一致，{as_of.isoformat()}在有效期内，经营范围覆盖「{product_kind or '该商品'}」")
    return "ok", reasons


def _describe(ident: Identifier) -> str:
    return f"{LABELS[ident.type]}「{ident.raw}」（见{ident.where()}）"


def check_licence(listing: Listing, product_kind: str, registry: Registry, as_of: date,
                  identifiers: list[Identifier]) -> Verdict:
    operator, operator_source = _operator(listing)
    own_fields = _licence_fields(listing)
    shown = [i for i in identifiers if i.group in ("licence", "obsolete") and i.field in own_fields]
    if not shown:
        # Licence numbers elsewhere on the page count too, except a product label's SC
        # number, which names the manufacturer unless the operator is that manufacturer.
        for i in identifiers:
            if i.group not in ("licence", "obsolete") or i.field in own_fields:
                continue
            rec = registry.licence(i.value) if i.type == "sc" else None
            if i.type == "sc" and not (rec and operator and legal_name(rec.holder_name) == legal_name(operator)):
                continue
            shown.append(i)
    listing_text = "\n".join([listing.title, listing.text])
    kind_label = product_kind or "未识别"
    reasons = [f"经营者：{operator}（{operator_source}）" if operator else "店铺未公示经营者名称",
               f"商品类别：{kind_label}"]
    current = [i for i in shown if i.group == "licence" and i.valid]
    verdict, record, judged = "", None, None
    if current:
        options = []
        for ident in current:
            rec = registry.licence(ident.value)
            v, why = _judge_licence(ident, rec, operator, product_kind, listing_text, as_of)
            options.append((_RANK[v], v, ident, rec, why))
        options.sort(key=lambda o: o[0])
        _, verdict, judged, record, why = options[0]
        reasons.append("展示的许可证：" + _describe(judged))
        reasons.extend(why)
        if verdict == "not_in_registry":
            for near in registry.near_numbers(judged.value)[:3]:
                reasons.append(f"与登记库中的{near.licence_no}（持证主体「{near.holder_name}」）仅差一位数字")
    elif any(i.masked for i in shown):
        verdict = "missing"
        reasons.append("许可证编号部分被遮挡，未完整公示，无法核验：" +
                       "；".join(_describe(i) for i in shown if i.masked))
    elif any(i.group == "licence" for i in shown):
        verdict = "malformed"
        for i in shown:
            if i.group != "licence":
                continue
            reasons.append(f"{_describe(i)}格式不正确：{i.problem}")
            rec = registry.licence(i.value) if i.confusions else None
            if rec:
                reasons.append(f"按数字读取为{i.value}，登记库中属于「{rec.holder_name}」（状态「{rec.status}」）")
    elif shown:
        verdict = "obsolete_format"
        reasons.append("仅展示2015年前的旧证：" + "；".join(_describe(i) for i in shown) +
                       "，该类证件已被食品生产/经营许可证取代，不能作为现行许可")
    else:
        verdict = "missing"
        business = [i for i in identifiers if i.group == "business"]
        if business:
            reasons.append("只展示了营业执照信息（" + "、".join(f"{LABELS[i.type]}{i.value}" for i in business) +
                           "），未展示食品经营许可证、生产许可证或备案编号")
        else:
            reasons.append("页面未展示食品经营许可证、生产许可证或备案编号")
    for i in identifiers:
        if i.type == "uscc" and record is not None and record.credit_code and i.field in own_fields \
                and i.value != record.credit_code:
            reasons.append(f"页面展示的统一社会信用代码{i.value}与许可证登记的{record.credit_code}不一致")
        if i.type == "uscc" and i.problem and i.field in own_fields:
            reasons.append(f"统一社会信用代码{i.value}：{i.problem}")
        if i.confusions and i.from_ocr:
            reasons.append(f"{_describe(i)}：" + "；".join(i.confusions))
    candidates = _candidates(registry, operator, exclude=judged.value if judged and verdict == "ok" else "")
    if verdict != "ok" and operator:
        own = [c for c in candidates if c["same_holder"]]
        if own:
            reasons.append(f"经营者「{operator}」本身在登记库中持有：" + "；".join(
                f"{c['licence_no']}（状态「{c['status']}」，有效期至{c['valid_until']}）" for c in own))
        else:
            reasons.append(f"登记库中没有经营者「{operator}」名下的许可证")
            off = [c for c in candidates if c["one_char_off"]]
            if off:
                reasons.append("经营者名称与登记主体" + "、".join(f"「{c['holder_name']}」" for c in off[:3]) +
                               "仅差一个字，疑似仿冒")
    business = [i for i in identifiers if i.group == "business" and i.field in own_fields]
    return Verdict(kind="licence", verdict=verdict, identifiers=[i.as_dict() for i in shown + business],
                   record=record.as_dict() if record else None, candidates=candidates, reasons=reasons)


# -- health-food registration ---------------------------------------------------
def _squash(text: str) -> str:
    return re.sub(r"\s", "", unicodedata.normalize("NFKC", text or ""))


def product_matches(rec: HealthFoodRecord, listing: Listing) -> bool:
    """The registered product name (with or without its brand) appears in the title or page text."""
    name = _squash(rec.product_name)
    core = _BRAND.sub("", name)
    page = _squash(listing.title) + "\n" + _squash(listing.text)
    return bool(name) and (name in page or (len(core) >= 2 and core in page))


def _health_ids(identifiers: list[Identifier]) -> list[Identifier]:
    seen, out = set(), []
    for i in identifiers:
        if i.group == "health" and i.value not in seen:
            seen.add(i.value)
            out.append(i)
    return out


def _judge_registration(ident: Identifier, registry: Registry, listing: Listing,
                        as_of: date) -> tuple[HealthFoodRecord | None, list[str]]:
    """(record, []) when the number is registered, in date and for this product; else (record|None, reasons)."""
    if not ident.valid:
        return None, [f"{_describe(ident)}格式不正确：{ident.problem}"]
    rec = registry.health_food(ident.value)
    if rec is None:
        return None, [f"{_describe(ident)}在保健食品注册/备案登记库中不存在"]
    problems = []
    if rec.status and not scope.in_force_status(rec.status):
        problems.append(f"{ident.value}登记状态为「{rec.status}」")
    if rec.valid_until and as_of > rec.valid_until:
        problems.append(f"{ident.value}有效期至{_fmt(rec.valid_until)}，核查日期{as_of.isoformat()}已过期")
    if not product_matches(rec, listing):
        problems.append(f"{ident.value}登记的产品是「{rec.product_name}」（注册人「{rec.registrant}」），与本商品不符")
    return rec, problems


def registered_functions(listing: Listing, registry: Registry, as_of: date | None = None) -> list[str] | None:
    """Functions of the health-food registration shown, when it is registered, in date and for this product."""
    as_of = as_of or today()
    for ident in _health_ids(extract(listing.fields())):
        rec, problems = _judge_registration(ident, registry, listing, as_of)
        if rec is not None and not problems:
            return list(rec.functions)
    return None


def check_health_reg(listing: Listing, findings: list[Finding], product_kind: str, registry: Registry,
                     as_of: date, identifiers: list[Identifier]) -> Verdict:
    shown = _health_ids(identifiers)
    types = {f.type for f in findings}
    reasons = [f"商品类别：{product_kind or '未识别'}"]
    record, verdict = None, ""
    judged = [(i, *_judge_registration(i, registry, listing, as_of)) for i in shown]
    good = [(i, rec) for i, rec, problems in judged if rec is not None and not problems]
    if product_kind == HEALTH_FOOD:
        if not shown:
            verdict = "missing_for_health_claims"
            reasons.append("保健食品未展示保健食品注册号或备案号（国食健注/食健备等）")
        elif not good:
            verdict = "not_in_registry"
            for i, rec, problems in judged:
                record = record or rec
                reasons.extend(problems)
        else:
            ident, rec = good[0]
            record = rec
            reasons.append(f"{_describe(ident)}已登记：产品「{rec.product_name}」，注册人「{rec.registrant}」，"
                           f"保健功能「{'；'.join(rec.functions)}」，有效期至{_fmt(rec.valid_until)}")
            exceeded = [f for f in findings if f.type == "unapproved_function"]
            if exceeded:
                verdict = "functions_exceeded"
                reasons.append("宣称了登记功能以外的功效：" + "；".join(f"「{f.text}」" for f in exceeded[:5]))
            else:
                verdict = "ok"
    else:
        claims = [f for f in findings if f.type == "health_function_on_ordinary_food"]
        if claims:
            verdict = "missing_for_health_claims"
            reasons.append("非保健食品宣称保健功能：" + "；".join(f"「{f.text}」" for f in claims[:5]) +
                           "，且无保健食品注册或备案")
        elif shown:
            verdict = "not_in_registry"
            reasons.append("非保健食品展示了保健食品批准文号：" + "；".join(_describe(i) for i in shown))
            for i, rec, problems in judged:
                if rec is not None:
                    record = record or rec
                    reasons.append(f"{i.value}登记的产品是「{rec.product_name}」（注册人「{rec.registrant}」）")
        else:
            verdict = "n/a"
            reasons.append("非保健食品，且未宣称保健功能")
    candidates = []
    if verdict == "not_in_registry":
        candidates = _registered_products(listing, registry)
        for c in candidates:
            reasons.append(f"登记库中与本商品名称相符的是{c['reg_no']}「{c['product_name']}」")
    return Verdict(kind="health_reg", verdict=verdict, identifiers=[i.as_dict() for i in shown],
                   record=record.as_dict() if record else None, candidates=candidates, reasons=reasons)


def _registered_products(listing: Listing, registry: Registry, limit: int = 3) -> list[dict]:
    """Registrations whose product name appears on the page (what the number should have been)."""
    out = []
    for rec in registry.health_foods.values():
        if product_matches(rec, listing):
            out.append({"reg_no": rec.reg_no, "product_name": rec.product_name, "registrant": rec.registrant,
                        "valid_until": _fmt(rec.valid_until)})
            if len(out) >= limit:
                break
    return out


def check(listing: Listing, findings: list[Finding], product_kind: str, registry: Registry,
          as_of: date | None = None) -> tuple[Verdict, Verdict]:
    """(licence verdict, health-food registration verdict) for one listing."""
    as_of = as_of or today()
    kind = listing.category or product_kind
    identifiers = extract(listing.fields())
    return (check_licence(listing, kind, registry, as_of, identifiers),
            check_health_reg(listing, findings, kind, registry, as_of, identifiers))
