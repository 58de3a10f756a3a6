/**
 * The reports page (`#business-reports`, owners, admins and viewers): a date range (the days
 * from and to, both included, in the business's time zone), summary tiles (first response
 * median and p90, resolution, volume, CSAT), and three charts drawn as SVG here — response
 * times over time (`…/reports/series`), volume by hour of day (`…/reports/volume`), the CSAT
 * distribution — each with a table of the same numbers; and "Download CSV" (`…/reports.csv`).
 */

import { api, downloadFile } from "../api.js";
import { byId, focusAdrift, h } from "../dom.js";
import { nameOf } from "../render.js";
import { biz, membership } from "./business-state.js";

const SVG = "http://www.w3.org/2000/svg";
const DAY_MS = 86_400_000;
/** The range asked last: `from` and `to` are days (YYYY-MM-DD), both included. */
let range = null;

export function initReports() {
  const dialog = byId("business-reports");
  byId("business-reports-open").addEventListener("click", openReports);
  byId("business-reports-close").addEventListener("click", () => dialog.close());
  dialog.addEventListener("close", () => { if (focusAdrift(dialog)) byId("business-reports-open").focus(); });
  dialog.addEventListener("click", (e) => { if (e.target === dialog) dialog.close(); });
  byId("breports-form").addEventListener("submit", (e) => { e.preventDefault(); load(); });
  byId("breports-preset").addEventListener("change", (e) => { if (e.target.value) { preset(Number(e.target.value)); load(); } });
  for (const id of ["breports-from", "breports-to"]) {
    byId(id).addEventListener("input", () => { byId("breports-preset").value = ""; });
  }
  byId("breports-csv").addEventListener("click", downloadCsv);
}

function say(text, error = false) {
  const status = byId("business-reports-status");
  status.textContent = text;
  status.classList.toggle("error", error);
}

