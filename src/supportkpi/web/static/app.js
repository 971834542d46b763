// supportkpi dashboard: signs in, keeps the filters in the URL, and draws what the API returns.
// Every number comes from the API; this script only lays it out and formats it.
"use strict";

const $ = (id) => document.getElementById(id);
const FILTERS = ["from", "to", "vendor", "channel", "team"];
const CARD_UNITS = {};
let generation = 0;
let liveTimer = null;
let me = null;
let drillable = new Set();
let range = {};
let drilled = null;

// ---------------------------------------------------------------- formatting

function duration(seconds) {
  if (seconds === null || seconds === undefined) return "–";
  const s = Math.abs(seconds);
  if (s < 60) return `${seconds.toFixed(0)} s`;
  if (s < 3600) return `${(seconds / 60).toFixed(1)} min`;
  if (s < 86400 * 2) return `${(seconds / 3600).toFixed(1)} h`;
  return `${(seconds / 86400).toFixed(1)} d`;
}

function format(value, unit) {
  if (value === null || value === undefined) return "–";
  switch (unit) {
    case "seconds": return duration(value);
    case "rate": return `${(value * 100).toFixed(1)} %`;
    case "money": return value.toLocaleString(undefined, { maximumFractionDigits: 2, minimumFractionDigits: 2 });
    case "count": return Math.round(value).toLocaleString();
    default: return typeof value === "number" ? value.toFixed(1) : String(value);
  }
}

function change(card) {
  if (card.change === null || card.change === undefined) return "";
  const sign = card.change > 0 ? "+" : card.change < 0 ? "−" : "±";
  const size = Math.abs(card.change);
  const text = card.unit === "rate" ? `${(size * 100).toFixed(1)} pts`
    : card.unit === "seconds" ? duration(size) : format(size, card.unit);
  return `${sign}${text}`;
}

// ---------------------------------------------------------------- requests

async function api(path, params) {
  const query = params ? "?" + new URLSearchParams(params).toString() : "";
  const response = await fetch(path + query, { credentials: "same-origin" });
  if (response.status === 401) { showSignIn(); throw new Error("signed out"); }
  const body = await response.json();
  if (!response.ok) throw new Error(body.error || response.statusText);
  return body;
}

function filters() {
  const out = {};
  for (const name of FILTERS) {
    const value = $(`f-${name}`).value;
    if (value) out[name] = value;
  }
  return out;
}

function saveFiltersInUrl() {
  const params = new URLSearchParams(filters());
  history.replaceState(null, "", params.toString() ? `?${params}` : location.pathname);
}

// ---------------------------------------------------------------- sign in

function showSignIn() {
  $("dashboard").hidden = true;
  $("signin").hidden = false;
  $("sign-out").hidden = true;
  $("who").textContent = "";
  if (liveTimer) clearInterval(liveTimer);
}

async function signIn(event) {
  event.preventDefault();
  $("signin-error").textContent = "";
  const response = await fetch("/v1/session", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ token: $("token").value }),
    credentials: "same-origin",
  });
  if (!response.ok) {
    const body = await response.json().catch(() => ({}));
    $("signin-error").textContent = body.error || "Sign-in failed";
    return;
  }
  $("token").value = "";
  await start();
}

async function signOut() {
  await fetch("/v1/session", { method: "DELETE", credentials: "same-origin" });
  showSignIn();
}

// ---------------------------------------------------------------- start

async function start() {
  try {
    me = await api("/v1/me");
  } catch (e) {
    return;
  }
  $("signin").hidden = true;
  $("dashboard").hidden = false;
  $("sign-out").hidden = !me.auth;
  $("who").textContent = me.auth ? `${me.name} · ${me.role}${me.vendor ? " " + me.vendor : ""}`
    : "open server (no sign-in)";
  const meta = await api("/v1/meta");
  fillSelect("f-vendor", meta.vendor);
  fillSelect("f-channel", meta.channel);
  fillSelect("f-team", meta.team);
  drillable = new Set(meta.drillable || []);
  if (me.role === "vendor") {
    $("f-vendor").value = me.vendor;
    $("f-vendor").disabled = true;
  }
  const url = new URLSearchParams(location.search);
  for (const name of FILTERS) if (url.get(name)) $(`f-${name}`).value = url.get(name);
  if (!$("f-to").value && meta.last_day) $("f-to").value = meta.last_day;
  if (!$("f-from").value && meta.last_day) {
    const from = new Date(meta.last_day + "T00:00:00Z");
    from.setUTCDate(from.getUTCDate() - 27);
    const first = meta.first_day && meta.first_day > from.toISOString().slice(0, 10);
    $("f-from").value = first ? meta.first_day : from.toISOString().slice(0, 10);
  }
  saveFiltersInUrl();
  const kpis = await api("/v1/kpis");
  for (const k of kpis) for (const c of k.columns) CARD_UNITS[c.column] = c;
  await Promise.all([refresh(), refreshLive()]);
  if (liveTimer) clearInterval(liveTimer);
  liveTimer = setInterval(refreshLive, 15000);
}

