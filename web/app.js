/* Proofline operations console: plain JavaScript, no build step, no external resources.
 *
 * Every call sends the API key (kept in sessionStorage) as X-API-Key. Server-sent events are
 * read with fetch() streams, because EventSource cannot send that header. Text from the record
 * is always inserted as text (never as HTML): notes from customers and carriers are untrusted.
 */
"use strict";

const KEY = "proofline.key";
const THREAD = "proofline.thread";
const state = {
  key: sessionStorage.getItem(KEY) || "",
  me: null,
  thread: sessionStorage.getItem(THREAD) || newThreadId(),
  boardGen: 0,
  boardAbort: null,
  shipment: null,
  chatBusy: false,
};

// --- small helpers -----------------------------------------------------------------------------

const $ = (sel) => document.querySelector(sel);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function newThreadId() {
  const id = "web-" + Math.random().toString(36).slice(2, 10);
  sessionStorage.setItem(THREAD, id);
  return id;
}

/** Build an element: h("td", {class: "x", onclick: fn}, "text", child, ...). */
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on")) el.addEventListener(name.slice(2), value);
    else if (name === "dataset") Object.assign(el.dataset, value);
    else el.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

const SVG = "http://www.w3.org/2000/svg";
function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attrs || {})) el.setAttribute(name, String(value));
  for (const child of children) el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return el;
}

function fmtTime(value) {
  if (!value) return "—";
  const d = new Date(String(value).endsWith("Z") || String(value).includes("+") ? value : value + "Z");
  if (Number.isNaN(d.getTime())) return String(value);
  return d.toISOString().slice(5, 16).replace("T", " ");
}

const human = (text) => String(text || "").replaceAll("_", " ");

function toast(message, kind = "info") {
  const el = $("#toast");
  el.textContent = message;
  el.className = "toast " + kind;
  el.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { el.hidden = true; }, kind === "error" ? 8000 : 4000);
}

/** A temperature range such as "−25 to −10 °C". */
function range(lo, hi) {
  const n = (v) => String(v).replace("-", "−");
  return lo === null || lo === undefined ? "no range on record" : `${n(lo)} to ${n(hi)} °C`;
}

function shipmentLink(id) {
  return id ? h("button", {class: "link mono", type: "button", dataset: {shipment: id}}, id) : "—";
}

function pill(text, kind) {
  return h("span", {class: `pill ${kind || text}`}, human(text));
}

function problem(err, what) {
  if (err && err.status === 403) return h("p", {class: "notice"}, `Your role (${state.me && state.me.role}) cannot ${what}.`);
  return h("p", {class: "notice error"}, `Could not ${what}: ${err ? err.message : "unknown error"}`);
}

function summarize(args) {
  return Object.entries(args || {}).map(([k, v]) => `${k}=${typeof v === "object" ? JSON.stringify(v) : v}`).join(", ");
}

// --- the API -----------------------------------------------------------------------------------

async function api(path, {method = "GET", body, stream = false, signal} = {}) {
  const headers = {"X-API-Key": state.key};
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const res = await fetch(path, {method, headers, signal, body: body === undefined ? undefined : JSON.stringify(body)});
  if (!res.ok) {
    let detail = res.statusText;
    try { detail = (await res.json()).detail || detail; } catch { /* not JSON */ }
    const err = new Error(detail);
    err.status = res.status;
    if (res.status === 401) signOut("That API key is not valid (any more). Enter another.");
    throw err;
  }
  return stream ? res : res.json();
}

/** Parse a text/event-stream response into {event, data, id} objects as they arrive. */
async function* readSse(res) {
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const {value, done} = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, {stream: true}).replace(/\r\n?/g, "\n");
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const event = {event: "message", data: []};
      for (const line of block.split("\n")) {
        if (!line || line.startsWith(":")) continue;
        const colon = line.indexOf(":");
        const field = colon < 0 ? line : line.slice(0, colon);
        const text = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
        if (field === "data") event.data.push(text);
        else if (field === "event" || field === "id") event[field] = text;
      }
      if (!event.data.length) continue;
      const raw = event.data.join("\n");
      try { event.data = JSON.parse(raw); } catch { event.data = raw; }
      yield event;
    }
  }
}

