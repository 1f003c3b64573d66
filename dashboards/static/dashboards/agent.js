// The agent dashboard: status, the softphone (offers to accept or reject, the current call's
// controls, wrap-up), queue counts and recent calls. Offers arrive as logged events (never
// missed, even across reconnects); the agent's own state and calls as unlogged frames, with
// the REST snapshot reloaded on (re)connect.
(function () {
  "use strict";
  const {api, cell, duration, showState, say, debounce, throttle, syncClock, secondsSince} =
    window.Dash;
  const page = JSON.parse(document.getElementById("page-data").textContent);
  const $ = (id) => document.getElementById(id);
  const me = {agent: null, offer: null, call: null, voicemail: null, transfer: null, onHold: false,
    recording: false};
  const RING_SECONDS = 60; // a transfer's ring is over by then (and a replayed frame is old news)
  const OFFER_TEXT = {call: "Incoming call from", callback: "Call back", voicemail: "Voicemail from"};
  const device = window.Softphone.create(page.telephonyMode,
    (text) => { $("device-state").textContent = text; });
  // Legs the page asks for itself (chat invitations, chat.js): answered and shown "on the line".
  const line = window.Softphone.line(device, {say, onChange: () => render()});
  window.Phone = line;
  line.restore();

  // -- snapshot ---------------------------------------------------------------------------
  async function load() {
    try {
      const [agent, dashboard, recent, offers] = await Promise.all([
        api("GET", `/api/v1/agents/${page.agentId}/`),
        api("GET", "/api/v1/dashboard/"),
        api("GET", `/api/v1/calls/?agent=${page.agentId}&page_size=20`), // my legs too
        api("GET", "/api/v1/offers/"),
      ]);
      me.agent = agent;
      syncClock(dashboard.now);
      restoreOffers(offers.results);
      const mine = recent.results.filter((c) => !c.parent_call_sid);
      const live = await liveCall(mine, recent.results.filter((c) => c.parent_call_sid));
      if (live) me.call = live;
      else if (me.call && handedOver.has(me.call.call_sid)) me.call = null;
      else if (me.call && me.call.ended_at === null) me.call = await api("GET", `/api/v1/calls/${me.call.id}/`);
      if (me.call) { // the call says, after a reload too
        me.onHold = Boolean(me.call.held_since);
        me.recording = Boolean(me.call.recording_since);
      }
      myQueues = dashboard.queues.map((q) => q.id);
      renderQueues(dashboard.queues);
      renderRecent(mine.slice(0, 10));
      render();
    } catch (error) {
      say(`Could not load: ${error.message}`);
    }
  }
  const reloadSoon = debounce(load, 300);

  // The call I am on: the one my live leg serves (a call transferred to me too), else a
  // connected call of mine (a callback's customer call) I have not handed over.
  let handedOver = new Set();
  async function liveCall(mine, legs) {
    const live = new Set(legs.filter((c) => !c.ended_at).map((c) => c.parent_call_sid));
    handedOver = new Set(legs.map((c) => c.parent_call_sid).filter((sid) => !live.has(sid)));
    const leg = legs.find((c) => !c.ended_at);
    let call = leg && (mine.find((c) => c.call_sid === leg.parent_call_sid) || (await api("GET",
      `/api/v1/calls/?call_sid=${leg.parent_call_sid}`)).results[0]);
    if (!call || call.ended_at || call.stage !== "connected") {
      call = mine.find((c) => !c.ended_at && c.stage === "connected" && !handedOver.has(c.call_sid));
    }
    return call || null;
  }

  // After a reload the offer ringing me, or the voicemail I took, is only on the server. Never
  // cleared here: a frame may have told more than a snapshot read before it.
  function restoreOffers(open) {
    const ringing = open.find((o) => o.status === "offered");
    if (!me.offer && ringing && secondsSince(ringing.expires_at) < 0) me.offer = ringing;
    const taken = open.find((o) => o.status === "accepted" && o.kind === "voicemail");
    if (!me.voicemail && taken) {
      me.voicemail = taken;
      if (taken.voicemail) $("voicemail-audio").src = taken.voicemail.recording_url;
    }
  }
  // My queues' counts follow their calls (the queue.<id> groups), re-read at most every 3 s.
  const queuesSoon = throttle(() => api("GET", "/api/v1/dashboard/")
    .then((dashboard) => renderQueues(dashboard.queues)).catch(() => {}), 3000);
  let myQueues = [];

  function render() {
    const a = me.agent;
    if (!a) return;
    $("my-status").textContent = a.status + (a.away_reason ? ` (${a.away_reason})` : "");
    $("my-activity").textContent = a.activity.replace("_", "-");
    const offered = me.offer !== null;
    const onCall = me.call !== null && !me.call.ended_at;
    const wrapping = a.activity === "wrap_up";
    const listening = me.voicemail !== null;
    $("offer").hidden = !offered;
    $("voicemail").hidden = !listening || offered;
    $("current-call").hidden = !onCall || offered;
    $("wrap-up").hidden = !wrapping || onCall || listening;
    const transfer = me.transfer !== null;
    $("transfer-offer").hidden = !transfer;
    if (transfer) {
      const by = me.transfer.by ? me.transfer.by.name : "A colleague";
      $("transfer-text").textContent = `${by} transfers a caller to you (${me.transfer.mode}).`;
    }
    $("idle-note").hidden = offered || onCall || wrapping || listening || transfer || line.active();
    if (onCall) $("line").hidden = true; // our own call (an internal one we placed) shows above
    if (offered) {
      const callback = me.offer.callback;
      $("offer-kind").textContent = OFFER_TEXT[me.offer.kind] || OFFER_TEXT.call;
      $("offer-from").textContent = (callback && callback.number) || me.offer.from_number || "unknown";
      $("offer-queue").textContent = me.offer.queue_name || "";
    }
    if (listening) $("voicemail-from").textContent = me.voicemail.from_number || "unknown";
    if (onCall) {
      const outbound = (me.call.direction || "").startsWith("outbound");
      $("call-from").textContent = (outbound ? me.call.to_number : me.call.from_number) || "unknown";
      $("call-stage").textContent = me.call.stage;
      $("call-hold").textContent = me.onHold ? "· on hold" : "";
      $("hold").hidden = me.onHold;
      $("unhold").hidden = !me.onHold;
      $("record").textContent = me.recording ? "Stop recording" : "Record";
    }
  }

  function renderQueues(queues) {
    $("queues").tBodies[0].replaceChildren(...queues.map((q) => {
      const tr = document.createElement("tr");
      tr.dataset.queueId = q.id;
      tr.append(cell(q.name), cell(q.waiting, {"data-field": "waiting"}),
        cell(duration(q.longest_wait_seconds)), cell(q.agents.available));
      return tr;
    }));
  }

  function renderRecent(calls) {
    $("recent").tBodies[0].replaceChildren(...calls.map((c) => {
      const tr = document.createElement("tr");
      tr.dataset.callId = c.id;
      tr.append(cell(new Date(c.created_at).toLocaleTimeString()), cell(c.from_number),
        cell(c.outcome || c.stage), cell(duration(c.talk_seconds)), cell(c.disposition || ""));
      return tr;
    }));
  }

  // -- live frames ------------------------------------------------------------------------
  async function onFrame(frame) {
    const data = frame.data;
    if (window.Chat) window.Chat.onFrame(frame); // the chat panel (chat.js)
    if (frame.type === "offer.created") {
      me.offer = data; // a call or callback rings the softphone; a voicemail rings nothing
    } else if (frame.type === "offer.updated") {
      const offer = me.offer && me.offer.reservation_id === data.reservation_id ? me.offer : null;
      if (offer) me.offer = null;
      if (data.kind === "voicemail") {
        if (data.status === "accepted" && offer) {
          me.voicemail = offer;
          $("voicemail-audio").src = offer.voicemail.recording_url;
        } else if (data.status !== "accepted") {
          me.voicemail = null;
        }
      } else if (data.status === "accepted" && (data.kind || "call") === "call") {
        me.call = await api("GET", `/api/v1/calls/${data.call_id}/`);
        // The call is ours from now on, but the API shows the number only once it records the
        // agent on it; the offer already told us who is calling.
        if (!me.call.from_number && offer) me.call.from_number = offer.from_number;
        me.onHold = Boolean(me.call.held_since);
        me.recording = Boolean(me.call.recording_since);
      }
    } else if (frame.type === "transfer.offered" && secondsSince(data.at) < RING_SECONDS) {
      me.transfer = data;
      setTimeout(() => { if (me.transfer === data) { me.transfer = null; render(); } },
        RING_SECONDS * 1000);
    } else if (frame.type === "agent.updated" && data.id === page.agentId) {
      Object.assign(me.agent, data);
      if (data.activity !== "on_call" && data.activity !== "offered") reloadSoon();
    } else if (frame.type === "call.updated" && me.call && data.id === me.call.id) {
      Object.assign(me.call, data); // frames carry no numbers: from_number is kept
      me.onHold = Boolean(data.held_since); // the conference's hold callbacks decide
      me.recording = Boolean(data.recording_since); // and the recording's
      if (data.ended_at) reloadSoon();
    } else if (frame.type === "call.updated" && !me.call && data.stage === "connected"
        && data.agent_id === page.agentId) {
      reloadSoon(); // a call of ours connected: a callback's customer answered
    } else if (frame.type === "call.updated" && data.parent_id && data.agent_id === page.agentId
        && (data.status === "in-progress" ? !me.call : me.call && data.parent_id === me.call.id)) {
      reloadSoon(); // a leg of mine answered (a call transferred to me) or left (handed over)
    }
    if (frame.type === "call.updated" && myQueues.includes(data.queue_id)) queuesSoon();
    render();
  }

  let fallbackTimer = null;
  function onState(state) {
    showState(state);
    load(); // (re)connected or fell back: the snapshot may have moved on
    if (window.Chat) window.Chat.reload();
    // The long-poll carries my logged events (offers, chat) but not the broadcast updates of
    // my status, calls and queues: without the socket, re-read the snapshot.
    clearInterval(fallbackTimer);
    if (state !== "live") fallbackTimer = setInterval(load, 5000);
  }

  // -- actions ----------------------------------------------------------------------------
  async function act(request) {
    try {
      say("");
      await request();
    } catch (error) {
      say(error.message);
    }
  }

  document.querySelectorAll("[data-status]").forEach((b) => b.addEventListener("click", () => {
    const status = b.dataset.status;
    const body = status === "away" ? {status, reason: $("away-reason").value} : {status};
    act(async () => {
      me.agent = await api("POST", `/api/v1/agents/${page.agentId}/status/`, body);
      render();
    });
  }));
  // A voicemail is taken or declined here; calls and callbacks on the softphone.
  const deskOffer = (step) => api("POST", `/api/v1/offers/${me.offer.reservation_id}/${step}/`);
  const onPhone = () => !me.offer || me.offer.kind !== "voicemail";
  $("accept").addEventListener("click", () => act(() => (onPhone() ? device.answer() : deskOffer("accept"))));
  $("reject").addEventListener("click", () => act(() => (onPhone() ? device.reject() : deskOffer("reject"))));
  // A transferred caller rings my softphone outside routing's offers: answered "on the line".
  function takeTransfer(step) {
    const transfer = me.transfer;
    me.transfer = null;
    render();
    if (!transfer) return Promise.resolve();
    if (step === "decline") return device.reject(RING_SECONDS * 1000);
    const by = transfer.by ? ` from ${transfer.by.name}` : "";
    return line.join(`a caller transferred${by} (call #${transfer.call_id})`);
  }
  $("transfer-answer").addEventListener("click", () => act(() => takeTransfer("answer")));
  $("transfer-decline").addEventListener("click", () => act(() => takeTransfer("decline")));
  $("voicemail-done").addEventListener("click", () => act(async () => {
    await api("POST", `/api/v1/offers/${me.voicemail.reservation_id}/complete/`);
    me.voicemail = null;
    render();
  }));
  const control = (path, body) => api("POST", `/api/v1/calls/${me.call.id}/${path}/`, body);
  $("hold").addEventListener("click", () => act(async () => {
    await control("hold", {hold: true}); me.onHold = true; render();
  }));
  $("unhold").addEventListener("click", () => act(async () => {
    await control("hold", {hold: false}); me.onHold = false; render();
  }));
  $("record").addEventListener("click", () => act(async () => {
    await control("recording", {record: !me.recording}); me.recording = !me.recording; render();
  }));
  $("hangup").addEventListener("click", () => act(() => control("hangup")));
  const TRANSFER_HINT = {queue: "queue id", agent: "agent id", number: "+14155550123"};
  $("transfer-kind").addEventListener("change", () => {
    $("transfer-to").placeholder = TRANSFER_HINT[$("transfer-kind").value];
  });
  $("transfer").addEventListener("click", () => act(() => {
    const kind = $("transfer-kind").value;
    const to = $("transfer-to").value.trim();
    const mode = kind === "queue" ? "cold" : $("transfer-mode").value; // a queue takes it cold
    return control("transfer", {mode, [kind]: kind === "number" ? to : Number(to)});
  }));
  $("leave").addEventListener("click", () => act(() => control("leave")));
  // Click-to-call: the number is dialed first, then my softphone rings into its conference.
  $("dial").addEventListener("submit", (event) => {
    event.preventDefault();
    const to = $("dial-to").value.trim();
    act(async () => {
      await api("POST", "/api/v1/calls/dial/", {to});
      $("dial-to").value = "";
      await line.join(`a call to ${to}`);
    });
  });
  page.dispositions.forEach((d) => $("disposition").add(new Option(d, d)));
  $("wrap-up").addEventListener("submit", (event) => {
    event.preventDefault();
    act(async () => {
      me.agent = await api("POST", `/api/v1/agents/${page.agentId}/wrap-up/`,
        {disposition: $("disposition").value, notes: $("notes").value});
      me.call = null;
      $("notes").value = "";
      render();
      reloadSoon();
    });
  });

  const resync = () => { load(); if (window.Chat) window.Chat.reload(); };
  load().then(() => new window.Realtime({userId: page.userId, onFrame, onResync: resync, onState,
    groups: myQueues.map((id) => `queue.${id}`)}).start());
})();
