"""Split listing text into plain and highlighted pieces, so templates escape every piece themselves.

Listing text is untrusted: nothing here produces markup. A template renders each piece with
autoescaping and wraps highlighted ones in <mark>.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

_SURROGATES = re.compile("[\ud800-\udfff]")


def clean(text: str) -> str:
    """Replace lone surrogates (broken UTF-8 decoded with surrogateescape) by U+FFFD so output never fails."""
    return _SURROGATES.sub("\ufffd", text) if text else text


@dataclass
class Piece:
    text: str
    finding: int | None = None     # index into analysis.findings when highlighted
    severity: str = ""


def locate(text: str, start: int, end: int, wanted: str) -> tuple[int, int] | None:
    """The span of a finding in text: its offsets when they still match, else the first occurrence."""
    if 0 <= start < end <= len(text) and (not wanted or text[start:end] == wanted):
        return start, end
    if wanted:
        at = text.find(wanted)
        if at >= 0:
            return at, at + len(wanted)
    return None


def pieces(text: str, spans: list[tuple[int, int, int, str]]) -> list[Piece]:
    """spans: (start, end, finding index, severity), already located in `text`. Overlaps are trimmed."""
    text = clean(text or "")
    out: list[Piece] = []
    pos = 0
    for start, end, index, severity in sorted(spans):
        start = max(start, pos)
        if start >= end:
            continue
        if start > pos:
            out.append(Piece(text[pos:start]))
        out.append(Piece(text[start:end], index, severity))
        pos = end
    if pos < len(text):
        out.append(Piece(text[pos:]))
    return out


FIELD_NAMES = {"title": "标题", "text": "正文", "licence_text": "资质信息", "health_food_reg": "保健食品注册号"}


def field_label(name: str) -> str:
    if name.startswith("ocr:"):
        return "图片文字（OCR）"
    return FIELD_NAMES.get(name, name)


def highlighted_fields(listing, findings) -> list[dict]:
    """Every text field of a listing, split into pieces with its findings marked in place."""
    fields = listing.fields()
    spans: dict[str, list] = {name: [] for name in fields}
    unplaced: list[int] = []
    for i, f in enumerate(findings):
        text = fields.get(f.field)
        where = locate(text, f.start, f.end, f.text) if text else None
        if where is None:
            unplaced.append(i)
        else:
            spans[f.field].append((where[0], where[1], i, f.severity))
    out = []
    for name, text in fields.items():
        image = name[4:] if name.startswith("ocr:") else ""
        out.append({"name": name, "label": field_label(name), "image": image,
                    "pieces": pieces(text, spans[name]), "length": len(text)})
    return out, unplaced
