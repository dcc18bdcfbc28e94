// A live room: shelf items, captions, pinned and viewer comments arrive by
// polling the events API until the room ends. Data goes in as text only.
(function () {
  "use strict";
  var script = document.currentScript;
  var roomId = script.getAttribute("data-room-id");
  var since = 0;
  var status = document.getElementById("room-status");

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }
  function hms(s) {
    s = Math.floor(s);
    function two(n) { return (n < 10 ? "0" : "") + n; }
    return two(Math.floor(s / 3600)) + ":" + two(Math.floor(s % 3600 / 60)) + ":" + two(s % 60);
  }
  function show(ev) {
    var off = Number(ev.offset_s).toFixed(1);
    if (ev.type === "caption") {
      document.getElementById("captions").appendChild(
        el("li", {"class": "caption", "data-offset": off}, "[" + hms(ev.offset_s) + "] " + ev.speaker + "：" + ev.text));
    } else if (ev.type === "comment") {
      var li = el("li", {"class": "comment", "data-offset": off});
      li.appendChild(el("span", {"class": "user"}, ev.speaker));
      li.appendChild(document.createTextNode("："));
      li.appendChild(el("span", {"class": "text"}, ev.text));
      document.getElementById("comments").appendChild(li);
    } else if (ev.type === "pinned") {
      var pinned = document.getElementById("pinned");
      pinned.textContent = "";
      pinned.appendChild(el("div", {"class": "pinned", "data-offset": off}, ev.text));
    } else if (ev.type === "shelf" && ev.item) {
      var it = ev.item;
      var card = el("li", {"class": "shelf-item", "data-item-id": it.id, "data-offset": off});
      var a = el("a", {"class": "item-link", "href": it.url});
      a.appendChild(el("span", {"class": "title"}, it.title));
      card.appendChild(a);
      card.appendChild(el("span", {"class": "price"}, "¥" + Number(it.price).toFixed(2)));
      card.appendChild(el("div", {"class": "card-note"}, it.note));
      document.getElementById("shelf").appendChild(card);
    }
  }
  function poll() {
    fetch("/api/rooms/" + encodeURIComponent(roomId) + "/events?since=" + since)
      .then(function (r) { if (!r.ok) throw new Error("status " + r.status); return r.json(); })
      .then(function (body) {
        body.events.forEach(show);
        since = body.next;
        status.setAttribute("data-status", body.status);
        status.textContent = body.status === "ended" ? "直播已结束" : "直播中";
        if (body.status !== "ended") setTimeout(poll, 500);
      })
      .catch(function () { setTimeout(poll, 1000); });
  }
  poll();
})();
