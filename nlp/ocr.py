"""Text inside listing images, read offline (rapidocr-onnxruntime ships its models in the wheel).

The crawler fills Listing.ocr with this; the matcher uses it for licence images.
"""
from __future__ import annotations

import threading

_engine = None
_lock = threading.Lock()


def _get_engine():
    global _engine
    if _engine is None:
        with _lock:
            if _engine is None:
                from rapidocr_onnxruntime import RapidOCR
                # "max" keeps wide banners from being upscaled (≈5x faster, same reads);
                # one thread per model: onnxruntime's thread pool thrashes beside a busy crawler
                _engine = RapidOCR(det_limit_type="max", det_limit_side_len=960,
                                   **{f"{m}_{k}": 1 for m in ("det", "cls", "rec")
                                      for k in ("intra_op_num_threads", "inter_op_num_threads")})
    return _engine


def read_image_text(image_bytes: bytes) -> str:
    """The text of an image, lines top to bottom; "" when none is found.

    Raises ValueError when the bytes are not an image.
    """
    import cv2
    import numpy as np
    if not image_bytes:
        raise ValueError("empty image")
    img = cv2.imdecode(np.frombuffer(image_bytes, dtype=np.uint8), cv2.IMREAD_COLOR)
    if img is None:
        raise ValueError("not a readable image")
    engine = _get_engine()
    with _lock:          # the ONNX session is not documented as thread-safe
        result, _ = engine(img)
    if not result:
        return ""
    # result: [box, text, score]; sort by the top edge, then left edge
    lines = sorted(result, key=lambda r: (round(min(p[1] for p in r[0]) / 10), min(p[0] for p in r[0])))
    return "\n".join(r[1] for r in lines)
