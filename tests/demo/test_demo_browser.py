"""The JavaScript platforms in real Chromium: the SPA marketplace and the live rooms."""
from __future__ import annotations

import json
import threading

import pytest
from demo_http import fetch, text

from demo.seed import hms
from demo.sites import start_site

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def spa_site(dataset):
    with start_site("spa", dataset) as site:
        yield site


def test_spa_html_is_only_a_shell(spa_site, dataset):
    x = dataset.by_platform("spa")[0]
    for path in ("/", f"/item/{x.id}", "/category/honey"):
        status, page = text(spa_site.url + path)
        assert status == 200 and '<div id="app"></div>' in page
        assert x.title not in page and 'class="item-card"' not in page
    status, _, body = fetch(f"{spa_site.url}/api/items/{x.id}")
    assert status == 200 and json.loads(body)["title"] == x.title


def test_spa_list_fills_by_infinite_scroll(browser, spa_site, dataset):
    expected = [x.id for x in dataset.by_platform("spa")]
    page = browser.new_page(viewport={"width": 1000, "height": 700})
    try:
        page.goto(spa_site.url + "/")
        page.wait_for_selector('#app[data-ready="1"]')
        first = page.locator("li.item-card").count()
        assert 0 < first < len(expected)
        for _ in range(len(expected)):           # bounded: at most one round per listing
            if page.get_attribute("#app", "data-end") == "1":
                break
            count = page.locator("li.item-card").count()
            page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
            page.wait_for_function(
                "n => document.querySelectorAll('li.item-card').length > n || "
                "document.getElementById('app').dataset.end === '1'", arg=count)
        ids = page.eval_on_selector_all("li.item-card", "els => els.map(e => e.dataset.itemId)")
        assert ids == expected
        hrefs = page.eval_on_selector_all("a.item-link", "els => els.map(e => e.getAttribute('href'))")
        assert hrefs[0] == f"/item/{expected[0]}"
    finally:
        page.close()
    cursors = [p for _, p, _ in spa_site.requests if p.startswith("/api/items?")]
    assert len(cursors) == -(-len(expected) // 20)


def test_spa_product_page_is_built_from_the_api(browser, spa_site, dataset):
    items = dataset.by_platform("spa")
    x = next(i for i in items if dataset.shop(i.shop_id).licence_mode == "text")
    shop = dataset.shop(x.shop_id)
    page = browser.new_page()
    try:
        page.goto(f"{spa_site.url}/item/{x.id}")
        page.wait_for_selector('#app[data-ready="1"]')
        assert page.text_content(".product h1.title") == x.title
        assert page.text_content(".product .description") == x.text
        assert page.text_content(".shop-info .operator") == shop.operator_name
        assert page.text_content(".shop-info .licence-text") == shop.licence_text
        assert page.get_attribute(".price", "data-price") == f"{x.price:.2f}"
    finally:
        page.close()


def test_spa_hostile_text_shows_as_text_and_never_runs(browser, spa_site, dataset):
    hostile = [x for x in dataset.by_platform("spa") if x.hostile]
    assert hostile
    page = browser.new_page()
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    try:
        for x in hostile:
            page.goto(f"{spa_site.url}/item/{x.id}")
            page.wait_for_selector('#app[data-ready="1"]')
            assert page.text_content("h1.title") == x.title
            assert page.text_content(".description") == x.text
            assert page.locator(".product script, .product svg, .product a[href^='javascript:']").count() == 0
        page.goto(spa_site.url + "/")
        page.wait_for_selector('#app[data-ready="1"]')
    finally:
        page.close()
    assert dialogs == []


def test_spa_removed_listing_says_so(browser, dataset):
    x = dataset.by_platform("spa")[3]
    with start_site("spa", dataset) as site:
        site.mutate(remove=[x.id])
        status, _, body = fetch(f"{site.url}/api/items/{x.id}")
        assert status == 404 and json.loads(body)["message"] == "该商品已下架"
        page = browser.new_page()
        try:
            page.goto(f"{site.url}/item/{x.id}")
            page.wait_for_selector('#app[data-status="removed"]')
            assert page.text_content(".removed") == "该商品已下架"
        finally:
            page.close()


def test_live_room_streams_shelf_captions_and_comments_until_it_ends(browser, dataset):
    room = max(dataset.rooms, key=lambda r: len(r.claims))
    shop = dataset.shop(room.shop_id)
    seconds = 3.0
    with start_site("live", dataset, room_seconds=seconds) as site:
        status, home = text(site.url + "/")
        assert f'href="/room/{room.id}"' in home
        page = browser.new_page()
        try:
            page.goto(f"{site.url}/room/{room.id}")
            # the operator and licence are on the room page itself
            assert page.text_content(".room-info .operator") == shop.operator_name
            page.wait_for_selector("#captions li.caption")
            page.wait_for_selector('#room-status[data-status="ended"]', timeout=30_000)
            captions = page.eval_on_selector_all("li.caption", "els => els.map(e => e.textContent)")
            comments = page.eval_on_selector_all("li.comment .text", "els => els.map(e => e.textContent)")
            shelf = page.eval_on_selector_all("li.shelf-item", "els => els.map(e => e.dataset.itemId)")
            pinned = page.text_content("#pinned .pinned")
        finally:
            page.close()
    script = room.script
    assert captions == [f"[{hms(ev['frac'] * seconds)}] 主播：{ev['text']}" for ev in script if ev["type"] == "caption"]
    assert comments == [ev["text"] for ev in script if ev["type"] == "comment"]
    assert shelf == room.shelf
    assert pinned == [ev["text"] for ev in script if ev["type"] == "pinned"][-1]
    shown = "\n".join(captions + [pinned])
    for claim in room.claims:
        if claim["span"] not in pinned:
            assert claim["span"] in shown


def test_live_events_arrive_over_time_with_offsets(dataset):
    room = dataset.rooms[0]
    seconds = 2.0
    waiter = threading.Event()
    with start_site("live", dataset, room_seconds=seconds) as site:
        api = f"{site.url}/api/rooms/{room.id}/events"
        first = json.loads(fetch(api + "?since=0")[2])
        assert first["status"] == "live" and len(first["events"]) < len(room.script)
        events, since, rounds = list(first["events"]), first["next"], 0
        body = first
        while body["status"] != "ended":
            rounds += 1
            assert rounds < 200, "room never ended"
            waiter.wait(0.1)
            body = json.loads(fetch(f"{api}?since={since}")[2])
            events += body["events"]
            since = body["next"]
        assert [e["seq"] for e in events] == list(range(len(room.script)))
        offsets = [e["offset_s"] for e in events]
        assert offsets == sorted(offsets) and 0 <= offsets[0] and offsets[-1] <= seconds
        assert [e["text"] for e in events] == [ev["text"] for ev in room.script]
        assert events[0]["type"] == "shelf" and events[0]["item"]["url"] == f"/item/{room.shelf[0]}"
        # shelf items have their own product pages on the live site
        assert fetch(f"{site.url}/item/{room.shelf[0]}")[0] == 200
        # a restarted room starts from the beginning again
        site.reset_rooms()
        again = json.loads(fetch(api + "?since=0")[2])
        assert again["status"] == "live" and len(again["events"]) < len(room.script)
        info = json.loads(fetch(f"{site.url}/api/rooms/{room.id}")[2])
        assert info["shop"]["operator_name"] == dataset.shop(room.shop_id).operator_name
