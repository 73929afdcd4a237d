// scaleapp dashboard. Polls the instance behind this page once a second: dashboard/state (health, job,
// CPU samples, limits) and GET / (who answers, for the fleet panel). Behind a load balancer each poll can
// land on another instance, so everything is kept per instance id. Changes go out as POST/DELETE only,
// with the stress token (if any) from this tab's sessionStorage in an Authorization header.
"use strict";

const TOKEN_KEY = "scaleapp-stress-token";
const WINDOW_MS = 300000;
const $ = (id) => document.getElementById(id);
const servedBy = document.body.dataset.servedBy;
const instances = new Map(); // id -> {az, hits, lastSeen, state, full, samples: [{t, machine, process}], color}
let fleetHits = 0;
let controls = null; // the limits of the last state answer

function inst(id) {
  let i = instances.get(id);
  if (!i) {
    i = { id, az: "", hits: 0, lastSeen: 0, state: null, full: false, samples: [], color: instances.size % 6 };
    instances.set(id, i);
  }
  return i;
}

function text(el, s) {
  if (el.textContent !== s) el.textContent = s;
}

function fmtDuration(s) {
  s = Math.max(0, Math.round(s));
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
  return h ? `${h} h ${m} min` : m ? `${m} min${sec ? ` ${sec} s` : ""}` : `${sec} s`;
}

const workers = (n) => `${n} worker${n === 1 ? "" : "s"}`;

async function getJSON(url) {
  const r = await fetch(url, { headers: { Accept: "application/json" }, cache: "no-store" });
  const body = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(body.error || `${r.status} ${r.statusText}`);
  return body;
}

// The oldest newest-sample among instances seen in the window: asking from there fills every series.
// While an instance has not yet sent its whole history (it first answered a poll that asked for less),
// ask for everything: the next poll it answers fills it.
function since() {
  let t = Infinity;
  const cut = Date.now() - WINDOW_MS;
  for (const i of instances.values()) {
    if (i.lastSeen <= cut || !i.state) continue;
    if (!i.full) return 0;
    if (i.samples.length) t = Math.min(t, i.samples[i.samples.length - 1].t);
  }
  return t === Infinity ? 0 : t;
}

// merge adds samples to a series, in time order, once each.
function merge(series, add) {
  const byTime = new Map(series.map((s) => [s.t, s]));
  for (const s of add) byTime.set(s.t, s);
  return [...byTime.values()].sort((a, b) => a.t - b.t);
}

async function pollState() {
  const from = since();
  const st = await getJSON(`dashboard/state?since=${from}`);
  const i = inst(st.instance.instance_id);
  i.az = st.instance.availability_zone;
  i.state = st;
  i.lastSeen = Date.now();
  i.full ||= from === 0;
  i.samples = merge(i.samples, st.cpu.samples);
  const cut = i.samples.length ? i.samples[i.samples.length - 1].t - WINDOW_MS : 0;
  while (i.samples.length && i.samples[0].t < cut) i.samples.shift();
  controls = st.controls;
  renderState();
}

async function pollFleet() {
  const id = await getJSON("./");
  const i = inst(id.instance_id);
  i.az = id.availability_zone;
  i.hits++;
  i.lastSeen = Date.now();
  fleetHits++;
  renderFleet();
}

function home() {
  return instances.get(servedBy) || [...instances.values()].find((i) => i.state);
}

function renderState() {
  const h = home();
  if (h && h.state) {
    const st = h.state;
    text($("i-id"), st.instance.instance_id);
    text($("i-az"), st.instance.availability_zone);
    text($("i-type"), st.instance.instance_type || "—");
    text($("i-version"), st.commit && st.commit !== st.version ? `${st.version} (${st.commit})` : st.version);
    text($("i-uptime"), fmtDuration(st.uptime_seconds));
    const badge = $("i-health");
    let health = st.status;
    if (st.drain_reason) health += `: ${st.drain_reason}`;
    if (st.failed_until) health += ` until ${new Date(st.failed_until).toLocaleTimeString()}`;
    text(badge, health);
    badge.className = `badge ${st.status === "UP" ? "ok" : "bad"}`;
  }
  renderControls();
  renderJobs();
  renderChart();
  renderFleet();
}