/** "2026-12-02" of a Date, in local time (the date inputs' format). */
function day(d) {
  const p = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}`;
}

/** The last `days` days, today included. */
function preset(days) {
  const today = new Date();
  byId("breports-to").value = day(today);
  byId("breports-from").value = day(new Date(today.getTime() - (days - 1) * DAY_MS));
}

async function openReports() {
  const dialog = byId("business-reports");
  byId("business-reports-title").textContent = `${nameOf(membership()?.business)} reports`;
  if (!byId("breports-from").value) { byId("breports-preset").value = "30"; preset(30); }
  if (!dialog.open) dialog.showModal();
  byId("breports-from").focus();
  await load();
}

/** The API's query for the range: `to` is exclusive there, so the day after the last one. */
function query() {
  const from = byId("breports-from").value;
  const last = byId("breports-to").value;
  if (!from || !last) return null;
  const to = day(new Date(new Date(`${last}T12:00:00`).getTime() + DAY_MS));
  return { from, to, business_hours: byId("breports-hours").checked ? "true" : "false" };
}

async function load() {
  const handle = biz.current;
  const q = query();
  byId("breports-error").textContent = "";
  if (!q) { byId("breports-error").textContent = "Pick the first and the last day."; return; }
  if (q.from >= q.to) { byId("breports-error").textContent = "The last day comes on or after the first."; return; }
  say("Loading…");
  try {
    const [report, series, volume] = await Promise.all([api.businessReport(handle, q), api.businessReportSeries(handle, q),
      api.businessReportVolume(handle, { from: q.from, to: q.to })]);
    if (biz.current !== handle) return;
    range = q;
    render(report.total, series, volume);
    say(`${byId("breports-from").value} to ${byId("breports-to").value} (${report.timezone}${report.business_hours ? ", business hours only" : ""}).`);
  } catch (err) {
    say("");
    byId("breports-error").textContent = err.message;
  }
}

/* Numbers as people read them */

/** Seconds as "45 s", "12 min", "3.5 h", "2.1 d"; "—" for none. */
export function duration(s) {
  if (s === null || s === undefined) return "—";
  if (s < 60) return `${Math.round(s)} s`;
  if (s < 3600) return `${Math.round(s / 60)} min`;
  if (s < 86400) return `${(s / 3600).toFixed(1)} h`;
  return `${(s / 86400).toFixed(1)} d`;
}

const percent = (x) => (x === null || x === undefined ? "—" : `${Math.round(x * 100)}%`);

/* The page */

function render(total, series, volume) {
  byId("breports-tiles").replaceChildren(
    tile("First response (median)", duration(total.first_response.median_s), `${total.first_response.count} answered`),
    tile("First response (90th percentile)", duration(total.first_response.p90_s), ""),
    tile("Resolution (median)", duration(total.resolution.median_s), `${total.resolved} resolved · ${percent(total.resolution_rate)} rate`),
    tile("Conversations", String(total.conversations), "opened or reopened"),
    tile("CSAT", total.csat.mean === null ? "—" : `${total.csat.mean.toFixed(1)} / 5`,
      `${total.csat.count} rating${total.csat.count === 1 ? "" : "s"} · ${percent(total.csat.satisfied_rate)} satisfied`));
  const dates = series.points.map((p) => p.start.slice(0, 10));
  const longest = Math.max(0, ...series.points.map((p) => p.first_response.p90_s || 0));
  const [unit, per] = longest < 120 ? ["seconds", 1] : longest < 7200 ? ["minutes", 60] : ["hours", 3600];
  const scaled = (key) => series.points.map((p) => (p.first_response[key] === null ? null : p.first_response[key] / per));
  byId("breports-charts").replaceChildren(
    chart("breports-response", "First response time by day", unit,
      lineChart({ labels: dates, series: [{ name: "median", values: scaled("median_s") }, { name: "90th percentile", values: scaled("p90_s") }], yLabel: unit, xLabel: "day" }),
      ["Day", "Median", "90th percentile", "Answered"],
      series.points.map((p) => [p.start.slice(0, 10), duration(p.first_response.median_s), duration(p.first_response.p90_s), String(p.first_response.count)])),
    volumeChart(volume),
    csatChart(total.csat));
  byId("breports-csv").hidden = false;
}

function tile(label, value, note) {
  return h("div", { class: "report-tile" }, h("span", { class: "tile-label", text: label }),
    h("span", { class: "tile-value", text: value }), h("span", { class: "tile-note hint", text: note }));
}

function volumeChart(volume) {
  const byHour = Array.from({ length: 24 }, (_, hour) => volume.counts.reduce((sum, dayCounts) => sum + (dayCounts[hour] || 0), 0));
  const labels = byHour.map((_, i) => String(i).padStart(2, "0"));
  return chart("breports-volume", `Conversations by hour of day (${volume.timezone})`, "conversations",
    barChart({ labels, values: byHour, yLabel: "conversations", xLabel: "hour" }),
    ["Hour", "Conversations"], labels.map((l, i) => [`${l}:00`, String(byHour[i])]));
}

function csatChart(csat) {
  const labels = ["1", "2", "3", "4", "5"];
  const values = labels.map((l) => csat.distribution[l] || 0);
  return chart("breports-csat", "CSAT ratings", "ratings",
    barChart({ labels, values, yLabel: "ratings", xLabel: "rating (1 bad, 5 great)" }),
    ["Rating", "How many"], labels.map((l, i) => [l, String(values[i])]));
}

/** A figure: its title, the chart (an image to screen readers, described by the table). */
function chart(id, title, unit, svg, head, rows) {
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-labelledby", `${id}-title`);
  svg.setAttribute("aria-describedby", `${id}-note`);
  const table = h("table", { class: "report-table" },
    h("caption", { class: "visually-hidden", text: title }),
    h("thead", {}, h("tr", {}, ...head.map((t) => h("th", { text: t, attrs: { scope: "col" } })))),
    h("tbody", {}, ...rows.map((r) => h("tr", {}, ...r.map((c, i) => (i ? h("td", { text: c }) : h("th", { text: c, attrs: { scope: "row" } })))))));
  return h("figure", { id, class: "report-chart" },
    h("figcaption", { id: `${id}-title`, text: title }), svg,
    h("p", { id: `${id}-note`, class: "visually-hidden", text: `In ${unit}; the table below has the numbers.` }),
    h("details", { class: "report-details" }, h("summary", { text: "Show the numbers" }), table));
}

/* Charts: small SVG, axes labelled */

const W = 560;
const H = 220;
const PAD = { left: 48, right: 12, top: 24, bottom: 40 };

function svgEl(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  for (const c of children) el.append(c);
  return el;
}

function text(x, y, content, attrs = {}) {
  const t = svgEl("text", { x, y, ...attrs });
  t.textContent = content;
  return t;
}

/** A "nice" top for the y axis (1, 2, 5 × 10ⁿ) at or above `max`. */
function niceMax(max) {
  if (!(max > 0)) return 1;
  const step = 10 ** Math.floor(Math.log10(max));
  return [1, 2, 5, 10].map((m) => m * step).find((m) => m >= max);
}

/** The frame: y ticks with labels and grid lines, the axis titles; returns the plot's scale. */
function frame(svg, top, yLabel, xLabel) {
  const plotH = H - PAD.top - PAD.bottom;
  const y = (v) => PAD.top + plotH - (v / top) * plotH;
  for (let i = 0; i <= 4; i += 1) {
    const v = (top * i) / 4;
    svg.append(svgEl("line", { x1: PAD.left, x2: W - PAD.right, y1: y(v), y2: y(v), class: "grid" }),
      text(PAD.left - 6, y(v) + 4, String(Number(v.toPrecision(3))), { "text-anchor": "end", class: "tick" }));
  }
  svg.append(text(12, PAD.top + plotH / 2, yLabel, { class: "axis-title", transform: `rotate(-90 12 ${PAD.top + plotH / 2})`, "text-anchor": "middle" }),
    text(PAD.left + (W - PAD.left - PAD.right) / 2, H - 4, xLabel, { class: "axis-title", "text-anchor": "middle" }));
  return y;
}

/** Every n-th label, so they do not overlap. */
const labelEvery = (count, room) => Math.max(1, Math.ceil(count / room));

export function barChart({ labels, values, yLabel, xLabel }) {
  const svg = svgEl("svg", { viewBox: `0 0 ${W} ${H}`, class: "chart bar-chart" });
  const top = niceMax(Math.max(4, ...values)); // counts: whole-number ticks
  const y = frame(svg, top, yLabel, xLabel);
  const slot = (W - PAD.left - PAD.right) / labels.length;
  const every = labelEvery(labels.length, 12);
  labels.forEach((label, i) => {
    const x = PAD.left + i * slot;
    const bar = svgEl("rect", { x: x + slot * 0.15, width: slot * 0.7, y: y(values[i]), height: y(0) - y(values[i]), class: "bar" });
    bar.append(svgEl("title", {}, document.createTextNode(`${label}: ${values[i]}`)));
    svg.append(bar);
    if (i % every === 0) svg.append(text(x + slot / 2, H - PAD.bottom + 16, label, { "text-anchor": "middle", class: "tick" }));
  });
  return svg;
}

export function lineChart({ labels, series, yLabel, xLabel }) {
  const svg = svgEl("svg", { viewBox: `0 0 ${W} ${H}`, class: "chart line-chart" });
  const all = series.flatMap((s) => s.values).filter((v) => v !== null);
  const top = niceMax(Math.max(0, ...all));
  const y = frame(svg, top, yLabel, xLabel);
  const n = labels.length;
  const x = (i) => PAD.left + (n <= 1 ? (W - PAD.left - PAD.right) / 2 : (i * (W - PAD.left - PAD.right)) / (n - 1));
  const every = labelEvery(n, 6);
  labels.forEach((label, i) => {
    if (i % every === 0) svg.append(text(x(i), H - PAD.bottom + 16, label.slice(5), { "text-anchor": "middle", class: "tick" }));
  });
  // the median last, on top, its dots smaller than the p90's: equal values both show
  [...series.entries()].reverse().forEach(([k, s]) => {
    // a gap where a day had no answer, not a line through zero
    let d = "";
    s.values.forEach((v, i) => { if (v !== null) d += `${d && s.values[i - 1] !== null ? "L" : "M"}${x(i).toFixed(1)},${y(v).toFixed(1)}`; });
    svg.append(svgEl("path", { d, class: `line line-${k}`, fill: "none" }));
    s.values.forEach((v, i) => {
      if (v === null) return;
      const dot = svgEl("circle", { cx: x(i), cy: y(v), r: k ? 5 : 3, class: `dot line-${k}` });
      dot.append(svgEl("title", {}, document.createTextNode(`${labels[i]} ${s.name}: ${v.toFixed(1)} ${yLabel}`)));
      svg.append(dot);
    });
    svg.append(svgEl("rect", { x: PAD.left + 8 + k * 150, y: 4, width: 10, height: 10, class: `swatch line-${k}` }),
      text(PAD.left + 22 + k * 150, 13, s.name, { class: "tick" }));
  });
  return svg;
}

async function downloadCsv(e) {
  e.preventDefault();
  if (!range) return;
  byId("breports-error").textContent = "";
  try {
    await downloadFile(`/businesses/${encodeURIComponent(biz.current)}/reports.csv?${new URLSearchParams(range)}`,
      `report-${range.from}-${byId("breports-to").value}.csv`);
  } catch (err) {
    byId("breports-error").textContent = err.message;
  }
}
