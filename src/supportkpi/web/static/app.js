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
let lastDay = null;
let liveDay = null;  // a past day the live strip replays (the last day with data), or null: now
let thinBelow = 20;
const drawn = {};  // each view's last answer, to redraw it in another colour scheme  // the API's threshold (headline thin_below), for the words only

// ---------------------------------------------------------------- formatting

function duration(seconds) {
  if (seconds === null || seconds === undefined) return "–";
  const s = Math.abs(seconds);
  const sign = seconds < 0 ? "−" : "";
  if (s < 120) return `${seconds.toFixed(Number.isInteger(seconds) ? 0 : 1)} s`;
  if (s < 600) {  // minutes and seconds, so that 1m 04s never reads as a met "≤ 1m 00s"
    const whole = Math.round(s);
    return `${sign}${Math.floor(whole / 60)}m ${String(whole % 60).padStart(2, "0")}s`;
  }
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
  lastDay = meta.last_day;
  if (me.role === "vendor") {
    $("f-vendor").value = me.vendor;
    $("f-vendor").disabled = true;
  }
  const url = new URLSearchParams(location.search);
  for (const name of FILTERS) if (url.get(name)) $(`f-${name}`).value = url.get(name);
  if ($("f-vendor").value && me.role !== "vendor") await narrowTeams();
  if (!$("f-to").value && meta.last_day) $("f-to").value = meta.last_day;
  if (!$("f-from").value && meta.last_day) {
    const from = new Date(meta.last_day + "T00:00:00Z");
    from.setUTCDate(from.getUTCDate() - 27);
    const first = meta.first_day && meta.first_day > from.toISOString().slice(0, 10);
    $("f-from").value = first ? meta.first_day : from.toISOString().slice(0, 10);
  }
  saveFiltersInUrl();
  const kpis = await api("/v1/kpis");
  for (const k of kpis) for (const c of k.columns) CARD_UNITS[c.column] = { ...c, label: k.label };
  await Promise.all([refresh(), refreshLive()]);
  if (liveTimer) clearInterval(liveTimer);
  liveTimer = setInterval(refreshLive, 15000);
}

function fillSelect(id, values) {
  const select = $(id);
  const kept = select.value;
  select.length = 1;
  for (const v of values || []) select.add(new Option(v, v));
  select.value = (values || []).includes(kept) ? kept : "";
}

// The teams of the vendor chosen (all teams for all vendors): a team the vendor has none of
// is not offered.
async function narrowTeams() {
  const vendor = $("f-vendor").value;
  const meta = await api("/v1/meta", vendor ? { vendor } : {});
  fillSelect("f-team", meta.team);
}

// Each view: where it is drawn, what it asks the API and how it draws the answer. A view shows
// "Loading…" while asked, and is emptied, with the reason, when its request fails: old numbers
// never stay on screen beside new filters.
const AGENT_KPIS = "chat_volume,first_response_time,average_handle_time,csat,first_contact_resolution";

function agentParams(f) {
  return { ...f, by: "vendor,agent", kpi: AGENT_KPIS, samples: "true" };
}

function slaParams(f) {
  return { from: f.from || "", to: f.to || "", vendor: f.vendor || "", channel: f.channel || "", team: f.team || "" };
}

// Each table's CSV and XLSX come from the API (the route of the table, format=csv|xlsx).
function exportLinks(id, path, params) {
  for (const format of ["csv", "xlsx"]) {
    $(`${id}-${format}`).href = `${path}?` + new URLSearchParams({ ...params, format });
  }
}

function views(f) {
  exportLinks("agents", "/v1/report", agentParams(f));
  exportLinks("sla", "/v1/sla", slaParams(f));
  return [
    ["cards", () => api("/v1/headline", f), drawCards],
    ["chart-trend", () => api("/v1/report", { ...f, by: "day", kpi: "chat_volume,first_response_time,csat", samples: "true" }), drawTrend],
    ["chart-vendors", () => api("/v1/report", { ...f, by: "vendor", kpi: VENDOR_KPIS.map((k) => k.kpi).join(","), samples: "true" }), drawVendors],
    ["chart-heatmap", () => api("/v1/peaks", f), drawHeatmap],
    ["chart-csat-frt", () => api("/v1/report", { ...f, by: "", kpi: "csat_by_response_bucket" }), drawCsatByFrt],
    ["chart-escalations", () => api("/v1/escalations", f), drawEscalations],
    ["agents", () => api("/v1/report", agentParams(f)), drawAgents],
    ["sla", () => api("/v1/sla", { ...slaParams(f), standing: "true" }), drawSla],
  ];
}

