from tests.ui.data import make_item
def test_smoke(app, store, login):
    for n in range(5):
        store.upsert(make_item(n))
    s = login("li")
    r = s.get("/")
    assert r.status_code == 200, r.get_data(as_text=True)
    html = r.get_data(as_text=True)
    assert "降血糖" in html
    item = make_item(1)
    r = s.get(f"/items/{item.id}")
    assert r.status_code == 200, r.get_data(as_text=True)
    r = s.post(f"/items/{item.id}/claim")
    assert r.status_code == 302
    r = s.get(f"/items/{item.id}")
    h = r.get_data(as_text=True)
    assert "decide-form" in h
    r = s.post(f"/items/{item.id}/decide", {"action-finding:0": "confirm", "reason-finding:0": "fsl71_disease_function",
        "action-finding:1": "dismiss", "reason-finding:1": "detection_error", "action-licence": "confirm", "reason-licence": "licence_forged", "submit": "submit"})
    assert r.status_code == 302
    it = store.get(item.id)
    print(it.review)
    assert it.review.status == "escalated"
    z = login("zhang")
    for u in ["/dashboard/", "/audit/", "/audit/?verify=1", "/export.csv", "/export.xlsx", "/bulk", f"/seller?by=shop&value={item.listing.shop.name}", "/api/v1/items", f"/api/v1/items/{item.id}", "/api/v1/openapi.json", "/api/v1/reasons", "/api/v1/lists"]:
        r = z.get(u)
        assert r.status_code == 200, (u, r.get_data(as_text=True)[:3000])
    r = z.post(f"/items/{item.id}/claim"); assert r.status_code == 302
    r = z.post(f"/items/{item.id}/review", {"action": "approve"}); assert r.status_code == 302
    assert store.get(item.id).review.status == "decided"
