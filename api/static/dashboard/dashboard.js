// The dashboard: fetch /v1/dashboard with the secret key the analyst types (kept in sessionStorage, never
// in the URL) and draw plain SVG charts. No framework, no CDN: the page's CSP allows this server only.
const KEY_STORE = "graphrec.dashboard.key";
const COLOURS = ["#2f6fdf", "#e0803a", "#2a9d5b", "#b8439a", "#6b6f80", "#c9a227"];
const SVG = "http://www.w3.org/2000/svg";

function el(name, attrs = {}, text) {
  const node = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = text;
  return node;
}

function svg(width, height) {
  return el("svg", { viewBox: `0 0 ${width} ${height}`, role: "img" });
}

function empty(host, message) {
  host.replaceChildren(Object.assign(document.createElement("p"), { className: "empty", textContent: message }));
}

// series: [{name, points: [[x, y], ...]}]; x in ms
function lineChart(host, series, { yLabel = "", yMax } = {}) {
  const all = series.flatMap((s) => s.points);
  if (!all.length) return empty(host, "no data yet");
  const W = 460, H = 200, L = 40, B = 24, T = 10, R = 10;
  const xs = all.map((p) => p[0]);
  const x0 = Math.min(...xs), x1 = Math.max(...xs) || x0 + 1;
  const top = yMax ?? Math.max(1e-9, ...all.map((p) => p[1]));
  const sx = (x) => L + ((x - x0) / Math.max(1, x1 - x0)) * (W - L - R);
  const sy = (y) => H - B - (y / top) * (H - B - T);
  const root = svg(W, H);
  root.append(el("line", { x1: L, y1: H - B, x2: W - R, y2: H - B, stroke: "#9aa4b2" }));
  root.append(el("line", { x1: L, y1: T, x2: L, y2: H - B, stroke: "#9aa4b2" }));
  root.append(el("text", { x: 2, y: T + 8 }, fmt(top)), el("text", { x: 2, y: H - B }, "0"));
  root.append(el("text", { x: L, y: H - 6 }, new Date(x0).toLocaleTimeString()));
  root.append(el("text", { x: W - R - 60, y: H - 6 }, new Date(x1).toLocaleTimeString()));
  if (yLabel) root.append(el("text", { x: L + 4, y: T + 8 }, yLabel));
  series.forEach((s, k) => {
    const d = s.points.map((p, i) => `${i ? "L" : "M"}${sx(p[0]).toFixed(1)},${sy(p[1]).toFixed(1)}`).join(" ");
    root.append(el("path", { d, fill: "none", stroke: COLOURS[k % COLOURS.length], "stroke-width": 2,
                             "data-series": s.name }));
    for (const p of s.points) {  // a marker per point: a series of one bucket is still visible
      root.append(el("circle", { cx: sx(p[0]).toFixed(1), cy: sy(p[1]).toFixed(1), r: 3,
                                 fill: COLOURS[k % COLOURS.length] }));
    }
    root.append(el("text", { x: W - R - 120, y: T + 12 + 14 * k, fill: COLOURS[k % COLOURS.length] }, s.name));
  });
  host.replaceChildren(root);
}

// bars: [{label, value, colour?}]
function barChart(host, bars, { format = fmt } = {}) {
  if (!bars.length) return empty(host, "no data yet");
  const W = 460, row = 22, L = 150, H = bars.length * row + 10;
  const top = Math.max(1e-9, ...bars.map((b) => b.value));
  const root = svg(W, H);
  bars.forEach((b, k) => {
    const y = 5 + k * row;
    const w = (b.value / top) * (W - L - 95);
    root.append(el("text", { x: 0, y: y + 14 }, b.label.length > 22 ? b.label.slice(0, 21) + "…" : b.label));
    root.append(el("rect", { x: L, y, width: Math.max(1, w), height: row - 6, fill: b.colour ?? COLOURS[k % COLOURS.length],
                             "data-bar": b.label, "data-value": b.value }));
    root.append(el("text", { x: L + w + 4, y: y + 14 }, format(b.value)));
  });
  host.replaceChildren(root);
}

function fmt(v) {
  if (v === null || v === undefined) return "–";
  return Math.abs(v) >= 100 ? String(Math.round(v)) : Number(v).toPrecision(3);
}

function table(rows, columns) {
  const t = document.createElement("table");
  const head = t.createTHead().insertRow();
  for (const c of columns) head.append(Object.assign(document.createElement("th"), { textContent: c.title }));
  const body = t.createTBody();
  for (const r of rows) {
    const tr = body.insertRow();
    for (const c of columns) {
      const td = tr.insertCell();
      td.textContent = c.value(r);
      if (c.className) td.className = c.className(r) ?? "";
    }
  }
  return t;
}

