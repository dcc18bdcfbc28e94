"""Queue views as URLs: request arguments <-> store Query, so every view is a shareable link."""
from __future__ import annotations

import base64
import json
from datetime import datetime, time, timedelta, timezone
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from werkzeug.datastructures import MultiDict

from shian.store import Query

# filter key -> Chinese label; choice filters show facet counts, text filters are typed in
CHOICE_FILTERS = {"status": "状态", "platform": "平台", "kind": "类型", "claim_type": "宣称类型",
                  "severity": "风险等级", "licence_verdict": "许可核验", "health_reg_verdict": "保健食品注册",
                  "region": "辖区"}
TEXT_FILTERS = {"shop": "店铺", "operator": "经营主体", "licence_no": "许可证号", "rule_id": "规则",
                "list_version": "词表版本", "assignee": "处理人"}
ALL_FILTERS = {**CHOICE_FILTERS, **TEXT_FILTERS}
SORTS = {"risk": "风险", "due": "截止时间", "time": "最近发现"}
DEFAULT_STATUS = ["new", "claimed"]
VIEW_KEYS = [*ALL_FILTERS, "q", "sort", "from", "to", "due", "all"]
MAX_PAGE = 200


class BadQuery(ValueError):
    pass


def encode_cursor(after) -> str:
    if after is None:
        return ""
    raw = json.dumps(after, ensure_ascii=False, separators=(",", ":"), default=str).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(token: str):
    if not token:
        return None
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        value = json.loads(raw)
    except (ValueError, TypeError) as exc:
        raise BadQuery("分页参数无效") from exc
    if not isinstance(value, list):
        raise BadQuery("分页参数无效")
    return value


def _day(value: str, tz: ZoneInfo, end: bool = False) -> datetime | None:
    if not value:
        return None
    try:
        day = datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError as exc:
        raise BadQuery(f"日期格式应为 YYYY-MM-DD：{value[:20]}") from exc
    moment = datetime.combine(day + timedelta(days=1) if end else day, time(0), tz)
    return moment.astimezone(timezone.utc)


def query_from_args(args: MultiDict, tz: ZoneInfo, size: int = 50, facets: bool = True,
                    now: datetime | None = None) -> Query:
    """Build a store Query from request arguments (bad values raise BadQuery with a Chinese message)."""
    filters: dict[str, list[str]] = {}
    for key in ALL_FILTERS:
        values = [v.strip()[:200] for v in args.getlist(key) if v and v.strip()]
        if values:
            filters[key] = values[:50]
    if "status" not in filters and not args.get("all"):
        filters["status"] = list(DEFAULT_STATUS)
    sort = args.get("sort") or "risk"
    if sort not in SORTS:
        raise BadQuery(f"未知的排序方式：{sort[:20]}")
    try:
        size = min(MAX_PAGE, max(1, int(args.get("size") or size)))
    except ValueError as exc:
        raise BadQuery("每页条数应为数字") from exc
    now = now or datetime.now(timezone.utc)
    due_before = None
    due = args.get("due") or ""
    if due == "overdue":
        due_before = now
    elif due == "soon":
        due_before = now + timedelta(hours=24)
    elif due:
        raise BadQuery("未知的截止筛选")
    # control characters never occur in searchable text and break the SQLite FTS phrase (NUL ends it)
    text = "".join(ch for ch in (args.get("q") or "") if ch >= " " and ch != "\x7f").strip()[:100]
    return Query(filters=filters, text=text, flagged_only=True,
                 since=_day(args.get("from", ""), tz), until=_day(args.get("to", ""), tz, end=True),
                 due_before=due_before, sort=sort, size=size, after=decode_cursor(args.get("after", "")),
                 facets=tuple(CHOICE_FILTERS) if facets else ())


def view_args(args: MultiDict) -> list[tuple[str, str]]:
    """The arguments that define a view (no cursor), for links and hidden form fields."""
    return [(k, v) for k in VIEW_KEYS for v in args.getlist(k) if v]


def view_qs(args: MultiDict, **changes) -> str:
    pairs = [(k, v) for k, v in view_args(args) if k not in changes]
    for k, v in changes.items():
        if v not in (None, ""):
            pairs.append((k, v))
    return urlencode(pairs)
