"""Hostile listing content renders escaped, without crashing, and never runs in the browser."""
from __future__ import annotations

import io

import pytest
from openpyxl import load_workbook

from tests.ui.conftest import browser_login
from tests.ui.hostile import PWN, hostile_items
from tests.ui.server import serving

pytestmark = pytest.mark.browser


@pytest.fixture
def hostile(store):
    items = hostile_items(100)
    store.upsert_many(items)
    store.refresh()
    return items


def test_hostile_listings_render_escaped_everywhere(app, login, hostile):
    s = login("zhang")
    seen = set()
    url = "/?size=50"
    while url:
        response = s.get(url)
        assert response.status_code == 200
        html = response.get_data(as_text=True)
        assert "<script>window.__pwned" not in html and "onerror=\"window" not in html
        assert "&lt;script&gt;window.__pwned=1" in html
        seen.update(i.id for i in hostile if f"/items/{i.id}" in html)
        nxt = [line for line in html.split('"') if line.startswith("/?") and "after=" in line]
        url = nxt[0].replace("&amp;", "&") if nxt else None
    assert seen == {i.id for i in hostile}
    for item in hostile:
        response = s.get(f"/items/{item.id}")
        assert response.status_code == 200, item.id
        html = response.get_data(as_text=True)
        for raw in ("<script>window", "<img src=x onerror", "<svg onload", "<iframe", 'href="javascript:',
                    "<body onload", "<style>body"):
            assert raw not in html, (item.id, raw)
        assert "\ufffd" in html or "很好喝" in html
    api = s.get(f"/api/v1/items/{hostile[7].id}")
    assert api.status_code == 200 and api.get_json()["listing"]["title"] == hostile[7].listing.title
    csv = s.get("/export.csv").get_data()
    assert csv.startswith("\ufeff".encode())
    xlsx = load_workbook(io.BytesIO(s.get("/export.xlsx").get_data()), read_only=True)
    rows = list(xlsx.active.iter_rows(values_only=True))
    assert len(rows) == 101
    # a cell that would start with a formula character is neutralised
    assert not any(isinstance(v, str) and v.startswith(("=", "+", "@")) for row in rows for v in row)
    assert s.get("/dashboard/").status_code == 200
    assert s.get(f"/seller?by=shop&value={hostile[1].listing.shop.name}").status_code == 200


def test_no_hostile_script_runs_in_chromium(app, page, hostile):
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    with serving(app) as base:
        browser_login(page, base, "li")
        assert page.locator("tr[data-row]").count() == 50
        for n in (0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 38):   # every payload kind, a live room and a 1 MB listing
            page.goto(f"{base}/items/{hostile[n].id}")
            page.wait_for_selector("[data-item]")
            assert page.evaluate("() => window.__pwned") is None
            assert page.locator("mark").count() >= 1            # findings are still highlighted in place
        page.goto(f"{base}/items/{hostile[5].id}")              # the 1 MB listing renders
        assert "很好喝很好喝" in page.inner_text("article[data-field=text]")[:2000]
        page.goto(base + "/?sort=time")
        assert page.evaluate("() => window.__pwned") is None
    assert dialogs == []
    assert PWN  # the payload is what would have set the flag
