// Threadline's page script: paging as you scroll, permalinks beyond the first screen,
// live updates, "load more" of long texts, sub-agents opened in place, and keys.
// Inserted fragments are HTML the server rendered and escaped; the page's
// Content-Security-Policy runs no script but this file.
(function () {
  "use strict";
  var items = document.getElementById("items");
  var exported = items && items.dataset.exported === "1";
  var POLL_MS = 2000;
  var loading = null;

  function fetchText(url) {
    return fetch(url, { credentials: "same-origin", cache: "no-store" });
  }

  // -- paging a thread ---------------------------------------------------------
  // Resolves true once a page of items is on the page, false when nothing was loaded
  // (the thread is all here, or the request failed). data-next changes only with the
  // items it describes, so no caller ever sees "all loaded" while "Load more" is still
  // there; and nothing calls again on false, which would spin without yielding.
  function loadNext(until) {
    if (!items || exported || items.dataset.next === "") return Promise.resolve(false);
    if (loading) return loading;
    var from = parseInt(items.dataset.next, 10);
    var limit = until != null && until >= from ? Math.min(until - from + 50, 1000) : 200;
    var url = "/thread/" + encodeURIComponent(items.dataset.thread) + "/items?from=" + from + "&limit=" + limit;
    loading = fetchText(url).then(function (response) {
      if (response.status === 204) return { next: "", html: "" };
      if (!response.ok) throw new Error(response.status + " from " + url);
      setCount(response.headers.get("X-Item-Count"));
      var next = response.headers.get("X-Next") || "";
      return response.text().then(function (html) { return { next: next, html: html }; });
    }).then(function (got) {
      if (got.html) append(got.html);
      items.dataset.next = got.next;
      var more = document.getElementById("more");
      if (more) {
        if (got.next === "") more.parentNode.removeChild(more);
        else { more.href = "?from=" + got.next; more.textContent = "Load more (from #" + got.next + ")"; }
      }
      loading = null;
      return true;
    }, function () { loading = null; return false; });
    return loading;
  }

  // Appends a fragment of items; a result whose call is already on the page (the call
  // came in an earlier page or poll) moves into that call, as the server pairs them.
  function append(html) {
    var before = items.lastElementChild;
    items.insertAdjacentHTML("beforeend", html);
    var added = [];
    for (var node = before ? before.nextElementSibling : items.firstElementChild; node; node = node.nextElementSibling) {
      added.push(node);
    }
    return added.filter(function (node) { return !pair(node); });
  }
  function pair(node) {
    var callId = node.dataset.resultFor;
    if (!callId) return false;
    var call = items.querySelector('li.tool[data-call="' + CSS.escape(callId) + '"]');
    if (!call || call.querySelector(".tool-result")) return false;
    var io = call.querySelector(".io");
    var result = document.createElement("div");
    result.className = "tool-result";
    result.id = node.id;
    result.dataset.pos = node.dataset.pos;
    var label = document.createElement("div");
    label.className = "label";
    var size = node.querySelector("summary .size");
    label.textContent = (node.classList.contains("error") ? "error · " : "result · ") + (size ? size.textContent : "") + " · #" + node.dataset.pos;
    result.appendChild(label);
    Array.prototype.slice.call(node.querySelector(".io").childNodes).forEach(function (child) { result.appendChild(child); });
    io.appendChild(result);
    var pending = call.querySelector("summary .size");
    if (pending && size) pending.textContent = (node.classList.contains("error") ? "error " : "result ") + size.textContent;
    if (node.classList.contains("error")) call.classList.add("error");
    call.classList.add("fresh");
    node.parentNode.removeChild(node);
    return true;
  }

  function setCount(value) {
    if (!value) return;
    items.dataset.count = value;
    var shown = document.getElementById("item-count");
    if (shown) shown.textContent = value;
  }

  if (items && !exported) {
    var more = document.getElementById("more");
    if (more && "IntersectionObserver" in window) {
      new IntersectionObserver(function (seen) {
        if (seen.some(function (e) { return e.isIntersecting; })) refillIfShort();
      }, { rootMargin: "800px" }).observe(more);
      more.addEventListener("click", function (event) { event.preventDefault(); loadNext(); });
    }
  }
  function refillIfShort() {
    var more = document.getElementById("more");
    if (!more || more.getBoundingClientRect().top >= window.innerHeight + 800) return;
    loadNext().then(function (loaded) { if (loaded) refillIfShort(); });
  }

  // -- live: a growing thread ---------------------------------------------------
  // Polls for items after the last one once the whole thread is on the page (ADR 0012).
  function poll() {
    if (document.hidden || loading || items.dataset.next !== "") return;
    var from = items.dataset.count;
    var url = "/thread/" + encodeURIComponent(items.dataset.thread) + "/items?from=" + from;
    loading = fetchText(url).then(function (response) {
      setCount(response.headers.get("X-Item-Count"));
      return response.status === 200 ? response.text() : "";
    }).then(function (html) {
      loading = null;
      if (!html) return;
      append(html).forEach(function (node) { node.classList.add("fresh"); });
      document.dispatchEvent(new CustomEvent("threadline:grew"));
    }, function () { loading = null; });
  }
  if (items && !exported && !items.closest(".subagent")) setInterval(poll, POLL_MS);

  // -- permalinks -----------------------------------------------------------------
  function reveal(element) {
    for (var node = element; node; node = node.parentElement) {
      if (node.tagName === "DETAILS") node.open = true;
      if (node.hidden) node.hidden = false;
    }
    var item = element.closest(".item") || element;
    document.querySelectorAll(".targeted").forEach(function (n) { n.classList.remove("targeted"); });
    element.classList.add("targeted");
    element.scrollIntoView({ block: "start" });
    focusItem(item, false);
  }
  function goToHash() {
    var id = decodeURIComponent(location.hash.slice(1));
    if (!id) return;
    var element = document.getElementById(id);
    if (element) { reveal(element); return; }
    var match = /^item-(\d+)$/.exec(id);
    if (!match || !items || items.dataset.next === "") return;
    loadNext(parseInt(match[1], 10)).then(function (ok) { if (ok) goToHash(); });
  }
  // A permalink decides where a reloaded page opens: the browser's own restoration would
  // put it at the end of the first screen (all that is there yet) and load from there.
  if (items && /^#item-\d+$/.test(location.hash) && "scrollRestoration" in history) {
    history.scrollRestoration = "manual";
  }
  window.addEventListener("hashchange", goToHash);
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", goToHash);
  else goToHash();

  // -- clicks: load the rest of a text, open a sub-agent in place ----------------
  document.addEventListener("click", function (event) {
    var button = event.target.closest("button");
    if (!button) return;
    if (button.classList.contains("load-rest")) loadRest(button);
    else if (button.classList.contains("open-sub")) openSub(button);
  });

  function loadRest(button) {
    var cut = button.closest(".cut");
    var pre = cut.previousElementSibling;
    button.disabled = true;
    fetchText(cut.dataset.url + "&offset=" + cut.dataset.offset).then(function (response) {
      var next = response.headers.get("X-Next-Offset");
      return response.text().then(function (text) {
        pre.appendChild(document.createTextNode(text));
        if (!next) cut.parentNode.removeChild(cut);
        else { cut.dataset.offset = next; button.disabled = false; }
      });
    });
  }

  function openSub(button) {
    var box = button.closest(".subagent");
    var list = box.querySelector(".sub-items");
    var open = button.getAttribute("aria-expanded") === "true";
    if (open) { list.hidden = true; button.setAttribute("aria-expanded", "false"); button.textContent = "Open here"; return; }
    var show = function () { list.hidden = false; button.setAttribute("aria-expanded", "true"); button.textContent = "Close"; };
    if (list.dataset.loaded) { show(); return; }
    fetchText("/thread/" + encodeURIComponent(box.dataset.thread) + "/items?from=0&limit=500&embed=1").then(function (response) {
      var rest = response.headers.get("X-Next");
      return response.text().then(function (html) {
        list.insertAdjacentHTML("beforeend", html);
        if (rest) {
          var link = document.createElement("a");
          link.href = "/thread/" + encodeURIComponent(box.dataset.thread) + "?from=" + rest;
          link.textContent = "the rest of this sub-agent thread →";
          list.appendChild(link);
        }
        list.dataset.loaded = "1";
        show();
      });
    });
  }

  // -- keys ---------------------------------------------------------------------------
  var focused = null;
  function navigable() {
    return Array.prototype.filter.call(document.querySelectorAll("main .item"), function (node) {
      return node.offsetParent !== null && !node.classList.contains("quiet");
    });
  }
  function focusItem(node, scroll) {
    if (focused) focused.classList.remove("focused");
    focused = node;
    if (!node) return;
    node.classList.add("focused");
    if (node.tabIndex >= -1 && node.tagName === "LI") node.focus({ preventScroll: true });
    if (scroll !== false) node.scrollIntoView({ block: "nearest" });
  }
  function step(delta) {
    var list = navigable();
    if (!list.length) return;
    var at = focused ? list.indexOf(focused) : -1;
    var next = at < 0 ? (delta > 0 ? 0 : list.length - 1) : Math.max(0, Math.min(list.length - 1, at + delta));
    focusItem(list[next]);
    if (delta > 0 && next >= list.length - 3) loadNext();
  }
  function toggle() {
    if (!focused) return;
    var link = focused.querySelector(".c-title a, a.hit");
    if (link) { location.href = link.href; return; }
    var sub = focused.querySelector(":scope > .subagent .open-sub");
    var fold = focused.querySelector(":scope > details, :scope > .head + details");
    if (fold) fold.open = !fold.open;
    else if (sub) sub.click();
  }
  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    var target = event.target;
    if (target && (target.tagName === "INPUT" || target.tagName === "TEXTAREA" || target.tagName === "SELECT" || target.isContentEditable)) {
      if (event.key === "Escape") target.blur();
      return;
    }
    if (event.key === "j") { step(1); event.preventDefault(); }
    else if (event.key === "k") { step(-1); event.preventDefault(); }
    else if (event.key === "o" || event.key === "Enter" && focused) { toggle(); event.preventDefault(); }
    else if (event.key === "/") {
      var box = document.getElementById("search-box");
      if (box) { box.focus(); box.select(); event.preventDefault(); }
    }
  });
})();
