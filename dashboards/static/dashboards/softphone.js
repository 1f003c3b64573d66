// A dashboard page's softphone, and the "on the line" panel of the legs it answers itself.
// Simulated mode: the Twilio simulator waits for this page's decision on each ring to the
// user's identity (registered as an interactive device). Twilio mode: the Twilio Voice JS SDK's
// Device, registered with a token from our API. A ring can reach the softphone after the frame
// or the click that announced it: an answer (or a reject) given meanwhile waits for the ring.
(function () {
  "use strict";
  const {api} = window.Dash;
  const SIMULATED = "/api/v1/softphone/simulated";
  const RING_WAIT_MS = 10000; // an offer's ring follows its frame closely
  const JOIN_WAIT_MS = 30000; // a leg we asked for is dialed by a task after the request
  const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
  const notRinging = () => Object.assign(new Error("The softphone is not ringing."), {status: 404});

  async function whenRinging(decide, waitMs) {
    const deadline = Date.now() + waitMs;
    for (;;) {
      try {
        return await decide();
      } catch (error) {
        if (error.status !== 404 || Date.now() > deadline) throw error; // 404: no ring yet
        await pause(250);
      }
    }
  }

  function simulated(showState, onDemand) {
    const register = () => api("POST", `${SIMULATED}/register/`)
      .then(() => showState("(simulated device ready)"))
      .catch((error) => showState(`(device: ${error.message})`));
    if (onDemand) {
      showState("(rings only when you ask)");
    } else {
      register();
      setInterval(register, 30000);
    }
    const step = (name, body) => api("POST", `${SIMULATED}/${name}/`, body || {});
    return {
      prepare: onDemand ? register : async () => {},
      answer: (waitMs = RING_WAIT_MS) => whenRinging(() => step("answer"), waitMs),
      reject: (waitMs = RING_WAIT_MS) => whenRinging(() => step("reject"), waitMs),
      hangUp: (sid) => step("hangup", {call_sid: sid}),
      isUp: async (sid) => (await api("GET", `${SIMULATED}/calls/`)).calls
        .some((c) => c.call_sid === sid && !c.awaiting_decision),
      answered: async () => (await api("GET", `${SIMULATED}/calls/`)).calls
        .filter((c) => !c.awaiting_decision).map((c) => c.call_sid),
    };
  }

  function twilio(showState, onDemand) {
    let incoming = null; // the call ringing now
    const answered = new Map(); // CallSid → an accepted call still up
    let ready = Promise.resolve(null); // the Device, once made
    if (window.Twilio && window.Twilio.Device) {
      ready = api("POST", "/api/v1/softphone/token/").then(({token}) => {
        const device = new window.Twilio.Device(token, {closeProtection: true});
        device.on("incoming", (call) => {
          incoming = call;
          const gone = () => {
            if (incoming === call) incoming = null;
            answered.delete(call.parameters.CallSid);
          };
          ["disconnect", "cancel", "reject"].forEach((event) => call.on(event, gone));
        });
        device.on("tokenWillExpire", () => api("POST", "/api/v1/softphone/token/")
          .then((fresh) => device.updateToken(fresh.token)));
        if (!onDemand) device.register();
        showState("(Twilio device)");
        return device;
      }).catch((error) => { showState(`(device: ${error.message})`); return null; });
    } else {
      showState("(no Twilio Voice SDK loaded)");
    }
    const take = (waitMs) => whenRinging(async () => {
      if (!incoming) throw notRinging();
      const call = incoming;
      incoming = null;
      return call;
    }, waitMs);
    return {
      async prepare() {
        const device = await ready;
        if (device && device.state !== "registered") await device.register();
      },
      async answer(waitMs = RING_WAIT_MS) {
        const call = await take(waitMs);
        call.accept();
        answered.set(call.parameters.CallSid, call);
        return {call_sid: call.parameters.CallSid};
      },
      async reject(waitMs = RING_WAIT_MS) {
        const call = await take(waitMs);
        call.reject();
        return {call_sid: call.parameters.CallSid};
      },
      async hangUp(sid) {
        const call = answered.get(sid);
        if (!call) throw notRinging();
        call.disconnect();
      },
      isUp: async (sid) => answered.has(sid),
      answered: async () => [...answered.keys()], // a reload hangs the browser's calls up
    };
  }

  // `onDemand`: the softphone takes rings only once `prepare()`d, just before the page asks
  // for one (a supervisor's page must not take the calls routed to them meanwhile).
  function create(mode, showState, {onDemand = false} = {}) {
    return mode === "simulated" ? simulated(showState, onDemand) : twilio(showState, onDemand);
  }

  // The leg this page answered for something it asked for (joining a colleague's call, an
  // internal call, listening in): shown in dashboards/softphone_line.html until it ends here
  // or elsewhere, with a button to leave it.
  function line(phone, {say, onChange}) {
    const $ = (id) => document.getElementById(id);
    let current = null;
    let watcher = null;
    function show() {
      $("line").hidden = current === null;
      $("line-what").textContent = current ? current.label : "";
      if (onChange) onChange();
    }
    function end(sid) {
      if (!current || current.sid !== sid) return;
      clearInterval(watcher);
      current = null;
      show();
    }
    function keep(label, sid) { // shown, and watched until it ends
      clearInterval(watcher);
      current = {label, sid};
      show();
      watcher = setInterval(() => phone.isUp(sid).then((up) => up || end(sid)).catch(() => {}),
        2000);
    }
    async function join(label) {
      keep(label, (await phone.answer(JOIN_WAIT_MS)).call_sid);
    }
    // After a reload: a leg still up on the softphone is still mine to leave.
    async function restore() {
      const [sid] = current ? [] : await phone.answered().catch(() => []);
      if (sid && !current) keep("a call answered before this page loaded", sid);
    }
    $("line-hangup").addEventListener("click", async () => {
      if (!current) return;
      const sid = current.sid;
      try {
        say("");
        await phone.hangUp(sid);
        end(sid);
      } catch (error) {
        if (error.status === 404) end(sid); // it had ended already
        else say(error.message);
      }
    });
    return {join, restore, active: () => current !== null};
  }

  window.Softphone = {create, line};
})();