function fillSelect(id, values) {
  const select = $(id);
  select.length = 1;
  for (const v of values || []) select.add(new Option(v, v));
}

async function refresh() {
  const mine = ++generation;
  document.body.dataset.loading = "1";
  const f = filters();
  const jobs = [
    api("/v1/headline", f).then((d) => mine === generation && drawCards(d)),
    api("/v1/report", { ...f, by: "day", kpi: "chat_volume,first_response_time,csat" })
      .then((d) => mine === generation && drawTrend(d)),
    api("/v1/report", { ...f, by: "vendor", kpi: "first_response_time,csat,first_contact_resolution,abandonment_rate" })
      .then((d) => mine === generation && drawVendors(d)),
    api("/v1/peaks", f).then((d) => mine === generation && drawHeatmap(d)),
    api("/v1/report", { ...f, by: "", kpi: "csat_by_response_bucket" })
      .then((d) => mine === generation && drawCsatByFrt(d)),
    api("/v1/escalations", f).then((d) => mine === generation && drawEscalations(d)),
    api("/v1/report", { ...f, by: "agent", kpi: "chat_volume,first_response_time,average_handle_time,csat,first_contact_resolution" })
      .then((d) => mine === generation && drawAgents(d)),
    api("/v1/sla", { from: f.from || "", to: f.to || "", vendor: f.vendor || "" })
      .then((d) => mine === generation && drawSla(d)),
  ];
  const results = await Promise.allSettled(jobs);
  if (mine === generation) {
    const failed = results.filter((r) => r.status === "rejected");
    $("period-note").textContent = failed.length ? `Some views failed: ${failed[0].reason.message}` : "";
    delete document.body.dataset.loading;
    document.body.dataset.generation = String(mine);
  }
}

// ---------------------------------------------------------------- live strip

async function refreshLive() {
  const f = filters();
  delete f.from; delete f.to;
  let live;
  try { live = await api("/v1/live", f); } catch (e) { return; }
  $("live-at").textContent = `as of ${live.at.replace("T", " ").slice(0, 16)} UTC`;
  $("live-waiting").textContent = live.waiting.toLocaleString();
  $("live-longest").textContent = duration(live.longest_wait_seconds);
  $("live-online").textContent = live.agents_online.total.toLocaleString();
  const t = live.today_kpis || {};
  $("live-frt").textContent = duration(t.first_response_time_median ?? null);
  $("live-abandon").textContent = format(t.abandonment_rate ?? null, "rate") + statusMark(t.abandonment_rate_status);
  $("live-volume").textContent = format(t.chat_volume ?? 0, "count");
  $("live").dataset.at = live.at;
}

function statusMark(status) {
  return status === "met" ? " ✓" : status === "missed" ? " ✗" : "";
}

// ---------------------------------------------------------------- cards

function drawCards(data) {
  const box = $("cards");
  box.replaceChildren();
  for (const card of data.cards || []) {
    const el = document.createElement("div");
    el.className = "card";
    el.dataset.kpi = card.kpi;
    const status = card.status && card.status !== "no target"
      ? `<span class="badge ${card.status}">${card.status === "met" ? "✓ met" : card.status === "missed" ? "✗ missed" : card.status}</span> <span>target ${card.target}</span>`
      : "";
    const trend = card.trend ? `<span class="${card.trend}" title="against ${data.previous_from} – ${data.previous_to}">${change(card)} ${card.trend}</span>` : "";
    el.innerHTML = `<h3></h3><div class="value"></div><div class="meta">${status}${trend}</div>`;
    el.querySelector("h3").textContent = card.label;
    el.querySelector(".value").textContent = card.missing ? "n/a" : format(card.value, card.unit);
    if (card.missing) el.title = card.missing;
    if (drillable.has(card.kpi) && !card.missing) makeDrillable(el, card);
    box.append(el);
  }
  range = data.from ? { from: data.from, to: data.to } : {};
  $("period-note").textContent = data.from ? `${data.from} to ${data.to}, compared with ${data.previous_from} to ${data.previous_to}.` : "";
}