// --- signing in --------------------------------------------------------------------------------

async function connect(key) {
  state.key = key.trim();
  try {
    state.me = await api("/me");
  } catch (err) {
    state.key = "";
    sessionStorage.removeItem(KEY);
    toast(err.status === 401 ? "That API key is not valid. Check it and try again." : `Cannot connect: ${err.message}`, "error");
    return;
  }
  sessionStorage.setItem(KEY, state.key);
  $("#api-key").value = "";
  $("#key-form").hidden = true;
  $("#who").hidden = false;
  $("#role-badge").textContent = human(state.me.role);
  $("#who-name").textContent = state.me.name ? `(${state.me.name})` : "";
  $("#welcome").hidden = true;
  $("#app").hidden = false;
  $("#run-triage").hidden = !["ops_manager", "automation"].includes(state.me.role);
  if (state.me.role === "contact_center") showView("reschedule");  // the board is not theirs
  refreshKpis();
  startBoard();
  loadApprovals();
  loadAudit();
  restoreThread();
}

function signOut(message) {
  state.key = "";
  state.me = null;
  state.boardGen++;
  if (state.boardAbort) state.boardAbort.abort();
  sessionStorage.removeItem(KEY);
  $("#key-form").hidden = false;
  $("#who").hidden = true;
  $("#app").hidden = true;
  $("#welcome").hidden = false;
  if (message) toast(message, "error");
}

// --- views -------------------------------------------------------------------------------------

function showView(name) {
  for (const tab of document.querySelectorAll("[role=tab]")) tab.setAttribute("aria-selected", String(tab.dataset.view === name));
  for (const view of document.querySelectorAll(".view")) view.hidden = view.dataset.view !== name;
  if (name === "approvals") loadApprovals();
  if (name === "audit") loadAudit();
}

// --- KPI strip ---------------------------------------------------------------------------------

function kpi(label, value, sub, extra) {
  return h("div", {class: "kpi"}, h("div", {class: "kpi-label"}, label), h("div", {class: "kpi-value"}, value), extra || null,
    h("div", {class: "kpi-sub"}, sub));
}

async function refreshKpis() {
  let k;
  try { k = await api("/kpis"); } catch (err) { $("#kpis").replaceChildren(problem(err, "see the KPIs")); return; }
  const open = k.open_exceptions;
  const total = Object.values(open).reduce((a, b) => a + b, 0);
  const chips = h("div", {class: "chips"}, ...["critical", "high", "medium", "low"].map(
    (sev) => h("span", {class: `chip ${sev}`, title: `${open[sev]} ${sev}`}, `${open[sev]} ${sev}`)));
  $("#kpis").replaceChildren(
    kpi("On-time delivery", k.on_time_delivery_pct === null ? "—" : `${k.on_time_delivery_pct}%`,
      `${k.on_time} of ${k.delivered} delivered by the promised time`),
    kpi("Open exceptions", String(total), "unresolved, by severity", chips),
    kpi("Excursions", String(k.excursions), `${k.units_lost.toLocaleString()} units quarantined for temperature`),
    kpi("Verification pass rate", k.verification_pass_rate_pct === null ? "—" : `${k.verification_pass_rate_pct}%`,
      k.gates_run ? `${k.gates_passed} of ${k.gates_run} release gates passed` : "no release gate run yet"),
    kpi("Detection → action", k.median_minutes_to_action === null ? "—" : `${k.median_minutes_to_action} min`,
      k.acted_exceptions ? `median over ${k.acted_exceptions} exceptions acted on` : "nothing acted on yet"),
  );
}

// --- exceptions board (live) -------------------------------------------------------------------

function setLive(on) {
  const el = $("#live");
  el.textContent = on ? "● live" : "● offline";
  el.className = "live " + (on ? "on" : "off");
}

