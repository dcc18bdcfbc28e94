"""The server-rendered shop platform: pages, robots.txt, licence images, escaping, mutations."""
from __future__ import annotations

import html
import re

from demo_http import fetch, text

from demo.content import CATEGORIES


def _walk_categories(site) -> list[str]:
    """Follow category links and next-page links like a crawler would; return item ids."""
    status, home = text(site.url + "/")
    assert status == 200
    ids: list[str] = []
    for href in re.findall(r'class="category-link" href="([^"]+)"', home):
        url = site.url + href
        while url:
            status, page = text(url)
            assert status == 200
            ids += re.findall(r'<a class="item-link" href="/item/(\d+)"', page)
            nxt = re.search(r'<a class="next" rel="next" href="([^"]+)"', page)
            url = site.url + html.unescape(nxt.group(1)) if nxt else None
    return ids


def test_category_pages_with_pagination_reach_every_shop_listing(shop_site, dataset):
    ids = _walk_categories(shop_site)
    assert sorted(ids) == sorted(x.id for x in dataset.by_platform("shop"))
    assert any("?page=2" in p for _, p, _ in shop_site.requests)


def test_product_page_shows_listing_and_shop_with_operator_and_licence(shop_site, dataset):
    for x in dataset.by_platform("shop")[:40]:
        shop = dataset.shop(x.shop_id)
        status, page = text(f"{shop_site.url}/item/{x.id}")
        assert status == 200
        assert f'<h1 class="title">{html.escape(x.title)}</h1>' in page
        assert f'<div class="description">{html.escape(x.text)}</div>' in page
        assert f'<span class="operator">{html.escape(shop.operator_name)}</span>' in page
        if shop.licence_mode == "text":
            assert f'<div class="licence-text">{html.escape(shop.licence_text)}</div>' in page
        elif shop.licence_mode == "image":
            assert f'src="/shop/{shop.id}/licence.png"' in page
            assert 'class="licence-text"' not in page
        if x.health_food_reg:
            assert f'<div class="health-reg">{x.health_food_reg}</div>' in page
    status, _ = text(f"{shop_site.url}/item/999999")
    assert status == 404


def test_shop_page_lists_its_items_and_licence(shop_site, dataset):
    shop = next(s for s in dataset.shops if s.platform == "shop")
    status, page = text(f"{shop_site.url}/shop/{shop.id}")
    assert status == 200
    assert f'<h1 class="shop-name">{html.escape(shop.name)}</h1>' in page
    listed = set(re.findall(r'href="/item/(\d+)"', page))
    assert listed == {x.id for x in dataset.by_platform("shop") if x.shop_id == shop.id}


def test_robots_txt_disallows_cart_and_admin_which_pages_link_to(shop_site, dataset):
    status, robots = text(shop_site.url + "/robots.txt")
    assert status == 200
    assert "Disallow: /cart/" in robots and "Disallow: /admin/" in robots
    x = dataset.by_platform("shop")[0]
    _, page = text(f"{shop_site.url}/item/{x.id}")
    assert 'href="/cart/add?item=' in page and 'href="/admin/"' in page
    assert shop_site.hits("/cart/") == 0
    assert text(shop_site.url + "/admin/")[0] == 200
    assert shop_site.hits("/admin/") == 1     # the request log records what was fetched


def test_licence_image_is_a_png_that_ocr_reads(shop_site, dataset):
    from nlp.ocr import read_image_text    # the OCR the crawl path uses

    shop = next(s for s in dataset.shops if s.platform == "shop" and s.licence_mode == "image")
    status, headers, body = fetch(f"{shop_site.url}/shop/{shop.id}/licence.png")
    assert status == 200 and headers["content-type"] == "image/png" and body[:8] == b"\x89PNG\r\n\x1a\n"
    read = read_image_text(body)
    number = re.search(r"许可证编号：(\S+)", shop.licence_image_text).group(1)
    assert number in read
    assert shop.operator_name in read
    text_shop = next(s for s in dataset.shops if s.platform == "shop" and s.licence_mode == "text")
    assert fetch(f"{shop_site.url}/shop/{text_shop.id}/licence.png")[0] == 404


def test_hostile_listing_content_is_escaped_but_present_as_text(shop_site, dataset):
    hostile = [x for x in dataset.by_platform("shop") if x.hostile]
    assert hostile
    for x in hostile:
        _, page = text(f"{shop_site.url}/item/{x.id}")
        main = page.split("<main>", 1)[1]
        assert "<script>" not in main and "<svg" not in main and "<img src=x" not in main
        assert 'href="javascript:' not in main
        assert html.escape(x.title) in main and html.escape(x.text) in main
        assert html.unescape(re.search(r'<h1 class="title">(.*?)</h1>', main, re.S).group(1)) == x.title


def test_mutate_changes_and_removes_listings_while_running(shop_site, dataset):
    changed, removed, other = [x for x in dataset.by_platform("shop")[:3]]
    before = text(f"{shop_site.url}/item/{changed.id}")[1]
    shop_site.mutate(change=[changed.id], remove=[removed.id])
    after = text(f"{shop_site.url}/item/{changed.id}")[1]
    assert after != before and "包装升级" in after
    assert f'data-price="{changed.price + 1:.2f}"' in after
    status, page = text(f"{shop_site.url}/item/{removed.id}")
    assert status == 404 and "该商品已下架" in page
    assert removed.id not in _walk_categories(shop_site)
    assert text(f"{shop_site.url}/item/{other.id}")[1].count("包装升级") == 0
    shop_site.mutate(change={other.id: {"title": "新标题 降价促销"}}, restore=[removed.id])
    assert '<h1 class="title">新标题 降价促销</h1>' in text(f"{shop_site.url}/item/{other.id}")[1]
    assert text(f"{shop_site.url}/item/{removed.id}")[0] == 200
    # the dataset itself is untouched: other sites and the truth keep the original
    assert dataset.listing(changed.id).text == changed.text


def test_bad_query_gets_a_clear_error(shop_site):
    slug = next(iter(CATEGORIES))
    status, page = text(f"{shop_site.url}/category/{slug}?page=abc")
    assert status == 400 and "page" in page
    assert text(f"{shop_site.url}/category/{slug}?page=9999")[0] == 404