function render(data) {
  const q = (sel) => document.querySelector(sel);
  lineChart(q('[data-chart="ingest"]'), [{ name: "events/min", points: data.ingest.per_minute.map((p) => [p.t, p.events]) }]);
  q("[data-total]").textContent = `${data.ingest.total.toLocaleString()} events in the log`;
  const models = data.models.filter((m) => m["test_recall@20"] !== null && m["test_recall@20"] !== undefined);
  barChart(q('[data-chart="models"]'), models.map((m) => ({
    label: (m.current ? "★ " : "") + m.version, value: m["test_recall@20"] })), { format: (v) => `R@20 ${fmt(v)}` });
  if (!models.length && data.models.length) empty(q('[data-chart="models"]'), `${data.models.length} versions, none with test metrics`);
  const exp = data.experiment;
  if (!exp) {
    empty(q('[data-chart="ctr"]'), "no experiment running");
    q("[data-report]").replaceChildren();
  } else {
    const arms = [...new Set(exp.ctr_over_time.map((p) => p.arm))];
    lineChart(q('[data-chart="ctr"]'), arms.map((a) => ({
      name: a, points: exp.ctr_over_time.filter((p) => p.arm === a).map((p) => [p.t, p.ctr]) })), { yMax: 1 });
    const better = Object.fromEntries(exp.report.comparisons.map((c) => [c.metric, c.better]));
    q("[data-report]").replaceChildren(table(exp.report.arms, [
      { title: "arm", value: (a) => a.name, className: (a) => (better.ctr === a.name ? "better" : "") },
      { title: "shown lists", value: (a) => a.shown },
      { title: "CTR (95% CI)", value: (a) => `${fmt(a.ctr.rate)} [${fmt(a.ctr.low)}, ${fmt(a.ctr.high)}]` },
      { title: "conversion", value: (a) => `${fmt(a.conversion.rate)} [${fmt(a.conversion.low)}, ${fmt(a.conversion.high)}]` },
    ]), Object.assign(document.createElement("p"), {
      textContent: exp.report.comparisons.map((c) => `${c.metric}: p = ${fmt(c.p_value)}${c.better ? `, ${c.better} better` : ", no significant difference"}`).join("; "),
    }));
  }
  barChart(q('[data-chart="segments"]'), data.segments.map((s) => ({ label: s.name, value: s.size })));
  q("[data-segment-items]").replaceChildren(...data.segments.map((s) => {
    const p = document.createElement("p");
    p.textContent = `${s.name}: ${(s.top_items ?? []).map((i) => i.title ?? i.item_id).slice(0, 5).join(", ")}`;
    return p;
  }));
  const custom = data.custom_events ?? [];
  if (custom.length) barChart(q('[data-chart="custom"]'), custom.map((c) => ({ label: c.name, value: c.events })));
  else empty(q('[data-chart="custom"]'), "no custom events this week");
  const revenue = (data.feedback ?? []).flatMap((r) => r.revenue.map((m) => ({ ...m, list: [r.arm ?? "–", r.source ?? "–", r.model_version ?? "–"].join(" / ") })));
  q("[data-revenue]").replaceChildren(revenue.length ? table(revenue, [
    { title: "arm / source / version", value: (m) => m.list },
    { title: "purchases", value: (m) => m.purchases },
    { title: "units", value: (m) => m.units },
    { title: "revenue", value: (m) => `${m.amount.toLocaleString(undefined, { maximumFractionDigits: 4 })} ${m.currency}` },
  ]) : Object.assign(document.createElement("p"), { textContent: "no attributed revenue yet" }));
  q("#panels").hidden = false;
  document.body.dataset.loaded = String(data.generated_ms);
}

async function load() {
  const key = sessionStorage.getItem(KEY_STORE);
  const status = document.getElementById("status");
  const form = document.getElementById("key-form");
  if (!key) {
    form.hidden = false;
    status.textContent = "Enter a secret API key to see the dashboard.";
    return;
  }
  const response = await fetch("/v1/dashboard", { headers: { "X-API-Key": key } });
  if (response.status === 401 || response.status === 403) {
    sessionStorage.removeItem(KEY_STORE);
    form.hidden = false;
    status.textContent = response.status === 403 ? "That key may not read the dashboard (a secret key is needed)."
                                                 : "That key was refused.";
    return;
  }
  if (!response.ok) {
    status.textContent = `The API answered ${response.status}; retrying in 10 s.`;
    setTimeout(load, 10_000);
    return;
  }
  form.hidden = true;
  status.textContent = `Updated ${new Date().toLocaleTimeString()} (every 30 s)`;
  render(await response.json());
  setTimeout(load, 30_000);
}

document.getElementById("key-form").addEventListener("submit", (event) => {
  event.preventDefault();
  sessionStorage.setItem(KEY_STORE, document.getElementById("key").value);
  load();
});
load();