// ---------------------------------------------------------------- drill-down

function makeDrillable(el, card) {
  el.classList.add("drillable");
  el.tabIndex = 0;
  el.setAttribute("role", "button");
  el.title = "List the conversations behind this number";
  el.addEventListener("click", () => openDrill(card));
  el.addEventListener("keydown", (e) => { if (e.key === "Enter") openDrill(card); });
}

async function openDrill(card) {
  drilled = { kpi: card.kpi, label: card.label, unit: card.unit };
  $("drill-outcome").value = "";
  $("drill-outcome-label").hidden = card.unit !== "rate";
  await loadDrill();
  $("drill").scrollIntoView({ block: "nearest" });
}

function drillParams() {
  const params = { ...filters(), kpi: drilled.kpi, ...range };
  const outcome = $("drill-outcome").value;
  if (outcome) params.outcome = outcome;
  return params;
}

function shownValue(value, unit) {
  if (unit === "rate") return value === null ? "–" : value === 1 ? "yes" : "no";
  return format(value, unit === "count" ? "count" : unit);
}

async function loadDrill() {
  const params = drillParams();
  $("drill").hidden = false;
  $("timeline").hidden = true;
  $("drill-title").textContent = `${drilled.label}: the conversations behind it`;
  $("drill-csv").href = "/v1/conversations?" + new URLSearchParams({ ...params, format: "csv" });
  let data;
  try {
    data = await api("/v1/conversations", { ...params, sort: "-value", limit: 50 });
  } catch (e) {
    $("drill-note").textContent = e.message;
    return;
  }
  const rows = data.rows.map((r) => ({ ...r, value_text: shownValue(r.value, drilled.unit),
    created_text: (r.created || "").replace("T", " ") }));
  const more = data.total > rows.length ? `; the ${rows.length} with the highest value shown` : "";
  $("drill-note").textContent = `${data.total.toLocaleString()} ${data.measured_over}${more}. Pick one to read it.`;
  table("drill-table", [
    ["conversation_id", "conversation", "text"], ["created_text", "created", "text"],
    ["vendor", "vendor", "text"], ["agent", "agent", "text"], ["channel", "channel", "text"],
    ["value_text", drilled.label, "text"], ["first_response_seconds", "first response", "seconds"],
    ["resolution_seconds", "resolution", "seconds"], ["csat_score", "CSAT (1–5)", "score"],
  ], rows, false);
  $("drill-table").dataset.total = String(data.total);
  $("drill-table").querySelectorAll("tbody tr").forEach((tr, i) => {
    if (!rows[i]) return;
    tr.dataset.id = rows[i].conversation_id;
    tr.tabIndex = 0;
    tr.addEventListener("click", () => openTimeline(rows[i].conversation_id));
    tr.addEventListener("keydown", (e) => { if (e.key === "Enter") openTimeline(rows[i].conversation_id); });
  });
}

function item(className, label, text) {
  const li = document.createElement("li");
  li.className = className;
  const at = document.createElement("span");
  at.className = "at";
  at.textContent = label;
  const body = document.createElement("span");
  body.textContent = text;
  li.append(at, body);
  return li;
}

async function openTimeline(id) {
  let data;
  try {
    data = await api(`/v1/conversations/${encodeURIComponent(id)}`);
  } catch (e) {
    $("drill-note").textContent = e.message;
    return;
  }
  const c = data.conversation;
  $("timeline-title").textContent = [c.conversation_id, c.channel, c.vendor, c.agent || "no agent",
    `created ${(c.created || "").replace("T", " ")}`].filter(Boolean).join(" · ");
  $("timeline-messages").replaceChildren(...data.messages.map((m) => item(
    "msg" + (m.private ? " private" : m.reply ? " reply" : ""),
    `${(m.sent_at || "").replace("T", " ")} ${m.author_role}${m.private ? " · private note" : m.reply ? " · reply" : ""}`,
    m.text || "")));
  $("timeline-surveys").replaceChildren(...data.surveys.map((s) => item(
    "survey", `${s.kind} ${s.score}/${s.scale_max}`, s.comment ? `“${s.comment}”` : "(no comment)")));
  $("timeline").dataset.id = id;
  $("timeline").hidden = false;
}