function renderControls() {
  if (!controls) return;
  const off = $("controls-off"), on = $("controls");
  off.hidden = controls.enabled;
  on.hidden = !controls.enabled;
  if (!controls.enabled) {
    text(off, `Controls hidden: ${controls.disabled_reason}`);
    return;
  }
  for (const [name, lim] of Object.entries({ seconds: controls.seconds, load: controls.load, workers: controls.workers })) {
    const el = $(name);
    if (lim.max !== undefined && el.max !== String(lim.max)) el.max = lim.max;
    if (el.value === "") el.value = lim.default;
  }
  text($("limits"), `Up to ${controls.seconds.max} s, load 1-100 %, 1-${controls.workers.max} workers (default ${controls.workers.default}: one per CPU).`);
  const token = sessionStorage.getItem(TOKEN_KEY);
  const tf = $("token-form");
  if (controls.token_required && !token) tf.hidden = false;
  $("forget").hidden = !token;
}

function renderJobs() {
  const ul = $("jobs");
  const items = [];
  let running = false;
  for (const i of instances.values()) {
    const st = i.state;
    if (!st || !st.stress.job || Date.now() - i.lastSeen > 15000) continue;
    const j = st.stress.job;
    const now = Date.now(), start = Date.parse(j.started_at), end = Date.parse(j.ends_at);
    const on = st.stress.running;
    running ||= on;
    const li = document.createElement("li");
    const label = document.createElement("span");
    label.textContent = `${i.id}: job ${j.id}, ${j.load}% × ${workers(j.workers)}, ` +
      (on ? `${fmtDuration((end - now) / 1000)} left` : `${j.state}`);
    li.append(label);
    if (on) {
      const p = document.createElement("progress");
      p.max = 100;
      p.value = Math.min(100, Math.max(0, (100 * (now - start)) / (end - start)));
      p.setAttribute("aria-label", `job ${j.id} progress`);
      li.append(p);
    }
    items.push(li);
  }
  ul.replaceChildren(...items);
  $("stop").disabled = !running;
}

const NS = "http://www.w3.org/2000/svg";

function renderChart() {
  const g = $("series");
  // The newest sample is "now"; the axis spans the history there is, from one to five minutes.
  let right = 0, left = Infinity;
  for (const i of instances.values()) {
    if (!i.samples.length) continue;
    right = Math.max(right, i.samples[i.samples.length - 1].t);
    left = Math.min(left, i.samples[0].t);
  }
  const span = Math.max(60000, Math.min(WINDOW_MS, right - left));
  text($("x-from"), `${fmtDuration(span / 1000)} ago`);
  const lines = [], legend = [];
  let reason = "";
  for (const i of instances.values()) {
    if (!i.samples.length) continue;
    for (const series of ["machine", "process"]) {
      const pts = i.samples.filter((s) => s[series] !== undefined)
        .map((s) => `${(300 - (300 * (right - s.t)) / span).toFixed(1)},${(100 - s[series]).toFixed(1)}`);
      if (!pts.length) continue;
      const pl = document.createElementNS(NS, "polyline");
      pl.setAttribute("points", pts.join(" "));
      pl.setAttribute("class", `line c${i.color} ${series}`);
      pl.dataset.instance = i.id;
      pl.dataset.series = series;
      lines.push(pl);
    }
    const s = i.samples[i.samples.length - 1];
    const li = document.createElement("li");
    li.className = `c${i.color}`;
    const m = s.machine === undefined ? "machine n/a" : `machine ${s.machine.toFixed(1)}%`;
    li.textContent = `${i.id}: ${m}, scaleapp ${s.process.toFixed(1)}%`;
    legend.push(li);
    if (i.state && i.state.cpu.machine_unavailable) reason = i.state.cpu.machine_unavailable;
  }
  g.replaceChildren(...lines);
  $("legend").replaceChildren(...legend);
  const note = $("cpu-note");
  note.hidden = !reason;
  text(note, reason);
}

