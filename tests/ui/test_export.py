"""Evidence packages from the review UI: request, four-eyes approval, download, and a package that verifies."""
from __future__ import annotations

import json
import urllib.request
import zipfile

import pytest

from shian.evidence.capture import Capture
from shian.evidence.files import EvidenceFiles
from shian.evidence.verify import verify_package
from shian.models import Analysis, EvidenceRef, Finding, Listing, ReviewItem, Shop
from shian.models import utcnow
from tests.ui.server import serving_page

PAGE = ("<html><head><meta charset='utf-8'><title>野生黑枸杞</title></head><body><h1>野生黑枸杞 500克</h1>"
        "<p>每天一把，根治糖尿病。</p></body></html>").encode("utf-8")
TEXT = "每天一把，根治糖尿病。"


@pytest.fixture(scope="module")
def site():
    with serving_page(PAGE) as (base, _hits):
        yield base


def captured_item(settings, site: str, n: int, shop: str = "枸杞旗舰店") -> ReviewItem:
    """A shop listing with real evidence: an HTTP exchange on 127.0.0.1 recorded by the crawler's Capture."""
    url = f"{site}/shop/{n}"
    cap = Capture(EvidenceFiles(settings.evidence_dir), url, "shop", user_agent="ShianBot/test", config_hash="t")
    cap.step("goto", url)
    with urllib.request.urlopen(url) as resp:
        body = resp.read()
        cap.add_exchange("GET", url, {"User-Agent": "ShianBot/test"}, resp.status, resp.getheaders(), body,
                         ip="127.0.0.1")
    refs = cap.finish(shop=shop, item_id=str(n))
    listing = Listing(platform="shop", url=url, item_id=str(n), title=f"野生黑枸杞 {n} 号", text=TEXT,
                      shop=Shop(name=shop, operator_name="新郑市某某食品有限公司", licence_text="JY14101020012345"),
                      evidence=refs, captured_at=refs[-1].captured_at)
    start = TEXT.index("根治糖尿病")
    analysis = Analysis(findings=[Finding(type="disease_claim", rule_id="disease.diabetes", list_version="v1",
                                          field="text", start=start, end=start + 5, text="根治糖尿病",
                                          severity="high", legal_basis="《食品安全法》第七十一条")], risk=12.0)
    return ReviewItem.new(listing, analysis)


def _request(session, ids: list[str], case_ref: str = "新市监案〔2026〕12号"):
    response = session.post("/packages/", data={"item": ids, "case_ref": case_ref})
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    return response.headers["Location"].rstrip("/").rsplit("/", 1)[1]


def _download(session, req_id: str, tmp_path):
    response = session.get(f"/packages/{req_id}/download")
    assert response.status_code == 200
    assert response.headers["Content-Disposition"].startswith("attachment")
    path = tmp_path / f"{req_id}.wacz"
    path.write_bytes(response.data)
    return path


