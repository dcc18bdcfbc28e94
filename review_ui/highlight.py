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
    omitted: int = 0               # > 0: a gap of this many characters left out of a huge field


LONG_FIELD = 50_000                # longer fields show windows around their findings, not everything
CONTEXT = 2_000
HEAD = 5_000


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
    """spans: (start, end, finding index, severity), already located in `text`. Overlaps are trimmed.

    A huge field (a 1 MB page) keeps its head and a window around each finding; the gaps
    between are marked, so the browser never lays out megabytes the reviewer will not read.
    """
    text = clean(text or "")
    windows = [(0, len(text))]
    if len(text) > LONG_FIELD:
        wanted = sorted([(0, HEAD)] + [(max(0, s - CONTEXT), min(len(text), e + CONTEXT)) for s, e, _, _ in spans])
        windows = []
        for start, end in wanted:
            if windows and start <= windows[-1][1]:
                windows[-1] = (windows[-1][0], max(windows[-1][1], end))
            else:
                windows.append((start, end))
    out: list[Piece] = []
    pos = 0
    ordered = sorted(spans)
    for w_start, w_end in windows:
        if w_start > pos:
            out.append(Piece("", omitted=w_start - pos))
            pos = w_start
        for start, end, index, severity in ordered:
            if end <= pos or start >= w_end:
                continue
            start = max(start, pos)
            if start > pos:
                out.append(Piece(text[pos:start]))
            out.append(Piece(text[start:end], index, severity))
            pos = end
        if pos < w_end:
            out.append(Piece(text[pos:w_end]))
            pos = w_end
    if pos < len(text):
        out.append(Piece("", omitted=len(text) - pos))
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