async function startBoard() {
  const gen = ++state.boardGen;
  if (state.boardAbort) state.boardAbort.abort();
  state.boardAbort = new AbortController();
  const signal = state.boardAbort.signal;
  const status = $("#board-status").value;
  while (state.key && gen === state.boardGen) {
    try {
      const res = await api(`/exceptions/stream?status=${encodeURIComponent(status)}&limit=200&max_seconds=300`, {stream: true, signal});
      setLive(true);
      for await (const event of readSse(res)) {
        if (gen !== state.boardGen) return;
        if (event.event === "board") { renderBoard(event.data); refreshKpis(); }
        if (event.event === "error") throw new Error(event.data.detail);
      }
    } catch (err) {
      if (gen !== state.boardGen || (err && err.name === "AbortError")) return;
      setLive(false);
      if (err.status === 403) { $("#board").replaceChildren(problem(err, "see exceptions")); return; }
    }
    setLive(false);
    await sleep(1500);
  }
}

function evidenceBrief(evidence) {
  if (!evidence || typeof evidence !== "object") return "";
  return Object.entries(evidence).filter(([, v]) => typeof v !== "object").slice(0, 3)
    .map(([k, v]) => `${human(k)}: ${v}`).join(" · ");
}

function renderBoard(data) {
  const rows = data.exceptions || [];
  $("#board-count").textContent = data.total ? String(data.total) : "";
  if (!rows.length) { $("#board").replaceChildren(h("p", {class: "empty"}, "No exceptions here. All clear.")); return; }
  const body = rows.map((e) => h("tr", {},
    h("td", {}, pill(e.severity)),
    h("td", {}, human(e.kind)),
    h("td", {class: "mono"}, e.subject),
    h("td", {}, shipmentLink(e.shipment_id)),
    h("td", {}, pill(e.status, "status")),
    h("td", {class: "nowrap"}, fmtTime(e.detected_at)),
    h("td", {class: "muted small"}, evidenceBrief(e.evidence)),
  ));
  const more = data.total > rows.length ? h("p", {class: "muted small"}, `Showing ${rows.length} of ${data.total}.`) : null;
  $("#board").replaceChildren(h("table", {class: "table", id: "board-table"},
    h("thead", {}, h("tr", {}, ...["Severity", "Kind", "Subject", "Shipment", "Status", "Detected (UTC)", "Evidence"].map((t) => h("th", {}, t)))),
    h("tbody", {}, body)), ...(more ? [more] : []));
}

async function runTriage() {
  const button = $("#run-triage");
  button.disabled = true;
  button.textContent = "Running…";
  try {
    const summary = await api("/triage/runs", {method: "POST"});
    toast(`Triage ${summary.run_id}: ${summary.exceptions} exceptions; ${summary.done} actions done, ${summary.queued} waiting for approval, ${summary.refused} refused.`);
    loadApprovals();
    refreshKpis();
  } catch (err) {
    toast(`Triage failed: ${err.message}`, "error");
  } finally {
    button.disabled = false;
    button.textContent = "Run triage now";
  }
}

// --- shipment view -----------------------------------------------------------------------------

async function openShipment(id) {
  id = String(id).trim();
  if (!id) return;
  state.shipment = id;
  $("#shipment-id").value = id;
  showView("shipment");
  const root = $("#shipment");
  root.replaceChildren(h("p", {class: "muted"}, `Loading ${id}…`));
  const enc = encodeURIComponent(id);
  const [ship, temps, custody] = await Promise.allSettled([
    api(`/shipments/${enc}`), api(`/shipments/${enc}/temperatures?max_points=400`), api(`/shipments/${enc}/custody?limit=300`)]);
  if (state.shipment !== id) return;
  if (ship.status === "rejected") { root.replaceChildren(problem(ship.reason, `open ${id}`)); return; }
  root.replaceChildren(
    shipmentSummary(ship.value),
    h("section", {class: "card"}, h("h3", {}, "Temperature"),
      temps.status === "fulfilled" ? temperatureChart(temps.value) : problem(temps.reason, "see temperatures")),
    h("section", {class: "card"}, h("h3", {}, "Custody trail"),
      custody.status === "fulfilled" ? custodyTable(custody.value) : problem(custody.reason, "see the custody trail")),
  );
}

function fact(label, value) {
  return h("div", {class: "fact"}, h("dt", {}, label), h("dd", {}, value));
}