function setState(id, state, message) {
  const el = $(id);
  const box = el.closest(".panel") || el;
  if (state) box.dataset.state = state; else delete box.dataset.state;
  if (state !== "error") return;
  if (el.classList.contains("chart") && window.Plotly) Plotly.purge(el);
  el.replaceChildren();
  const note = document.createElement(el.tagName === "TABLE" ? "caption" : "p");
  note.className = "empty failed";
  note.textContent = `Not shown: ${message}`;
  el.append(note);
  el.dataset.points = "0";
  el.dataset.rows = "0";
}

async function refresh() {
  const mine = ++generation;
  document.body.dataset.loading = "1";
  const f = filters();
  const jobs = views(f).map(([id, ask, draw]) => {
    setState(id, "loading");
    return ask().then(
      (data) => { if (mine === generation) { drawn[id] = data; draw(data); setState(id, null); } },
      (error) => { if (mine === generation) { delete drawn[id]; setState(id, "error", error.message); } throw error; },
    );
  });
  const results = await Promise.allSettled(jobs);
  if (mine === generation) {
    const failed = results.filter((r) => r.status === "rejected");
    if (failed.length) {
      range = {};
      $("period-note").textContent = `Some views failed: ${failed[0].reason.message}`;
    }
    delete document.body.dataset.loading;
    document.body.dataset.generation = String(mine);
  }
}

// ---------------------------------------------------------------- live strip

// The live strip: now, or (asked for) the last day with data as it closed, for data that ends
// before today (the demo's ends in August).
async function refreshLive() {
  const f = filters();
  delete f.from; delete f.to;
  if (liveDay) f.day = liveDay;
  let live;
  try { live = await api("/v1/live", f); } catch (e) { return; }
  if ((liveDay || null) !== (f.day || null)) return;  // the choice changed while it was asked
  $("live-title").textContent = liveDay ? `${liveDay}, the last day with data` : "Now";
  $("live-at").textContent = liveDay ? `as it closed (${live.at.replace("T", " ").slice(0, 16)} UTC)`
    : `as of ${live.at.replace("T", " ").slice(0, 16)} UTC`;
  for (const el of document.querySelectorAll("#live .today")) el.textContent = liveDay ? "that day" : "today";
  $("live-waiting").textContent = live.waiting.toLocaleString();
  $("live-longest").textContent = duration(live.longest_wait_seconds);
  $("live-online").textContent = live.agents_online.total.toLocaleString();
  const t = live.today_kpis || {};
  $("live-frt").textContent = duration(t.first_response_time_median ?? null);
  $("live-abandon").textContent = format(t.abandonment_rate ?? null, "rate") + statusMark(t.abandonment_rate_status);
  $("live-volume").textContent = format(t.chat_volume ?? 0, "count");
  const quiet = !liveDay && !t.chat_volume && lastDay && lastDay < live.today;
  $("live-quiet").textContent = quiet ? `No conversations today: the data ends on ${lastDay}.` : "";
  $("live-last").hidden = !quiet;
  $("live-last").textContent = `Show the last day with data (${lastDay})`;
  $("live-now").hidden = !liveDay;
  $("live").dataset.at = live.at;
  if (liveDay) $("live").dataset.day = liveDay; else delete $("live").dataset.day;
}

function showLiveDay(day) {
  liveDay = day;
  refreshLive();
}

// ---------------------------------------------------------------- colour scheme

function darkNow() {
  const chosen = document.documentElement.dataset.theme;
  return chosen ? chosen === "dark" : matchMedia("(prefers-color-scheme: dark)").matches;
}

function showTheme() {
  const dark = darkNow();
  $("theme").textContent = dark ? "Light" : "Dark";
  $("theme").setAttribute("aria-pressed", String(dark));
  $("theme").title = dark ? "Switch to the light colour scheme" : "Switch to the dark colour scheme";
}

// The other scheme, remembered in localStorage; every chart redrawn in its colours.
function toggleTheme() {
  const next = darkNow() ? "light" : "dark";
  document.documentElement.dataset.theme = next;
  try { localStorage.setItem("supportkpi-theme", next); } catch (e) { /* not kept */ }
  restyleCharts();
}

