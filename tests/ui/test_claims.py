"""Claiming with a lease (one conditional write), decisions with legal reason codes, four-eyes review."""
from __future__ import annotations

import http.client
import json
import threading
from datetime import datetime, timedelta, timezone
from urllib.parse import urlsplit

import pytest

from shian.audit import AuditLog
from shian.users import Users
from tests.ui.data import finding_target, make_item
from tests.ui.server import serving


def _claim_over_http(base: str, item_id: str, token: str, barrier: threading.Barrier, out: list, i: int):
    parts = urlsplit(base)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    try:
        conn.connect()
        barrier.wait(timeout=60)   # all 50 requests leave together
        conn.request("POST", f"/api/v1/items/{item_id}/claim", body=b"{}",
                     headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
        response = conn.getresponse()
        out[i] = (response.status, json.loads(response.read() or b"{}"))
    finally:
        conn.close()


BOTH_STORES = pytest.mark.parametrize("store", ["sqlite", "search"], indirect=True)


@BOTH_STORES
def test_fifty_parallel_claims_through_the_api_have_exactly_one_winner(app, store, settings):
    item = make_item(1)
    store.upsert(item)
    users = Users(settings.data_dir)
    tokens = {f"r{i:02d}": users.issue_token(f"r{i:02d}") for i in range(50)}
    results: list = [None] * 50
    barrier = threading.Barrier(50)
    with serving(app) as base:
        threads = [threading.Thread(target=_claim_over_http, args=(base, item.id, token, barrier, results, i))
                   for i, token in enumerate(tokens.values())]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
    assert all(r is not None for r in results), "a claim request did not finish"
    winners = [body for status, body in results if status == 200]
    losers = [body for status, body in results if status == 409]
    assert len(winners) == 1, [s for s, _ in results]
    assert len(losers) == 49
    winner = winners[0]["holder"]
    assert all(body["holder"] == winner for body in losers), "every loser is told who holds the item"
    assert store.get(item.id).review.assignee == winner
    claims = AuditLog(settings.data_dir).events(target=f"item:{item.id}", action="claim")
    assert [e.actor for e in claims] == [winner]


def _expire(store, item_id: str) -> None:
    item = store.get(item_id)
    item.review.lease_until = datetime.now(timezone.utc) - timedelta(seconds=1)
    store.replace(item)


@BOTH_STORES
def test_an_expired_lease_returns_the_item(app, store, login):
    a, b = make_item(1), make_item(2)
    store.upsert_many([a, b])
    li, wang = login("li"), login("wang")
    assert li.api("POST", f"/api/v1/items/{a.id}/claim").status_code == 200
    assert li.api("POST", f"/api/v1/items/{b.id}/claim").status_code == 200
    held = wang.api("POST", f"/api/v1/items/{a.id}/claim")
    assert held.status_code == 409 and held.get_json()["holder"] == "li"
    _expire(store, a.id)
    _expire(store, b.id)
    # someone else may claim an item whose lease ran out
    assert wang.api("POST", f"/api/v1/items/{a.id}/claim").get_json()["holder"] == "wang"
    # and the queue puts the other one back among unclaimed items
    store.refresh()
    assert wang.get("/").status_code == 200
    store.refresh()
    back = store.get(b.id)
    assert back.review.status == "new" and back.review.assignee == ""
    # the first holder can no longer decide on it
    refused = li.api("POST", f"/api/v1/items/{a.id}/decide",
                     {"decisions": [{"target": finding_target(a, 0), "action": "confirm",
                                     "reason_code": "fsl71_disease_function"}]})
    assert refused.status_code == 409 and refused.get_json()["holder"] == "wang"


def test_a_lead_takes_over_a_claim_and_it_is_logged(app, store, login, settings):
    item = make_item(1)
    store.upsert(item)
    li, zhang = login("li"), login("zhang")
    assert li.api("POST", f"/api/v1/items/{item.id}/claim").status_code == 200
    assert zhang.api("POST", f"/api/v1/items/{item.id}/claim").status_code == 409
    taken = zhang.api("POST", f"/api/v1/items/{item.id}/claim", {"takeover": True})
    assert taken.status_code == 200 and taken.get_json()["holder"] == "zhang"
    events = AuditLog(settings.data_dir).events(target=f"item:{item.id}", action="takeover")
    assert len(events) == 1 and events[0].actor == "zhang" and events[0].details["from"] == "li"


def decide(session, item_id, decisions, submit=False):
    return session.api("POST", f"/api/v1/items/{item_id}/decide", {"decisions": decisions, "submit": submit})


def test_decisions_need_a_legal_reason_and_a_note_to_dismiss_high_severity(app, store, login):
    item = make_item(1)
    store.upsert(item)
    li = login("li")
    assert decide(li, item.id, []).status_code == 409          # not claimed yet
    li.api("POST", f"/api/v1/items/{item.id}/claim")
    wrong_basis = decide(li, item.id, [{"target": finding_target(item, 0), "action": "confirm",
                                        "reason_code": "adlaw9_3_absolute"}])   # absolute-term code on a disease claim
    assert wrong_basis.status_code == 400 and "理由" in wrong_basis.get_json()["message"]
    no_note = decide(li, item.id, [{"target": finding_target(item, 0), "action": "dismiss", "reason_code": "detection_error"}])
    assert no_note.status_code == 400 and "说明" in no_note.get_json()["message"]
    assert store.get(item.id).review.decisions == []           # refused requests change nothing
    ok = decide(li, item.id, [{"target": finding_target(item, 0), "action": "dismiss", "reason_code": "detection_error",
                               "note": "“降血糖”出现在商品名“降血糖茶”的警示语里"}])
    assert ok.status_code == 200
    incomplete = decide(li, item.id, [], submit=True)
    assert incomplete.status_code == 400 and "未处理" in incomplete.get_json()["message"]
    done = decide(li, item.id, [{"target": finding_target(item, 1), "action": "dismiss", "reason_code": "gb28050_wording"},
                                {"target": "licence", "action": "dismiss", "reason_code": "registry_outdated"}],
                  submit=True)
    assert done.status_code == 200
    stored = store.get(item.id)
    assert stored.review.status == "decided" and stored.review.outcome == "no_violation"


def test_four_eyes_sends_a_confirmed_high_severity_item_to_a_different_lead(app, store, login):
    item = make_item(1)
    store.upsert(item)
    zhang, chen, li = login("zhang"), login("chen"), login("li")
    zhang.api("POST", f"/api/v1/items/{item.id}/claim")
    done = decide(zhang, item.id, [
        {"target": finding_target(item, 0), "action": "confirm", "reason_code": "fsl71_disease_function"},
        {"target": finding_target(item, 1), "action": "need_info", "reason_code": "need_label_photo"},
        {"target": "licence", "action": "confirm", "reason_code": "licence_forged"}], submit=True)
    assert done.status_code == 200
    stored = store.get(item.id)
    assert stored.review.status == "escalated" and stored.review.outcome == "violation"
    # a reviewer cannot pick up an item waiting for a lead
    assert li.api("POST", f"/api/v1/items/{item.id}/claim").status_code == 409
    # the lead who decided cannot approve their own decision
    zhang.post(f"/items/{item.id}/claim")
    zhang.post(f"/items/{item.id}/review", {"action": "approve"})
    assert store.get(item.id).review.status == "escalated"
    zhang.post(f"/items/{item.id}/release")
    # another lead can
    chen.post(f"/items/{item.id}/claim")
    assert chen.post(f"/items/{item.id}/review", {"action": "approve", "note": "同意"}).status_code == 302
    final = store.get(item.id)
    assert final.review.status == "decided" and final.review.outcome == "violation"
    assert final.review.decisions[-1].action == "approve" and final.review.decisions[-1].user == "chen"


def test_a_lead_sends_an_item_back_for_a_new_round(app, store, login):
    item = make_item(1)
    store.upsert(item)
    li, zhang = login("li"), login("zhang")
    li.api("POST", f"/api/v1/items/{item.id}/claim")
    assert li.api("POST", f"/api/v1/items/{item.id}/escalate", {"note": "不确定是否属于疾病宣称"}).status_code == 200
    zhang.post(f"/items/{item.id}/claim")
    assert zhang.post(f"/items/{item.id}/review", {"action": "reject"}).status_code == 302
    assert store.get(item.id).review.status == "escalated"          # a note is required to send back
    zhang.post(f"/items/{item.id}/review", {"action": "reject", "note": "请补充核实标签"})
    back = store.get(item.id)
    assert back.review.status == "new" and back.review.assignee == ""
    assert li.api("POST", f"/api/v1/items/{item.id}/claim").status_code == 200
