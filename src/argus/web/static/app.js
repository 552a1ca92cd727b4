// The Argus dashboard: fetches /api/* and draws the page. Plain DOM, no framework and
// no third-party code; every string from the host goes in through textContent, never
// innerHTML, since process and unit names are untrusted text.
"use strict";

(() => {
  const RANGE_S = { "24h": 86400, "7d": 7 * 86400, "30d": 30 * 86400 };
  const TYPES = ["disk", "memory", "service", "process", "swap", "cpu", "self"];
  const FAST_MS = 30000, CHARTS_MS = 60000, PATTERNS_MS = 300000;
  const state = { range: "24h", token: null, limit: 200, overview: null, history: null,
                  patterns: null, loaded: new Set() };
  const $ = (sel) => document.querySelector(sel);

  function h(tag, attrs, ...kids) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "class") node.className = v;
      else node.setAttribute(k, v);
    }
    for (const kid of kids.flat()) {
      if (kid === null || kid === undefined || kid === false) continue;
      node.append(kid instanceof Node ? kid : String(kid));
    }
    return node;
  }

  const css = (name) => getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  const palette = () => [1, 2, 3, 4, 5, 6, 7, 8].map((i) => css(`--c${i}`));

  function ago(ts) {
    const s = Math.max(0, Date.now() / 1000 - ts);
    if (s < 90) return `${Math.round(s)} s ago`;
    if (s < 5400) return `${Math.round(s / 60)} min ago`;
    if (s < 2 * 86400) return `${(s / 3600).toFixed(1)} h ago`;
    return `${(s / 86400).toFixed(1)} d ago`;
  }

  function duration(s) {
    if (s < 3600) return `${Math.round(s / 60)} min`;
    if (s < 2 * 86400) return `${(s / 3600).toFixed(1)} h`;
    return `${(s / 86400).toFixed(1)} days`;
  }

  const epoch = (v) => (typeof v === "number" ? v : Date.parse(v) / 1000);
  const badge = (kind, text) => h("span", { class: `badge ${kind}-${text}` }, text);

  // --- token: ?token= once, then kept for this tab only and out of the address bar ----
  function setupToken() {
    const url = new URL(location.href);
    if (url.searchParams.has("token")) {
      sessionStorage.setItem("argus-token", url.searchParams.get("token"));
      url.searchParams.delete("token");
      history.replaceState(null, "", url);
    }
    state.token = sessionStorage.getItem("argus-token");
    $("#auth-form").addEventListener("submit", () => {
      sessionStorage.setItem("argus-token", $("#auth-token").value);
      state.token = $("#auth-token").value;
      refreshAll();
    });
  }

  async function api(path) {
    const headers = state.token ? { Authorization: `Bearer ${state.token}` } : {};
    const reply = await fetch(path, { headers, cache: "no-store" });
    if (reply.status === 401) {
      if (!$("#auth").open) $("#auth").showModal();
      throw new Error("this Argus needs its token");
    }
    const body = await reply.json();
    if (!reply.ok) throw new Error(body.error || `${path}: HTTP ${reply.status}`);
    return body;
  }

  function banner(error) {
    const b = $("#banner");
    b.hidden = !error;
    b.textContent = error ? `Cannot refresh: ${error.message}. Showing the last data.` : "";
  }

  function ready(part) {
    state.loaded.add(part);
    document.body.dataset.loaded = [...state.loaded].sort().join(" ");
  }

  // --- now: header and tiles -----------------------------------------------------
  const OVERALL = { ok: "All good", warning: "Warning", critical: "Critical",
                    stalled: "Argus stalled", unknown: "No data yet" };

  function tileBar(sig, t) {
    const limits = { memory: [t.memory_warn, t.memory_crit], swap: [t.swap_warn, null] };
    const [warn, crit] = sig.id.startsWith("disk:") ? [t.disk_warn, t.disk_crit]
      : limits[sig.id] || [null, null];
    if (sig.unit !== "%" || sig.value === null || sig.id === "pressure") return null;
    const bar = h("div", { class: "bar" }, h("div", { class: "fill" }));
    bar.firstChild.style.width = `${Math.min(sig.value, 100)}%`;
    for (const [v, cls] of [[warn, "warning"], [crit, "critical"]]) {
      if (v === null || v === undefined) continue;
      const mark = h("div", { class: `mark ${cls}` });
      mark.style.left = `${v}%`;
      bar.appendChild(mark);
    }
    return bar;
  }

  function renderOverview(o) {
    state.overview = o;
    document.title = `${o.overall === "ok" ? "" : "⚠ "}Argus · ${o.host}`;
    $("#host").textContent = o.host;
    const pill = $("#overall");
    pill.className = `pill level-${o.overall}`;
    pill.textContent = OVERALL[o.overall] || o.overall;
    $("#cycle").textContent = o.argus.message || "";
    $("#interval").textContent = duration(o.interval_s);
    const tiles = $("#tiles");
    tiles.textContent = "";
    for (const sig of o.signals) {
      const value = sig.id === "argus" ? (sig.value === null ? "never" : ago(Date.now() / 1000 - sig.value))
        : sig.value === null ? "–" : ArgusChart.fmt(sig.value, sig.unit);
      tiles.appendChild(h("div", { class: `tile level-${sig.level}`, "data-signal": sig.id,
                                   title: `${sig.label}: ${sig.level}` },
        h("div", { class: "tile-label" }, h("span", { class: "dot" }), sig.label),
        h("div", { class: "tile-value" }, value),
        tileBar(sig, o.thresholds),
        h("div", { class: "tile-text" }, sig.text),
        sig.limits ? h("div", { class: "tile-limits" }, sig.limits) : null));
    }
    const active = $("#active");
    active.textContent = "";
    if (o.active.length) {
      active.appendChild(h("h3", {}, `Active now (${o.active.length})`));
      active.appendChild(h("ul", {}, o.active.map((p) => h("li", {},
        badge("sev", p.severity), h("span", { class: "desc" }, p.description),
        h("span", { class: "muted small" }, ` since ${ago(p.first_seen)}`)))));
    }
    ready("overview");
  }

  // --- charts --------------------------------------------------------------------
  const METRICS = ["mem_pct", "swap_pct", "load1", "load5", "load15", "psi_cpu_some_avg60",
                   "psi_memory_full_avg60", "psi_io_some_avg60", "disk_pct:*"];

  async function loadHistory() {
    const q = METRICS.map((m) => `metric=${encodeURIComponent(m)}`).join("&");
    state.history = await api(`/api/history?${q}&since=${state.range}&points=400`);
    drawCharts();
  }

  function drawCharts() {
    const hist = state.history, o = state.overview;
    if (!hist || !o) return;
    const c = palette(), t = o.thresholds;
    const get = (m) => (hist.series.find((s) => s.metric === m) || { points: [] }).points;
    const base = { from: hist.from, to: hist.to, empty: hist.note || "no data in this range" };
    const draw = (id, opts) => {
      const fig = $(`#chart-${id}`);
      ArgusChart.line(fig.querySelector(".plot"), { ...base, title: id, ...opts });
      const legend = fig.querySelector(".legend");
      legend.textContent = "";
      for (const s of opts.series) {
        const last = s.points.length ? s.points[s.points.length - 1][1] : null;
        legend.appendChild(h("span", { class: "key" }, h("span", { class: "swatch" }),
                             `${s.label} `, h("b", {}, ArgusChart.fmt(last, opts.unit))));
        legend.lastChild.firstChild.style.background = s.color;
      }
    };
    draw("memory", { unit: "%", yMax: 100, series: [{ label: "memory", color: c[0], points: get("mem_pct") }],
                     thresholds: [{ value: t.memory_warn, level: "warning", label: `warn ${t.memory_warn}%` },
                                  { value: t.memory_crit, level: "critical", label: `crit ${t.memory_crit}%` }] });
    const swapSignal = o.signals.find((s) => s.id === "swap");
    draw("swap", { unit: "%", yMax: 100, series: [{ label: "swap", color: c[1], points: get("swap_pct") }],
                   empty: swapSignal && swapSignal.text === "no swap configured" ? "no swap on this host" : base.empty,
                   thresholds: [{ value: t.swap_warn, level: "warning", label: `warn ${t.swap_warn}%` }] });
    const cores = o.cores || 1;
    draw("load", { unit: "", yMinMax: cores, area: false,
                   series: [{ label: "1 min", color: c[5], points: get("load1") },
                            { label: "5 min", color: c[2], points: get("load5") },
                            { label: "15 min", color: c[6], points: get("load15") }],
                   thresholds: [{ value: t.load_per_core_warn * cores, level: "warning",
                                  label: `warn ${t.load_per_core_warn * cores} (${cores} cores)` }] });
    draw("pressure", { unit: "%", yMinMax: 10, area: false,
                       series: [{ label: "cpu some", color: c[2], points: get("psi_cpu_some_avg60") },
                                { label: "memory full", color: c[0], points: get("psi_memory_full_avg60") },
                                { label: "io some", color: c[4], points: get("psi_io_some_avg60") }] });
    const disks = hist.series.filter((s) => s.metric.startsWith("disk_pct:"))
      .map((s, i) => ({ label: s.metric.slice(9), color: c[(i + 3) % c.length], points: s.points }));
    const projections = [];
    let until = hist.to;
    const span = hist.to - hist.from;
    for (const p of (state.patterns && state.patterns.patterns) || []) {
      const ev = p.evidence || {};
      const full = epoch(ev.predicted_full_ts);
      const disk = disks.find((d) => d.label === ev.mount);
      if (p.kind !== "disk_fill" || !disk || !disk.points.length || !(full > hist.to)) continue;
      const last = disk.points[disk.points.length - 1];
      // Show the predicted day when it falls within one range ahead (the future then
      // takes at most half the chart); further out, run the line to a quarter range ahead.
      until = Math.max(until, full - hist.to <= span ? full + span * 0.04 : hist.to + span * 0.25);
      projections.push({ from: last, to: [full, 100], color: disk.color,
                         label: `${ev.mount} full in ${duration(full - hist.to)}` });
    }
    draw("disk", { unit: "%", yMax: 100, area: false, series: disks, projections, until,
                   thresholds: [{ value: t.disk_warn, level: "warning", label: `warn ${t.disk_warn}%` },
                                { value: t.disk_crit, level: "critical", label: `crit ${t.disk_crit}%` }] });
    ready("charts");
  }

  // --- problems ------------------------------------------------------------------
  async function loadProblems() {
    const type = $("#filter-type").value, sev = $("#filter-severity").value;
    let q = `/api/problems?since=${state.range}&limit=${state.limit}`;
    if (type) q += `&type=${type}`;
    if (sev) q += `&severity=${sev}`;
    renderProblems(await api(q));
  }

  function renderTimeline(records) {
    const box = $("#timeline");
    box.textContent = "";
    const NS = "http://www.w3.org/2000/svg";
    const types = TYPES.filter((t) => records.some((r) => r.type === t));
    const width = Math.max(box.clientWidth || 600, 300), lane = 16, left = 64;
    const height = Math.max(types.length, 1) * lane + 22;
    const svg = document.createElementNS(NS, "svg");
    svg.setAttribute("width", width); svg.setAttribute("height", height);
    svg.setAttribute("class", "timeline-svg");
    const now = Date.now() / 1000, from = now - RANGE_S[state.range];
    const x = (ts) => left + ((ts - from) / (now - from)) * (width - left - 8);
    const add = (tag, attrs, text) => {
      const n = document.createElementNS(NS, tag);
      for (const [k, v] of Object.entries(attrs)) n.setAttribute(k, v);
      if (text !== undefined) n.textContent = text;
      svg.appendChild(n);
      return n;
    };
    types.forEach((t, i) => {
      add("line", { x1: left, x2: width - 8, y1: i * lane + 9, y2: i * lane + 9, class: "lane" });
      add("text", { x: left - 8, y: i * lane + 13, "text-anchor": "end", class: "axis" }, t);
    });
    for (const r of records) {
      const ts = Date.parse(r.ts) / 1000;
      if (!(ts >= from)) continue;
      const dot = add("circle", { cx: x(ts), cy: types.indexOf(r.type) * lane + 9, r: 4,
                                  class: `dot sev-${r.severity} res-${r.action_result}` });
      const title = document.createElementNS(NS, "title");
      title.textContent = `${new Date(ts * 1000).toLocaleString()}\n${r.description}\n${r.action_taken} → ${r.action_result}`;
      dot.appendChild(title);
    }
    add("text", { x: left, y: height - 4, class: "axis" }, new Date(from * 1000).toLocaleString());
    add("text", { x: width - 8, y: height - 4, "text-anchor": "end", class: "axis" }, "now");
    if (!records.length) add("text", { x: width / 2, y: 14, "text-anchor": "middle", class: "empty" }, "no problems in this range");
    box.appendChild(svg);
  }

  function renderProblems(records) {
    state.problems = records;
    $("#problems-count").textContent = `${records.length}${records.length >= state.limit ? "+" : ""} in ${state.range}`;
    renderTimeline(records);
    const body = $("#problems-table tbody");
    body.textContent = "";
    for (const r of records) {
      const ts = Date.parse(r.ts) / 1000;
      const [action, ...target] = String(r.action_taken || "").split(":");
      body.appendChild(h("tr", { class: `row sev-${r.severity} res-${r.action_result}` },
        h("td", { class: "when", title: new Date(ts * 1000).toLocaleString() }, ago(ts)),
        h("td", {}, badge("sev", r.severity)),
        h("td", {}, r.type),
        h("td", { class: "desc" }, r.description,
          r.bead_id ? h("span", { class: "chip" }, r.bead_id) : null,
          r.subject ? h("div", { class: "muted small" }, r.subject) : null),
        h("td", { class: "action" }, action, target.length ? h("div", { class: "muted small" }, target.join(":")) : null),
        h("td", {}, badge("res", r.action_result))));
    }
    if (!records.length) body.appendChild(h("tr", {}, h("td", { colspan: 6, class: "empty" }, "Nothing recorded in this range.")));
    $("#more").hidden = records.length < state.limit;
    ready("problems");
  }

  // --- beads and patterns --------------------------------------------------------
  async function loadBeads() {
    const beads = await api("/api/beads");
    $("#beads-count").textContent = beads.length ? `(${beads.length})` : "";
    const list = $("#beads .list");
    list.textContent = "";
    for (const b of beads) {
      list.appendChild(h("div", { class: "item" },
        h("div", { class: "item-head" }, h("code", { class: "bead-id" }, b.id),
          b.severity ? badge("sev", b.severity) : null,
          b.resolved_at ? h("span", { class: "chip ok" }, `resolved ${ago(b.resolved_at)}`) : null),
        h("div", {}, b.description || b.subject || b.key),
        h("div", { class: "muted small" }, `opened ${b.created_at ? ago(b.created_at) : "?"}`,
          b.noted_at && b.noted_at !== b.created_at ? ` · last noted ${ago(b.noted_at)}` : "")));
    }
    if (!beads.length) list.appendChild(h("div", { class: "empty" }, "No open beads."));
    ready("beads");
  }

  function evidenceText(p) {
    const ev = p.evidence || {};
    if (p.kind === "disk_fill" && ev.predicted_full_ts) {
      const full = epoch(ev.predicted_full_ts);
      const rate = ev.slope_bytes_per_s ? ` at ${(ev.slope_bytes_per_s * 86400 / 2 ** 30).toFixed(2)} GiB/day` : "";
      return `${ev.mount}: full in ${duration(full - Date.now() / 1000)} (${new Date(full * 1000).toLocaleString()})${rate}`;
    }
    return ""; // the title carries the figures; raw evidence is in /api/patterns
  }

  async function loadPatterns() {
    const reply = await api("/api/patterns");
    state.patterns = reply;
    const panel = $("#patterns");
    panel.hidden = !reply.available; // omitted, not empty, when detection is not installed
    $("#patterns-window").textContent = `over ${reply.window}`;
    const list = panel.querySelector(".list");
    list.textContent = "";
    for (const p of reply.patterns) {
      list.appendChild(h("div", { class: `item pattern kind-${p.kind}` },
        h("div", { class: "item-head" }, badge("sev", p.severity), h("b", {}, p.title)),
        evidenceText(p) ? h("div", { class: "muted small" }, evidenceText(p)) : null,
        p.recommendation ? h("div", { class: "advice" }, p.recommendation) : null));
    }
    if (!reply.patterns.length) list.appendChild(h("div", { class: "empty" }, "No patterns detected."));
    drawCharts();
    ready("patterns");
  }

  // --- refresh -------------------------------------------------------------------
  async function guarded(fn) {
    try { await fn(); banner(null); } catch (err) { banner(err); }
  }

  async function refreshFast() {
    await guarded(async () => {
      renderOverview(await api("/api/overview"));
      await Promise.all([loadProblems(), loadBeads()]);
      $("#updated").textContent = `updated ${new Date().toLocaleTimeString()}`;
    });
  }

  async function refreshAll() {
    await refreshFast();
    await guarded(loadHistory);
    await guarded(loadPatterns);
  }

  function setup() {
    setupToken();
    for (const t of TYPES) $("#filter-type").appendChild(h("option", {}, t));
    for (const button of document.querySelectorAll(".range button")) {
      button.addEventListener("click", () => {
        state.range = button.dataset.range;
        document.querySelectorAll(".range button").forEach((b) => b.classList.toggle("on", b === button));
        guarded(loadHistory);
        guarded(loadProblems);
      });
    }
    $("#filter-type").addEventListener("change", () => guarded(loadProblems));
    $("#filter-severity").addEventListener("change", () => guarded(loadProblems));
    $("#more").addEventListener("click", () => { state.limit *= 4; guarded(loadProblems); });
    let resize = null;
    window.addEventListener("resize", () => {
      clearTimeout(resize);
      resize = setTimeout(() => { drawCharts(); if (state.problems) renderTimeline(state.problems); }, 150);
    });
    refreshAll();
    setInterval(refreshFast, FAST_MS);
    setInterval(() => guarded(loadHistory), CHARTS_MS);
    setInterval(() => guarded(loadPatterns), PATTERNS_MS);
  }

  setup();
})();
