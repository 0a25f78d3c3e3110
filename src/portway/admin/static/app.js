// Portway dashboard: polls dashboard/data every second and draws what it returns.
// Hand-written, no dependencies: it must work offline, from the package, under a strict CSP.
// Every value from the server goes in through textContent or an attribute, never as HTML
// (route names and request ids can come from clients).
"use strict";

const POLL_MS = 1000;
const state = { pid: undefined, cursor: 0, frames: [], window: 600, interval: 1, rows: new Map() };

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined) continue;
    if (key === "class") node.className = value;
    else node.setAttribute(key, String(value));
  }
  for (const child of children) node.append(child instanceof Node ? child : String(child));
  return node;
}

function rate(value) {
  if (value >= 100) return value.toFixed(0);
  if (value >= 10) return value.toFixed(1);
  return value.toFixed(2);
}

function percent(ratio) {
  if (!ratio) return "0%";
  return ratio >= 0.1 ? (ratio * 100).toFixed(0) + "%" : (ratio * 100).toFixed(1) + "%";
}

function duration(seconds) {
  if (seconds === null || seconds === undefined) return "–";
  if (seconds < 0.001) return (seconds * 1e6).toFixed(0) + " µs";
  if (seconds < 1) return (seconds * 1000).toFixed(seconds < 0.01 ? 2 : 1) + " ms";
  return seconds.toFixed(2) + " s";
}

function spanText(seconds) {
  return seconds < 120 ? `${Math.round(seconds)} s` : `${Math.round(seconds / 60)} min`;
}

function clock(epoch) {
  return new Date(epoch * 1000).toLocaleTimeString([], { hour12: false });
}

// -- charts ------------------------------------------------------------------------------------
function setupCanvas(canvas) {
  const ratio = window.devicePixelRatio || 1;
  const width = canvas.clientWidth || 300, height = canvas.clientHeight || 36;
  const pixels = [Math.round(width * ratio), Math.round(height * ratio)];
  if (canvas.width !== pixels[0] || canvas.height !== pixels[1]) [canvas.width, canvas.height] = pixels;
  const ctx = canvas.getContext("2d");
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  ctx.clearRect(0, 0, width, height);
  return { ctx, width, height };
}

// The charts' time axis: the data kept so far, at least a minute (so a fresh gateway's first
// seconds are not a sliver at the right edge), at most the server's window.
function chartSpan() {
  const frames = state.frames;
  const kept = frames.length ? frames[frames.length - 1].time - frames[0].time : 0;
  return Math.min(state.window, Math.max(60, kept));
}

// lines: [{color, points: [[time, value|null], …]}], drawn over the last chartSpan() seconds.
function drawLines(canvas, lines, label) {
  const { ctx, width, height } = setupCanvas(canvas);
  const end = state.frames.length ? state.frames[state.frames.length - 1].time : Date.now() / 1000;
  const span = chartSpan();
  const start = end - span;
  let top = 0;
  for (const line of lines) for (const [, v] of line.points) if (v !== null && v > top) top = v;
  const pad = 3;
  const y = (v) => height - pad - (top ? (v / top) * (height - 2 * pad - 8) : 0);
  const x = (t) => ((t - start) / span) * width;
  ctx.strokeStyle = "#eef0f4";
  ctx.beginPath(); ctx.moveTo(0, height - pad + 0.5); ctx.lineTo(width, height - pad + 0.5); ctx.stroke();
  for (const line of lines) {
    ctx.strokeStyle = ctx.fillStyle = line.color;
    ctx.lineWidth = 1.5;
    ctx.beginPath();
    let drawing = false, last = null;
    for (const [t, v] of line.points) {
      if (v === null) { drawing = false; continue; }
      if (drawing) ctx.lineTo(x(t), y(v)); else ctx.moveTo(x(t), y(v));
      drawing = true;
      last = [t, v];
    }
    ctx.stroke();
    // The newest value as a dot: a lone sample (the first second of traffic) shows too.
    if (last !== null) ctx.fillRect(Math.min(x(last[0]), width - 3) - 1, y(last[1]) - 1.5, 3, 3);
  }
  ctx.fillStyle = "#677085";
  ctx.font = "10px system-ui, sans-serif";
  ctx.fillText(label(top), 2, 9);
}

