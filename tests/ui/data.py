"""Review items for UI tests, built directly (no crawler): a listing, its findings and verdicts."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from shian.models import Analysis, Finding, Listing, ReviewItem, Shop, Verdict

PASSWORD = "correct-horse-9"
USERS = {"li": "reviewer", "wang": "reviewer", "zhang": "lead", "chen": "lead", "zhao": "enforcement",
         "root": "admin", **{f"r{i:02d}": "reviewer" for i in range(50)}}


def finding(text: str, field_text: str, type_: str = "disease_claim", severity: str = "high",
            rule_id: str = "disease.generic", field: str = "text") -> Finding:
    start = field_text.index(text)
    return Finding(type=type_, rule_id=rule_id, list_version="v-test", field=field, start=start,
                   end=start + len(text), text=text, normalized=text, severity=severity,
                   legal_basis="食品安全法第七十一条")


def make_item(n: int, platform: str = "shop", title: str | None = None, text: str | None = None,
              shop: str = "新郑市好味食品商行", licence_verdict: str = "not_in_registry",
              claims: list[tuple[str, str, str]] | None = None, kind: str = "listing",
              seen: datetime | None = None) -> ReviewItem:
    """Item n with claims [(span, type, severity)] found in its text."""
    title = title if title is not None else f"红枣桂圆茶 {n} 号"
    text = text if text is not None else f"本品可以降血糖，长期饮用增强免疫力。第{n}批，郑州发货。"
    claims = claims if claims is not None else [("降血糖", "disease_claim", "high"),
                                               ("增强免疫力", "health_function_on_ordinary_food", "medium")]
    listing = Listing(platform=platform, kind=kind, url=f"http://127.0.0.1/item/{n}", item_id=str(n),
                      title=title, text=text,
                      shop=Shop(name=shop, operator_name=shop, licence_text="JY14101820012345", region="新郑市"),
                      captured_at=seen or datetime.now(timezone.utc))
    findings = [finding(span, text, type_, sev, rule_id=f"{type_}.{i}") for i, (span, type_, sev) in enumerate(claims)
                if span in text]
    licence = Verdict(kind="licence", verdict=licence_verdict,
                      identifiers=[{"type": "JY", "value": "JY14101820012345", "raw": "JY14101820012345",
                                    "field": "licence_text", "start": 0, "end": 16, "valid": True}],
                      record=None, reasons=["许可证号在许可库中不存在"])
    analysis = Analysis(findings=findings, licence=licence, risk=10.0 + n % 7)
    item = ReviewItem.new(listing, analysis)
    item.review.due = (seen or datetime.now(timezone.utc)) + timedelta(hours=24)
    return item


def finding_target(item, i: int) -> str:
    """The decision target naming the item's i-th finding."""
    return "finding:" + item.analysis.findings[i].key
