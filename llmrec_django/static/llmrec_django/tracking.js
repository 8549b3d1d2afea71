/*
 * llmrec tracking: impressions and clicks of the lists rendered by the llmrec template tags,
 * posted to the events API (POST {endpoint} = /api/llmrec/v1/events/bulk/). No framework.
 *
 * Included by {% llmrec_tracking_script %}, enabled only for logged-in visitors (the API records a
 * logged-in account's events on its own profile; anonymous visitors post nothing).
 *
 * What it sends (user_id left out: the API uses the account's profile):
 * - "impression": once per list and page, when at least half of the list is visible
 *   (IntersectionObserver), one event per item of the list;
 * - "click": when an item of a list (an element with data-llmrec-item) is clicked;
 * - "view": once per page for each element with data-llmrec-view="<item external id>".
 * Every event carries context {list, list_id, position, source, page} and the device; list_id is
 * the served list's id, which credits the click to that list (llmrec_django.online.attribution).
 *
 * Delivery: each event gets a random id here (crypto.randomUUID), is kept in sessionStorage
 * (with data-owner, an opaque token of the account: a queue left by another account is dropped,
 * and a page rendered for an anonymous visitor, as after logging out, empties it) until the
 * server has answered, and is sent in batches with fetch(..., {keepalive: true}), so a
 * click that navigates away is still delivered. Anything not acknowledged (network error, 5xx,
 * 429) is sent again later, on this page or the next, with the same ids: the API stores an event
 * id once, so retries never double-count. navigator.sendBeacon is not used because it cannot
 * send the X-CSRFToken header that session authentication requires.
 *
 * window.llmrec.track(eventType, itemId, context) records any other event; window.llmrec.flush()
 * sends at once.
 */