function restyleCharts() {
  showTheme();
  if (!window.Plotly) return;
  for (const [id, , draw] of views(filters())) if (drawn[id] !== undefined) draw(drawn[id]);
  const theme = chartTheme();
  for (const el of document.querySelectorAll(".js-plotly-plot")) {
    Plotly.relayout(el, { paper_bgcolor: theme.paper_bgcolor, plot_bgcolor: theme.plot_bgcolor,
      "font.color": theme.font.color, ...axisTheme(el.layout) });
  }
}

function statusMark(status) {
  return status === "met" ? " ✓" : status === "missed" ? " ✗" : "";
}

// ---------------------------------------------------------------- cards

function drawCards(data) {
  if (data.thin_below) thinBelow = data.thin_below;
  const box = $("cards");
  box.replaceChildren();
  for (const card of data.cards || []) box.append(cardElement(card));
  range = data.from ? { from: data.from, to: data.to } : {};
  const held = data.held_to ? ` Targets: ${data.held_to}.` : "";
  $("period-note").textContent = data.from ? `${data.from} to ${data.to}, compared with ${data.previous_from} to ${data.previous_to}.${held}` : "";
}

function badge(status, target) {
  if (!status || status === "no target" || status === "missing") return "";
  const text = status === "met" ? "✓ met" : "✗ missed";
  return `<span class="badge ${status}">${text}</span> <span>target ${escapeHtml(target || "")}</span>`;
}

// "n=…" beside a value, and a "thin" mark when the API says it rests on too few rows.
function sampleMark(x) {
  if (x.sample === null || x.sample === undefined) return "";
  const n = `<span class="n-size" title="${escapeHtml(`measured over ${x.sample} ${x.sample_of || "rows"}`)}">n=${x.sample.toLocaleString()}</span>`;
  if (!x.thin) return n;
  return `${n} <span class="thin-mark" title="${escapeHtml(thinWords(x.sample_of))}">thin</span>`;
}

function thinWords(of) {
  return `fewer than ${thinBelow} ${of || "rows"}: too few to read as a fact`;
}

function escapeHtml(text) {
  const el = document.createElement("span");
  el.textContent = text;
  return el.innerHTML;
}

function cardElement(card) {
  const el = document.createElement("div");
  el.className = "card";
  el.dataset.kpi = card.kpi;
  const trend = card.trend ? `<span class="${card.trend}" title="against the period before">${change(card)} ${card.trend}</span>` : "";
  const split = (card.channels || []).length > 0;
  el.innerHTML = `<h3></h3><ul class="channels"></ul><div class="value"></div><div class="meta">${split ? "" : badge(card.status, card.target)}${trend}${split ? "" : sampleMark(card)}</div>`;
  el.querySelector("h3").innerHTML = `${escapeHtml(card.label)} <small>${escapeHtml(card.statistic || "")}</small>`;
  const shown = card.missing ? "n/a" : format(card.value, card.unit);
  el.querySelector(".value").textContent = split ? `all channels ${shown}` : shown;
  if (split) {
    el.querySelector(".value").classList.add("overall");
    el.classList.add("split");
  }
  if (card.thin && !card.missing) el.classList.add("thin");
  if (card.sample !== null && card.sample !== undefined) el.dataset.sample = String(card.sample);
  for (const c of card.channels || []) {
    const li = document.createElement("li");
    li.dataset.channel = c.channel;
    li.innerHTML = `<span class="ch"></span> <b>${escapeHtml(format(c.value, card.unit))}</b> ${badge(c.status, c.target)} ${sampleMark({ ...c, sample_of: card.sample_of })}`;
    li.querySelector(".ch").textContent = c.channel;
    if (c.thin) li.classList.add("thin");
    el.querySelector(".channels").append(li);
  }
  if (card.missing) el.title = card.missing;
  if (drillable.has(card.kpi) && !card.missing) makeDrillable(el, card);
  return el;
}

// ---------------------------------------------------------------- drill-down

// What is listed: a KPI (or none: every conversation) and a cell of the views (a vendor, an
// agent, a weekday × hour, an SLA target's scope). The list is the query service's, the same
// conversations the number was computed over.
function makeDrillable(el, card, cell) {
  el.classList.add("drillable");
  el.tabIndex = 0;
  el.setAttribute("role", "button");
  el.title = "List the conversations behind this number";
  el.addEventListener("click", () => openDrill(card, cell));
  el.addEventListener("keydown", (e) => { if (e.key === "Enter") openDrill(card, cell); });
}

