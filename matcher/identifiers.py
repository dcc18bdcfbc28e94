"""Find and validate every licence, registration and credit-code identifier in a listing.

Formats: REFERENCE.md §1. Each field is searched in a normalised copy (NFKC,
upper case; spaces and dashes inside a number are skipped; O/I/L read as
0/1 where a digit must be) and every identifier keeps its original text and
offsets. A letter where a digit belongs is recorded: in text the seller typed
it makes the number malformed; in text read by OCR it is a reading error.
SC and JY check digits are never checked (no published algorithm).
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import asdict, dataclass, field

from matcher.checkdigits import org_code_valid, regno15_valid, uscc_valid
from matcher.text import normalize_with_map, raw_span

# type -> group. Groups: licence (current food licences and filings), obsolete,
# business (credit code, old registration number), health (health-food numbers),
# special (FSMP / infant-formula registrations).
GROUPS = {
    "sc": "licence", "jy": "licence", "yb": "licence", "workshop": "licence", "licence_like": "licence",
    "qs": "obsolete", "sp": "obsolete", "catering_permit": "obsolete", "hygiene_permit": "obsolete",
    "uscc": "business", "regno15": "business",
    "hf_reg": "health", "hf_old": "health", "hf_moh": "health", "hf_filing": "health",
    "fsmp": "special", "infant_formula": "special",
}

LABELS = {
    "sc": "食品生产许可证", "jy": "食品经营许可证", "yb": "仅销售预包装食品备案",
    "workshop": "小作坊/小经营店/小摊点登记", "licence_like": "许可证编号（格式不明）",
    "qs": "QS生产许可证（已废止）", "sp": "食品流通许可证（已废止）",
    "catering_permit": "餐饮服务许可证（已废止）", "hygiene_permit": "食品卫生许可证（已废止）",
    "uscc": "统一社会信用代码", "regno15": "15位工商注册号",
    "hf_reg": "保健食品注册号", "hf_old": "保健食品批准文号（国食健字）", "hf_moh": "保健食品批准文号（卫食健字）",
    "hf_filing": "保健食品备案号", "fsmp": "特殊医学用途配方食品注册号", "infant_formula": "婴幼儿配方乳粉配方注册号",
}

FIELD_LABELS = {"title": "标题", "text": "商品详情", "licence_text": "店铺资质信息", "health_food_reg": "保健食品批准文号栏"}

# Province codes (GB/T 2260 two-digit prefixes).
PROVINCES = {"11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37", "41",
             "42", "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64", "65"}

_CONFUSABLE = {"O": "0", "I": "1", "L": "1"}
_DIGITLIKE = set("0123456789*") | set(_CONFUSABLE)
_SEPARATORS = set(" -·—_.")


@dataclass
class Identifier:
    type: str
    value: str                      # normalised number (what registries are keyed by)
    raw: str                        # exactly as shown
    field: str
    start: int                      # offsets into the raw field text
    end: int
    valid: bool                     # well-formed for its type
    problem: str = ""               # why not valid, plain Chinese
    confusions: list[str] = field(default_factory=list)   # e.g. "第8位字母O按0读取"
    masked: bool = False            # digits hidden with * (partially shown)

    @property
    def group(self) -> str:
        return GROUPS[self.type]

    @property
    def from_ocr(self) -> bool:
        return self.field.startswith("ocr:")

    def where(self) -> str:
        if self.from_ocr:
            return "图片文字识别（OCR）"
        return FIELD_LABELS.get(self.field, self.field)

    def as_dict(self) -> dict:
        out = asdict(self)
        out["group"] = self.group
        return out


def _take_digits(text: str, pos: int, expected: int) -> tuple[str, int]:
    """Digit-like characters from pos, across single spaces/dashes, until `expected` are read.

    Returns the run (still holding any O/I/L/* as found) and the end position.
    """
    run, i, n = [], pos, len(text)
    while i < n and text[i] in _SEPARATORS | {":"} and i - pos < 3:
        i += 1
    end = i
    while True:
        j = i
        while j < n and text[j] in _DIGITLIKE:
            j += 1
        if j == i:
            break
        run.append(text[i:j])
        end = j
        if sum(map(len, run)) >= expected:
            break
        if j + 1 < n and text[j] in _SEPARATORS and text[j + 1].isdigit():
            i = j + 1
            continue
        break
    return "".join(run), end


def _read_digits(run: str, from_ocr: bool) -> tuple[str, list[str], bool]:
    """Replace O/I/L by digits; say where; report masking."""
    confusions = []
    for k, ch in enumerate(run):
        if ch in _CONFUSABLE:
            confusions.append(f"第{k + 1}位是字母{ch}，按数字{_CONFUSABLE[ch]}读取" +
                              ("（识别误差）" if from_ocr else ""))
    return "".join(_CONFUSABLE.get(c, c) for c in run), confusions, "*" in run


_LICENCE_PREFIX = re.compile(r"(?<![A-Z0-9])(SC|JY|YB|QS|TD)(?=[\s\-:]{0,3}[0-9OIL*])")
_SP = re.compile(r"(?<![A-Z0-9])SP[\s\-]?([0-9A-Z]{16})(?![0-9A-Z])")
_HEALTH_PREFIX = re.compile(r"(国食健注|国食健字|食健备|国食注字)[\s:]*([A-Z]{1,2})?[\s\-]*(?=[0-9OIL])")
_HEALTH_MOH = re.compile(r"卫(进)?食健字\s*\(?\s*(\d{4})\s*\)?\s*第?\s*(\d{2,5})\s*号?")
_CATERING = re.compile(r"(?:\([^()]{1,8}\)|[\u4e00-\u9fff]{1,2})?餐证字[\s(\[〔【]*[0-9][0-9\s()\[\]〔〕【】第\-]*号?")
_HYGIENE = re.compile(r"(?:\([^()]{1,8}\)|[\u4e00-\u9fff]{1,2})?卫食证字[\s(\[〔【]*[0-9][0-9\s()\[\]〔〕【】第\-]*号?")
_OBSOLETE_LABEL = re.compile(r"(食品流通许可证|餐饮服务许可证|食品卫生许可证|卫生许可证|全国工业产品生产许可证)"
                             r"(?:编号|号码|号)?[\s:]*([0-9A-Z][0-9A-Z\-]{5,30})")
_WORKSHOP_LABEL = re.compile(r"(?:小作坊|小经营店|小餐饮|小摊点|小摊贩)[\u4e00-\u9fff]{0,4}?(?:登记证|备案卡|登记卡|许可证)"
                             r"(?:编号|号码|号)?[\s:]*([\u4e00-\u9fff]?[0-9A-Z][0-9A-Z\-]{5,29})")
_LICENCE_LABEL = re.compile(r"(?:许可证编号|许可证号|许可证|许可编号|备案编号|备案号|登记证编号|登记证号)"
                            r"[\s:]*([0-9A-Z][0-9A-Z\-]{5,30})")
_USCC = re.compile(r"(?<![0-9A-Z])([0-9A-Z]{2}\d{6}[0-9A-Z]{10})(?![0-9A-Z])")
_REGNO = re.compile(r"(?:注册号|执照号|营业执照号码)[\s:]*(\d{15})(?!\d)")

_EXPECTED = {"SC": 14, "JY": 14, "YB": 14, "QS": 12, "TD": 16}


def _licence_structure(prefix: str, digits: str) -> str:
    """Why a full-length SC/JY number is not well formed ('' when it is)."""
    if prefix == "SC":
        kind, category, province = digits[0], int(digits[1:3]), digits[3:5]
        if kind not in "12":
            return f"第1位数字应为1（食品）或2（食品添加剂），实为{kind}"
        if not (1 <= category <= (31 if kind == "1" else 3)):
            return f"食品类别编号{digits[1:3]}不存在"
        if province not in PROVINCES:
            return f"省级行政区划代码{province}不存在"
    elif prefix == "JY":
        if digits[0] not in "123":
            return f"主体业态代码应为1、2或3，实为{digits[0]}"
        if digits[1:3] not in PROVINCES:
            return f"省级行政区划代码{digits[1:3]}不存在"
    return ""


class _Finder:
    """Collects identifiers of one field, first match wins where spans overlap."""

    def __init__(self, field_name: str, raw: str):
        self.field = field_name
        self.raw = raw
        self.text, self.index = normalize_with_map(raw)
        self.found: list[Identifier] = []
        self.spans: list[tuple[int, int]] = []
        self.from_ocr = field_name.startswith("ocr:")

    def free(self, start: int, end: int) -> bool:
        return all(end <= s or start >= e for s, e in self.spans)

    def add(self, start: int, end: int, **kw) -> None:
        if not self.free(start, end):
            return
        self.spans.append((start, end))
        rs, re_ = raw_span(self.index, start, end)
        self.found.append(Identifier(field=self.field, start=rs, end=re_, raw=self.raw[rs:re_], **kw))

    def digit_run(self, prefix: str, m: re.Match, expected: int):
        run, end = _take_digits(self.text, m.end(), expected)
        digits, confusions, masked = _read_digits(run, self.from_ocr)
        real = sum(c.isdigit() for c in run)
        return digits, confusions, masked, end, real

    # -- the kinds ---------------------------------------------------------
    def health(self) -> None:
        for m in _HEALTH_MOH.finditer(self.text):
            value = f"卫{m.group(1) or ''}食健字({m.group(2)})第{m.group(3)}号"
            ok = 3 <= len(m.group(3)) <= 4
            self.add(m.start(), m.end(), type="hf_moh", value=value, valid=ok,
                     problem="" if ok else "批准文号序号位数不符")
        for m in _HEALTH_PREFIX.finditer(self.text):
            word, letters = m.group(1), m.group(2) or ""
            kind, expected, want = {"国食健注": ("hf_reg", 8, "GJ"), "国食健字": ("hf_old", 8, "GJ"),
                                    "食健备": ("hf_filing", 12, "GJ"),
                                    "国食注字": ("fsmp" if letters == "TY" else "infant_formula", 8, "")}[word]
            digits, confusions, masked, end, real = self.digit_run(word, m, expected)
            if real < 4:
                continue
            problem = ""
            if want and (len(letters) != 1 or letters not in want):
                problem = f"{word}后应为字母G或J，实为“{letters or '无'}”"
            elif word == "国食注字" and letters not in ("TY", "YP"):
                problem = f"国食注字后应为TY或YP，实为“{letters or '无'}”"
            elif masked:
                problem = "编号部分被遮挡（*）"
            elif len(digits) != expected:
                problem = f"{word}{letters}后应为{expected}位数字，实为{len(digits)}位"
            elif confusions and not self.from_ocr:
                problem = "编号中含字母：" + "；".join(confusions)
            elif word == "食健备" and letters == "J" and digits[4:6] != "00":
                problem = "进口备案号第5-6位应为00"
            self.add(m.start(), end, type=kind, value=f"{word}{letters}{digits}", valid=not problem,
                     problem=problem, confusions=confusions, masked=masked)

    def licences(self) -> None:
        for m in _LICENCE_PREFIX.finditer(self.text):
            prefix = m.group(1)
            expected = _EXPECTED[prefix]
            digits, confusions, masked, end, real = self.digit_run(prefix, m, expected)
            if real < 4:
                continue
            kind = {"SC": "sc", "JY": "jy", "YB": "yb", "QS": "qs", "TD": "workshop"}[prefix]
            problem = ""
            if masked:
                problem = "编号部分被遮挡（*），无法核验"
            elif len(digits) != expected:
                problem = f"{prefix}后应为{expected}位数字，实为{len(digits)}位"
            elif confusions and not self.from_ocr:
                problem = "编号中含字母：" + "；".join(confusions)
            elif prefix in ("SC", "JY"):
                problem = _licence_structure(prefix, digits)
            if kind == "qs":
                problem = problem if problem.startswith("编号部分") else ""   # obsolete whatever its length
            self.add(m.start(), end, type=kind, value=prefix + digits, valid=not problem, problem=problem,
                     confusions=confusions, masked=masked)
        for m in _SP.finditer(self.text):
            self.add(m.start(), m.end(), type="sp", value="SP" + m.group(1), valid=True)

    def obsolete(self) -> None:
        for pattern, kind in ((_CATERING, "catering_permit"), (_HYGIENE, "hygiene_permit")):
            for m in pattern.finditer(self.text):
                value = re.sub(r"\s", "", m.group(0)).rstrip("(")
                self.add(m.start(), m.start() + len(m.group(0).rstrip(" (")), type=kind, value=value, valid=True)
        for m in _OBSOLETE_LABEL.finditer(self.text):
            label = m.group(1)
            kind = {"食品流通许可证": "sp", "餐饮服务许可证": "catering_permit", "食品卫生许可证": "hygiene_permit",
                    "卫生许可证": "hygiene_permit", "全国工业产品生产许可证": "qs"}[label]
            token = m.group(2).rstrip("-")
            if sum(c.isdigit() for c in token) >= 6:
                self.add(m.start(2), m.start(2) + len(token), type=kind, value=token, valid=True)

    def workshops(self) -> None:
        for m in _WORKSHOP_LABEL.finditer(self.text):
            token = m.group(1).rstrip("-")
            if sum(c.isdigit() for c in token) >= 6:
                self.add(m.start(1), m.start(1) + len(token), type="workshop", value=token.replace("-", ""),
                         valid=True)

    def business(self) -> None:
        for m in _USCC.finditer(self.text):
            code = m.group(1)
            ok = uscc_valid(code)
            problem = "" if ok else "统一社会信用代码校验位不符（GB 32100-2015），需核实"
            self.add(m.start(1), m.end(1), type="uscc", value=code, valid=ok, problem=problem)
            if ok and not org_code_valid(code[8:17]):
                self.found[-1].problem = "组织机构代码部分校验位不符（GB 11714），需核实"
        for m in _REGNO.finditer(self.text):
            ok = regno15_valid(m.group(1))
            self.add(m.start(1), m.end(1), type="regno15", value=m.group(1), valid=ok,
                     problem="" if ok else "15位注册号校验位不符")

    def labelled(self) -> None:
        """Something shown as a licence number that none of the known formats explains."""
        for m in _LICENCE_LABEL.finditer(self.text):
            token = m.group(1).rstrip("-")
            if sum(c.isdigit() for c in token) >= 6:
                self.add(m.start(1), m.start(1) + len(token), type="licence_like", value=token, valid=False,
                         problem="不符合SC/JY/YB等现行许可证或备案编号格式")


def extract(fields: dict[str, str]) -> list[Identifier]:
    """Every identifier in the given fields (name -> raw text), in field order then position."""
    out: list[Identifier] = []
    for name, raw in fields.items():
        if not raw:
            continue
        finder = _Finder(name, raw)
        finder.health()
        finder.licences()
        finder.obsolete()
        finder.workshops()
        finder.business()
        finder.labelled()
        out.extend(sorted(finder.found, key=lambda i: i.start))
    return out


_CLEAN_LICENCE = re.compile(r"(SC|JY|YB)\d{14}")


def licence_number(value: str) -> tuple[str, str]:
    """A registry cell read as a licence number: (number, problem), problem '' when well formed."""
    compact = re.sub(r"[\s\-]", "", unicodedata.normalize("NFKC", value)).upper()
    if _CLEAN_LICENCE.fullmatch(compact):          # fast path for clean registry exports
        return compact, _licence_structure(compact[:2], compact[2:])
    number = normalize_number(value)
    found = [i for i in extract({"registry": number}) if i.group == "licence" and i.value == number]
    if number[:2] in ("SC", "JY", "YB") and not (found and found[0].valid):
        return number, found[0].problem if found else "不是SC/JY/YB+14位数字"
    if not re.fullmatch(r"[\u4e00-\u9fff]?[0-9A-Z]{6,30}", number):
        return number, "含有非法字符或长度不符"
    return number, ""


def normalize_number(value: str) -> str:
    """Registry key of a number as written in a registry file (same reading as in listings)."""
    found = extract({"registry": value})
    keyed = [i for i in found if i.group in ("licence", "obsolete", "health", "special") and i.type != "licence_like"]
    if len(keyed) == 1 and not keyed[0].confusions and not keyed[0].masked:
        return keyed[0].value
    return re.sub(r"\s", "", normalize_with_map(value)[0])
