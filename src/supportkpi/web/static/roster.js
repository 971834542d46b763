// The roster panel: on request, the least-cost shifts covering the staffing plan per channel
// (GET /v1/roster, the same service as `supportkpi roster`), drawn as agents on duty against
// the agents required per interval. Its own module: it needs nothing from app.js.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);

  async function rosterData(days) {
    const query = new URLSearchParams({ days, by: "channel" }).toString();
    const response = await fetch(`/v1/roster?${query}`, { credentials: "same-origin" });
    const body = await response.json();
    if (!response.ok) throw new Error(body.error || response.statusText);
    return body;
  }

  function line(group) {
    const shifts = group.shifts.reduce((n, s) => n + s.agents, 0);
    const people = group.agents ? new Set(group.agents.map((a) => a.agent)).size : null;
    const hours = group.shifts.reduce((n, s) => n + s.agents * s.hours, 0);
    const parts = [`${shifts} shifts`, `${hours} agent-hours`, `cost ${group.cost.toFixed(2)}`];
    if (people !== null) parts.unshift(`${people} people`);
    parts.push(`${group.shortfall_agent_intervals} agent-intervals short`, group.status);
    const li = document.createElement("li");
    li.dataset.channel = group.channel;
    li.dataset.shifts = String(shifts);
    li.textContent = `${group.channel}: ${parts.join(", ")}`;
    return li;
  }

  function draw(groups) {
    const list = $("roster-summary");
    list.replaceChildren(...groups.map(line));
    const traces = groups.flatMap((g) => {
      const x = g.coverage.map((c) => c.interval_start);
      return [
        { x, y: g.coverage.map((c) => c.on_duty), name: `${g.channel} on duty`, type: "scatter", line: { shape: "hv" } },
        { x, y: g.coverage.map((c) => c.required), name: `${g.channel} required`, type: "scatter", line: { shape: "hv", dash: "dot" } },
      ];
    });
    const el = $("chart-roster");
    const points = traces.reduce((n, t) => n + t.y.length, 0);
    const css = (name) => getComputedStyle(document.documentElement).getPropertyValue(name).trim();
    const colours = { paper_bgcolor: css("--panel"), plot_bgcolor: css("--panel"), font: { color: css("--ink") } };
    const grid = { gridcolor: css("--line"), zerolinecolor: css("--line") };
    Plotly.newPlot(el, traces, { margin: { t: 10, r: 10, b: 40, l: 40 }, yaxis: { title: "agents", ...grid }, xaxis: grid, ...colours },
      { displaylogo: false, responsive: true }).then(() => { el.dataset.points = String(points); });
  }

  async function run() {
    const button = $("roster-run");
    button.disabled = true;
    $("roster-note").textContent = "Forecasting, staffing and rostering…";
    try {
      const groups = await rosterData($("roster-days").value);
      draw(groups);
      $("roster-note").textContent = groups.length ? "" : "Nothing to roster: no channel could be forecast.";
    } catch (error) {
      $("roster-note").textContent = `No roster: ${error.message}`;
    } finally {
      button.disabled = false;
    }
  }

  function wire() {
    const button = $("roster-run");
    if (button) button.addEventListener("click", run);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", wire);
  else wire();
})();
