"""CSV and XLSX exports of a filtered queue view (one row per item)."""
from __future__ import annotations

import csv
import io
from dataclasses import replace
from zoneinfo import ZoneInfo

from openpyxl import Workbook

from review_ui.highlight import clean
from review_ui.review import holder
from shian.store import Query, Store

MAX_ROWS = 50_000
HEADER = ["编号", "平台", "类型", "链接", "标题", "店铺", "经营主体", "辖区", "资质信息", "状态", "处理人",
          "结论", "风险分", "发现", "许可核验", "保健食品注册核验", "截止时间", "首次发现", "最近发现"]
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value) -> str:
    """Text a spreadsheet will not execute: a leading formula character is neutralised."""
    text = clean("" if value is None else str(value))
    if text.startswith(_FORMULA_START):
        text = "'" + text
    # XLSX cells hold at most 32,767 characters and no control characters
    text = "".join(ch for ch in text if ch in "\n\t" or ord(ch) >= 32)
    return text[:32000]


def _time(value, tz: ZoneInfo) -> str:
    return value.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S") if value else ""


def rows(store: Store, query: Query, tz: ZoneInfo, limit: int = MAX_ROWS) -> list[list[str]]:
    out = [HEADER]
    q = replace(query, size=500, after=None, facets=())
    while len(out) - 1 < limit:
        page = store.search(q)
        for it in page.items:
            l, a, r = it.listing, it.analysis, it.review
            findings = "；".join(f"{f.type}:{f.severity}:{f.text}" for f in a.findings)
            out.append([_cell(v) for v in (
                it.id, l.platform, l.kind, l.url, l.title, l.shop.name, l.shop.operator_name, l.shop.region,
                l.shop.licence_text, r.status, holder(it) or r.assignee, r.outcome, a.risk, findings,
                a.licence.verdict if a.licence else "", a.health_reg.verdict if a.health_reg else "",
                _time(r.due, tz), _time(it.first_seen, tz), _time(it.last_seen, tz))])
            if len(out) - 1 >= limit:
                break
        if page.next_after is None:
            break
        q = replace(q, after=page.next_after)
    return out


def to_csv(table: list[list[str]]) -> bytes:
    buf = io.StringIO()
    csv.writer(buf).writerows(table)
    return ("\ufeff" + buf.getvalue()).encode("utf-8")  # BOM so spreadsheet programs read UTF-8


def to_xlsx(table: list[list[str]]) -> bytes:
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("队列")
    for row in table:
        ws.append(row)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