async function openDrill(what, cell) {
  const kpi = what.kpi && drillable.has(what.kpi) ? what.kpi : null;
  drilled = { kpi, label: what.label, unit: what.unit, cell: cell || {} };
  $("drill-outcome").value = "";
  $("drill-outcome-label").hidden = !kpi || what.unit !== "rate" || Boolean(drilled.cell.params?.missed);
  await loadDrill();
  $("drill").scrollIntoView({ block: "nearest" });
}

function drillParams() {
  const params = { ...filters(), ...range, ...(drilled.cell.params || {}) };
  if (drilled.kpi) params.kpi = drilled.kpi;
  const outcome = $("drill-outcome").value;
  if (outcome) params.outcome = outcome;
  return params;
}

function shownValue(value, unit) {
  if (unit === "rate") return value === null ? "–" : value === 1 ? "yes" : "no";
  return format(value, unit === "count" ? "count" : unit);
}

// The order of the list, and the words for it: durations and scores largest first; a yes/no
// (a rate) or no KPI, the latest first.
function drillOrder() {
  if (drilled.kpi && drilled.unit !== "rate" && drilled.unit !== "count") {
    return { sort: "-value", words: `the ${drilled.label.toLowerCase()} highest first` };
  }
  return { sort: "-created", words: "the latest first" };
}

async function loadDrill() {
  const params = drillParams();
  const where = drilled.cell.words ? ` · ${drilled.cell.words}` : "";
  $("drill").hidden = false;
  $("timeline").hidden = true;
  $("drill-title").textContent = `${drilled.label}${where}: the conversations behind it`;
  exportLinks("drill", "/v1/conversations", params);
  const order = drillOrder();
  let data;
  $("drill").dataset.state = "loading";
  try {
    data = await api("/v1/conversations", { ...params, sort: order.sort, limit: 50 });
  } catch (e) {
    delete $("drill").dataset.state;
    $("drill-table").replaceChildren();
    $("drill-note").textContent = e.message;
    return;
  }
  delete $("drill").dataset.state;
  const rows = data.rows.map((r) => ({ ...r, value_text: shownValue(r.value, drilled.unit),
    created_text: (r.created || "").replace("T", " ") }));
  const shown = data.total > rows.length ? `; ${rows.length} shown, ${order.words}` : `, ${order.words}`;
  $("drill-note").textContent = `${data.total.toLocaleString()} ${data.measured_over}${shown}. Pick one to read it.`;
  const columns = [
    ["conversation_id", "conversation", "text"], ["created_text", "created", "text"],
    ["vendor", "vendor", "text"], ["agent", "agent", "text"], ["channel", "channel", "text"],
  ];
  if (drilled.kpi) columns.push(["value_text", drilled.label, "text"]);
  const facts = [["first_response_seconds", "first response", "seconds", "first_response_time"],
    ["resolution_seconds", "resolution", "seconds", "resolution_time"], ["csat_score", "CSAT (1–5)", "score", ""]];
  for (const [key, label, unit, kpi] of facts) if (kpi !== drilled.kpi) columns.push([key, label, unit]);
  table("drill-table", columns, rows, false);
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
  font: { family: "system-ui, sans-serif", size: 12 },
};

function cssVar(name) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}

// The colours of a chart in the current scheme (light or dark), from app.css's variables.
function chartTheme() {
  const panel = cssVar("--panel");
  return { paper_bgcolor: panel, plot_bgcolor: panel, font: { ...LAYOUT.font, color: cssVar("--ink") } };
}

function axisTheme(layout) {
  const line = cssVar("--line");
  const out = {};
  for (const key of Object.keys(layout)) {
    if (/^[xy]axis\d*$/.test(key)) {
      out[`${key}.gridcolor`] = line;
      out[`${key}.zerolinecolor`] = line;
      out[`${key}.linecolor`] = line;
    }
  }
  return out;
}
const CONFIG = { displaylogo: false, responsive: true, modeBarButtonsToRemove: ["lasso2d", "select2d"] };

function plot(id, traces, layout) {
  const el = $(id);
  const points = traces.reduce((n, t) => n + ((t.z ? t.z.flat() : t.y || t.x || []).filter((v) => v !== null).length), 0);
  if (!points) {
    Plotly.purge(el);
    el.innerHTML = '<p class="empty">No data for these filters.</p>';
    el.dataset.points = "0";
    return Promise.resolve();
  }
  el.innerHTML = "";
  return Plotly.newPlot(el, traces, { ...LAYOUT, ...chartTheme(), ...layout }, CONFIG).then(() => {
    el.dataset.points = String(points);
    return Plotly.relayout(el, axisTheme(el.layout));
  });
}

