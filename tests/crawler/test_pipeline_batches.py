"""Batched analysis and store writes (crawler.pipelines / Pipeline.process_many), in this process."""
from __future__ import annotations

import pytest

from crawler import pipelines
from crawler.items import TakenDown
from crawler.journal import DoneJournal
from shian.models import Listing, utcnow


def listing(n: int, text: str = "本品可以降血糖，增强免疫力") -> Listing:
    return Listing(platform="shop", item_id=str(n), url=f"http://127.0.0.1/item/{n}", title=f"苦瓜茶 {n}", text=text)


@pytest.fixture
def worker(settings):
    pipelines._open()                      # the analysis worker's state, here in the test process
    yield pipelines._pipeline
    pipelines._close()


def test_a_batch_is_analysed_and_stored_in_one_write_with_outcomes_in_order(worker, store):
    first = worker.process_many([listing(1), listing(2), listing(3)])
    assert [r.outcome for r in first] == ["created"] * 3
    again = worker.process_many([listing(1), listing(2, text="改过的描述：根治糖尿病"), listing(4)])
    assert [r.outcome for r in again] == ["unchanged", "changed", "created"]
    assert store.count() == 4
    assert store.get(first[0].item.id).analysis.findings               # analysed, not just stored
    assert worker.process_many([]) == []


def test_a_bad_listing_costs_only_itself_and_takedowns_keep_their_order(worker, store):
    bad = Listing.model_construct(**{**listing(6).model_dump(), "text": 12345})   # breaks the analysis
    ops = [listing(5), bad, listing(7),
           TakenDown(listing(5).id, "http://127.0.0.1/item/5", utcnow(), "HTTP 404", key="5"),
           TakenDown("shop:999", "http://127.0.0.1/item/999", utcnow(), "HTTP 404", key="999")]
    results = pipelines._run_batch(ops)
    assert [ok for ok, _ in results] == [True, False, True, True, True]
    assert results[0][1] == "created" and results[2][1] == "created"
    assert "Error" in results[1][1]
    assert results[3][1] == "taken_down" and results[4][1] == "not_stored"
    assert store.get(listing(5).id).taken_down_at is not None          # stored first, then marked gone
    assert store.count() == 2


def test_the_journal_records_a_batch_in_one_go_and_survives_a_torn_line(tmp_path):
    path = tmp_path / "done.txt"
    journal = DoneJournal(path)
    journal.add_many(["1", "2", "", "2", "3"])
    journal.close()
    with path.open("a", encoding="utf-8") as fh:
        fh.write("4")                                                  # killed mid-write
    again = DoneJournal(path)
    assert again.keys == {"1", "2", "3"} and again.resumed
    again.add("4")
    again.close()
    assert path.read_text(encoding="utf-8") == "1\n2\n3\n4\n"


def captured(n: int, files, extra=()) -> pipelines.Captured:
    """A listing with its page capture not yet written, as the spider hands it to the item pipeline."""
    from shian.evidence.capture import Capture
    url = f"http://127.0.0.1/item/{n}"
    cap = Capture(files, url=url, platform="shop", user_agent="ShianBot")
    cap.step("navigate", f"GET {url}")
    cap.add_exchange("GET", url, {"User-Agent": "ShianBot"}, 200, [("Content-Type", "text/html; charset=utf-8")],
                     f"<html><body><h1>苦瓜茶 {n}</h1></body></html>".encode(), ip="127.0.0.1")
    return pipelines.Captured(listing(n).model_copy(update={"evidence": list(extra)}), cap.end())


def test_page_evidence_is_written_by_the_worker_before_the_listing_is_stored(worker, store, settings, tmp_path):
    import json
    import pickle

    from shian.evidence.files import EvidenceFiles
    files = EvidenceFiles(settings.evidence_dir)
    licence = files.put(b"licence image bytes", "image", "image/png")
    blocked = tmp_path / "not-a-dir"
    blocked.write_text("a file where the evidence directory should be")
    ops = [captured(10, files, [licence]), captured(11, EvidenceFiles(blocked / "evidence")), captured(12, files)]
    ended = ops[0].capture.ended_at
    ops = pickle.loads(pickle.dumps(ops))             # as they travel to the analysis worker process
    results = pipelines._run_batch(ops)
    assert [ok for ok, _ in results] == [True, False, True]
    assert "NotADirectoryError" in results[1][1] or "FileExistsError" in results[1][1]
    assert store.count() == 2                          # no evidence on disk: not stored, fetched again next time
    stored = store.get(listing(10).id).listing
    kinds = [r.kind for r in stored.evidence]
    assert kinds == ["body", "headers", "steps", "warc", "capture", "image"]   # page files, then the licence
    assert all(files.verify(r.sha256) for r in stored.evidence)
    record = json.loads(files.read(stored.evidence[4].sha256))
    assert record["ended_at"]["utc"] == ended.isoformat()    # when the page was captured, not when written
    assert record["item_id"] == "10" and record["complete"] is True
