// Helpers shared by the dashboards: same-origin JSON API calls with Django's CSRF token,
// small DOM builders, durations, and the live-state label.
(function () {
  "use strict";

  function csrfToken() {
    const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : "";
  }

  async function api(method, url, body) {
    const options = {method, credentials: "same-origin", headers: {Accept: "application/json"}};
    if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    if (method !== "GET") options.headers["X-CSRFToken"] = csrfToken();
    const response = await fetch(url, options);
    const data = response.status === 204 ? null : await response.json().catch(() => null);
    if (!response.ok) {
      const message = data && data.error ? data.error.message : `HTTP ${response.status}`;
      throw Object.assign(new Error(message), {status: response.status});
    }
    return data;
  }

  function cell(text, attrs) {
    const td = document.createElement("td");
    td.textContent = text === null || text === undefined ? "–" : String(text);
    Object.entries(attrs || {}).forEach(([k, v]) => td.setAttribute(k, v));
    return td;
  }

  function button(label, onClick, className) {
    const b = document.createElement("button");
    b.type = "button";
    b.textContent = label;
    if (className) b.className = className;
    b.addEventListener("click", onClick);
    return b;
  }

  function duration(seconds) {
    if (seconds === null || seconds === undefined || seconds < 0) return "–";
    seconds = Math.floor(seconds);
    const h = Math.floor(seconds / 3600), m = Math.floor((seconds % 3600) / 60), s = seconds % 60;
    const mm = String(m).padStart(h ? 2 : 1, "0"), ss = String(s).padStart(2, "0");
    return h ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
  }

  function percent(ratio) {
    return ratio === null || ratio === undefined ? "–" : `${Math.round(ratio * 100)}%`;
  }

  // Server time minus browser time, so "time in state" does not depend on the PC's clock.
  let skewMs = 0;
  function syncClock(serverNowIso) { skewMs = Date.parse(serverNowIso) - Date.now(); }
  function secondsSince(iso) { return iso ? (Date.now() + skewMs - Date.parse(iso)) / 1000 : null; }

  function showState(state) {
    const label = document.getElementById("live-state");
    label.dataset.state = state;
    label.textContent = {live: "live", fallback: "live (fallback polling)",
      connecting: "connecting…"}[state] || state;
  }

  function say(message) {
    document.getElementById("message").textContent = message || "";
  }

  function debounce(fn, ms) {
    let timer;
    return () => { clearTimeout(timer); timer = setTimeout(fn, ms); };
  }

  // At most one call of `fn` per `ms`, `ms` after the first ask: a steady stream of asks
  // (a busy queue's frames) still gets answered, at a bounded rate.
  function throttle(fn, ms) {
    let timer = null;
    return () => {
      if (timer === null) timer = setTimeout(() => { timer = null; fn(); }, ms);
    };
  }

  window.Dash = {api, cell, button, duration, percent, syncClock, secondsSince, showState, say,
    debounce, throttle};
})();
