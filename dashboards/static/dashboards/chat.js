// The chat panel of the agent dashboard: conversations with unread counts and typing, the open
// thread, pings and call invitations. Logged frames (message.*, conversation.*, invitation.*)
// arrive exactly once through the page's realtime client; typing frames are unlogged and
// expire here after their `ttl` unless refreshed. The page calls Chat.onFrame and
// Chat.reload (on (re)connect and resync).
(function () {
  "use strict";
  const {api, button, say} = window.Dash;
  const page = JSON.parse(document.getElementById("page-data").textContent);
  const $ = (id) => document.getElementById(id);
  const TYPING_REFRESH_MS = 3000;
  const state = {conversations: new Map(), open: null, typing: new Map(),
    invitations: new Map(), typingSentAt: 0};

  function newId() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    return "10000000-1000-4000-8000-100000000000".replace(/[018]/g, (c) =>
      (c ^ (Math.random() * 16) >> (c / 4)).toString(16));
  }

  function titleOf(c) {
    if (c.title) return c.title;
    return c.participants.filter((p) => p.id !== page.userId).map((p) => p.name).join(", ");
  }

  // -- snapshots --------------------------------------------------------------------------
  async function reload() {
    try {
      const [inbox, pending] = await Promise.all([
        api("GET", "/api/v1/conversations/?page_size=50"),
        api("GET", "/api/v1/invitations/pending/"),
      ]);
      state.conversations = new Map(inbox.results.map((c) => [c.id, c]));
      state.invitations = new Map(pending.results.map((i) => [i.id, i]));
      renderList();
      renderInvitations();
      if (state.open) await openConversation(state.open.id);
    } catch (error) {
      say(`Could not load messages: ${error.message}`);
    }
  }

  async function loadColleagues() {
    const select = $("colleague");
    // Every page of them: a call center has more agents than one page holds.
    for (let url = "/api/v1/agents/?page_size=200"; url;) {
      const agents = await api("GET", url);
      agents.results.filter((a) => a.user.id !== page.userId).forEach((a) =>
        select.add(new Option(a.user.name || a.user.username, a.user.id)));
      url = agents.next;
    }
  }

  // -- rendering --------------------------------------------------------------------------
  function typingIn(conversationId) {
    const now = Date.now();
    return [...state.typing.values()]
      .filter((t) => t.conversation === conversationId && t.until > now).map((t) => t.name);
  }

  function renderList() {
    const items = [...state.conversations.values()]
      .sort((a, b) => String(b.last_activity_at).localeCompare(String(a.last_activity_at)));
    $("conversations").replaceChildren(...items.map((c) => {
      const li = document.createElement("li");
      li.dataset.conversationId = c.id;
      if (state.open && state.open.id === c.id) li.className = "open";
      const name = button(titleOf(c), () => openConversation(c.id), "link");
      const unread = document.createElement("span");
      unread.className = "unread";
      unread.textContent = c.unread ? String(c.unread) : "";
      const typing = document.createElement("span");
      typing.className = "typing";
      typing.textContent = typingIn(c.id).length ? "typing…" : "";
      const last = document.createElement("small");
      last.textContent = c.last_message ? ` ${c.last_message.deleted ? "(deleted)"
        : c.last_message.body}` : "";
      li.append(name, unread, typing, last);
      return li;
    }));
    const total = items.reduce((sum, c) => sum + (c.unread || 0), 0);
    $("chat-unread").textContent = total ? `(${total} unread)` : "";
  }

  function renderMessage(m) {
    const li = document.createElement("li");
    li.dataset.messageId = m.id;
    const who = document.createElement("strong");
    who.textContent = m.sender.id === page.userId ? "Me" : m.sender.name;
    const text = document.createElement("span");
    text.textContent = m.deleted ? " (deleted)" : ` ${m.kind === "ping" ? "🔔 " : ""}${m.body}`
      + (m.edited_at && !m.deleted ? " (edited)" : "");
    li.append(who, text);
    m.attachments.forEach((a) => {
      const link = document.createElement("a");
      link.href = a.url;
      link.textContent = ` 📎 ${a.name}`;
      li.append(link);
    });
    return li;
  }

  function renderThread() {
    const open = state.open;
    $("thread").hidden = !open;
    if (!open) return;
    const c = state.conversations.get(open.id);
    $("thread-title").textContent = c ? titleOf(c) : "";
    $("thread-messages").replaceChildren(...open.messages.map(renderMessage));
    const list = $("thread-messages");
    list.scrollTop = list.scrollHeight;
    renderTyping();
  }

  function renderTyping() {
    if (state.open) {
      const names = typingIn(state.open.id);
      $("thread-typing").textContent = names.length ? `${names.join(", ")} typing…` : "";
    }
    renderList();
  }

  function renderInvitations() {
    const now = Date.now();
    $("invitations").replaceChildren(...[...state.invitations.values()]
      .filter((i) => Date.parse(i.expires_at) > now).map((i) => {
        const div = document.createElement("div");
        div.className = "invitation";
        div.dataset.invitationId = i.id;
        const text = document.createElement("span");
        const what = i.call === null ? "a call with them" : "join their call";
        text.textContent = `${i.caller.name} invites you to ${what}${i.note ? `: ${i.note}` : ""} `;
        div.append(text,
          button(i.call === null ? "Call" : "Join", () => answer(i.id, "accept")),
          button("Decline", () => answer(i.id, "decline"), "secondary"));
        return div;
      }));
  }

  // -- actions ----------------------------------------------------------------------------
  async function openConversation(id) {
    const messages = await api("GET", `/api/v1/conversations/${id}/messages/?page_size=50`);
    state.open = {id, messages: messages.results.reverse()};
    renderThread();
    await markRead(id);
  }

  async function markRead(id) {
    const c = state.conversations.get(id);
    if (!c || !c.unread) return;
    await api("POST", `/api/v1/conversations/${id}/read/`, {});
    c.unread = 0;
    renderList();
  }

  async function send(body) {
    const open = state.open;
    const payload = {body, client_id: newId()};
    const url = `/api/v1/conversations/${open.id}/messages/`;
    try {
      return await api("POST", url, payload);
    } catch (error) {
      return api("POST", url, payload); // a retry with the same client id never duplicates
    }
  }

  async function answer(id, action) {
    const invitation = state.invitations.get(id);
    try {
      await api("POST", `/api/v1/invitations/${id}/${action}/`);
    } catch (error) {
      say(error.message);
      action = null;
    }
    state.invitations.delete(id);
    renderInvitations();
    if (action === "accept" && invitation) {
      const name = invitation.caller.name;
      join(invitation.call === null ? `a call with ${name}` : `${name}'s call`);
    }
  }

  // Accepting dials my softphone; my invitation to a new call, once accepted, dials mine too.
  function join(label) {
    if (window.Phone) window.Phone.join(label).catch((error) => say(error.message));
  }

  // -- live frames ------------------------------------------------------------------------
  const reloadSoon = window.Dash.debounce(reload, 300);

  function onFrame(frame) {
    const d = frame.data;
    if (frame.type === "message.created") {
      const c = state.conversations.get(d.conversation);
      if (!c) { reloadSoon(); return; }
      c.last_message = d;
      c.last_activity_at = d.created_at;
      state.typing.delete(`${d.conversation}:${d.sender.id}`);
      const mine = d.sender.id === page.userId;
      if (state.open && state.open.id === d.conversation) {
        if (!state.open.messages.some((m) => m.id === d.id)) state.open.messages.push(d);
        renderThread();
      } else if (!mine) {
        c.unread = (c.unread || 0) + 1;
      }
      if (d.ping && !mine) $("ping-note").textContent = `${d.sender.name} pinged you: ${d.body}`;
      renderList();
      if (!mine && state.open && state.open.id === d.conversation && !document.hidden) {
        c.unread = 1;
        markRead(d.conversation);
      }
    } else if (frame.type === "message.updated") {
      if (state.open && state.open.id === d.conversation) {
        state.open.messages = state.open.messages.map((m) => (m.id === d.id ? d : m));
        renderThread();
      }
    } else if (frame.type === "conversation.read" && d.user === page.userId) {
      const c = state.conversations.get(d.conversation);
      if (c) { c.unread = 0; renderList(); }
    } else if (frame.type === "conversation.created") {
      reloadSoon();
    } else if (frame.type === "typing") {
      const key = `${d.conversation}:${d.user.id}`;
      if (d.typing) {
        state.typing.set(key, {conversation: d.conversation, name: d.user.name,
          until: Date.now() + d.ttl * 1000});
        setTimeout(renderTyping, d.ttl * 1000 + 50); // expires here even without a stop
      } else {
        state.typing.delete(key);
      }
      renderTyping();
    } else if (frame.type === "invitation.created" || frame.type === "invitation.updated") {
      if (d.receiver.id === page.userId && d.status === "pending") state.invitations.set(d.id, d);
      else state.invitations.delete(d.id);
      renderInvitations();
      // A frame replayed after a reconnect is no news: the ring, if any, is long over.
      const fresh = d.responded_at && window.Dash.secondsSince(d.responded_at) < 60;
      const mine = d.caller.id === page.userId;
      if (frame.type === "invitation.updated" && mine && fresh && d.status === "accepted"
          && d.call === null) {
        join(`a call with ${d.receiver.name}`);
      }
    }
  }

  // -- wiring -----------------------------------------------------------------------------
  $("composer-body").addEventListener("input", () => {
    if (!state.open || !$("composer-body").value) return;
    if (Date.now() - state.typingSentAt < TYPING_REFRESH_MS) return;
    state.typingSentAt = Date.now();
    api("POST", `/api/v1/conversations/${state.open.id}/typing/`, {typing: true}).catch(() => {});
  });
  $("composer").addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = $("composer-body").value.trim();
    if (!body || !state.open) return;
    $("composer-body").value = "";
    state.typingSentAt = 0;
    try {
      const message = await send(body);
      if (!state.open.messages.some((m) => m.id === message.id)) state.open.messages.push(message);
      renderThread();
    } catch (error) {
      say(error.message);
      $("composer-body").value = body;
    }
  });
  $("start-chat").addEventListener("click", async () => {
    try {
      const c = await api("POST", "/api/v1/conversations/",
        {kind: "direct", user: Number($("colleague").value)});
      state.conversations.set(c.id, c);
      await openConversation(c.id);
    } catch (error) {
      say(error.message);
    }
  });
  $("send-ping").addEventListener("click", async () => {
    try {
      const result = await api("POST", "/api/v1/pings/",
        {receiver: Number($("colleague").value), note: $("ping-text").value});
      $("ping-text").value = "";
      $("ping-note").textContent = "Ping sent.";
      if (!state.conversations.has(result.conversation)) reloadSoon();
    } catch (error) {
      $("ping-note").textContent = error.message;
    }
  });
  $("invite").addEventListener("click", async () => {
    try {
      const mine = await api("GET", `/api/v1/calls/?agent=${page.agentId}&page_size=10`);
      const call = mine.results.find((c) => !c.parent_call_sid && !c.ended_at
        && c.stage === "connected");
      if (!call) throw new Error("You are not on a call.");
      await api("POST", "/api/v1/invitations/",
        {receiver: Number($("colleague").value), call: call.id, note: $("ping-text").value});
      $("ping-note").textContent = "Invitation sent.";
    } catch (error) {
      $("ping-note").textContent = error.message;
    }
  });
  $("invite-new").addEventListener("click", async () => {
    try {
      await api("POST", "/api/v1/invitations/",
        {receiver: Number($("colleague").value), note: $("ping-text").value});
      $("ping-note").textContent = "Call invitation sent.";
    } catch (error) {
      $("ping-note").textContent = error.message;
    }
  });
  setInterval(renderInvitations, 5000); // drop invitations past expires_at

  loadColleagues().catch((error) => say(error.message));
  window.Chat = {onFrame, reload};
})();