function renderFleet() {
  const rows = [];
  for (const i of instances.values()) {
    if (!i.hits) continue;
    const tr = document.createElement("tr");
    const age = (Date.now() - i.lastSeen) / 1000;
    if (age > 10) tr.className = "stale";
    const cells = [i.id, i.az, `${((100 * i.hits) / fleetHits).toFixed(0)}% (${i.hits})`,
      age < 2 ? "now" : `${fmtDuration(age)} ago`, i.state ? i.state.status : "—"];
    for (const c of cells) {
      const td = document.createElement("td");
      td.textContent = c;
      tr.append(td);
    }
    tr.firstChild.className = `c${i.color}`;
    rows.push(tr);
  }
  $("fleet-rows").replaceChildren(...rows);
  text($("fleet-total"), `${instances.size} instance(s), ${fleetHits} answers since this page opened.`);
}

// send makes a change; the server validates and its message is shown as is.
async function send(method, url) {
  const msg = $("stress-msg");
  const headers = { Accept: "application/json" };
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token) headers.Authorization = `Bearer ${token}`;
  let r, body;
  try {
    r = await fetch(url, { method, headers, cache: "no-store" });
    body = await r.json().catch(() => ({}));
  } catch (e) {
    text(msg, `Request failed: ${e.message}`);
    return;
  }
  msg.className = r.ok ? "ok" : "bad";
  if (r.status === 401) {
    sessionStorage.removeItem(TOKEN_KEY);
    $("token-form").hidden = false;
    text($("token-why"), "The token was refused (401). Enter this instance's STRESS_TOKEN.");
    $("token").focus();
  }
  if (!r.ok) {
    text(msg, `${r.status}: ${body.error || r.statusText}`);
    return;
  }
  if (body.id !== undefined) text(msg, `${method === "DELETE" ? "Stopped" : "Started"} job ${body.id} (${body.load}% × ${workers(body.workers)}, ${body.seconds} s).`);
  else text(msg, `Health: ${body.status}${body.failed_until ? ` until ${new Date(body.failed_until).toLocaleTimeString()}` : ""}.`);
  pollState().catch(() => {});
}

function wire() {
  text($("served-by"), servedBy);
  $("token-form").addEventListener("submit", (e) => {
    e.preventDefault();
    sessionStorage.setItem(TOKEN_KEY, $("token").value);
    $("token").value = "";
    $("token-form").hidden = true;
    text($("stress-msg"), "Token kept in this tab.");
    renderControls();
  });
  $("forget").addEventListener("click", () => {
    sessionStorage.removeItem(TOKEN_KEY);
    text($("stress-msg"), "Token forgotten.");
    renderControls();
  });
  $("start-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const q = new URLSearchParams({ seconds: $("seconds").value, load: $("load").value, workers: $("workers").value });
    send("POST", `cpu?${q}`);
  });
  $("stop").addEventListener("click", () => send("DELETE", "cpu"));
  $("fail").addEventListener("click", () => send("POST", `health/fail?seconds=${controls.failure_seconds.default}`));
  $("unfail").addEventListener("click", () => send("DELETE", "health/fail"));
}

// loop runs f now and then a second after each answer, so a slow instance never piles up requests.
// The status line is a live region: its text changes only when the connection does, or screen readers
// would announce every poll.
const failing = new Map(); // loop -> its last error
function loop(f) {
  const conn = $("conn");
  const tick = async () => {
    try {
      await f();
      failing.delete(f);
    } catch (e) {
      failing.set(f, e.message);
    }
    const problem = failing.size ? failing.values().next().value : "";
    text(conn, problem ? `connection problem: ${problem}` : "live: updated every second");
    conn.className = problem ? "bad" : "muted";
    setTimeout(tick, 1000);
  };
  tick();
}

wire();
loop(pollState);
loop(pollFleet);