(function () {
  "use strict";
  var STORE = "llmrec.pending-events";
  var script = document.currentScript;
  if (!script) {
    return;
  }
  if (script.dataset.enabled !== "true") {
    // Nobody is logged in (perhaps just logged out): whatever is queued belongs to someone else.
    try { window.sessionStorage.removeItem(STORE); } catch (e) { /* storage disabled */ }
    return;
  }
  if (!window.fetch || !window.JSON) {
    return;
  }
  var owner = script.dataset.owner || "";
  var endpoint = script.dataset.endpoint;
  var csrfCookie = script.dataset.csrfCookie || "csrftoken";
  var device = script.dataset.device || "";
  var MAX_PENDING = 1000; // oldest dropped beyond this (a long offline spell)
  var BATCH = 100; // keepalive bodies are limited to 64 KiB
  var DELAY_MS = 800;
  var RETRY_MS = 5000;
  var pending = load();
  var inFlight = false;
  var timer = null;

  function uuid() {
    if (window.crypto && crypto.randomUUID) {
      return crypto.randomUUID();
    }
    var bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    var hex = Array.prototype.map.call(bytes, function (b) { return (b + 0x100).toString(16).slice(1); }).join("");
    return [hex.slice(0, 8), hex.slice(8, 12), hex.slice(12, 16), hex.slice(16, 20), hex.slice(20)].join("-");
  }

  function cookie(name) {
    var parts = document.cookie ? document.cookie.split("; ") : [];
    for (var i = 0; i < parts.length; i++) {
      var eq = parts[i].indexOf("=");
      if (parts[i].slice(0, eq) === name) {
        return decodeURIComponent(parts[i].slice(eq + 1));
      }
    }
    return "";
  }

  function load() {
    // {owner, events}; another account's queue (or an unmarked one) is dropped, never sent.
    try {
      var stored = JSON.parse(window.sessionStorage.getItem(STORE) || "null");
      if (stored && stored.owner === owner && Array.isArray(stored.events)) {
        return stored.events;
      }
    } catch (e) {
      /* unreadable: start afresh */
    }
    return [];
  }

  function save() {
    pending = pending.slice(-MAX_PENDING);
    try {
      window.sessionStorage.setItem(STORE, JSON.stringify({ owner: owner, events: pending }));
    } catch (e) {
      /* storage full or disabled: events still go out from memory */
    }
  }

  function schedule(delay) {
    if (timer === null) {
      timer = window.setTimeout(flush, delay);
    }
  }

  function acknowledge(batch) {
    var sent = {};
    batch.forEach(function (event) { sent[event.event_id] = true; });
    pending = pending.filter(function (event) { return !sent[event.event_id]; });
    save();
  }

  function flush() {
    if (timer !== null) {
      window.clearTimeout(timer);
      timer = null;
    }
    if (inFlight || pending.length === 0) {
      return;
    }
    var batch = pending.slice(0, BATCH);
    inFlight = true;
    fetch(endpoint, {
      method: "POST",
      credentials: "same-origin",
      keepalive: true,
      headers: { "Content-Type": "application/json", "X-CSRFToken": cookie(csrfCookie) },
      body: JSON.stringify({ events: batch }),
    }).then(function (response) {
      inFlight = false;
      if (response.ok) {
        acknowledge(batch);
        if (pending.length) { schedule(0); }
      } else if (response.status === 429 || response.status >= 500) {
        schedule(RETRY_MS);
      } else {
        // Refused for good (bad rows, logged out): retrying cannot help.
        if (window.console) { console.warn("llmrec: events refused with HTTP " + response.status); }
        acknowledge(batch);
      }
    }, function () {
      inFlight = false;
      schedule(RETRY_MS);
    });
  }

  function track(eventType, itemId, context, now) {
    if (!itemId) {
      return;
    }
    pending.push({
      event_id: uuid(),
      item_id: String(itemId),
      event_type: eventType,
      timestamp: new Date().toISOString(),
      device: device,
      context: Object.assign({ page: window.location.pathname }, context || {}),
    });
    save();
    if (now) { flush(); } else { schedule(DELAY_MS); }
  }

  function listOf(element) {
    var list = element.closest("[data-llmrec-list]");
    if (!list) {
      return {};
    }
    var context = { list: list.dataset.llmrecList, source: list.dataset.llmrecSource || "" };
    if (list.dataset.llmrecListId) { context.list_id = list.dataset.llmrecListId; }
    return context;
  }

  function itemContext(element) {
    var context = listOf(element);
    var position = parseInt(element.dataset.llmrecPosition, 10);
    if (!isNaN(position)) { context.position = position; }
    return context;
  }

  function impressions(list) {
    list.querySelectorAll("[data-llmrec-item]").forEach(function (element) {
      track("impression", element.dataset.llmrecItem, itemContext(element));
    });
  }

  function start() {
    var lists = document.querySelectorAll("[data-llmrec-list]");
    if ("IntersectionObserver" in window) {
      var observer = new IntersectionObserver(function (entries) {
        entries.forEach(function (entry) {
          if (entry.isIntersecting) {
            observer.unobserve(entry.target);
            impressions(entry.target);
          }
        });
      }, { threshold: 0.5 });
      lists.forEach(function (list) { observer.observe(list); });
    } else {
      lists.forEach(impressions);
    }
    document.querySelectorAll("[data-llmrec-view]").forEach(function (element) {
      track("view", element.dataset.llmrecView, { list: "page" });
    });
    document.addEventListener("click", function (event) {
      var element = event.target.closest && event.target.closest("[data-llmrec-item]");
      if (element && element.closest("[data-llmrec-list]")) {
        track("click", element.dataset.llmrecItem, itemContext(element), true);
      }
    }, true);
    document.addEventListener("visibilitychange", function () {
      if (document.visibilityState === "hidden") { flush(); }
    });
    window.addEventListener("pagehide", flush);
    if (pending.length) { schedule(0); } // left over from the previous page
  }

  window.llmrec = { track: track, flush: flush };
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
