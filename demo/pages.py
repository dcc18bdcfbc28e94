"""HTML of the server-rendered demo pages (shop site, live site item and room pages).

Every value that comes from a listing is escaped here: listings carry hostile
text on purpose. Markup and class names are the contract in demo/README.md.
"""
from __future__ import annotations

from html import escape

from demo.content import CATEGORIES
from demo.seed import DemoListing, DemoRoom, DemoShop

CSS = """body{font-family:"Noto Sans CJK SC",sans-serif;margin:0;color:#222}
header{background:#c62828;color:#fff;padding:8px 16px}header a{color:#fff;margin-right:12px}
main{max-width:960px;margin:0 auto;padding:16px}.description{white-space:pre-wrap}
.item-card{margin:6px 0}.price{color:#c62828}.shop-info{border:1px solid #ddd;padding:8px;margin-top:12px}
.licence-text{white-space:pre-wrap}img.licence-image{max-width:100%}
.removed,.not-found{font-size:20px;color:#888;padding:40px}"""


def e(value) -> str:
    return escape(str(value), quote=True)


def layout(title: str, body: str, site: str) -> str:
    nav = ('<a href="/">首页</a><a href="/cart/">购物车</a><a href="/admin/">商家后台</a>'
           if site != "live" else '<a href="/">直播广场</a><a href="/admin/">主播后台</a>')
    return (f'<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8"><title>{e(title)}</title>'
            f'<style>{CSS}</style></head><body><header>{nav}</header><main>{body}</main></body></html>')


def shop_block(shop: DemoShop) -> str:
    parts = [f'<section class="shop-info" data-shop-id="{e(shop.id)}">',
             f'<div>店铺：<a class="shop-name" href="/shop/{e(shop.id)}">{e(shop.name)}</a></div>',
             f'<div>经营者：<span class="operator">{e(shop.operator_name)}</span></div>']
    if shop.licence_mode == "text" and shop.licence_text:
        parts.append(f'<div class="licence-text">{e(shop.licence_text)}</div>')
    elif shop.licence_mode == "image":
        parts.append(f'<img class="licence-image" src="/shop/{e(shop.id)}/licence.png" alt="营业执照及食品经营许可证">')
    parts.append("</section>")
    return "".join(parts)


def item_card(x: DemoListing) -> str:
    return (f'<li class="item-card" data-item-id="{e(x.id)}"><a class="item-link" href="/item/{e(x.id)}">'
            f'{e(x.title)}</a> <span class="price">¥{x.price:.2f}</span></li>')


def product_page(x: DemoListing, shop: DemoShop, site: str) -> str:
    slug = x.slug
    reg = f'<div class="health-reg">{e(x.health_food_reg)}</div>' if x.health_food_reg else ""
    imgs = "".join(f'<li><img class="product-image" src="/img/{e(x.id)}/{n}.png" alt="{e(x.title)}"></li>'
                   for n in range(x.images))
    cart = f'<a class="cart-link" href="/cart/add?item={e(x.id)}">加入购物车</a>' if site == "shop" else ""
    body = (f'<div class="product" data-item-id="{e(x.id)}">'
            f'<nav class="breadcrumb"><a href="/category/{e(slug)}" class="category">{e(x.category)}</a></nav>'
            f'<h1 class="title">{e(x.title)}</h1>'
            f'<div class="price" data-price="{x.price:.2f}">¥{x.price:.2f}</div>{reg}'
            f'<div class="description">{e(x.text)}</div><ul class="images">{imgs}</ul>{cart}'
            f'{shop_block(shop)}</div>')
    return layout(x.title, body, site)


def removed_page(site: str) -> str:
    return layout("该商品已下架", '<div class="removed">该商品已下架</div>', site)


def not_found_page(site: str, what: str = "商品不存在") -> str:
    return layout(what, f'<div class="not-found">{e(what)}</div>', site)


def home_page(counts: dict[str, int]) -> str:
    links = "".join(f'<li><a class="category-link" href="/category/{slug}">{e(CATEGORIES[slug][0])}</a> '
                    f'<span class="count">{n}</span></li>' for slug, n in counts.items() if n)
    return layout("郑好购·首页", f'<h1>全部分类</h1><ul class="categories">{links}</ul>', "shop")


def category_page(slug: str, items: list[DemoListing], page: int, pages: int) -> str:
    name = CATEGORIES[slug][0]
    cards = "".join(item_card(x) for x in items)
    nxt = f'<a class="next" rel="next" href="/category/{slug}?page={page + 1}">下一页</a>' if page < pages else ""
    prev = f'<a class="prev" rel="prev" href="/category/{slug}?page={page - 1}">上一页</a> ' if page > 1 else ""
    body = (f'<h1>{e(name)}</h1><ul class="item-list">{cards}</ul>'
            f'<div class="pager">{prev}<span class="page-info">第 {page} / {pages} 页</span> {nxt}</div>')
    return layout(f"{name} 第{page}页", body, "shop")


def shop_page(shop: DemoShop, items: list[DemoListing], site: str) -> str:
    cards = "".join(item_card(x) for x in items)
    body = f'<h1 class="shop-name">{e(shop.name)}</h1>{shop_block(shop)}<ul class="item-list">{cards}</ul>'
    return layout(shop.name, body, site)


def stub_page(title: str, site: str) -> str:
    """/cart/ and /admin/: they exist so a test can tell whether a crawler fetched them."""
    return layout(title, f"<h1>{e(title)}</h1><p>请先登录。</p>", site)


def rooms_page(rooms: list[DemoRoom]) -> str:
    cards = "".join(f'<li class="room-card" data-room-id="{e(r.id)}"><a class="room-link" href="/room/{e(r.id)}">'
                    f'<span class="room-title">{e(r.title)}</span></a> <span class="host">{e(r.host)}</span></li>'
                    for r in rooms)
    return layout("直播广场", f'<h1>正在直播</h1><ul id="rooms">{cards}</ul>', "live")


def room_page(room: DemoRoom, shop: DemoShop) -> str:
    body = (f'<section class="room-info" data-room-id="{e(room.id)}"><h1 class="room-title">{e(room.title)}</h1>'
            f'<div>主播：<span class="host">{e(room.host)}</span></div>{shop_block(shop)}</section>'
            '<div id="room-status" data-status="waiting">等待开播</div>'
            '<h2>小黄车</h2><ul id="shelf"></ul><h2>置顶</h2><div id="pinned"></div>'
            '<h2>主播讲解</h2><ul id="captions"></ul><h2>评论</h2><ul id="comments"></ul>'
            f'<script src="/static/live.js" data-room-id="{e(room.id)}"></script>')
    return layout(room.title, body, "live")


def spa_shell() -> str:
    return ('<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8"><title>枣乡优选</title>'
            f'<style>{CSS}</style></head><body><header><a href="/">枣乡优选</a><a href="/admin/">商家后台</a></header>'
            '<main><div id="app"></div><noscript>请启用 JavaScript</noscript></main>'
            '<script src="/static/spa.js"></script></body></html>')