// A value the API marks thin (too few rows measured) is not drawn into its line nor into the
// axis range: it is a hollow grey point, held inside the axis, its true value and n on hover.
function thinSplit(rows, day, value, thin, sample) {
  const solid = rows.map((r) => (r[thin] ? null : value(r)));
  const held = rows.filter((r) => r[thin] && value(r) !== null);
  return { solid, held: held.map((r) => ({ x: day(r), y: value(r), n: r[sample] || 0 })) };
}

function thinTrace(name, points, yaxis, top) {
  return {
    type: "scatter", mode: "markers", name, yaxis, x: points.map((p) => p.x),
    y: points.map((p) => Math.min(Math.max(p.y, 0), top)),
    customdata: points.map((p) => [p.y, p.n]),
    marker: { symbol: "circle-open", size: 9, color: cssVar("--thin"), line: { width: 2 } },
    hovertemplate: `%{x}: ${name.split(",")[0]} %{customdata[0]:.1f}, n=%{customdata[1]} (thin)<extra></extra>`,
  };
}

function drawTrend(rows) {
  const days = rows.map((r) => r.day);
  const frt = thinSplit(rows, (r) => r.day, (r) => (r.first_response_time_median === null ? null : r.first_response_time_median / 60),
    "first_response_time__thin", "first_response_time__sample");
  const csat = thinSplit(rows, (r) => r.day, (r) => (r.csat === null ? null : r.csat * 100), "csat__thin", "csat__sample");
  const frtTop = Math.max(0, ...frt.solid.filter((v) => v !== null)) * 1.1 || 1;
  const traces = [
    { type: "bar", name: "conversations", x: days, y: rows.map((r) => r.chat_volume), marker: { color: cssVar("--bar") } },
    { type: "scatter", mode: "lines+markers", name: "FRT median (min)", x: days, y: frt.solid, yaxis: "y2", line: { color: cssVar("--frt") } },
    { type: "scatter", mode: "lines", name: "CSAT (%)", x: days, y: csat.solid, yaxis: "y3", line: { color: cssVar("--csat"), dash: "dot" } },
  ];
  if (frt.held.length) traces.push(thinTrace("FRT median, thin sample", frt.held, "y2", frtTop));
  if (csat.held.length) traces.push(thinTrace("CSAT, thin sample", csat.held, "y3", 100));
  const thinDays = [...new Set([...frt.held, ...csat.held].map((p) => p.x))].sort();
  $("chart-trend").dataset.thinDays = thinDays.join(",");
  $("trend-note").textContent = thinDays.length ? trendNote(rows, thinDays) : "";
  plot("chart-trend", traces, {
    xaxis: { tickformat: "%b %-d" },
    yaxis: { title: { text: "conversations" } },
    yaxis2: { overlaying: "y", side: "right", title: { text: "FRT median, min" }, showgrid: false, tickformat: ".1f", range: [0, frtTop] },
    yaxis3: { overlaying: "y", side: "right", visible: false, range: [0, 100] },
  });
}

function trendNote(rows, thinDays) {
  const said = thinDays.slice(0, 3).map((day) => {
    const r = rows.find((x) => x.day === day);
    const parts = [];
    if (r.csat__thin && r.csat !== null) parts.push(`CSAT over ${r.csat__sample} answers`);
    if (r.first_response_time__thin && r.first_response_time_median !== null) parts.push(`FRT over ${r.first_response_time__sample} conversations`);
    return `${day} (${parts.join(", ")})`;
  });
  const more = thinDays.length > 3 ? ` and ${thinDays.length - 3} more days` : "";
  return `Hollow grey points rest on fewer than ${thinBelow} measured rows: ${said.join("; ")}${more}. `
    + "They are shown, but left out of the lines and the axis range.";
}

const VENDOR_KPIS = [
  { kpi: "csat", label: "CSAT", unit: "rate" },
  { kpi: "first_contact_resolution", label: "First contact resolution", unit: "rate" },
  { kpi: "abandonment_rate", label: "Abandonment rate", unit: "rate" },
  { kpi: "first_response_time", label: "First response time", unit: "seconds" },
];

// A click on a point of a chart: `pick(point)` says what to list, or nothing.
// (Plotly.newPlot drops the listeners of the plot before, so each drawing adds its own.)
function onPick(id, pick) {
  const el = $(id);
  el.on("plotly_click", (event) => {
    const chosen = event.points && event.points.length ? pick(event.points[0]) : null;
    if (chosen) openDrill(chosen.what, chosen.cell);
  });
}

