// The browser side of the realtime layer (DESIGN.md §3.5): one WebSocket to /ws/ with replay
// by seq, heartbeats and reconnects; when the socket keeps failing, the long-poll endpoint
// /api/v1/events/ delivers the same logged events. Knows nothing about calls or chat.
//
//   const rt = new Realtime({groups: ["dashboard"], onFrame, onResync, onState});
//   rt.start();
//
// onFrame(frame) gets every frame (logged ones exactly once, in seq order); onResync() asks
// the page to reload its REST snapshots; onState(state) reports "live" | "fallback" |
// "connecting". While not "live" the page should refresh its snapshots on its own, since
// broadcast (dashboard) frames travel only over the socket.
(function () {
  "use strict";

  const HEARTBEAT_MS = 25000;
  const POLL_TIMEOUT_S = 25; // long-poll wait while the socket is down
  const SAFETY_POLL_START_MS = 60000; // a plain poll beside a healthy socket...
  const SAFETY_POLL_MAX_MS = 300000; // ...backing off to 5 minutes
  const FAILING_POLL_MS = 15000; // pause between long-polls that failed
  const INACTIVE_AFTER_MS = 10 * 60000; // no input for this long: stop polling
  const ACK_DELAY_MS = 1000;

  class Realtime {
    constructor(options) {
      this.groups = options.groups || [];
      this.onFrame = options.onFrame || (() => {});
      this.onResync = options.onResync || (() => {});
      this.onState = options.onState || (() => {});
      this.storageKey = "realtime.seq." + (options.userId || "me");
      const stored = sessionStorage.getItem(this.storageKey);
      this.lastSeq = stored === null ? null : Number(stored);
      this.state = "connecting";
      this.socketFailures = 0;
      this.safetyPollMs = SAFETY_POLL_START_MS;
      this.lastInput = Date.now();
      this.polling = false;
    }

    start() {
      ["mousemove", "keydown", "pointerdown", "touchstart"].forEach((name) =>
        addEventListener(name, () => { this.lastInput = Date.now(); }, {passive: true}));
      document.addEventListener("visibilitychange", () => {
        if (!document.hidden) this._pollSoon(0);
      });
      this._connect();
      this._pollSoon(this.safetyPollMs);
    }

    // -- the socket ---------------------------------------------------------------------
    _connect() {
      const scheme = location.protocol === "https:" ? "wss:" : "ws:";
      const query = new URLSearchParams();
      query.set("after", this.lastSeq === null ? "" : String(this.lastSeq));
      if (this.groups.length) query.set("subscribe", this.groups.join(","));
      let socket;
      try {
        socket = new WebSocket(`${scheme}//${location.host}/ws/?${query}`);
      } catch (error) {
        this._socketFailed();
        return;
      }
      this.socket = socket;
      socket.onmessage = (event) => this._onSocketFrame(JSON.parse(event.data));
      socket.onclose = () => {
        clearInterval(this.heartbeat);
        if (this.socket === socket) this._socketFailed();
      };
    }

    _onSocketFrame(frame) {
      if (frame.type === "ready") {
        this.socketFailures = 0;
        this._setState("live");
        this.heartbeat = setInterval(() => this._send({type: "ping", last_seq: this.lastSeq}),
          HEARTBEAT_MS);
        if (this.lastSeq === null) this._setSeq(frame.data.last_seq);
        return;
      }
      if (frame.type === "pong" || frame.type === "subscribed") return;
      this._deliver(frame);
    }

    _socketFailed() {
      this.socketFailures += 1;
      this._setState("fallback");
      this._pollSoon(0); // at once: the long-poll carries the logged events meanwhile
      const wait = Math.min(30000, 1000 * 2 ** Math.min(this.socketFailures, 5));
      setTimeout(() => this._connect(), wait * (0.5 + Math.random() / 2));
    }

    _send(frame) {
      if (this.socket && this.socket.readyState === WebSocket.OPEN) {
        this.socket.send(JSON.stringify(frame));
      }
    }

    // -- frames ---------------------------------------------------------------------------
    _deliver(frame) {
      if (frame.type === "resync") {
        this._setSeq(frame.data.last_seq);
        this.onResync();
        return;
      }
      if (typeof frame.seq === "number") {
        if (this.lastSeq !== null && frame.seq <= this.lastSeq) return; // seen already
        this._setSeq(frame.seq);
        this._ackSoon();
      }
      this.onFrame(frame);
    }

    _setSeq(seq) {
      this.lastSeq = seq;
      sessionStorage.setItem(this.storageKey, String(seq));
    }

    _ackSoon() {
      clearTimeout(this.ackTimer);
      this.ackTimer = setTimeout(() => this._send({type: "ack", seq: this.lastSeq}), ACK_DELAY_MS);
    }

    _setState(state) {
      if (state === this.state) return;
      this.state = state;
      this.onState(state);
    }

    // -- the polling fallback -------------------------------------------------------------
    _pollSoon(delay) {
      clearTimeout(this.pollTimer);
      this.pollTimer = setTimeout(() => this._poll(), delay);
    }

    _idle() {
      return document.hidden || Date.now() - this.lastInput > INACTIVE_AFTER_MS;
    }

    async _poll() {
      if (this.polling) return;
      const live = this.state === "live";
      if (this._idle()) {
        this._pollSoon(FAILING_POLL_MS); // paused while hidden or inactive
        return;
      }
      this.polling = true;
      let ok = false;
      try {
        const query = new URLSearchParams({timeout: live ? "0" : String(POLL_TIMEOUT_S)});
        if (this.lastSeq !== null) query.set("after", String(this.lastSeq));
        const response = await fetch(`/api/v1/events/?${query}`, {credentials: "same-origin"});
        if (response.ok) {
          const body = await response.json();
          body.events.forEach((frame) => this._deliver(frame));
          if (this.lastSeq === null) this._setSeq(body.last_seq);
          ok = true;
        }
      } catch (error) {
        ok = false;
      } finally {
        this.polling = false;
      }
      if (this.state === "live") {
        this.safetyPollMs = Math.min(SAFETY_POLL_MAX_MS, this.safetyPollMs * 2);
        this._pollSoon(this.safetyPollMs);
      } else {
        this.safetyPollMs = SAFETY_POLL_START_MS;
        this._pollSoon(ok ? 0 : FAILING_POLL_MS);
      }
    }
  }

  window.Realtime = Realtime;
})();
