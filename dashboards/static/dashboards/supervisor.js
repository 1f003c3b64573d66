// The supervisor dashboard: the /api/v1/dashboard/ snapshot, kept live by `agent.updated`
// frames (patched in place) and `call.updated` frames (a debounced snapshot reload).
(function () {
  "use strict";
  const {api, cell, button, duration, percent, syncClock, secondsSince, showState, say,
    debounce} = window.Dash;
  const page = JSON.parse(document.getElementById("page-data").textContent);
  const $ = (id) => document.getElementById(id);
  // Listening in rings this page's softphone (only a supervisor with an agent profile has one),
  // which takes rings only when asked: a call routed to the supervisor rings elsewhere.
  const phone = page.hasSoftphone ? window.Softphone.create(page.telephonyMode,
    (text) => { $("device-state").textContent = text; }, {onDemand: true}) : null;
  const line = phone && window.Softphone.line(phone,
    {say, onChange: () => { $("idle-note").hidden = line.active(); }});
  if (line) line.restore();
  let snapshot = null;
  let fallbackTimer = null;

  async function load() {
    try {
      snapshot = await api("GET", "/api/v1/dashboard/");
      syncClock(snapshot.now);
      render();
    } catch (error) {
      say(`Could not load the dashboard: ${error.message}`);
    }
  }
  const reloadSoon = debounce(load, 300);

  function render() {
    renderQueues();
    renderWaiting();
    renderAgents();
  }

  function renderQueues() {
    const body = document.querySelector("#queues tbody");
    body.replaceChildren(...snapshot.queues.map((q) => {
      const tr = document.createElement("tr");
      tr.dataset.queueId = q.id;
      const oldest = q.oldest_enqueued_at ? secondsSince(q.oldest_enqueued_at) : 0;
      tr.append(cell(q.name), cell(q.waiting, {"data-field": "waiting"}),
        cell(duration(oldest), {"data-since": q.oldest_enqueued_at || ""}),
        cell(`${q.voicemails_waiting} / ${q.callbacks_waiting}`, {"data-field": "work"}),
        cell(q.agents.available, {"data-field": "available"}),
        cell(q.agents.on_call + (q.agents.offered || 0), {"data-field": "on_call"}),
        cell(q.agents.wrap_up), cell(q.agents.away), cell(q.agents.offline),
        cell(percent(q.today.service_level)), cell(q.today.abandoned),
        cell(percent(q.last_30_minutes.service_level)), cell(q.last_30_minutes.abandoned));
      return tr;
    }));
  }

  function renderWaiting() {
    const body = document.querySelector("#waiting tbody");
    const names = Object.fromEntries(snapshot.queues.map((q) => [q.id, q.name]));
    const rows = (snapshot.waiting_calls || []).map((c) => {
      const tr = document.createElement("tr");
      tr.dataset.callId = c.id;
      const actions = cell("");
      const move = document.createElement("select");
      move.setAttribute("aria-label", `Move call ${c.id} to another queue`);
      move.add(new Option("move to…", ""));
      snapshot.queues.filter((q) => q.id !== c.queue).forEach((q) => move.add(new Option(q.name, q.id)));
      move.addEventListener("change", () => move.value && act(
        () => api("POST", `/api/v1/calls/${c.id}/move/`, {queue: Number(move.value)})));
      actions.replaceChildren(button("Priority +1", () => act(
        () => api("POST", `/api/v1/calls/${c.id}/priority/`, {priority: c.priority + 1}))), move);
      tr.append(cell(`#${c.id}`), cell(names[c.queue]), cell(c.position), cell(c.priority),
        cell(duration(secondsSince(c.enqueued_at)), {"data-since": c.enqueued_at}), actions);
      return tr;
    });
    body.replaceChildren(...rows);
  }

  function agentRow(a) {
    const tr = document.createElement("tr");
    tr.dataset.agentId = a.id;
    const since = a.activity !== "idle" ? a.activity_changed_at : a.status_changed_at;
    const call = a.current_call;
    const actions = cell("");
    const choose = document.createElement("select");
    choose.setAttribute("aria-label", `Set ${a.name}'s status`);
    ["", "available", "away", "offline"].forEach((s) => choose.add(new Option(s || "set status…", s)));
    choose.addEventListener("change", () => {
      const status = choose.value;
      if (!status) return;
      const body = status === "away" ? {status, reason: "set by supervisor"} : {status};
      act(() => api("POST", `/api/v1/agents/${a.id}/status/`, body));
    });
    actions.append(choose);
    // Listening in needs a conversation in a queue of the call: not a ringing offer.
    if (call && call.stage === "connected" && call.queue !== null) {
      ["listen", "whisper", "barge"].forEach((mode) => actions.append(button(mode, () => act(async () => {
        if (phone) await phone.prepare();
        await api("POST", `/api/v1/calls/${call.id}/monitor/`, {mode});
        if (line) await line.join(`${mode} · ${a.name}, call #${call.id}`);
      }), "small")));
    }
    tr.append(cell(a.name), cell(a.status + (a.away_reason ? ` (${a.away_reason})` : ""),
      {"data-field": "status"}), cell(a.activity, {"data-field": "activity"}),
      cell(duration(secondsSince(since)), {"data-since": since || ""}),
      cell(call ? `#${call.id} ${call.stage}` : "", {"data-field": "call"}),
      cell(a.calls_answered_today), actions);
    return tr;
  }

  function renderAgents() {
    document.querySelector("#agents tbody").replaceChildren(...snapshot.agents.map(agentRow));
  }

  async function act(request) {
    try {
      say("");
      await request();
      reloadSoon();
    } catch (error) {
      say(error.message);
    }
  }

  function onFrame(frame) {
    if (!snapshot) return;
    if (frame.type === "agent.updated") {
      const agent = snapshot.agents.find((a) => a.id === frame.data.id);
      if (agent) {
        Object.assign(agent, frame.data);
        const row = document.querySelector(`#agents tr[data-agent-id="${agent.id}"]`);
        if (row) row.replaceWith(agentRow(agent));
      }
      reloadSoon(); // queue counts follow agents
    } else if (frame.type === "call.updated") {
      reloadSoon();
    }
  }

  function onState(state) {
    showState(state);
    clearInterval(fallbackTimer);
    // Dashboard broadcasts travel only over the socket: without it, poll the snapshot.
    if (state !== "live") fallbackTimer = setInterval(load, 5000);
    else load();
  }

  // Durations tick every second from their timestamps.
  setInterval(() => document.querySelectorAll("[data-since]").forEach((td) => {
    if (td.dataset.since) td.textContent = duration(secondsSince(td.dataset.since));
  }), 1000);

  load().then(() => {
    const groups = ["dashboard", ...((snapshot && snapshot.queues) || []).map((q) => `queue.${q.id}`)];
    new window.Realtime({groups, userId: page.userId, onFrame, onResync: load, onState})
      .start();
  });
})();
