"""Registry records as the matcher holds them in memory, and the date reading they share with the importer."""
from __future__ import annotations

import re
import sys
from dataclasses import dataclass, fields
from datetime import date, datetime

# Filings and "长期" licences have no end date; the eval registry writes 2099-12-31 for them.
NO_END = date(2099, 12, 31)
_DATE = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?")


def parse_date(value) -> date | None:
    """A registry date: ISO, 2026/3/1, 2026年3月1日, 20260301, a spreadsheet datetime, or 长期.

    Empty gives None; anything else raises ValueError with the text it could not read.
    """
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = str(value).strip()
    if not text:
        return None
    if len(text) == 10 and text[4] == "-":
        try:
            return date.fromisoformat(text)     # what the importer stores
        except ValueError:
            pass
    if text in ("长期", "永久", "长期有效", "无固定期限"):
        return NO_END
    if re.fullmatch(r"\d{8}", text):
        text = f"{text[:4]}-{text[4:6]}-{text[6:]}"
    m = _DATE.match(text)
    if not m:
        raise ValueError(f"不是日期：{text!r}")
    return date(int(m.group(1)), int(m.group(2)), int(m.group(3)))


def _iso(d: date | None) -> str:
    return d.isoformat() if d else ""


_intern = sys.intern   # scope, status, issuer and business type repeat across a million rows


@dataclass(slots=True)
class LicenceRecord:
    licence_no: str
    holder_name: str
    credit_code: str = ""
    legal_rep: str = ""
    address: str = ""
    premises: str = ""
    business_type: str = ""
    scope: str = ""
    valid_from: date | None = None
    valid_until: date | None = None
    status: str = ""
    issuer: str = ""

    @classmethod
    def from_dict(cls, d: dict) -> "LicenceRecord":
        return cls(licence_no=d["licence_no"], holder_name=d.get("holder_name", ""),
                   credit_code=d.get("credit_code", "") or "", legal_rep=d.get("legal_rep", "") or "",
                   address=d.get("address", "") or "", premises=d.get("premises", "") or "",
                   business_type=_intern(d.get("business_type", "") or ""), scope=_intern(d.get("scope", "") or ""),
                   valid_from=parse_date(d.get("valid_from")), valid_until=parse_date(d.get("valid_until")),
                   status=_intern(d.get("status", "") or ""), issuer=_intern(d.get("issuer", "") or ""))

    def as_dict(self) -> dict:
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["valid_from"], out["valid_until"] = _iso(self.valid_from), _iso(self.valid_until)
        return out


@dataclass(slots=True)
class HealthFoodRecord:
    reg_no: str
    product_name: str
    registrant: str = ""
    functions: tuple[str, ...] = ()
    valid_until: date | None = None
    status: str = ""

    @classmethod
    def from_dict(cls, d: dict) -> "HealthFoodRecord":
        functions = d.get("functions") or ()
        if isinstance(functions, str):
            functions = split_functions(functions)
        return cls(reg_no=d["reg_no"], product_name=d.get("product_name", ""), registrant=d.get("registrant", ""),
                   functions=tuple(functions), valid_until=parse_date(d.get("valid_until")),
                   status=d.get("status", "") or "")

    def as_dict(self) -> dict:
        return {"reg_no": self.reg_no, "product_name": self.product_name, "registrant": self.registrant,
                "functions": list(self.functions), "valid_until": _iso(self.valid_until), "status": self.status}


def split_functions(text: str) -> list[str]:
    """Registered functions as one cell: 有助于增强免疫力;缓解体力疲劳 (also ；、, separated).

    Commas inside brackets belong to the function (有助于维持血脂（胆固醇/甘油三酯）健康水平).
    """
    parts, depth, cur = [], 0, []
    for ch in text:
        if ch in "(（":
            depth += 1
        elif ch in ")）":
            depth = max(0, depth - 1)
        if depth == 0 and ch in ";；、,，\n":
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    return [p.strip() for p in parts if p.strip()]
