"""What a reviewer sees of a live room and a licence image: the recording plays and seeks, captions are in
Chinese with time offsets that jump into it, and OCR text sits beside the image it was read from."""
from __future__ import annotations

from shian.evidence.files import EvidenceFiles
from shian.models import EvidenceRef, Segment, utcnow
from tests.ui.data import make_item

PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                    "1f15c4890000000d49444154789c6360000002000001e221bc330000000049454e44ae426082")


def _put(settings, data: bytes, kind: str, media: str, name: str) -> EvidenceRef:
    return EvidenceFiles(settings.evidence_dir).put(data, kind, media, name=name, captured_at=utcnow())


def test_live_room_recording_seeks_and_ocr_image_is_shown(app, store, settings, login):
    video = _put(settings, b"\x1aE\xdf\xa3" + bytes(range(256)) * 40, "video", "video/webm", "segment-01.webm")
    image = _put(settings, PNG, "image", "image/png", "licence.png")
    item = make_item(1, platform="live", kind="live", text="主播：这款枣茶能降血糖，增强免疫力。")
    ocr_field = f"ocr:{image.sha256}"
    item.listing = item.listing.model_copy(update={
        "evidence": [video, image], "ocr": {image.sha256: "食品经营许可证 JY14101820012345"},
        "segments": [Segment(offset_s=75.5, source="caption", speaker="主播", text="这款枣茶能降血糖"),
                     Segment(offset_s=80, source="comment", speaker="观众", text="多少钱")]})
    store.upsert(item)
    li = login("li")
    page = li.get(f"/items/{item.id}").get_data(as_text=True)
    assert f'src="/items/{item.id}/evidence/{video.sha256}"' in page and "<video" in page
    assert 'data-seek="75.5"' in page and "00:01:15" in page
    assert "主播字幕" in page and "评论" in page and ">caption<" not in page
    assert ocr_field in item.listing.fields()
    assert f'class="ocr-image" src="/items/{item.id}/evidence/{image.sha256}"' in page

    whole = li.get(f"/items/{item.id}/evidence/{video.sha256}")
    assert whole.status_code == 200 and whole.mimetype == "video/webm"
    part = li.get(f"/items/{item.id}/evidence/{video.sha256}", headers={"Range": "bytes=100-199"})
    assert part.status_code == 206 and len(part.data) == 100 and part.data == whole.data[100:200]
    assert "sandbox" in part.headers["Content-Security-Policy"]


def test_a_refused_submission_keeps_every_choice(app, store, login):
    item = make_item(2)        # 降血糖 (high) and 增强免疫力 (medium)
    store.upsert(item)
    reasons = app.extensions["shian"].reasons
    high, medium = item.analysis.findings
    dismiss = reasons.options(high.type, "dismiss")[0].code
    confirm = reasons.options(medium.type, "confirm")[0].code
    li = login("li")
    li.post(f"/items/{item.id}/claim")
    response = li.post(f"/items/{item.id}/decide", data={
        "submit": "submit", f"action-finding:{high.key}": "dismiss", f"reason-finding:{high.key}": dismiss,
        f"action-finding:{medium.key}": "confirm", f"reason-finding:{medium.key}": confirm,
        f"note-finding:{medium.key}": "页面原文宣称增强免疫力<b>"})
    page = response.get_data(as_text=True)
    assert response.status_code == 400 and "必须填写说明" in page
    assert f'name="action-finding:{high.key}" value="dismiss" checked' in page
    assert f'name="action-finding:{medium.key}" value="confirm" checked' in page
    assert f'value="{confirm}" data-action="confirm" selected' in page
    assert "页面原文宣称增强免疫力&lt;b&gt;" in page
    assert store.get(item.id).review.decisions == []          # nothing half-saved


def test_search_text_with_control_characters_is_not_a_server_error(app, store, login):
    store.upsert(make_item(3))
    li = login("li")
    for q in ("降血糖\x00", "ab\x00c", "\x00\x00\x00", "增强\x1b免疫力"):
        assert li.get("/", query_string={"q": q}).status_code == 200
        assert li.get("/api/v1/items", query_string={"q": q}).status_code == 200
    assert "红枣桂圆茶 3 号" in li.get("/", query_string={"q": "降血糖\x00"}).get_data(as_text=True)
