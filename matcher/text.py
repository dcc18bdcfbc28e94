"""Text normalisation for identifiers and business names.

Identifiers are searched in a normalised copy of each field (NFKC, upper
case) and reported with offsets into the original text, so evidence always
quotes what the seller showed.
"""
from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from pathlib import Path

import yaml

from shian.settings import get_settings

_BRACKETS = str.maketrans({"【": "(", "】": ")", "[": "(", "]": ")", "〔": "(", "〕": ")",
                           "〈": "(", "〉": ")", "《": "(", "》": ")", "{": "(", "}": ")"})
_SPACE = re.compile(r"\s+")
_NEEDS_WORK = re.compile(r"[\s【】\[\]〔〕〈〉《》{}]")


def normalize_with_map(raw: str) -> tuple[str, list[int]]:
    """NFKC + upper case, character by character; returns the text and, per output char, its raw index."""
    if unicodedata.is_normalized("NFKC", raw):
        upper = raw.upper()
        if len(upper) == len(raw):          # the common case: nothing to map
            return upper, list(range(len(raw)))
    out: list[str] = []
    index: list[int] = []
    for i, ch in enumerate(raw):
        norm = unicodedata.normalize("NFKC", ch).upper()
        out.append(norm)
        index.extend([i] * len(norm))
    return "".join(out), index


def raw_span(index: list[int], start: int, end: int) -> tuple[int, int]:
    """Map a [start, end) span of the normalised text back to the raw text."""
    if not index:
        return 0, 0
    return index[start], index[max(end - 1, start)] + 1


def legal_name(name: str) -> str:
    """The form legal names are compared in for verdicts: NFKC, no whitespace, one bracket form.

    Nothing else is stripped: 新郑市好味食品有限公司 and 新郑好味食品有限公司 are
    different legal entities.
    """
    if unicodedata.is_normalized("NFKC", name) and not _NEEDS_WORK.search(name):
        return name
    text = unicodedata.normalize("NFKC", name or "").translate(_BRACKETS)
    return _SPACE.sub("", text)


@lru_cache(maxsize=1)
def _name_rules() -> tuple[re.Pattern, re.Pattern, re.Pattern]:
    path = Path(get_settings().config_dir) / "names.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    regions = sorted(data["regions"], key=len, reverse=True)
    forms = sorted(data["organisation_forms"], key=len, reverse=True)
    # A known region name, with or without its 省/市/区/县 suffix, or any short
    # name ending in a county-level suffix (新郑市龙湖镇 -> 龙湖镇 is one more prefix).
    known = re.compile(r"^(?:%s)(?:省|市|自治区|自治州|地区|区|县)?" % "|".join(map(re.escape, regions)))
    generic = re.compile(r"^[\u4e00-\u9fff]{2,3}?(?:省|市|区|县|镇|乡|街道)")
    form = re.compile(r"(?:%s)$" % "|".join(map(re.escape, forms)))
    return known, generic, form


def core_name(name: str) -> str:
    """A holder name without region prefixes and organisation forms, for candidate search ONLY."""
    known, generic, form = _name_rules()
    text = re.sub(r"\([^)]*\)", "", legal_name(name))   # (郑州新郑综合保税区), (梨河店)
    for _ in range(2):
        stripped = form.sub("", text)
        if stripped == text or len(stripped) < 2:
            break
        text = stripped
    for _ in range(4):
        stripped = known.sub("", text, count=1)
        if stripped == text:
            stripped = generic.sub("", text, count=1)
        if stripped == text or len(stripped) < 2:
            break
        text = stripped
    return text


def edit_distance_one(a: str, b: str) -> bool:
    """True when b is a one-character substitution, insertion or deletion away from a."""
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        return sum(x != y for x, y in zip(a, b)) == 1
    if len(a) > len(b):
        a, b = b, a
    i = 0
    while i < len(a) and a[i] == b[i]:
        i += 1
    return a[i:] == b[i + 1:]