function shipmentSummary(sh) {
  const asset = sh.asset ? `${sh.asset.asset_id} (${human(sh.asset.kind)}, ${range(sh.asset.temp_min_c, sh.asset.temp_max_c)}, ${sh.asset.health})` : "—";
  const products = sh.products.map((p) => h("li", {}, `${p.name || p.gtin} — ${human(p.temp_class)} ${range(p.temp_min_c, p.temp_max_c)}, ${p.units} units, lots ${p.lots.join(", ") || "—"}`));
  const stops = sh.stops.map((st) => h("li", {}, `${st.seq}. ${st.name || st.location_id}`, st.shipment_id === sh.shipment_id ? " (this shipment)" : "", st.eta ? ` — ETA ${fmtTime(st.eta)}` : ""));
  const exceptions = sh.open_exceptions.map((e) => h("li", {}, pill(e.severity), " ", human(e.kind), " ", pill(e.status, "status")));
  const holds = sh.holds.map((x) => h("li", {}, `${fmtTime(x.held_at)} ${human(x.source)}: ${x.reason} (by ${x.held_by})`));
  return h("section", {class: "card", id: "shipment-summary"},
    h("div", {class: "ship-head"}, h("h3", {class: "mono"}, sh.shipment_id), pill(sh.status, "status ship-status"),
      h("span", {class: "muted"}, `${sh.origin.name || sh.origin.location_id} → ${sh.destination.name || sh.destination.location_id}`)),
    h("dl", {class: "facts"},
      fact("Asset", asset), fact("Route", sh.route_id || "—"), fact("ETA", fmtTime(sh.eta)),
      fact("Promised window", `${fmtTime(sh.promised_start)} – ${fmtTime(sh.promised_end)}`),
      fact("Units", `${sh.units} on board (${sh.units_declared} declared)`),
      fact("Transaction data", `${sh.ti_document || "TI missing"} · TS ${sh.ts_attested ? "attested" : "missing"}`),
      fact("Release gate", sh.latest_gate ? (sh.latest_gate.passed ? "passed" : `failed (${sh.latest_gate.failure_count} failures)`) : "not run")),
    h("div", {class: "cols"},
      h("div", {}, h("h4", {}, "Products"), h("ul", {class: "plain"}, products.length ? products : h("li", {class: "muted"}, "none"))),
      h("div", {}, h("h4", {}, "Route stops"), h("ul", {class: "plain", id: "shipment-stops"}, stops.length ? stops : h("li", {class: "muted"}, "none")))),
    h("div", {class: "cols"},
      h("div", {}, h("h4", {}, "Open exceptions"), h("ul", {class: "plain"}, exceptions.length ? exceptions : h("li", {class: "muted"}, "none"))),
      h("div", {}, h("h4", {}, "Holds"), h("ul", {class: "plain"}, holds.length ? holds : h("li", {class: "muted"}, "none")))),
    sh.untrusted_notes ? h("p", {class: "notes"}, h("strong", {}, "Notes (from customers/carriers, unverified): "), sh.untrusted_notes) : null,
  );
}

function niceStep(span) {
  for (const step of [0.5, 1, 2, 5, 10, 20, 50]) if (span / step <= 8) return step;
  return 100;
}

