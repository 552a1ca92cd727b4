// Small SVG line charts for the Argus dashboard, written for it: no third-party code,
// so the page works offline and ships no foreign licence. One function draws one chart
// from plain data; app.js owns fetching and refreshing.
"use strict";

const ArgusChart = (() => {
  const NS = "http://www.w3.org/2000/svg";
  const M = { left: 44, right: 14, top: 10, bottom: 24 };

  function el(tag, attrs, parent) {
    const node = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    if (parent) parent.appendChild(node);
    return node;
  }

  // Round tick steps (1, 2, 5 x 10^n) so the y axis reads 0 20 40 60, not 0 17 34.
  function niceStep(span, count) {
    const raw = span / Math.max(count, 1);
    const mag = Math.pow(10, Math.floor(Math.log10(raw)));
    const f = raw / mag;
    return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 2.5 ? 2.5 : f <= 5 ? 5 : 10) * mag;
  }

  // Time ticks on whole hours or days of local time, as many as fit.
  function timeTicks(from, to, width) {
    const span = to - from;
    const steps = [3600, 3 * 3600, 6 * 3600, 12 * 3600, 86400, 2 * 86400, 5 * 86400, 7 * 86400];
    const want = Math.max(2, Math.floor(width / 58)); // a label is ~40 px wide
    const step = steps.find((s) => span / s <= want) || steps[steps.length - 1];
    const ticks = [];
    const offset = new Date(from * 1000).getTimezoneOffset() * 60; // align to local midnight
    let t = Math.ceil((from - offset) / step) * step + offset;
    for (; t <= to; t += step) ticks.push(t);
    return { ticks, daily: step >= 86400 };
  }

  function timeLabel(t, daily) {
    const d = new Date(t * 1000);
    if (daily) return d.toLocaleDateString(undefined, { weekday: "short", day: "numeric" });
    return d.toLocaleTimeString(undefined, { hour: "numeric" });
  }

  function fmt(v, unit) {
    if (v === null || v === undefined || Number.isNaN(v)) return "–";
    if (Number.isInteger(v)) return v + (unit || ""); // counts, and a clean 0%
    const digits = Math.abs(v) >= 100 ? 0 : Math.abs(v) >= 10 ? 1 : 2;
    return v.toFixed(digits) + (unit || "");
  }

  // The points split where samples are missing (Argus down, host off): a straight
  // line across a gap would draw data nobody measured.
  function segments(points) {
    const steps = [];
    for (let i = 1; i < points.length; i++) steps.push(points[i][0] - points[i - 1][0]);
    steps.sort((a, b) => a - b);
    const gap = steps.length ? Math.max(steps[Math.floor(steps.length / 2)] * 4, 900) : Infinity;
    const out = [];
    points.forEach((p, i) => {
      if (i === 0 || p[0] - points[i - 1][0] > gap) out.push([]);
      out[out.length - 1].push(p);
    });
    return out;
  }

  function pathFor(segs, x, y) {
    return segs.map((seg) => seg.map(([t, v], i) =>
      (i ? "L" : "M") + x(t).toFixed(1) + "," + y(v).toFixed(1)).join("")).join("");
  }

  function areaFor(segs, x, y) {
    const base = y(0).toFixed(1);
    return segs.map((seg) => `M${x(seg[0][0]).toFixed(1)},${base}` +
      seg.map(([t, v]) => "L" + x(t).toFixed(1) + "," + y(v).toFixed(1)).join("") +
      `L${x(seg[seg.length - 1][0]).toFixed(1)},${base}Z`).join("");
  }

  // opts: {series: [{label, color, points: [[t, v]]}], from, to, unit, yMax, yMinMax,
  //        thresholds: [{value, level, label}], projections: [{from: [t, v], to: [t, v],
  //        color, label}], until}
  function line(container, opts) {
    container.textContent = "";
    const width = Math.max(container.clientWidth || 400, 240);
    const height = opts.height || 170;
    const svg = el("svg", { width, height, viewBox: `0 0 ${width} ${height}`, class: "svg-chart",
                            role: "img", "aria-label": opts.title || "chart" }, container);
    const series = (opts.series || []).filter((s) => s.points && s.points.length);
    const from = opts.from, to = Math.max(opts.until || opts.to, opts.to);
    const values = series.flatMap((s) => s.points.map((p) => p[1]));
    (opts.thresholds || []).forEach((th) => values.push(th.value));
    let top = opts.yMax !== undefined ? opts.yMax : Math.max(opts.yMinMax || 1, ...values) * 1.1;
    const step = niceStep(top, 4);
    top = Math.ceil(top / step - 1e-9) * step;
    const pw = width - M.left - M.right, ph = height - M.top - M.bottom;
    const x = (t) => M.left + ((t - from) / (to - from)) * pw;
    const y = (v) => M.top + ph - (Math.min(Math.max(v, 0), top) / top) * ph;

    const grid = el("g", { class: "grid" }, svg);
    for (let v = 0; v <= top + 1e-9; v += step) {
      el("line", { x1: M.left, x2: width - M.right, y1: y(v), y2: y(v) }, grid);
      el("text", { x: M.left - 6, y: y(v) + 4, "text-anchor": "end", class: "axis" }, grid)
        .textContent = fmt(v, "").replace(/\.0+$/, "");
    }
    const { ticks, daily } = timeTicks(from, to, pw);
    for (const t of ticks) {
      el("line", { x1: x(t), x2: x(t), y1: M.top, y2: M.top + ph, class: "vgrid" }, grid);
      el("text", { x: x(t), y: height - 6, "text-anchor": "middle", class: "axis" }, grid)
        .textContent = timeLabel(t, daily);
    }
    if (to > opts.to) { // the future, where predictions are drawn
      el("rect", { x: x(opts.to), y: M.top, width: x(to) - x(opts.to), height: ph,
                   class: "future" }, svg);
      el("text", { x: x(opts.to) + 4, y: M.top + ph - 4, class: "axis" }, svg).textContent = "now →";
    }
    for (const th of opts.thresholds || []) {
      if (th.value > top) continue;
      el("line", { x1: M.left, x2: width - M.right, y1: y(th.value), y2: y(th.value),
                   class: "threshold " + th.level }, svg);
      // Labelled at the left: the right edge is where the latest values and predictions are.
      el("text", { x: M.left + 4, y: y(th.value) - 3, class: "threshold-label " + th.level },
         svg).textContent = th.label;
    }
    if (!series.length) {
      el("text", { x: M.left + pw / 2, y: M.top + ph / 2, "text-anchor": "middle",
                   class: "empty" }, svg).textContent = opts.empty || "no data in this range";
    }
    series.forEach((s, i) => {
      const segs = segments(s.points);
      const d = pathFor(segs, x, y);
      if (series.length === 1 && opts.area !== false) {
        el("path", { d: areaFor(segs, x, y), class: "area", fill: s.color }, svg);
      }
      el("path", { d, class: "series", stroke: s.color, "data-series": s.label,
                   "data-points": s.points.length }, svg);
      const last = s.points[s.points.length - 1];
      el("circle", { cx: x(last[0]), cy: y(last[1]), r: 2.5, fill: s.color, class: "last" }, svg);
    });
    for (const p of opts.projections || []) {
      const [t0, v0] = p.from;
      let [t1, v1] = p.to;
      if (t1 > to) { v1 = v0 + ((v1 - v0) * (to - t0)) / (t1 - t0); t1 = to; } // clip at the edge
      el("line", { x1: x(t0), y1: y(v0), x2: x(t1), y2: y(v1), stroke: p.color,
                   class: "projection" }, svg);
      if (p.to[0] <= to) {
        el("circle", { cx: x(p.to[0]), cy: y(p.to[1]), r: 3.5, class: "projection-end",
                       stroke: p.color }, svg);
      }
      el("text", { x: Math.min(x(t1), width - M.right) - 4, y: Math.max(y(v1), M.top + 10) + 14,
                   "text-anchor": "end", class: "projection-label", fill: p.color }, svg)
        .textContent = p.label;
    }
    hover(svg, series, { x, y, from, to: opts.to, top, height, unit: opts.unit, container });
    return svg;
  }

  // A crosshair and the values nearest the pointer.
  function hover(svg, series, g) {
    if (!series.length) return;
    const cross = el("line", { y1: M.top, y2: g.height - M.bottom, class: "cross",
                               visibility: "hidden" }, svg);
    const tip = document.createElement("div");
    tip.className = "tip";
    tip.hidden = true;
    g.container.appendChild(tip);
    svg.addEventListener("mousemove", (ev) => {
      const box = svg.getBoundingClientRect();
      const px = ev.clientX - box.left;
      const t = g.from + ((px - M.left) / (box.width - M.left - M.right)) * (g.to - g.from);
      if (t < g.from || t > g.to) { cross.setAttribute("visibility", "hidden"); tip.hidden = true; return; }
      const rows = series.map((s) => {
        let best = s.points[0];
        for (const p of s.points) if (Math.abs(p[0] - t) < Math.abs(best[0] - t)) best = p;
        return [s, best];
      });
      const at = rows[0][1][0];
      cross.setAttribute("x1", g.x(at)); cross.setAttribute("x2", g.x(at));
      cross.setAttribute("visibility", "visible");
      tip.textContent = "";
      const head = document.createElement("div");
      head.className = "tip-time";
      head.textContent = new Date(at * 1000).toLocaleString();
      tip.appendChild(head);
      for (const [s, p] of rows) {
        const row = document.createElement("div");
        const sw = document.createElement("span");
        sw.className = "swatch"; sw.style.background = s.color;
        row.append(sw, `${s.label} ${fmt(p[1], g.unit)}`);
        tip.appendChild(row);
      }
      tip.hidden = false;
      tip.style.left = Math.min(px + 12, box.width - 160) + "px";
    });
    svg.addEventListener("mouseleave", () => { cross.setAttribute("visibility", "hidden"); tip.hidden = true; });
  }

  return { line, fmt };
})();
