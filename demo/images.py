"""PNG images the demo sites serve: licence certificates (OCR-readable) and product pictures."""
from __future__ import annotations

import hashlib
import io
from functools import lru_cache

from PIL import Image, ImageDraw, ImageFont

FONT_PATH = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"


@lru_cache(maxsize=4)
def _font(size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(FONT_PATH, size)


@lru_cache(maxsize=512)
def licence_png(text: str) -> bytes:
    """A certificate-like image with one line of text per line of `text`.

    Dark text on white at 26 px, wide margins: plain enough for OCR to read
    exactly, like a photo of a licence hung on a shop wall would not be.
    """
    lines = text.splitlines() or [""]
    font, title_font = _font(26), _font(34)
    width = 80 + max(int(font.getlength(line)) for line in lines)
    width = max(width, 80 + int(title_font.getlength(lines[0])))
    height = 60 + 56 + 42 * (len(lines) - 1) + 30
    img = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(img)
    draw.rectangle([6, 6, width - 7, height - 7], outline=(180, 30, 30), width=4)
    draw.text(((width - title_font.getlength(lines[0])) / 2, 40), lines[0], font=title_font, fill=(20, 20, 20))
    y = 40 + 56
    for line in lines[1:]:
        draw.text((40, y), line, font=font, fill=(20, 20, 20))
        y += 42
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


@lru_cache(maxsize=256)
def product_png(item_id: str, n: int) -> bytes:
    """A small flat-colour product picture, distinct per item and index."""
    digest = hashlib.sha256(f"{item_id}/{n}".encode()).digest()
    img = Image.new("RGB", (160, 160), tuple(digest[:3]))
    ImageDraw.Draw(img).text((12, 60), f"{item_id}-{n}", fill=(255, 255, 255), font=_font(20))
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()