function vendorCell(vendor) {
  return vendor === "(none)" ? { params: {}, words: "no vendor" } : { params: { vendor }, words: vendor };
}

function drawVendors(rows) {
  const vendors = rows.map((r) => r.vendor ?? "(none)");
  // a thin value (the API's flag): a faded hatched bar or a hollow mark (held inside the axis,
  // which only solid values set), its n on hover
  const [csat, fcr, abandon, frt] = VENDOR_KPIS;
  const thin = (k) => rows.map((r) => Boolean(r[`${k.kpi}__thin`]));
  const bar = (k, name, colour) => ({
    type: "bar", name, meta: k.kpi, x: vendors, y: rows.map((r) => r[k.kpi] === null ? null : r[k.kpi] * 100),
    marker: { color: cssVar(colour), opacity: thin(k).map((t) => (t ? 0.45 : 1)),
      pattern: { shape: thin(k).map((t) => (t ? "/" : "")) } },
    customdata: rows.map((r) => r[`${k.kpi}__sample`] ?? null),
    hovertemplate: `%{x}: ${name.replace(" %", "")} %{y:.1f} %, n=%{customdata}<extra></extra>`,
  });
  const few = VENDOR_KPIS.flatMap((k) => rows.filter((r) => r[`${k.kpi}__thin`] && r[k.kpi] !== null).map((r) => `${r.vendor ?? "(none)"} ${k.label} (n=${r[`${k.kpi}__sample`]})`));
  $("chart-vendors").dataset.thin = String(few.length);
  const frtValues = rows.map((r) => (r.first_response_time_median === null ? null : r.first_response_time_median / 60));
  const solid = frtValues.filter((v, i) => v !== null && !thin(frt)[i]);
  const frtTop = Math.max(...(solid.length ? solid : frtValues.filter((v) => v !== null)), 0) * 1.1 || 1;
  $("vendors-note").textContent = few.length ? `Faded, hatched or hollow: fewer than ${thinBelow} rows measured, too few to read as a fact: ${few.join(", ")}.` : "";
  plot("chart-vendors", [
    bar(csat, "CSAT %", "--accent"), bar(fcr, "FCR %", "--teal"), bar(abandon, "abandonment %", "--bad"),
    { type: "scatter", mode: "markers", name: "FRT median (min)", meta: frt.kpi, x: vendors, y: frtValues.map((v) => (v === null ? null : Math.min(v, frtTop))), yaxis: "y2",
      customdata: rows.map((r, i) => [frtValues[i], r.first_response_time__sample ?? null]), hovertemplate: "%{x}: FRT median %{customdata[0]:.1f} min, n=%{customdata[1]}<extra></extra>",
      marker: { size: 13, symbol: thin(frt).map((t) => (t ? "diamond-open" : "diamond")), color: thin(frt).map((t) => cssVar(t ? "--thin" : "--frt")), line: { width: 1.5, color: cssVar("--panel") } } },
  ], {
    barmode: "group",
    hovermode: "closest",  // a click picks the bar under the pointer, not every bar of the vendor
    yaxis: { title: { text: "%" }, range: [0, 100] },
    yaxis2: { overlaying: "y", side: "right", title: { text: "FRT median, min" }, showgrid: false, range: [0, frtTop], tickformat: ".1f" },
  }).then(() => onPick("chart-vendors", (p) => ({
    what: VENDOR_KPIS.find((k) => k.kpi === p.data.meta), cell: vendorCell(p.x),
  })));
}

const WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

function drawHeatmap(rows) {
  const z = WEEKDAYS.map(() => Array(24).fill(0));
  for (const r of rows) z[r.weekday][r.hour] = r.conversations;
  const hours = [...Array(24).keys()].map((h) => `${String(h).padStart(2, "0")}h`);
  plot("chart-heatmap", [{ type: "heatmap", z: rows.length ? z : [], x: hours, y: WEEKDAYS, colorscale: [[0, cssVar("--heat-low")], [1, cssVar("--heat-high")]], hovertemplate: "%{y} %{x}: %{z} conversations<extra></extra>" }], {
    yaxis: { autorange: "reversed" }, margin: { l: 40, r: 10, t: 10, b: 40 },
  }).then(() => onPick("chart-heatmap", (p) => {
    const weekday = WEEKDAYS.indexOf(p.y);
    const hour = parseInt(p.x, 10);
    return {
      what: { kpi: null, label: "Conversations", unit: "count" },
      cell: { params: { weekday, hour_of_day: hour }, words: `${WEEKDAYS[weekday]} ${p.x}` },
    };
  }));
}

