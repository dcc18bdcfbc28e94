"""Text inside listing images, read offline (rapidocr-onnxruntime ships its models in the wheel).

The crawler fills Listing.ocr with this; the matcher uses it for licence images.
"""
from __future__ import annotations

import threading

_engine = None
_lock = threading.Lock()


def _new_session(model_path: str):
    """An ONNX session as rapidocr builds it, but with onnxruntime's memory arena on.

    rapidocr turns the arena off, so every run allocates and frees its tensors afresh; on the
    recognition model that was ~2/3 of the CPU time of a licence image (measured, same reads).
    """
    from onnxruntime import GraphOptimizationLevel, InferenceSession, SessionOptions
    opts = SessionOptions()
    opts.log_severity_level = 4
    opts.graph_optimization_level = GraphOptimizationLevel.ORT_ENABLE_ALL
    # one thread per model: onnxruntime's thread pool thrashes beside a busy crawler; parallel
    # reads come from several reader processes instead (crawler.spiders.listing.LicenceReader)
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    return InferenceSession(model_path, sess_options=opts, providers=["CPUExecutionProvider"])


def _get_engine():
    global _engine
    if _engine is None:
        with _lock:
            if _engine is None:
                from rapidocr_onnxruntime import RapidOCR
                # "max" keeps wide banners from being upscaled (≈5x faster, same reads);
                # rec_batch_num=1: a batch pads every line to the widest one, so lines one by one
                # cost less (≈2x on licence images, same reads)
                engine = RapidOCR(det_limit_type="max", det_limit_side_len=960, rec_batch_num=1,
                                  **{f"{m}_{k}": 1 for m in ("det", "cls", "rec")
                                     for k in ("intra_op_num_threads", "inter_op_num_threads")})
                for infer in (engine.text_det.infer, engine.text_cls.infer, engine.text_rec.session):
                    path = getattr(infer.session, "_model_path", None)     # onnxruntime's own record
                    if path:                    # another rapidocr layout: keep its session as it is
                        infer.session = _new_session(path)
                _engine = engine
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