function temperatureChart(t) {
  const points = (t.points || []).map((p) => ({...p, time: new Date(String(p.ts).endsWith("Z") ? p.ts : p.ts + "Z").getTime()}));
  if (!points.length) return h("p", {class: "muted"}, "No readings for this shipment.");
  const W = 760, H = 260, L = 46, R = 12, T = 12, B = 30;
  const lo = t.temp_min_c, hi = t.temp_max_c;
  const values = points.flatMap((p) => [p.min_c, p.max_c]).concat(lo === null ? [] : [lo, hi]);
  const yMin = Math.floor(Math.min(...values) - 1), yMax = Math.ceil(Math.max(...values) + 1);
  const t0 = points[0].time, t1 = Math.max(points[points.length - 1].time, t0 + 60000);
  const x = (time) => L + ((time - t0) / (t1 - t0)) * (W - L - R);
  const y = (c) => T + ((yMax - c) / (yMax - yMin)) * (H - T - B);
  const svg = s("svg", {viewBox: `0 0 ${W} ${H}`, class: "chart", role: "img", "aria-label": `Temperature of ${t.subject}`});
  if (lo !== null && hi !== null) {
    svg.append(s("rect", {class: "band", x: L, width: W - L - R, y: y(hi), height: Math.max(1, y(lo) - y(hi))}));
    for (const v of [lo, hi]) svg.append(s("line", {class: "band-edge", x1: L, x2: W - R, y1: y(v), y2: y(v)}));
  }
  const step = niceStep(yMax - yMin);
  for (let v = Math.ceil(yMin / step) * step; v <= yMax; v += step) {
    svg.append(s("line", {class: "grid", x1: L, x2: W - R, y1: y(v), y2: y(v)}));
    svg.append(s("text", {class: "tick", x: L - 6, y: y(v) + 4, "text-anchor": "end"}, `${String(v).replace("-", "−")}°`));
  }
  for (let i = 0; i <= 5; i++) {
    const time = t0 + ((t1 - t0) * i) / 5;
    svg.append(s("text", {class: "tick", x: x(time), y: H - 10, "text-anchor": i === 0 ? "start" : i === 5 ? "end" : "middle"},
      new Date(time).toISOString().slice(5, 16).replace("T", " ")));
  }
  const envelope = points.map((p) => `${x(p.time).toFixed(1)},${y(p.max_c).toFixed(1)}`)
    .concat(points.slice().reverse().map((p) => `${x(p.time).toFixed(1)},${y(p.min_c).toFixed(1)}`));
  svg.append(s("polygon", {class: "envelope", points: envelope.join(" ")}));
  const d = points.map((p, i) => `${i ? "L" : "M"}${x(p.time).toFixed(1)},${y(p.avg_c).toFixed(1)}`).join(" ");
  svg.append(s("path", {class: "trace", d}));
  if (lo !== null) {
    for (const p of points) {
      if (p.max_c > hi || p.min_c < lo) {
        const worst = p.max_c > hi ? p.max_c : p.min_c;
        svg.append(s("circle", {class: "out", cx: x(p.time).toFixed(1), cy: y(worst).toFixed(1), r: 2.6},
          s("title", {}, `${fmtTime(p.ts)}: ${worst} °C`)));
      }
    }
  }
  const budget = t.budget_minutes === null ? "no stability budget on record"
    : `${t.minutes_out_of_range} of ${t.budget_minutes} minutes used (${t.budget_left_minutes} left)`;
  return h("div", {},
    h("div", {class: "legend"},
      h("span", {class: "key band-key"}, lo === null ? "no range on record" : `allowed ${range(lo, hi)}`),
      h("span", {class: "key trace-key"}, "average"), h("span", {class: "key env-key"}, "min–max"),
      h("span", {class: "key out-key"}, "out of range"),
      h("span", {class: "muted small"}, `${t.readings.toLocaleString()} readings${t.bucket_seconds ? `, ${Math.round(t.bucket_seconds / 60)}-min buckets` : ""} · ${budget}`)),
    svg);
}

function custodyTable(c) {
  if (!c.events.length) return h("p", {class: "muted"}, "No custody events recorded for its containers.");
  // Events of the same step, time and place (e.g. one packing event per case) collapse into one row.
  const groups = [];
  for (const e of c.events) {
    const where = e.location_name || e.biz_location || e.read_point || "—";
    const route = [e.source_name || e.source_id, e.destination_name || e.destination_id].filter(Boolean).join(" → ") || "—";
    const key = [e.event_time, e.biz_step || e.event_type, e.disposition, where, route, e.via, e.origin].join("|");
    const last = groups[groups.length - 1];
    if (last && last.key === key) { last.n += 1; last.ids += e.epc_count; continue; }
    groups.push({key, e, where, route, n: 1, ids: e.epc_count});
  }
  const rows = groups.map(({e, where, route, n, ids}) => h("tr", {},
    h("td", {class: "nowrap"}, fmtTime(e.event_time)), h("td", {}, human(e.biz_step || e.event_type)),
    h("td", {}, human(e.disposition || "")), h("td", {}, where), h("td", {}, route),
    h("td", {class: "small muted"}, `${e.via} · ${n > 1 ? `${n} events, ` : ""}${ids} ids · ${e.origin}`)));
  const epods = c.epods.map((p) => h("li", {}, `Delivered ${fmtTime(p.signed_at)}, signed by ${p.signed_by} (${p.condition})`));
  return h("div", {},
    h("p", {class: "muted small"}, `${c.events.length} events on containers ${c.containers.join(", ") || "—"} and their contents`),
    h("div", {class: "scroll"}, h("table", {class: "table", id: "custody-table"},
      h("thead", {}, h("tr", {}, ...["Time (UTC)", "Step", "Disposition", "Where", "From → to", "Via"].map((t) => h("th", {}, t)))),
      h("tbody", {}, rows))),
    epods.length ? h("ul", {class: "plain"}, epods) : null);
}