function drawCsatByFrt(rows) {
  const row = rows[0] || {};
  const columns = Object.keys(CARD_UNITS).filter((c) => c.startsWith("csat_by_response_bucket_"));
  plot("chart-csat-frt", [{
    type: "bar",
    x: columns.map((c) => CARD_UNITS[c].meaning.replace("csat, first response ", "")),
    y: columns.map((c) => row[c] === null || row[c] === undefined ? null : row[c] * 100),
    marker: { color: cssVar("--accent") }, hovertemplate: "%{x}: %{y:.1f} %<extra></extra>",
  }], { yaxis: { title: { text: "CSAT %" }, range: [0, 100] }, xaxis: { title: { text: "first response" }, automargin: true } });
}

function drawEscalations(rows) {
  const sorted = [...rows].sort((a, b) => a.escalations - b.escalations);
  plot("chart-escalations", [{
    type: "bar", orientation: "h", y: sorted.map((r) => r.escalation_reason), x: sorted.map((r) => r.escalations),
    marker: { color: cssVar("--purple") }, hovertemplate: "%{y}: %{x}<extra></extra>",
  }], { margin: { l: 160, r: 10, t: 10, b: 40 }, xaxis: { title: { text: "escalations" } } });
}

// ---------------------------------------------------------------- tables

// A table of `rows`: `columns` are [key, label, unit, extra]; extra.sort names the value a
// column sorts by (a shown text's number), extra.thin and extra.sample the columns saying the
// value is thin (the API's flag) and its n. A sortable table's headers are buttons: Tab reaches
// them, Enter or Space sorts, aria-sort says how.
function table(id, columns, rows, sortable) {
  const el = $(id);
  el.replaceChildren();
  el.tableState = { columns, rows, sortable };
  if (!rows.length) {
    el.innerHTML = '<tbody><tr><td class="empty">No data for these filters.</td></tr></tbody>';
    el.dataset.rows = "0";
    return;
  }
  const head = el.createTHead().insertRow();
  columns.forEach(([key, label, unit], i) => {
    const th = document.createElement("th");
    th.dataset.key = key;
    th.scope = "col";
    if (i === 0 || unit === "text") th.className = "text";
    if (sortable) {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "sort";
      button.textContent = label;
      button.addEventListener("click", () => sortBy(id, key));
      th.append(button);
      th.setAttribute("aria-sort", "none");
    } else {
      th.textContent = label;
    }
    head.append(th);
  });
  const body = el.createTBody();
  for (const r of rows) {
    const tr = body.insertRow();
    for (const [key, label, unit, extra] of columns) {
      const td = tr.insertCell();
      td.textContent = unit === "text" ? (r[key] ?? "") : format(r[key], unit);
      td.dataset.label = label;  // the column's name beside the value when rows stack (phones)
      if (unit === "text") td.className = "text";
      if (extra?.thin && r[extra.thin] && r[key] !== null && r[key] !== undefined) {
        td.classList.add("thin");
        td.title = `n=${r[extra.sample]}: ${thinWords(extra.of)}`;
        td.textContent += ` · n=${r[extra.sample]}`;
      }
    }
  }
  el.dataset.rows = String(rows.length);
  if (el.onrows) el.onrows(rows);
}

function sortBy(id, key) {
  const { columns, rows, sortable } = $(id).tableState;
  const th = $(id).querySelector(`th[data-key="${key}"]`);
  const descending = th.getAttribute("aria-sort") !== "descending";
  const by = columns.find((c) => c[0] === key)[3]?.sort || key;
  const sign = descending ? -1 : 1;
  const value = (r) => (r[by] === undefined ? null : r[by]);
  const sorted = [...rows].sort((a, b) => {
    if (value(a) === value(b)) return 0;
    if (value(a) === null) return 1;
    if (value(b) === null) return -1;
    return value(a) < value(b) ? -sign : sign;
  });
  table(id, columns, sorted, sortable);
  const now = $(id).querySelector(`th[data-key="${key}"]`);
  now.setAttribute("aria-sort", descending ? "descending" : "ascending");
  now.querySelector("button").focus();
}

// Rows that open the conversations behind them (agents, SLA targets).
function drillRows(id, pick) {
  $(id).onrows = (rows) => {
    $(id).querySelectorAll("tbody tr").forEach((tr, i) => {
      const chosen = rows[i] && pick(rows[i]);
      if (!chosen) return;
      tr.classList.add("drillable");
      makeDrillable(tr, chosen.what, chosen.cell);
    });
  };
}