const css = (name) => getComputedStyle(document.documentElement).getPropertyValue(name).trim();

function drawRoute(row, name) {
  const rates = [], errors = [], p50 = [], p99 = [];
  for (const frame of state.frames) {
    const point = frame.routes[name];
    const per = frame.elapsed || state.interval;
    rates.push([frame.time, point ? point.requests / per : 0]);
    errors.push([frame.time, point ? point["5xx"] / per : 0]);
    p50.push([frame.time, point ? point.p50 : null]);
    p99.push([frame.time, point ? point.p99 : null]);
  }
  drawLines(row.rateChart, [
    { color: css("--rate"), points: rates },
    { color: css("--err"), points: errors },
  ], (top) => "max " + rate(top) + "/s");
  drawLines(row.latencyChart, [
    { color: css("--p50"), points: p50 },
    { color: css("--p99"), points: p99 },
  ], (top) => "max " + duration(top));
}

// -- tables ------------------------------------------------------------------------------------
function routeRow(name) {
  const cells = {
    rate: el("td", { class: "num", "data-testid": "route-rate" }),
    errors: el("td", { class: "num", "data-testid": "route-errors" }),
    client: el("td", { class: "num", "data-testid": "route-4xx" }),
    p50: el("td", { class: "num", "data-testid": "route-p50" }),
    p99: el("td", { class: "num", "data-testid": "route-p99" }),
  };
  const rateChart = el("canvas", { "aria-label": `requests per second on ${name}` });
  const latencyChart = el("canvas", { "aria-label": `latency on ${name}` });
  const tr = el("tr", { "data-testid": "route", "data-route": name },
    el("td", { class: "mono", title: name }, name),
    cells.rate, cells.errors, cells.client, cells.p50, cells.p99,
    el("td", { class: "chart" }, rateChart), el("td", { class: "chart" }, latencyChart));
  return { tr, cells, rateChart, latencyChart };
}

function renderRoutes(summary) {
  const body = document.getElementById("routes");
  const names = Object.keys(summary);
  for (const name of [...state.rows.keys()]) {
    if (!(name in summary)) { state.rows.get(name).tr.remove(); state.rows.delete(name); }
  }
  for (const name of names) {
    let row = state.rows.get(name);
    if (!row) { row = routeRow(name); state.rows.set(name, row); }
    body.append(row.tr); // (re-)appended in the config's order
    const s = summary[name];
    row.cells.rate.textContent = rate(s.rate);
    row.cells.errors.textContent = percent(s.error_ratio);
    row.cells.errors.classList.toggle("hot", s.error_ratio > 0);
    row.cells.client.textContent = percent(s.client_error_ratio);
    row.cells.p50.textContent = duration(s.p50);
    row.cells.p99.textContent = duration(s.p99);
    drawRoute(row, name);
  }
  if (!names.length) body.replaceChildren(el("tr", { class: "empty" }, el("td", { colspan: 8 }, "no routes")));
}

const BAD = new Set(["ejected", "unhealthy", "open"]);
const WARN = new Set(["suspect", "probing", "deferred", "half_open"]);

function badge(value, testid) {
  const kind = BAD.has(value) ? "badge bad" : WARN.has(value) ? "badge warn" : "badge";
  return el("span", { class: kind, "data-testid": testid }, value.replace("_", "-"));
}

