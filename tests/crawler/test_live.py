"""Live rooms watched in real Chromium: captions with offsets, shelf items, screenshots, video, hashes."""
from __future__ import annotations

import json
import shutil

import pytest
import yaml

from crawler import run_crawl
from demo.seed import generate
from demo.sites import start_site
from shian.evidence.files import EvidenceFiles
from shian.models import listing_id
from shian.store import open_store

pytestmark = pytest.mark.browser

ROOM_SECONDS = 6.0
WEBM = b"\x1a\x45\xdf\xa3"
PNG = b"\x89PNG"


def stored(platform: str):
    store = open_store()
    try:
        return [store.get(i) for i in store.ids(platform)], store.list_meta("crawl_run:")
    finally:
        store.close()


def test_rooms_are_watched_with_offsets_shelf_items_and_hashed_evidence(settings):
    ds = generate(100, 3)
    with start_site("live", ds, room_seconds=ROOM_SECONDS) as site:
        stats = run_crawl("live", base_url=site.url, data_dir=settings.data_dir, timeout=240)
    assert stats["returncode"] == 0, stats.get("log_tail")
    items, runs = stored("live")
    rooms = {i.listing.item_id: i for i in items if i.listing.kind == "live"}
    shelf_items = {i.listing.item_id: i for i in items if i.listing.kind == "listing"}

    # every room became a live listing; every shelf item a listing of its own
    assert set(rooms) == {r.id for r in ds.rooms}
    assert set(shelf_items) == {x for r in ds.rooms for x in r.shelf}
    assert [r for _, r in runs][0]["items"] == len(rooms) + len(shelf_items)

    files = EvidenceFiles(settings.evidence_dir)
    for room in ds.rooms:
        item = rooms[room.id]
        listing = item.listing
        assert listing.capture_complete, listing.capture_problem
        assert set(listing.shelf) == {listing_id("live", x) for x in room.shelf}
        assert listing.shop.operator_name == ds.shop(room.shop_id).operator_name

        # captions carry the room's own offsets, as scripted
        captions = [(s.text, s.offset_s) for s in listing.segments if s.source == "caption"]
        scripted = [(e["text"], e["frac"] * ROOM_SECONDS) for e in room.script if e["type"] == "caption"]
        assert len(captions) == len(scripted)
        for (text, offset), (want_text, want_offset) in zip(sorted(captions, key=lambda c: c[1]),
                                                            sorted(scripted, key=lambda c: c[1])):
            assert text == want_text and offset == pytest.approx(want_offset, abs=0.01)
        assert {s.source for s in listing.segments} >= {"caption", "pinned", "comment", "card"}
        # the transcript reads "[HH:MM:SS] 主播：…" so findings get offsets
        first = min(listing.segments, key=lambda s: s.offset_s)
        assert f"[00:00:0{int(first.offset_s)}]" in listing.text and "主播：" in listing.text

        # evidence: every kind, each file hashing to its name, real PNG and WebM content
        kinds = [ref.kind for ref in listing.evidence]
        assert {"body", "html", "screenshot", "headers", "steps", "warc", "video", "capture"} <= set(kinds)
        assert kinds.count("screenshot") >= 2            # on arrival and at the end at least
        for ref in listing.evidence:
            assert files.verify(ref.sha256)
        video = next(ref for ref in listing.evidence if ref.kind == "video")
        assert files.read(video.sha256)[:4] == WEBM and video.media_type == "video/webm"
        assert all(files.read(r.sha256)[:4] == PNG for r in listing.evidence if r.kind == "screenshot")
        capture = json.loads(files.read(next(r.sha256 for r in listing.evidence if r.kind == "capture")))
        assert capture["complete"] and capture["item_id"] == room.id
        headers = json.loads(files.read(next(r.sha256 for r in listing.evidence if r.kind == "headers")))
        assert any("/events" in e["request"]["url"] for e in headers["exchanges"])   # the XHR traffic is kept

    # a claim a host makes in a caption is found with the time the reviewer can jump to
    timed = [(f, rooms[r].listing) for r in rooms for f in rooms[r].analysis.findings if f.offset_s is not None]
    assert timed, "no live finding carried an offset"
    for finding, listing in timed:
        assert any(int(s.offset_s) == int(finding.offset_s) and finding.text in s.text for s in listing.segments)


def test_a_long_room_is_watched_for_the_window_only_in_video_segments(settings, tmp_path):
    """DOM polling instead of XHR, an 8 s window on a 90 s room, 2 s video segments."""
    config = tmp_path / "config"
    shutil.copytree(settings.config_dir, config)
    path = config / "platforms" / "live.yaml"
    platform = yaml.safe_load(path.read_text(encoding="utf-8"))
    platform["live"].update(max_rooms=1, shelf_items=False, window_s=8.0, video_segment_s=2.0,
                            screenshot_every_s=1.0)
    platform["live"]["events"]["source"] = "dom"
    path.write_text(yaml.safe_dump(platform, allow_unicode=True), encoding="utf-8")
    settings.config_dir = config

    ds = generate(100, 3)
    with start_site("live", ds, room_seconds=90.0) as site:
        stats = run_crawl("live", base_url=site.url, data_dir=settings.data_dir, timeout=120)
    assert stats["returncode"] == 0, stats.get("log_tail")
    items, _ = stored("live")
    assert [i.listing.kind for i in items] == ["live"]
    listing = items[0].listing
    assert listing.capture_complete, listing.capture_problem
    assert listing.segments, "nothing read from the page's DOM"
    # only what the room said within the window (plus the time the page took to open), not all 90 s
    assert max(s.offset_s for s in listing.segments) < 30
    videos = [r for r in listing.evidence if r.kind == "video"]
    assert len(videos) >= 2
    files = EvidenceFiles(settings.evidence_dir)
    assert all(files.read(v.sha256)[:4] == WEBM for v in videos)
    steps = json.loads(files.read(next(r.sha256 for r in listing.evidence if r.kind == "steps")))
    assert steps[-1]["action"] == "end" and "window" in steps[-1]["detail"]
