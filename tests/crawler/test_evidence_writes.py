"""Evidence written at capture time is content-addressed: a re-crawl of an unchanged page adds no copy of its body."""
from __future__ import annotations

from shian.evidence.capture import Capture
from shian.evidence.files import EvidenceFiles

BODY = "<html><body><h1>苦瓜降糖茶</h1><p>喝一个月根治糖尿病</p></body></html>".encode()


def capture(files: EvidenceFiles, body: bytes):
    cap = Capture(files, url="http://127.0.0.1:8000/item/1", platform="shop", user_agent="ShianBot")
    cap.step("navigate", "GET http://127.0.0.1:8000/item/1")
    cap.add_exchange("GET", cap.url, {"User-Agent": "ShianBot"}, 200,
                     [("Content-Type", "text/html; charset=utf-8")], body, ip="127.0.0.1")
    return {r.kind: r for r in cap.finish(shop="好味食品商行", item_id="1")}


def test_an_unchanged_body_is_not_written_again_on_a_recrawl(settings):
    files = EvidenceFiles(settings.evidence_dir)
    first = capture(files, BODY)
    path = files.path(first["body"].sha256)
    before = path.stat()
    second = capture(files, BODY)
    assert second["body"].sha256 == first["body"].sha256
    after = path.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)    # the same file, untouched
    assert second["capture"].sha256 != first["capture"].sha256          # each visit keeps its own record
    changed = capture(files, BODY.replace("一个月".encode(), "三天".encode()))
    assert changed["body"].sha256 != first["body"].sha256 and files.verify(changed["body"].sha256)
    bodies = [p for p in settings.evidence_dir.rglob("*") if p.is_file() and p.read_bytes().startswith(b"<html>")]
    assert len(bodies) == 2