function drawAgents(rows) {
  drillRows("agents", (r) => ({
    what: { kpi: "chat_volume", label: "Conversations", unit: "count" },
    cell: { params: { agent: r.agent, ...(r.vendor ? { vendor: r.vendor } : {}) }, words: `agent ${r.agent}` },
  }));
  const thin = (kpi, of) => ({ thin: `${kpi}__thin`, sample: `${kpi}__sample`, of });
  const shown = rows.filter((r) => r.agent !== null).sort((a, b) => b.chat_volume - a.chat_volume);
  table("agents", [
    ["agent", "agent", "text"], ["vendor", "vendor", "text"], ["chat_volume", "conversations (n)", "count"],
    ["first_response_time_median", "FRT median", "seconds", thin("first_response_time", "conversations with a first response")],
    ["average_handle_time", "AHT", "seconds", thin("average_handle_time", "conversations handled")],
    ["csat", "CSAT", "rate", thin("csat", "CSAT answers")], ["csat__sample", "CSAT answers", "count"],
    ["first_contact_resolution", "FCR", "rate", thin("first_contact_resolution", "conversations")],
  ], shown, true);
  const few = shown.filter((r) => r.csat__thin || r.first_response_time__thin).length;
  $("agents-note").textContent = few
    ? `${few} of ${shown.length} agents have values in grey with their n: fewer than ${thinBelow} rows measured, too few to read as a fact.`
    : "";
}

function slaCell(r) {
  const params = { vendor: r.vendor };
  const words = [r.vendor];
  for (const part of (r.scope === "all" ? [] : r.scope.split(", "))) {
    const [dim, value] = part.split(" ");
    params[dim] = value;
    words.push(value);
  }
  if (r.attainment !== null && r.status === "missed") params.missed = r.kpi;
  return { params, words: words.join(" · ") + (params.missed ? ` · missed ${r.target}` : "") };
}

function drawSla(data) {
  const rows = data.rows || data;
  const standing = $("sla-standing");
  standing.replaceChildren(...(data.standing || []).map((s) => {
    const li = document.createElement("li");
    li.className = s.missed.length ? "missed" : "met";
    li.dataset.vendor = s.vendor;
    li.textContent = s.sentence;
    return li;
  }));
  const shown = rows.map((r) => ({
    ...r, achieved_text: format(r.achieved, r.unit), kpi_text: CARD_UNITS[r.kpi]?.label || r.kpi,
    status_text: r.status === "met" ? "✓ met" : r.status === "missed" ? "✗ missed" : r.status,
  }));
  drillRows("sla", (r) => (drillable.has(r.kpi) ? {
    what: { kpi: r.kpi, label: r.kpi_text, unit: r.unit }, cell: slaCell(r),
  } : null));
  const drill = $("sla").onrows;
  $("sla").onrows = (sorted) => {  // each row's status (its colour), in whatever order it is sorted
    drill(sorted);
    $("sla").querySelectorAll("tbody tr").forEach((tr, i) => { if (sorted[i]) tr.dataset.status = sorted[i].status; });
  };
  table("sla", [
    ["vendor", "vendor", "text"], ["kpi_text", "KPI", "text"], ["scope", "scope", "text"], ["target", "target", "text"],
    ["achieved_text", "achieved", "text", { sort: "achieved" }], ["status_text", "status", "text"],
    ["attainment", "attainment", "rate"], ["compliance", "compliance", "rate"],
  ], shown, true);
}

// ---------------------------------------------------------------- wiring

document.addEventListener("DOMContentLoaded", () => {
  $("signin-form").addEventListener("submit", signIn);
  $("sign-out").addEventListener("click", signOut);
  $("drill-close").addEventListener("click", () => { $("drill").hidden = true; });
  $("drill-outcome").addEventListener("change", loadDrill);
  for (const name of FILTERS) {
    $(`f-${name}`).addEventListener("change", async () => {
      $("drill").hidden = true;
      if (name === "vendor") await narrowTeams().catch(() => {});
      saveFiltersInUrl(); refresh(); refreshLive();
    });
  }
  $("live-last").addEventListener("click", () => showLiveDay(lastDay));
  $("live-now").addEventListener("click", () => showLiveDay(null));
  $("theme").addEventListener("click", toggleTheme);
  matchMedia("(prefers-color-scheme: dark)").addEventListener("change", restyleCharts);
  showTheme();
  start();
});