// ---------------------------------------------------------------- charts

const LAYOUT = {
  margin: { l: 50, r: 50, t: 10, b: 40 },
  legend: { orientation: "h", y: -0.2 },
  paper_bgcolor: "#fff", plot_bgcolor: "#fff",
  font: { family: "system-ui, sans-serif", size: 12 },
};
const CONFIG = { displaylogo: false, responsive: true, modeBarButtonsToRemove: ["lasso2d", "select2d"] };

function plot(id, traces, layout) {
  const el = $(id);
  const points = traces.reduce((n, t) => n + ((t.z ? t.z.flat() : t.y || t.x || []).filter((v) => v !== null).length), 0);
  if (!points) {
    Plotly.purge(el);
    el.innerHTML = '<p class="empty">No data for these filters.</p>';
    el.dataset.points = "0";
    return;
  }
  el.innerHTML = "";
  Plotly.newPlot(el, traces, { ...LAYOUT, ...layout }, CONFIG).then(() => { el.dataset.points = String(points); });
}

function drawTrend(rows) {
  const days = rows.map((r) => r.day);
  plot("chart-trend", [
    { type: "bar", name: "conversations", x: days, y: rows.map((r) => r.chat_volume), marker: { color: "#b8c9e6" } },
    { type: "scatter", mode: "lines+markers", name: "FRT median (min)", x: days, y: rows.map((r) => r.first_response_time_median === null ? null : r.first_response_time_median / 60), yaxis: "y2", line: { color: "#c2571a" } },
    { type: "scatter", mode: "lines", name: "CSAT (%)", x: days, y: rows.map((r) => r.csat === null ? null : r.csat * 100), yaxis: "y3", line: { color: "#1a7f37", dash: "dot" } },
  ], {
    yaxis: { title: { text: "conversations" } },
    yaxis2: { overlaying: "y", side: "right", title: { text: "FRT median, min" }, showgrid: false, tickformat: ".1f" },
    yaxis3: { overlaying: "y", side: "right", visible: false, range: [0, 100] },
  });
}

function drawVendors(rows) {
  const vendors = rows.map((r) => r.vendor ?? "(none)");
  const bar = (name, col) => ({ type: "bar", name, x: vendors, y: rows.map((r) => r[col] === null ? null : r[col] * 100) });
  plot("chart-vendors", [
    bar("CSAT %", "csat"), bar("FCR %", "first_contact_resolution"), bar("abandonment %", "abandonment_rate"),
    { type: "scatter", mode: "markers", name: "FRT median (min)", x: vendors, y: rows.map((r) => r.first_response_time_median === null ? null : r.first_response_time_median / 60), yaxis: "y2", marker: { size: 12, symbol: "diamond", color: "#c2571a" } },
  ], {
    barmode: "group",
    yaxis: { title: { text: "%" }, range: [0, 100] },
    yaxis2: { overlaying: "y", side: "right", title: { text: "FRT median, min" }, showgrid: false, rangemode: "tozero", tickformat: ".1f" },
  });
}

const WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

function drawHeatmap(rows) {
  const z = WEEKDAYS.map(() => Array(24).fill(0));
  for (const r of rows) z[r.weekday][r.hour] = r.conversations;
  const hours = [...Array(24).keys()].map((h) => `${String(h).padStart(2, "0")}h`);
  plot("chart-heatmap", [{ type: "heatmap", z: rows.length ? z : [], x: hours, y: WEEKDAYS, colorscale: "Blues", reversescale: true, hovertemplate: "%{y} %{x}: %{z} conversations<extra></extra>" }], {
    yaxis: { autorange: "reversed" }, margin: { l: 40, r: 10, t: 10, b: 40 },
  });
}