// --- approvals ---------------------------------------------------------------------------------

async function loadApprovals() {
  const status = $("#approvals-status").value;
  const root = $("#approvals");
  let rows;
  try { rows = await api(`/approvals?status=${status}`); } catch (err) { root.replaceChildren(problem(err, "see approvals")); return; }
  if (status === "pending") $("#approvals-count").textContent = rows.length ? String(rows.length) : "";
  if (!rows.length) { root.replaceChildren(h("p", {class: "empty"}, `No ${status === "all" ? "" : status + " "}approvals.`)); return; }
  root.replaceChildren(...rows.map(approvalCard));
}

function approvalCard(a) {
  const canDecide = state.me && state.me.role === "ops_manager" && a.status === "pending";
  const reason = h("input", {class: "reason", placeholder: "Why reject? (required)", "aria-label": "Reason for rejecting", hidden: true});
  const card = h("article", {class: "card approval", dataset: {approval: a.approval_id}},
    h("div", {class: "ship-head"}, h("strong", {class: "mono"}, a.approval_id), pill(a.status, "status"),
      h("span", {class: "tool mono"}, a.tool), a.args.shipment_id ? shipmentLink(a.args.shipment_id) : null),
    h("p", {}, a.reason || ""),
    h("p", {class: "muted small mono"}, summarize(a.args)),
    h("p", {class: "muted small"}, `proposed by ${a.proposer} at ${fmtTime(a.created_at)}`,
      a.decided_by ? ` · ${a.status} by ${a.decided_by} at ${fmtTime(a.decided_at)}${a.decision_reason ? ` — ${a.decision_reason}` : ""}` : ""),
  );
  if (canDecide) {
    const approve = h("button", {type: "button", class: "approve", onclick: () => decide(a, true, null, card)}, "Approve");
    const reject = h("button", {type: "button", class: "reject secondary", onclick: () => {
      if (reason.hidden) { reason.hidden = false; reason.focus(); return; }
      if (!reason.value.trim()) { reason.focus(); toast("Say why you reject it.", "error"); return; }
      decide(a, false, reason.value.trim(), card);
    }}, "Reject");
    card.append(h("div", {class: "actions"}, approve, reject, reason));
  } else if (a.status === "pending") {
    card.append(h("p", {class: "muted small"}, "Only an ops manager can decide."));
  }
  return card;
}

async function decide(a, approve, reason, card) {
  for (const b of card.querySelectorAll("button")) b.disabled = true;
  try {
    const path = `/approvals/${encodeURIComponent(a.approval_id)}/${approve ? "approve" : "reject"}`;
    const row = await api(path, {method: "POST", body: approve ? {} : {reason}});
    toast(`${row.approval_id} ${row.status}: ${row.tool}${row.thread_reply ? " — " + row.thread_reply.slice(0, 140) : ""}`);
    loadApprovals();
    refreshKpis();
    if (a.args.shipment_id && state.shipment === a.args.shipment_id) openShipment(a.args.shipment_id);
    return row;
  } catch (err) {
    toast(`Could not ${approve ? "approve" : "reject"} ${a.approval_id}: ${err.message}`, "error");
    for (const b of card.querySelectorAll("button")) b.disabled = false;
    return null;
  }
}

