// The SPA demo platform: every page is built here from the JSON API.
// Data is only ever put into the DOM as text (textContent), never as HTML.
(function () {
  "use strict";
  var app = document.getElementById("app");
  var PAGE = 20;

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }
  function getJSON(url) {
    return fetch(url, {headers: {"Accept": "application/json"}}).then(function (r) {
      return r.json().then(function (body) { return {status: r.status, body: body}; });
    });
  }
  function price(p) { return "¥" + Number(p).toFixed(2); }
  function ready() { app.setAttribute("data-ready", "1"); }

  function card(item) {
    var li = el("li", {"class": "item-card", "data-item-id": item.id});
    li.appendChild(el("a", {"class": "item-link", "href": "/item/" + encodeURIComponent(item.id)}, item.title));
    li.appendChild(document.createTextNode(" "));
    li.appendChild(el("span", {"class": "price"}, price(item.price)));
    return li;
  }

  function shopBlock(shop) {
    var s = el("section", {"class": "shop-info", "data-shop-id": shop.id});
    var d1 = el("div", {}, "店铺：");
    d1.appendChild(el("a", {"class": "shop-name", "href": "/shop/" + encodeURIComponent(shop.id)}, shop.name));
    s.appendChild(d1);
    var d2 = el("div", {}, "经营者：");
    d2.appendChild(el("span", {"class": "operator"}, shop.operator_name));
    s.appendChild(d2);
    if (shop.licence_text) s.appendChild(el("div", {"class": "licence-text"}, shop.licence_text));
    if (shop.licence_image) {
      s.appendChild(el("img", {"class": "licence-image", "src": shop.licence_image, "alt": "营业执照及食品经营许可证"}));
    }
    return s;
  }

  function list(category) {
    var title = el("h1", {}, category ? "分类" : "全部商品");
    var ul = el("ul", {"id": "items"});
    var sentinel = el("div", {"id": "sentinel"}, "加载中…");
    app.appendChild(title); app.appendChild(ul); app.appendChild(sentinel);
    var cursor = 0, loading = false, done = false;
    function more() {
      if (loading || done) return;
      loading = true;
      var url = "/api/items?limit=" + PAGE + "&cursor=" + cursor + (category ? "&category=" + encodeURIComponent(category) : "");
      getJSON(url).then(function (res) {
        loading = false;
        if (res.status !== 200) { sentinel.textContent = "加载失败，请下拉重试"; setTimeout(more, 1000); return; }
        res.body.items.forEach(function (item) { ul.appendChild(card(item)); });
        ready();
        if (res.body.next_cursor === null) {
          done = true; app.setAttribute("data-end", "1"); sentinel.textContent = "没有更多了";
        } else {
          cursor = res.body.next_cursor;
          // still visible after appending (tall window): keep filling
          if (sentinel.getBoundingClientRect().top < window.innerHeight) more();
        }
      }, function () { loading = false; setTimeout(more, 1000); });
    }
    new IntersectionObserver(function (entries) {
      if (entries.some(function (x) { return x.isIntersecting; })) more();
    }).observe(sentinel);
    more();
  }

  function product(id) {
    getJSON("/api/items/" + encodeURIComponent(id)).then(function (res) {
      if (res.status === 404) {
        app.setAttribute("data-status", res.body.error === "removed" ? "removed" : "not-found");
        app.appendChild(el("div", {"class": res.body.error === "removed" ? "removed" : "not-found"},
          res.body.message || "商品不存在"));
        ready(); return;
      }
      if (res.status !== 200) { app.setAttribute("data-status", "error"); app.appendChild(el("div", {"class": "error"}, "加载失败")); ready(); return; }
      var x = res.body;
      document.title = x.title;
      var p = el("div", {"class": "product", "data-item-id": x.id});
      var nav = el("nav", {"class": "breadcrumb"});
      nav.appendChild(el("a", {"class": "category", "href": "/category/" + encodeURIComponent(x.category_slug)}, x.category));
      p.appendChild(nav);
      p.appendChild(el("h1", {"class": "title"}, x.title));
      p.appendChild(el("div", {"class": "price", "data-price": Number(x.price).toFixed(2)}, price(x.price)));
      if (x.health_food_reg) p.appendChild(el("div", {"class": "health-reg"}, x.health_food_reg));
      p.appendChild(el("div", {"class": "description"}, x.text));
      var imgs = el("ul", {"class": "images"});
      x.images.forEach(function (src) { var li = el("li"); li.appendChild(el("img", {"class": "product-image", "src": src, "alt": x.title})); imgs.appendChild(li); });
      p.appendChild(imgs);
      p.appendChild(shopBlock(x.shop));
      app.appendChild(p);
      ready();
    });
  }

  function shop(id) {
    getJSON("/api/shops/" + encodeURIComponent(id)).then(function (res) {
      if (res.status !== 200) { app.appendChild(el("div", {"class": "not-found"}, "店铺不存在")); ready(); return; }
      var s = res.body;
      app.appendChild(el("h1", {"class": "shop-name"}, s.name));
      app.appendChild(shopBlock(s));
      var ul = el("ul", {"class": "item-list"});
      s.items.forEach(function (item) { ul.appendChild(card(item)); });
      app.appendChild(ul);
      ready();
    });
  }

  var path = location.pathname, m;
  if ((m = path.match(/^\/item\/([^\/]+)$/))) product(decodeURIComponent(m[1]));
  else if ((m = path.match(/^\/shop\/([^\/]+)$/))) shop(decodeURIComponent(m[1]));
  else if ((m = path.match(/^\/category\/([^\/]+)$/))) list(decodeURIComponent(m[1]));
  else list(null);
})();