def test_four_eyes_export_needs_a_second_person_and_verifies(app, store, settings, login, site, tmp_path):
    items = [captured_item(settings, site, n) for n in (1, 2)]
    for it in items:
        store.upsert(it)
    ids = [it.id for it in items]
    zhang, chen, li = login("zhang"), login("chen"), login("li")

    item_page = zhang.get(f"/items/{ids[0]}").get_data(as_text=True)
    assert f"/packages/new?item={ids[0]}" in item_page
    preview = zhang.get(f"/packages/new?item={ids[0]}&item={ids[1]}").get_data(as_text=True)
    assert "野生黑枸杞 1 号" in preview and "野生黑枸杞 2 号" in preview and "提交导出申请" in preview

    # reviewers cannot export at all
    assert li.get(f"/packages/new?item={ids[0]}").status_code == 403
    assert li.post("/packages/", data={"item": ids, "case_ref": "x"}).status_code == 403

    req_id = _request(zhang, ids)
    page = zhang.get(f"/packages/{req_id}").get_data(as_text=True)
    assert 'data-package-state="pending"' in page and "申请人不能批准自己的申请" in page
    assert zhang.get(f"/packages/{req_id}/download").status_code == 404       # nothing made yet

    # the requester cannot approve their own request
    zhang.post(f"/packages/{req_id}/approve")
    assert 'data-package-state="pending"' in zhang.get(f"/packages/{req_id}").get_data(as_text=True)
    assert not list((settings.data_dir / "exports").glob("*.wacz"))

    assert "待你批准" in chen.get("/packages/").get_data(as_text=True)
    chen.post(f"/packages/{req_id}/approve")
    page = chen.get(f"/packages/{req_id}").get_data(as_text=True)
    assert 'data-package-state="exported"' in page and "批准人 chen" in page

    path = _download(chen, req_id, tmp_path)
    outcome = verify_package(path)
    assert outcome.intact, outcome.problems
    names = [f.path for f in outcome.files]
    assert any(n.startswith("archive/") for n in names) and "report/report.pdf" in names
    assert all(f"listings/{i}.json" in names for i in ids)
    with zipfile.ZipFile(path) as package:                  # both officers are named in the case file
        case = json.loads(package.read("case/case.json"))
    assert (case["officer"], case["approver"]) == ("zhang", "chen")

    actions = [(e.actor, e.action) for e in app.extensions["shian"].audit.events(limit=500)]
    assert ("zhang", "export_request") in actions and ("chen", "export_approve") in actions
    assert ("zhang", "evidence.export") in actions and ("chen", "export_download") in actions

    # the same items by the same officer again (after all that auditing): the same manifest, so the case file stays consistent
    again = _request(zhang, ids)
    chen.post(f"/packages/{again}/approve")
    first = store.get_meta(f"export_request:{req_id}")
    second = store.get_meta(f"export_request:{again}")
    assert second["state"] == "exported" and second["manifest_sha256"] == first["manifest_sha256"]


def test_without_four_eyes_a_seller_package_is_made_at_once(app, store, settings, login, site, tmp_path):
    settings.review.four_eyes = False
    mine = [captured_item(settings, site, n, shop="枸杞旗舰店") for n in (3, 4)]
    other = captured_item(settings, site, 5, shop="别家小店")
    for it in (*mine, other):
        store.upsert(it)
    zhao = login("zhao")   # enforcement officers make case files too

    seller = zhao.get("/seller?by=shop&value=枸杞旗舰店").get_data(as_text=True)
    assert "导出该经营者的证据包" in seller
    preview = zhao.get("/packages/new?by=shop&value=枸杞旗舰店").get_data(as_text=True)
    assert preview.count('name="item"') == 2 and "别家小店" not in preview and "生成数据包" in preview

    assert "请填写案件编号" in zhao.post("/packages/", data={"item": [mine[0].id], "case_ref": ""},
                                      follow_redirects=True).get_data(as_text=True)
    req_id = _request(zhao, [it.id for it in mine], case_ref="案-2026-7")
    assert store.get_meta(f"export_request:{req_id}")["state"] == "exported"
    outcome = verify_package(_download(zhao, req_id, tmp_path))
    assert outcome.intact, outcome.problems
    assert {f"listings/{it.id}.json" for it in mine} <= {f.path for f in outcome.files}
    assert f"listings/{other.id}.json" not in {f.path for f in outcome.files}


def test_missing_evidence_fails_with_a_reason_and_writes_nothing(app, store, settings, login, site):
    settings.review.four_eyes = False
    item = captured_item(settings, site, 6)
    gone = EvidenceRef(kind="screenshot", sha256="0" * 64, media_type="image/png", size=10, name="lost.png",
                       captured_at=utcnow())
    item.listing = item.listing.model_copy(update={"evidence": [*item.listing.evidence, gone]})
    store.upsert(item)
    zhang = login("zhang")
    req_id = _request(zhang, [item.id])
    record = store.get_meta(f"export_request:{req_id}")
    assert record["state"] == "failed" and record["error"]
    page = zhang.get(f"/packages/{req_id}").get_data(as_text=True)
    assert "生成失败" in page
    assert zhang.get(f"/packages/{req_id}/download").status_code == 404
    assert not list((settings.data_dir / "exports").glob("*.wacz"))