function drawCsatByFrt(rows) {
  const row = rows[0] || {};
  const columns = Object.keys(CARD_UNITS).filter((c) => c.startsWith("csat_by_response_bucket_"));
  plot("chart-csat-frt", [{
    type: "bar",
    x: columns.map((c) => CARD_UNITS[c].meaning.replace("csat, first response ", "")),
    y: columns.map((c) => row[c] === null || row[c] === undefined ? null : row[c] * 100),
    marker: { color: "#2456a6" }, hovertemplate: "%{x}: %{y:.1f} %<extra></extra>",
  }], { yaxis: { title: { text: "CSAT %" }, range: [0, 100] }, xaxis: { title: { text: "first response" } } });
}

function drawEscalations(rows) {
  const sorted = [...rows].sort((a, b) => a.escalations - b.escalations);
  plot("chart-escalations", [{
    type: "bar", orientation: "h", y: sorted.map((r) => r.escalation_reason), x: sorted.map((r) => r.escalations),
    marker: { color: "#8a5cc2" }, hovertemplate: "%{y}: %{x}<extra></extra>",
  }], { margin: { l: 160, r: 10, t: 10, b: 40 }, xaxis: { title: { text: "escalations" } } });
}

// ---------------------------------------------------------------- tables

function table(id, columns, rows, sortable) {
  const el = $(id);
  el.replaceChildren();
  if (!rows.length) {
    el.innerHTML = '<tbody><tr><td class="empty">No data for these filters.</td></tr></tbody>';
    el.dataset.rows = "0";
    return;
  }
  const head = el.createTHead().insertRow();
  columns.forEach(([key, label], i) => {
    const th = document.createElement("th");
    th.textContent = label;
    th.dataset.key = key;
    if (i === 0 || columns[i][2] === "text") th.className = "text";
    if (sortable) th.addEventListener("click", () => sortBy(id, columns, rows, key));
    head.append(th);
  });
  const body = el.createTBody();
  for (const r of rows) {
    const tr = body.insertRow();
    for (const [key, , unit] of columns) {
      const td = tr.insertCell();
      td.textContent = unit === "text" ? (r[key] ?? "") : format(r[key], unit);
      if (unit === "text") td.className = "text";
    }
  }
  el.dataset.rows = String(rows.length);
}

function sortBy(id, columns, rows, key) {
  const th = $(id).querySelector(`th[data-key="${key}"]`);
  const descending = th.getAttribute("aria-sort") !== "descending";
  const sign = descending ? -1 : 1;
  const sorted = [...rows].sort((a, b) => {
    if (a[key] === b[key]) return 0;
    if (a[key] === null) return 1;
    if (b[key] === null) return -1;
    return a[key] < b[key] ? -sign : sign;
  });
  table(id, columns, sorted, true);
  $(id).querySelector(`th[data-key="${key}"]`).setAttribute("aria-sort", descending ? "descending" : "ascending");
}

function drawAgents(rows) {
  table("agents", [
    ["agent", "agent", "text"], ["chat_volume", "conversations", "count"],
    ["first_response_time_median", "FRT median", "seconds"], ["average_handle_time", "AHT", "seconds"],
    ["csat", "CSAT", "rate"], ["first_contact_resolution", "FCR", "rate"],
  ], rows.filter((r) => r.agent !== null).sort((a, b) => b.chat_volume - a.chat_volume), true);
}

function drawSla(rows) {
  const shown = rows.map((r) => ({ ...r, achieved_text: format(r.achieved, r.unit) }));
  table("sla", [
    ["vendor", "vendor", "text"], ["kpi", "KPI", "text"], ["scope", "scope", "text"], ["target", "target", "text"],
    ["achieved_text", "achieved", "text"], ["status", "status", "text"],
    ["attainment", "attainment", "rate"], ["compliance", "compliance", "rate"],
  ], shown, false);
}

// ---------------------------------------------------------------- wiring

document.addEventListener("DOMContentLoaded", () => {
  $("signin-form").addEventListener("submit", signIn);
  $("sign-out").addEventListener("click", signOut);
  $("drill-close").addEventListener("click", () => { $("drill").hidden = true; });
  $("drill-outcome").addEventListener("change", loadDrill);
  for (const name of FILTERS) {
    $(`f-${name}`).addEventListener("change", () => {
      $("drill").hidden = true;
      saveFiltersInUrl(); refresh(); refreshLive();
    });
  }
  start();
});
