"""The queue page's filter panel: the page lists rows at once; counts beside each filter and the exact
total come from /queue/facets (fetched by app.js after load, or inline with counts=1 without script)."""
from __future__ import annotations

import re

import pytest

from tests.ui.data import make_item

BOTH_STORES = pytest.mark.parametrize("store", ["sqlite", "search"], indirect=True)


def facet(html: str, key: str) -> dict[str, tuple[int, bool]]:
    """value -> (count, checked) of one filter fieldset."""
    block = re.search(rf'<fieldset class="facet" data-facet="{key}">(.*?)</fieldset>', html, re.S)
    assert block, f"no {key} filter on the page"
    out = {}
    for attrs, count in re.findall(r'<input type="checkbox" name="%s" ([^>]*)>.*?<span class="count">(\d+)</span>'
                                   % key, block.group(1), re.S):
        value = re.search(r'value="([^"]*)"', attrs).group(1)
        out[value] = (int(count), "checked" in attrs)
    return out


@BOTH_STORES
def test_a_chosen_filter_still_shows_the_other_values_with_counts(app, store, login):
    items = [make_item(1, platform="shop"), make_item(2, platform="shop"), make_item(3, platform="spa"),
             make_item(4, platform="spa", claims=[("降血糖", "disease_claim", "high")]),
             make_item(5, platform="live", claims=[("增强免疫力", "health_function_on_ordinary_food", "medium")])]
    store.upsert_many(items)
    store.refresh()
    li = login("li")
    page = li.get("/?platform=spa&severity=medium").get_data(as_text=True)
    assert page.count("data-row ") == 1                    # item 3: spa with a medium finding
    # the page itself carries no counts, only the chosen values and where to fetch the counts
    assert '<span class="count">' not in page
    assert 'data-facets-url="/queue/facets?platform=spa&amp;severity=medium"' in page
    page = li.get("/queue/facets?platform=spa&severity=medium").get_data(as_text=True)
    assert 'data-total="1"' in page
    # platform counts ignore the platform filter but keep the severity one (item 4 has no medium finding)
    assert facet(page, "platform") == {"shop": (2, False), "spa": (1, True), "live": (1, False)}
    # severity counts ignore the severity filter but keep the platform one
    assert facet(page, "severity") == {"high": (2, False), "medium": (1, True)}
    # a key that is not filtered counts within every filter
    assert facet(page, "claim_type") == {"disease_claim": (1, False), "health_function_on_ordinary_food": (1, False)}


def test_counts_come_only_for_the_view_asked_and_need_a_session(app, store, login):
    items = [make_item(n, platform="shop") for n in range(1, 4)] + [make_item(4, platform="spa")]
    store.upsert_many(items)
    store.refresh()
    assert app.test_client().get("/queue/facets").status_code == 302    # to the login page
    li = login("li")
    counts = li.get("/queue/facets?platform=shop").get_data(as_text=True)
    assert 'data-total="3"' in counts
    assert facet(counts, "platform") == {"shop": (3, True), "spa": (1, False)}
    assert "<html" not in counts and "data-row" not in counts            # a fragment, no listing rows
    bad = li.get("/queue/facets?sort=nope")
    assert bad.status_code == 400 and "未知的排序方式" in bad.get_data(as_text=True)


def test_without_script_a_link_reloads_the_page_with_counts(app, store, login):
    store.upsert_many([make_item(1, platform="shop"), make_item(2, platform="spa")])
    store.refresh()
    li = login("li")
    page = li.get("/?platform=spa").get_data(as_text=True)
    # a chosen filter stays on the page (ticked) even before its counts, so it can be unticked
    assert re.search(r'<input type="checkbox" name="platform" value="spa" checked>', page)
    link = re.search(r'<a href="([^"]*counts=1)">显示各筛选项及计数</a>', page)
    assert link
    with_counts = li.get(link.group(1).replace("&amp;", "&")).get_data(as_text=True)
    assert with_counts.count("data-row ") == 1
    assert facet(with_counts, "platform") == {"shop": (1, False), "spa": (1, True)}
    assert "data-facets-url" not in with_counts


@pytest.mark.browser
def test_counts_and_exact_total_appear_after_the_page_loads(app, store, page):
    from tests.ui.conftest import browser_login
    from tests.ui.server import serving

    store.upsert_many([make_item(1, platform="shop"), make_item(2, platform="shop"), make_item(3, platform="spa")])
    store.refresh()
    with serving(app) as base:
        browser_login(page, base, "li")
        page.wait_for_selector("[data-facets][data-counts=loaded]")
        labels = page.locator("fieldset[data-facet=platform] label").all_inner_texts()
        assert [" ".join(t.split()) for t in labels] == ["商城（演示） 2", "单页商城（演示） 1"]
        assert page.inner_text("h1 .total") == "共 3 条"
        assert not page.locator("[data-facet-state]").count()          # placeholders replaced
        # a failed count request says so in Chinese and offers the reload with counts
        page.route("**/queue/facets*", lambda route: route.fulfill(status=500, body="boom"))
        page.reload()
        page.wait_for_selector("[data-facets][data-counts=failed]")
        assert "计数加载失败" in page.inner_text("fieldset[data-facet=platform] legend")
        page.click("text=显示各筛选项及计数")
        page.wait_for_url("**counts=1**")
        assert page.locator("fieldset[data-facet=platform] .count").all_inner_texts() == ["2", "1"]