function renderTargets(upstreams) {
  const rows = [];
  for (const up of upstreams) {
    for (const t of up.targets) {
      rows.push(el("tr", {
        "data-testid": "target", "data-upstream": up.name, "data-target": t.target,
        "data-health": t.health, "data-breaker": t.breaker, "data-available": t.available,
        class: t.available ? null : "out",
        title: t.available ? "in rotation" : "out of rotation",
      },
      el("td", {}, up.name),
      el("td", { class: "mono", title: t.target }, t.target),
      el("td", {}, badge(t.health, "target-health")),
      el("td", {}, t.breaker === null ? "–" : badge(t.breaker, "target-breaker")),
      el("td", { class: "num" }, t.since === null ? "–" : clock(t.since)),
      el("td", { class: "num" }, t.ejections),
      el("td", { class: "num" }, `${t.open}/${t.busy}/${t.idle}`)));
    }
  }
  if (!rows.length) rows.push(el("tr", { class: "empty" }, el("td", { colspan: 7 }, "no upstreams")));
  document.getElementById("targets").replaceChildren(...rows);
}

function renderErrors(errors) {
  const rows = errors.map((e) => el("tr", { "data-testid": "error", "data-request-id": e.request_id },
    el("td", {}, clock(e.time)),
    el("td", { class: "hot" }, e.status),
    el("td", { class: "mono", title: e.route }, e.route),
    el("td", { class: "mono", title: e.target || "no target reached" }, e.target || "–"),
    el("td", { class: "mono", title: e.trace_id ? `trace ${e.trace_id}` : null, "data-testid": "error-request-id" },
      e.request_id)));
  if (!rows.length) rows.push(el("tr", { class: "empty" }, el("td", { colspan: 5 }, "none in memory")));
  document.getElementById("errors").replaceChildren(...rows);
}

function renderReloads(reloads) {
  const rows = reloads.map((r) => el("tr", { "data-testid": "reload", "data-generation": r.generation },
    el("td", {}, clock(r.time)),
    el("td", {}, r.generation === 0 ? "started" : `reload ${r.generation}`),
    el("td", { class: "mono" }, r.version)));
  document.getElementById("reloads").replaceChildren(...rows);
}

// -- polling -----------------------------------------------------------------------------------
// false when the answer came from another process (a restart, another worker): its frame
// numbers are its own, so the page starts over from frame 0.
function merge(doc) {
  if (doc.pid !== state.pid || doc.cursor < state.cursor) {
    const first = state.pid === undefined;
    state.pid = doc.pid;
    state.frames = [];
    state.cursor = 0;
    if (!first) return false;
  }
  state.window = doc.window;
  state.interval = doc.interval;
  state.frames.push(...doc.frames);
  const keep = Math.round(doc.window / doc.interval);
  if (state.frames.length > keep) state.frames.splice(0, state.frames.length - keep);
  state.cursor = doc.cursor;
  return true;
}

function setLive(ok, text) {
  const live = document.getElementById("live");
  live.className = ok ? "live ok" : "live stale";
  live.textContent = text;
}

async function poll() {
  try {
    const token = sessionStorage.getItem("portway-admin-token");
    const headers = token ? { Authorization: `Bearer ${token}` } : {};
    const response = await fetch(`dashboard/data?since=${state.cursor}`, { cache: "no-store", headers });
    if (response.status === 401) {
      // The admin listener has a token (admin.token): ask for it once per browser tab.
      const given = window.prompt("Admin token (admin.token in the gateway config):");
      if (given) sessionStorage.setItem("portway-admin-token", given.trim());
      throw new Error("HTTP 401: the admin token is needed");
    }
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    const doc = await response.json();
    if (!merge(doc)) return; // the next poll asks the new process for all it kept
    const windowNote = document.getElementById("window");
    windowNote.dataset.frames = state.frames.length; // for tests: how much history is drawn
    windowNote.textContent =
      `(figures: last ${doc.summary_seconds} s · charts: last ${spanText(chartSpan())}, up to ${spanText(doc.window)})`;
    renderRoutes(doc.summary);
    renderTargets(doc.upstreams);
    renderErrors(doc.errors);
    renderReloads(doc.reloads);
    setLive(true, `live · pid ${doc.pid} · ${clock(Date.now() / 1000)}`);
  } catch (error) {
    setLive(false, `not updating: ${error.message}`);
  } finally {
    setTimeout(poll, POLL_MS); // after the answer: a slow admin never gets overlapping polls
  }
}

poll();