// --- audit -------------------------------------------------------------------------------------

async function loadAudit() {
  const status = $("#audit-status"), root = $("#audit");
  let chain;
  try { chain = await api("/audit/verify"); } catch (err) { status.replaceChildren(problem(err, "see the audit trail")); root.replaceChildren(); return; }
  status.className = "chain " + (chain.ok ? "ok" : "broken");
  status.replaceChildren(h("strong", {}, chain.ok ? "✓ Chain intact" : `✗ Chain broken at entry ${chain.first_broken}`),
    h("span", {}, chain.ok ? ` — ${chain.entries.toLocaleString()} entries, head ${chain.head_hash.slice(0, 16)}…` : ` — ${chain.problem}`));
  const since = Math.max(0, chain.entries - 40);
  let entries = [];
  try { entries = await api(`/audit?since_seq=${since}&limit=40`); } catch (err) { root.replaceChildren(problem(err, "list audit entries")); return; }
  const rows = entries.reverse().map((e) => h("tr", {class: chain.first_broken === e.seq ? "broken-row" : ""},
    h("td", {class: "mono"}, String(e.seq)), h("td", {class: "nowrap"}, fmtTime(e.ts)), h("td", {class: "mono small"}, e.actor),
    h("td", {}, e.action), h("td", {class: "mono small"}, e.subject || ""), h("td", {class: "small"}, e.reason || "")));
  root.replaceChildren(h("table", {class: "table", id: "audit-table"},
    h("thead", {}, h("tr", {}, ...["#", "Time (UTC)", "Actor", "Action", "Subject", "Reason"].map((t) => h("th", {}, t)))),
    h("tbody", {}, rows)));
}

async function exportAudit() {
  try {
    const res = await api("/audit/export", {stream: true});
    const url = URL.createObjectURL(await res.blob());
    h("a", {href: url, download: "proofline-audit.jsonl"}).click();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  } catch (err) { toast(`Export failed: ${err.message}`, "error"); }
}

// --- reschedule --------------------------------------------------------------------------------

async function reschedule(text) {
  const root = $("#reschedule-result");
  root.replaceChildren(h("p", {class: "muted"}, "Working…"));
  try {
    const r = await api("/reschedule", {method: "POST", body: {text}});
    const options = (r.options || []).map((o) => h("li", {}, `${fmtTime(o.start)} – ${fmtTime(o.end)}${o.reason ? " — " + o.reason : ""}`));
    root.replaceChildren(h("article", {class: "card"}, h("div", {class: "ship-head"}, pill(r.status, "status"), shipmentLink(r.shipment_id)),
      h("p", {}, r.message), options.length ? h("ul", {class: "plain"}, options) : null));
  } catch (err) { root.replaceChildren(problem(err, "handle reschedule requests")); }
}

// --- chat --------------------------------------------------------------------------------------

function chatLine(node) {
  const log = $("#chat-log");
  log.append(node);
  log.scrollTop = log.scrollHeight;
  return node;
}

function renderEvent(ev) {
  const d = ev.data || {};
  switch (ev.event) {
    case "message": return chatLine(h("div", {class: "bubble user"}, d.content));
    case "note": return chatLine(h("div", {class: "event note"}, d.content));
    case "tool_call": return chatLine(h("div", {class: "event call mono"}, `→ ${d.tool}(${summarize(d.args)})`));
    case "tool_result": {
      const json = JSON.stringify(d.result, null, 2);
      return chatLine(h("details", {class: "event result"}, h("summary", {}, `✓ ${d.tool} answered`),
        h("pre", {}, json.length > 4000 ? json.slice(0, 4000) + "\n…" : json)));
    }
    case "tool_error": return chatLine(h("div", {class: "event warn"}, `✗ ${d.tool}: ${d.error}`));
    case "refused": return chatLine(h("div", {class: "event warn"}, `⛔ refused ${d.tool}: ${d.reason}`));
    case "approval_request": return chatLine(approvalRequest(d));
    case "approval": return chatLine(h("div", {class: "event note"}, `${d.approval_id} ${d.status} (${d.tool})`));
    case "reply": return chatLine(h("div", {class: "bubble agent"}, d.content));
    case "error": return chatLine(h("div", {class: "event warn"}, `Error: ${d.detail}`));
    default: return null;
  }
}

