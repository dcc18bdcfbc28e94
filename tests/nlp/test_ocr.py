"""OCR of a listing image the test renders itself, then claim detection on its text."""
from __future__ import annotations

import io

import pytest
from PIL import Image, ImageDraw, ImageFont

import nlp
from nlp.ocr import read_image_text

FONT = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"


def test_reads_chinese_text_from_an_image_and_finds_the_claim(listing):
    font = ImageFont.truetype(FONT, 40)
    img = Image.new("RGB", (640, 140), "white")
    draw = ImageDraw.Draw(img)
    draw.text((20, 20), "苦瓜片可以降血糖", font=font, fill="black")
    draw.text((20, 80), "三天见效", font=font, fill="black")
    buf = io.BytesIO()
    img.save(buf, "PNG")
    text = read_image_text(buf.getvalue())
    assert "降血糖" in text and "三天见效" in text
    result = nlp.detect(listing("详情见图", ocr={"img-1": text}))
    assert {(f.field, f.type) for f in result.findings} >= {("ocr:img-1", "disease_claim"),
                                                            ("ocr:img-1", "efficacy_guarantee")}


def test_not_an_image_is_a_clear_error():
    with pytest.raises(ValueError, match="not a readable image"):
        read_image_text(b"<html>not an image</html>")
