// The console's script: live updates, countdowns, the alarm, byte counters, hashing files in
// the browser, and the keyboard command line. Plain JavaScript, no dependency. Every page works
// without it (forms post, pages render on the server); with it, the board is live.
//
// State the tests (and an officer's browser tools) can read: window.hotline, and on <body>
// data-alarm ("disarmed" | "armed" | "ringing"), data-node ("up" | "lost"), data-last-alarm.
"use strict";

(function () {
  const body = document.body;
  if (!body) return;
  const offset = Number(body.dataset.now || Date.now()) - Date.now();
  const now = () => Date.now() + offset;
  const state = (window.hotline = { events: 0, lastEvent: null, rings: [], refreshes: 0, armed: false, errors: [] });
  window.addEventListener("error", (e) => state.errors.push(String(e.message)));

  // ---- time spans, as the node's CLI writes them ----
  function span(ms) {
    const s = Math.floor(Math.abs(ms) / 1000);
    if (s < 60) return s + " s";
    if (s < 3600) return Math.floor(s / 60) + " min " + String(s % 60).padStart(2, "0") + " s";
    if (s < 86400) return Math.floor(s / 3600) + " h " + String(Math.floor((s % 3600) / 60)).padStart(2, "0") + " min";
    return Math.floor(s / 86400) + " d " + Math.floor((s % 86400) / 3600) + " h";
  }

  // ---- countdowns: amber from 80 % of the window, red once passed, in words too ----
  function tick() {
    for (const el of document.querySelectorAll(".countdown")) {
      const due = Number(el.dataset.due), start = Number(el.dataset.start);
      const left = due - now();
      const windowMs = Math.max(1, due - start);
      const next = left < 0 ? "over" : (now() - start) * 5 >= windowMs * 4 ? "warn" : "ok";
      const was = el.dataset.state;
      el.dataset.state = next;
      const label = el.querySelector(".label"), leftEl = el.querySelector(".left");
      if (label) label.textContent = next === "over" ? el.dataset.overLabel : next === "warn" ? el.dataset.warnLabel : "";
      if (leftEl) leftEl.textContent = (left < 0 ? el.dataset.overText : el.dataset.leftText).replace("%s", span(left));
      if (was && was !== next && next !== "ok" && !el.dataset.rang) {
        el.dataset.rang = next;
        ring(next === "over" ? "deadline_missed" : "deadline_approaching", false);
      }
    }
  }

  // ---- the alarm: armed by a gesture of the officer, shown at all times ----
  let audio = null;
  const alarmButton = document.getElementById("alarm");
  const alarmState = document.getElementById("alarm-state");
  function showAlarm() {
    const armed = state.armed;
    if (body.dataset.alarm !== "ringing") body.dataset.alarm = armed ? "armed" : "disarmed";
    if (alarmButton) {
      alarmButton.setAttribute("aria-pressed", armed ? "true" : "false");
      alarmButton.textContent = armed ? alarmButton.dataset.armedText : alarmButton.dataset.disarmedText;
    }
    const prompt = document.getElementById("arm-prompt");
    if (prompt) prompt.hidden = armed;
  }
  function arm() {
    try {
      audio = audio || new (window.AudioContext || window.webkitAudioContext)();
      if (audio.state === "suspended") audio.resume();
    } catch (e) { audio = null; }
    state.armed = true;
    sessionStorage.setItem("hotline-alarm", "armed");
    if ("Notification" in window && Notification.permission === "default") {
      try { Notification.requestPermission(); } catch (e) { /* not offered here */ }
    }
    showAlarm();
  }
  function disarm() {
    state.armed = false;
    sessionStorage.removeItem("hotline-alarm");
    showAlarm();
  }
  function beep(at, freq, length) {
    const osc = audio.createOscillator(), gain = audio.createGain();
    osc.type = "square";
    osc.frequency.value = freq;
    gain.gain.setValueAtTime(0.0001, at);
    gain.gain.exponentialRampToValueAtTime(0.3, at + 0.01);
    gain.gain.exponentialRampToValueAtTime(0.0001, at + length);
    osc.connect(gain).connect(audio.destination);
    osc.start(at);
    osc.stop(at + length + 0.02);
  }
  function ring(reason, urgent, text) {
    state.rings.push({ reason: reason, at: now(), sounded: state.armed && !!audio });
    body.dataset.lastAlarm = reason;
    if (alarmState) alarmState.textContent = text || reason;
    if (!state.armed) return;
    body.dataset.alarm = "ringing";
    if (audio) {
      if (audio.state === "suspended") audio.resume();
      const t = audio.currentTime;
      const n = urgent ? 6 : 3;
      for (let i = 0; i < n; i++) beep(t + i * 0.25, urgent ? 988 : 660, 0.18);
    }
    if ("Notification" in window && Notification.permission === "granted" && document.hidden) {
      try { new Notification(document.title, { body: text || reason, tag: reason }); } catch (e) { /* no notification */ }
    }
    clearTimeout(ring.timer);
    ring.timer = setTimeout(() => { body.dataset.alarm = state.armed ? "armed" : "disarmed"; }, 5000);
  }
  if (sessionStorage.getItem("hotline-alarm") === "armed") {
    state.armed = true;
    // Sound needs a gesture on this page too: the first key or click wakes it.
    const wake = () => { try { audio = audio || new AudioContext(); audio.resume(); } catch (e) { audio = null; } };
    document.addEventListener("keydown", wake, { once: true });
    document.addEventListener("pointerdown", wake, { once: true });
  }
  if (alarmButton) alarmButton.addEventListener("click", () => (state.armed ? disarm() : arm()));
  const armButton = document.getElementById("arm");
  if (armButton) armButton.addEventListener("click", arm);
  showAlarm();

  // ---- the board, live ----
  // An event asks for a refresh 50 ms later (what comes meanwhile rides along), but a board
  // redraws at most once in 750 ms: under a stream of events it still redraws (never starved),
  // a FLASH shows within a second, and the boards of a watch floor, asking together, share one
  // reading of the node (a random spread between them was measured: it made the console read
  // the node twice as often, and the node slower).
  const board = document.getElementById("board");
  const QUIET = 50, EVERY = 750;
  let pending = null, last = -1e9;
  async function refresh() {
    pending = null;
    last = Date.now();
    if (!board) return;
    try {
      const r = await fetch("/board", { credentials: "same-origin", cache: "no-store" });
      if (r.redirected && new URL(r.url).pathname === "/login") { location.href = "/login"; return; }
      if (!r.ok) return;
      board.innerHTML = await r.text();
      state.refreshes++;
      tick();
    } catch (e) { /* the banner says why */ }
  }
  function soon() {
    if (pending) return;
    pending = setTimeout(refresh, Math.max(QUIET, last + EVERY - Date.now()));
  }
  const lost = document.getElementById("lost");
  const lostReason = document.getElementById("lost-reason");
  function nodeLost(reason) {
    const was = body.dataset.node;
    body.dataset.node = "lost";
    if (lost) lost.hidden = false;
    if (lostReason && reason) lostReason.textContent = reason;
    if (was !== "lost") ring("node_lost", true, reason);
  }
  // The stream says first whether the node is there; the board then asks once more, for what
  // happened between the page being drawn and the stream opening.
  let streamed = false;
  function nodeBack() {
    const was = body.dataset.node;
    body.dataset.node = "up";
    if (lost) lost.hidden = true;
    if (was === "lost" || !streamed) soon();
    streamed = true;
  }
  const urgentEvents = { deadline_missed: true, link_down: true };
  function onEvent(e) {
    state.events++;
    state.lastEvent = e;
    const kind = e.event;
    if (kind === "notice_received" && (e.precedence === "flash" || e.precedence === "immediate")) {
      ring("notice_received_" + e.precedence, e.precedence === "flash", e.notice);
    } else if (kind === "deadline_approaching" || urgentEvents[kind]) {
      ring(kind, !!urgentEvents[kind], (e.notice || e.peer || "") + "");
    }
    soon();
  }
  if (window.EventSource && body.dataset.lang) {
    const source = new EventSource("/events");
    source.onmessage = (m) => {
      let live;
      try { live = JSON.parse(m.data); } catch (e) { return; }
      if (live.kind === "node_lost") nodeLost(live.reason);
      else if (live.kind === "node_back") nodeBack();
      else if (live.kind === "event") onEvent(live.event);
      else if (live.kind === "missed") soon();
    };
    source.onerror = () => { if (lost) nodeLost(lost.dataset.consoleLost || null); };
    source.onopen = () => { if (body.dataset.node === "lost" && !state.nodeLostByNode) { /* wait for the node's word */ } };
  }
  // A board asks again every 30 s: it keeps the session of an officer who watches alive and
  // corrects any event missed.
  if (board) setInterval(refresh, 30000);

  // ---- text limits in bytes, as the protocol counts them ----
  const encoder = new TextEncoder();
  function limitOf(el) {
    if (el.dataset.maxBytes) return Number(el.dataset.maxBytes);
    const form = el.closest("form");
    const select = form && form.querySelector("select[name=precedence]");
    const option = select && select.selectedOptions[0];
    return option ? Number(option.dataset.limit) : 0;
  }
  function count(el) {
    const out = el.parentElement && el.parentElement.querySelector(".bytes");
    const limit = limitOf(el);
    if (!out || !limit) return;
    const n = encoder.encode(el.value).length;
    out.textContent = n + " / " + limit + " bytes" + (n > limit ? " — too long" : "");
    out.classList.toggle("over", n > limit);
    if (n > limit) el.setAttribute("aria-invalid", "true"); else if (!el.dataset.serverInvalid) el.removeAttribute("aria-invalid");
  }
  function counters() {
    for (const el of document.querySelectorAll("[data-text-limit], [data-max-bytes]")) count(el);
  }
  document.addEventListener("input", (e) => { if (e.target.matches("[data-text-limit], [data-max-bytes]")) count(e.target); });
  for (const select of document.querySelectorAll("select[data-duty-for]")) {
    const show = () => {
      const out = document.getElementById(select.dataset.dutyFor);
      const option = select.selectedOptions[0];
      if (out && option) out.textContent = option.dataset.duty;
      counters();
    };
    select.addEventListener("change", show);
  }

  // ---- files hashed in the browser ----
  function hex(buffer) {
    return Array.from(new Uint8Array(buffer)).map((b) => b.toString(16).padStart(2, "0")).join("");
  }
  async function sha256(file) {
    return hex(await crypto.subtle.digest("SHA-256", await file.arrayBuffer()));
  }
  function input(labelText, name, value, readOnly) {
    const id = "f" + name.replace(/\//g, "-");
    const label = document.createElement("label");
    label.htmlFor = id;
    label.textContent = labelText;
    const el = document.createElement("input");
    el.type = "text"; el.id = id; el.name = name; el.value = value; el.readOnly = readOnly;
    return [label, el];
  }
  for (const picker of document.querySelectorAll("input[type=file][data-attach-to]")) {
    picker.addEventListener("change", async () => {
      const rows = picker.closest("fieldset").querySelector(".attachment-rows");
      const d = rows.dataset;
      for (const file of picker.files) {
        const i = rows.children.length;
        if (i >= Number(picker.closest("fieldset").dataset.max || 16)) break;
        const path = rows.dataset.path + "/" + i + "/";
        const row = document.createElement("div");
        row.className = "attachment-row";
        const hash = await sha256(file);
        row.append(...input(d.shaLabel, path + "sha256", hash, true), ...input(d.sizeLabel, path + "size", String(file.size), true),
          ...input(d.typeLabel, path + "media_type", file.type || "application/octet-stream", false),
          ...input(d.descriptionLabel, path + "description", file.name, false));
        rows.append(row);
      }
      picker.value = "";
    });
  }
  const zone = document.getElementById("check-zone");
  if (zone) {
    const result = document.getElementById("check-result");
    const check = async (file) => {
      const hash = await sha256(file);
      const rows = Array.from(document.querySelectorAll("tr[data-sha256]"));
      const i = rows.findIndex((r) => r.dataset.sha256 === hash && Number(r.dataset.size) === file.size);
      result.dataset.match = i >= 0 ? String(i + 1) : "none";
      result.textContent = (i >= 0 ? zone.dataset.matchText.replace("%s", String(i + 1)) : zone.dataset.noneText.replace("%s", hash));
    };
    document.getElementById("check-file").addEventListener("change", (e) => { if (e.target.files[0]) check(e.target.files[0]); });
    zone.addEventListener("dragover", (e) => { e.preventDefault(); zone.classList.add("over"); });
    zone.addEventListener("dragleave", () => zone.classList.remove("over"));
    zone.addEventListener("drop", (e) => { e.preventDefault(); zone.classList.remove("over"); if (e.dataTransfer.files[0]) check(e.dataTransfer.files[0]); });
  }

  // ---- small helpers of forms ----
  for (const b of document.querySelectorAll("button[data-now-for]")) {
    b.addEventListener("click", () => {
      const el = document.getElementById(b.dataset.nowFor);
      if (el) el.value = new Date(now()).toISOString().slice(0, 19);
    });
  }
  for (const b of document.querySelectorAll("button[data-print]")) b.addEventListener("click", () => window.print());
  // A printed page says when it was printed (the page may have been drawn long before).
  window.addEventListener("beforeprint", () => {
    const h1 = document.querySelector("h1[data-printed]");
    if (!h1) return;
    const now = new Date().toISOString().slice(0, 19).replace("T", " ") + " UTC";
    h1.dataset.printed = h1.dataset.printed.replace(h1.dataset.printedTime, now);
    h1.dataset.printedTime = now;
  });
  for (const back of document.querySelectorAll("input[name=back]")) back.value = location.pathname + location.search;
  const problems = document.getElementById("problems");
  if (problems) problems.focus();
  // Arriving to acknowledge (from the board's command line): the decision first.
  const toAck = () => {
    const first = location.hash === "#ack" && document.getElementById("disposition");
    if (first) first.focus();
  };
  toAck();
  window.addEventListener("load", toAck);

  // ---- the keyboard command line: ":" or "/" opens it ----
  const box = document.getElementById("cmdline-box");
  const line = document.getElementById("cmdline");
  function typing(target) {
    return target.closest("input, textarea, select, [contenteditable]") !== null;
  }
  function run(text) {
    const [verb, ...rest] = text.trim().split(/\s+/);
    const arg = rest.join(" ");
    const go = (url) => { location.href = url; };
    switch ((verb || "").toLowerCase()) {
      case "a": case "ack": {
        const here = document.getElementById("disposition");
        if (here) { here.focus(); return; }
        const first = document.querySelector(".card-ack a.action");
        if (first) go(first.getAttribute("href") + "#ack");
        return;
      }
      case "r": case "reply": { const el = document.getElementById("reply-kind"); if (el) el.focus(); return; }
      case "c": case "compose": go("/compose"); return;
      case "b": case "board": go("/"); return;
      case "d": case "drafts": go("/drafts"); return;
      case "h": case "handover": go("/handover" + (arg ? "?since=" + encodeURIComponent(arg) : "")); return;
      case "o": case "open": if (/^[a-z0-9-]+\/\d+$/.test(arg)) go("/notice/" + arg); return;
      case "arm": arm(); return;
      case "print": window.print(); return;
      default: return;
    }
  }
  if (box && line) {
    document.addEventListener("keydown", (e) => {
      if ((e.key === ":" || e.key === "/") && !typing(e.target) && !e.ctrlKey && !e.metaKey && !e.altKey) {
        e.preventDefault();
        box.hidden = false;
        line.value = "";
        line.focus();
      } else if (e.key === "Escape") {
        if (!box.hidden) { box.hidden = true; }
        if (body.dataset.alarm === "ringing") body.dataset.alarm = state.armed ? "armed" : "disarmed";
      }
    });
    line.addEventListener("keydown", (e) => {
      if (e.key === "Enter") { e.preventDefault(); box.hidden = true; run(line.value); }
    });
  }

  tick();
  counters();
  setInterval(tick, 1000);
})();