function approvalRequest(d) {
  const canDecide = state.me && state.me.role === "ops_manager";
  const card = h("div", {class: "event approval-request", dataset: {approval: d.approval_id}},
    h("div", {}, h("strong", {}, "Waiting for approval "), h("span", {class: "mono"}, d.approval_id)),
    h("div", {class: "mono small"}, `${d.tool}(${summarize(d.args)})`),
    h("div", {class: "small"}, d.why || ""));
  if (canDecide) {
    card.append(h("div", {class: "actions"},
      h("button", {type: "button", class: "approve", onclick: () => resumeChat("approve", card)}, "Approve"),
      h("button", {type: "button", class: "reject secondary", onclick: () => resumeChat("reject", card)}, "Reject")));
  } else {
    card.append(h("div", {class: "muted small"}, "An ops manager must approve this (Approvals tab)."));
  }
  return card;
}

async function streamTurn(path, body) {
  state.chatBusy = true;
  $("#chat-send").disabled = true;
  const typing = chatLine(h("div", {class: "event typing"}, "Proofline is working…"));
  try {
    const res = await api(path, {method: "POST", body, stream: true});
    for await (const ev of readSse(res)) {
      if (ev.event === "done") break;
      renderEvent(ev);
      chatLine(typing);
    }
  } catch (err) {
    chatLine(h("div", {class: "event warn"}, `Error: ${err.message}`));
  } finally {
    typing.remove();
    state.chatBusy = false;
    $("#chat-send").disabled = false;
    refreshKpis();
    loadApprovals();
    if (state.shipment && !$("#view-shipment").hidden) openShipment(state.shipment);
  }
}

async function sendChat(message) {
  if (state.chatBusy) return;
  await streamTurn(`/chat/${encodeURIComponent(state.thread)}/messages`, {message});
}

async function resumeChat(decision, card) {
  for (const b of card.querySelectorAll("button")) b.disabled = true;
  await streamTurn(`/chat/${encodeURIComponent(state.thread)}/resume`, {decision});
}

async function restoreThread() {
  try {
    const t = await api(`/chat/${encodeURIComponent(state.thread)}`);
    if (t.approval) chatLine(approvalRequest(t.approval));
  } catch { /* a new thread */ }
}

// --- wiring ------------------------------------------------------------------------------------

function wire() {
  $("#key-form").addEventListener("submit", (e) => { e.preventDefault(); connect($("#api-key").value); });
  $("#sign-out").addEventListener("click", () => signOut());
  for (const tab of document.querySelectorAll("[role=tab]")) tab.addEventListener("click", () => showView(tab.dataset.view));
  $("#board-status").addEventListener("change", startBoard);
  $("#run-triage").addEventListener("click", runTriage);
  $("#shipment-form").addEventListener("submit", (e) => { e.preventDefault(); openShipment($("#shipment-id").value); });
  $("#approvals-status").addEventListener("change", loadApprovals);
  $("#approvals-refresh").addEventListener("click", loadApprovals);
  $("#audit-refresh").addEventListener("click", loadAudit);
  $("#audit-export").addEventListener("click", exportAudit);
  $("#reschedule-form").addEventListener("submit", (e) => { e.preventDefault(); reschedule($("#reschedule-text").value); });
  $("#new-thread").addEventListener("click", () => {
    state.thread = newThreadId();
    $("#chat-log").replaceChildren(h("p", {class: "muted hint"}, "New conversation."));
  });
  $("#chat-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const input = $("#chat-input");
    const text = input.value.trim();
    if (!text) return;
    input.value = "";
    sendChat(text);
  });
  $("#chat-input").addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); $("#chat-form").requestSubmit(); }
  });
  document.addEventListener("click", (e) => {
    const target = e.target.closest("[data-shipment]");
    if (target) { e.preventDefault(); openShipment(target.dataset.shipment); }
  });
  setInterval(() => { if (state.key) refreshKpis(); }, 30000);
  if (state.key) connect(state.key);
}

wire();
