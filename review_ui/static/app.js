// Shian review UI: keyboard shortcuts and live updates. Served from /static (the CSP forbids inline scripts).
// Every piece of listing text reaches the page through the server's escaping; this file only ever
// sets textContent, or moves in nodes of a fragment the server rendered with that same escaping.
(function () {
  "use strict";

  var csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  var page = document.body.getAttribute("data-page");

  function typing(el) {
    if (!el) return false;
    var tag = el.tagName;
    return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || el.isContentEditable;
  }

  function post(url) {
    return fetch(url, { method: "POST", credentials: "same-origin",
      headers: { "X-CSRFToken": csrf, "Accept": "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; });
  }

  // -- help overlay --------------------------------------------------------------
  var help = document.getElementById("help");
  var lastFocus = null;
  function toggleHelp(show) {
    if (!help) return;
    var open = show === undefined ? help.hidden : show;
    if (open) {
      lastFocus = document.activeElement;
      help.hidden = false;
      help.querySelector("[data-help-close]").focus();
    } else {
      help.hidden = true;
      if (lastFocus && lastFocus.focus) lastFocus.focus();
    }
  }
  document.querySelectorAll("[data-help]").forEach(function (b) {
    b.addEventListener("click", function () { toggleHelp(true); });
  });
  if (help) help.querySelector("[data-help-close]").addEventListener("click", function () { toggleHelp(false); });

  // -- queue page ----------------------------------------------------------------
  var rows = Array.prototype.slice.call(document.querySelectorAll("tr[data-row]"));
  var rowIndex = -1;
  function selectRow(i) {
    if (!rows.length) return;
    rowIndex = Math.max(0, Math.min(rows.length - 1, i));
    rows.forEach(function (r, j) { r.classList.toggle("selected", j === rowIndex); });
    rows[rowIndex].focus();
    rows[rowIndex].scrollIntoView({ block: "nearest" });
  }

  function queueKey(e) {
    if (e.key === "j") { selectRow(rowIndex + 1); return true; }
    if (e.key === "k") { selectRow(rowIndex - 1); return true; }
    if (e.key === "Enter" && rowIndex >= 0) { window.location.href = rows[rowIndex].getAttribute("data-href"); return true; }
    if (e.key === "s") { var s = document.querySelector("[data-start]"); if (s) { s.click(); return true; } }
    if (e.key === "/") { var q = document.querySelector("[data-search]"); if (q) { q.focus(); return true; } }
    return false;
  }

  // Facet counts and the exact total visit every match, so the page comes without them and they
  // are fetched here, after load, as a server-rendered fragment of the same filter panel.
  function loadCounts() {
    var box = document.querySelector("[data-facets-url]");
    if (!box) return;
    var link = box.querySelector("[data-counts-link]");
    function say(text) {
      box.querySelectorAll("[data-facet-state]").forEach(function (s) { s.textContent = text; s.hidden = false; });
    }
    if (link) link.hidden = true;
    say("计数加载中……");
    box.setAttribute("data-counts", "loading");
    fetch(box.getAttribute("data-facets-url"), { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (r) { if (!r.ok) throw new Error("HTTP " + r.status); return r.text(); })
      .then(function (html) {
        var result = new DOMParser().parseFromString(html, "text/html").querySelector("[data-facets-result]");
        if (!result) throw new Error("no counts in answer");
        result.querySelectorAll("fieldset[data-facet]").forEach(function (fresh) {
          var old = box.querySelector('fieldset[data-facet="' + CSS.escape(fresh.getAttribute("data-facet")) + '"]');
          if (!old) return;
          // keep what the reviewer ticked or unticked while the counts were loading
          old.querySelectorAll("input[type=checkbox]").forEach(function (was) {
            fresh.querySelectorAll("input[type=checkbox]").forEach(function (now) {
              if (now.value === was.value) now.checked = was.checked;
            });
          });
          old.replaceWith(document.importNode(fresh, true));
        });
        var totalEl = document.querySelector("[data-total]");
        var total = result.getAttribute("data-total");
        if (totalEl && total) {
          totalEl.textContent = "共 " + Number(total).toLocaleString("zh-CN") + " 条";
          totalEl.setAttribute("data-total", total);
        }
        box.setAttribute("data-counts", "loaded");
      })
      .catch(function () {
        say("计数加载失败");
        if (link) link.hidden = false;
        box.setAttribute("data-counts", "failed");
      });
  }

  function watchQueue() {
    var totalEl = document.querySelector("[data-total]");
    var note = document.getElementById("live-note");
    if (!totalEl || !note) return;
    setInterval(function () {
      var known = totalEl.getAttribute("data-total");   // exact once the counts have loaded
      if (!/^\d+$/.test(known)) return;                  // a bounded "10,000+" cannot be compared
      fetch("/api/v1/items?" + window.location.search.replace(/^\?/, "").replace(/(^|&)after=[^&]*/, "") + "&size=1",
        { credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (data) {
          if (data && String(data.total) !== known) {
            note.textContent = "队列已更新：现有 " + data.total + " 条，刷新页面查看";
            note.hidden = false;
          }
        })
        .catch(function () {});
    }, 30000);
  }

  // -- item page -----------------------------------------------------------------
  var targets = Array.prototype.slice.call(document.querySelectorAll("fieldset[data-target]"));
  var targetIndex = -1;

  function showReasons(fs) {
    var checked = fs.querySelector('input[type=radio]:checked');
    var action = checked ? checked.value : "";
    var select = fs.querySelector("select[data-reasons]");
    if (!select) return;
    select.querySelectorAll("optgroup").forEach(function (g) {
      var on = !action || g.getAttribute("data-action") === action;
      g.hidden = !on;
      g.disabled = !on;
    });
    var chosen = select.options[select.selectedIndex];
    if (action && (!chosen || chosen.getAttribute("data-action") !== action)) {
      var first = select.querySelector('option[data-action="' + action + '"]');
      select.value = first ? first.value : "";
    }
  }

  function selectTarget(i) {
    if (!targets.length) return;
    targetIndex = Math.max(0, Math.min(targets.length - 1, i));
    targets.forEach(function (t, j) { t.classList.toggle("current", j === targetIndex); });
    var fs = targets[targetIndex];
    fs.focus();
    fs.scrollIntoView({ block: "nearest" });
    document.querySelectorAll("mark.current").forEach(function (m) { m.classList.remove("current"); });
    var key = fs.getAttribute("data-target");
    if (key.indexOf("finding:") === 0) {
      var mark = document.getElementById("hit-" + key.split(":")[1]);
      if (mark) { mark.classList.add("current"); mark.scrollIntoView({ block: "nearest" }); }
    }
  }

  function setAction(action) {
    if (targetIndex < 0) selectTarget(0);
    var fs = targets[targetIndex];
    if (!fs) return;
    var radio = fs.querySelector('input[type=radio][value="' + action + '"]');
    if (!radio) return;
    radio.checked = true;
    showReasons(fs);
    var note = fs.querySelector('input[name^="note-"]');
    if (action === "dismiss" && fs.getAttribute("data-severity") === "high" && note && !note.value) {
      note.focus();   // a high-severity dismissal needs a note: type it, then Enter submits
      return;
    }
    if (targetIndex < targets.length - 1) selectTarget(targetIndex + 1);
    else fs.focus();
  }

  function itemKey(e) {
    var claim = document.querySelector("[data-claim]");
    if (claim && (e.key === "a" || e.key === "Enter")) { claim.click(); return true; }
    if (e.key === "j") { selectTarget(targetIndex + 1); return true; }
    if (e.key === "k") { selectTarget(targetIndex - 1); return true; }
    if (e.key === "c") { setAction("confirm"); return true; }
    if (e.key === "d") { setAction("dismiss"); return true; }
    if (e.key === "n") { setAction("need_info"); return true; }
    if (e.key === "e") {
      var esc = document.querySelector("[data-escalate-note]");
      if (esc) { esc.focus(); return true; }
    }
    if (e.key === "Enter") {
      var next = document.querySelector("[data-submit-next]");
      if (next && document.activeElement && document.activeElement.tagName !== "BUTTON" &&
          document.activeElement.tagName !== "A") { next.click(); return true; }
    }
    return false;
  }

  function watchItem() {
    var root = document.querySelector("[data-item]");
    if (!root) return;
    var id = root.getAttribute("data-item");
    var mine = root.getAttribute("data-mine") === "1";
    var viewers = document.querySelector("[data-viewers]");
    var holderEl = document.querySelector("[data-holder]");
    function beat() {
      post("/api/v1/items/" + encodeURIComponent(id) + "/heartbeat").then(function (data) {
        if (!data) return;
        if (viewers) viewers.textContent = (data.viewers || []).join("、");
        if (holderEl) {
          holderEl.textContent = data.holder ? "认领人：" + data.holder : "未认领";
          if (mine && !data.renewed) {
            holderEl.textContent += "（你的认领已失效，请刷新）";
          }
        }
      }).catch(function () {});
    }
    setInterval(beat, 30000);
  }

  // -- live rooms: a caption's time offset jumps into the recording (segments play one after another) --
  function watchRecording() {
    var videos = Array.prototype.slice.call(document.querySelectorAll("video[data-recording]"));
    if (!videos.length) return;
    document.querySelectorAll("[data-seek]").forEach(function (b) {
      b.addEventListener("click", function () {
        var t = parseFloat(b.getAttribute("data-seek")) || 0;
        var i = 0;
        // segments are consecutive: skip whole segments whose length is known
        while (i < videos.length - 1 && isFinite(videos[i].duration) && t >= videos[i].duration) {
          t -= videos[i].duration;
          i++;
        }
        var v = videos[i];
        v.scrollIntoView({ block: "center" });
        try { v.currentTime = t; } catch (err) { /* metadata not loaded yet: start from the beginning */ }
        v.play().catch(function () {});
        v.focus();
      });
    });
  }
  watchRecording();

  // -- keyword dry runs and re-scans: progress from the job's endpoint, then the finished page ----
  function watchJob() {
    var el = document.querySelector("[data-job]");
    if (!el) return;
    var url = el.getAttribute("data-job");
    var bar = el.querySelector("progress");
    var text = el.querySelector("[data-job-text]");
    function poll() {
      fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (job) {
          if (!job) { setTimeout(poll, 2000); return; }
          if (bar) { bar.max = Math.max(job.total, 1); bar.value = job.done; }
          if (text) text.textContent = (job.state === "waiting" ? "排队等待中…… " : "进行中…… ") + job.done + "/" + job.total;
          if (job.state === "done" || job.state === "failed") { window.location.reload(); return; }
          setTimeout(poll, 500);
        })
        .catch(function () { setTimeout(poll, 2000); });
    }
    poll();
  }
  watchJob();

  targets.forEach(function (fs) {
    showReasons(fs);
    fs.querySelectorAll("input[type=radio]").forEach(function (r) {
      r.addEventListener("change", function () { showReasons(fs); });
    });
  });

  // -- one key handler for the whole page ---------------------------------------------
  document.addEventListener("keydown", function (e) {
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    if (help && !help.hidden) {
      if (e.key === "Escape" || e.key === "?") { toggleHelp(false); e.preventDefault(); }
      return;
    }
    if (typing(e.target)) {
      if (e.key === "Escape") {
        e.target.blur();
        if (targets.length && targetIndex >= 0) targets[targetIndex].focus();
      }
      return;   // Enter in a field submits its own form natively
    }
    if (e.key === "?") { toggleHelp(true); e.preventDefault(); return; }
    var handled = false;
    if (page === "queue") handled = queueKey(e);
    else if (page === "item") handled = itemKey(e);
    if (handled) e.preventDefault();
  });

  if (page === "queue") { loadCounts(); watchQueue(); }
  if (page === "item") {
    watchItem();
    var root = document.querySelector("[data-item]");
    if (root && root.getAttribute("data-mine") === "1" && targets.length) selectTarget(0);
  }
})();
