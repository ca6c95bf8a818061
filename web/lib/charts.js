// Charts for the review page, drawn with uPlot (vendored in /vendor/uplot, loaded as a
// classic script before the modules). Each chart sits in a <figure> whose caption says
// what it shows; the same figures are in the KPI table, so a chart is never the only way
// to read a number. Series differ by dash and marker as well as colour.

const uPlot = () => globalThis.uPlot;

// Colour-blind-safe (Okabe–Ito), dark enough on white.
export const PALETTE = ['#0072b2', '#d55e00', '#009e73', '#cc79a7', '#8a6d00', '#56b4e9', '#444444', '#e69f00'];
const DASHES = [[], [6, 3], [2, 3], [8, 3, 2, 3], [1, 2], [10, 4], [4, 4], [3, 6]];

/** "45 s", "3.2 min", "1.5 h" for a duration in seconds; "—" for none. */
export function duration(secs) {
  if (secs == null || Number.isNaN(secs)) return '—';
  if (secs < 10 && !Number.isInteger(secs)) return `${secs.toFixed(1)} s`;
  if (secs < 120) return `${Math.round(secs)} s`;
  if (secs < 7200) return `${(secs / 60).toFixed(1)} min`;
  return `${(secs / 3600).toFixed(1)} h`;
}

/** "87%" for a share 0–1; "—" for none. */
export function percent(share) {
  return share == null ? '—' : `${Math.round(share * 100)}%`;
}

/**
 * Bars for series `i` of `n` side by side around each category: uPlot's bar path with
 * each series' bars offset within the category's slot (0.8 of it, split n ways).
 */
function groupedBars(i, n) {
  const w = 0.8 / n;
  return uPlot().paths.bars({
    disp: {
      x0: { unit: 1, values: (u) => u.data[0].map((x) => x - 0.4 + i * w) },
      size: { unit: 1, values: () => [w] },
    },
  });
}

/** A figure with a caption and a holder for the plot, inside `parent`. */
export function figure(parent, { id, caption, label }) {
  const fig = document.createElement('figure');
  fig.className = 'chart';
  fig.id = id;
  const holder = document.createElement('div');
  holder.className = 'plot';
  holder.setAttribute('role', 'img');
  holder.setAttribute('aria-label', label || caption);
  const cap = document.createElement('figcaption');
  cap.textContent = caption;
  fig.append(cap, holder);
  parent.append(fig);
  return holder;
}

function width(holder) {
  return Math.max(240, Math.floor(holder.getBoundingClientRect().width || holder.parentElement.clientWidth || 320));
}

/**
 * A bar chart of categories (`labels`) with one bar per series:
 * `series = [{label, values}]`, `format(v)` for the axis and legend.
 */
export function barChart(holder, { labels, series, format = String, height = 220, max }) {
  const n = series.length;
  holder.classList.add('bars');
  const data = [labels.map((_, i) => i), ...series.map((s) => s.values.map((v) => v ?? null))];
  const opts = {
    width: width(holder),
    height,
    scales: {
      x: { time: false, range: () => [-0.6, labels.length - 0.4] },
      y: { range: (u, lo, hi) => [0, max ?? (hi > 0 ? hi * 1.1 : 1)] },
    },
    axes: [
      { values: (u, ticks) => ticks.map((t) => (Number.isInteger(t) ? labels[t] ?? '' : '')), splits: () => labels.map((_, i) => i), grid: { show: false } },
      { values: (u, ticks) => ticks.map(format), size: 60 },
    ],
    // A key of the series only: the values are in the table beside every chart.
    legend: { live: false },
    cursor: { points: { show: false } },
    series: [
      { label: 'group', value: (u, v) => (v == null ? '—' : labels[v] ?? '') },
      ...series.map((s, i) => ({
        label: s.label,
        fill: PALETTE[i % PALETTE.length],
        stroke: '#111',
        width: 1,
        paths: groupedBars(i, n),
        points: { show: false },
        value: (u, v) => (v == null ? '—' : format(v)),
      })),
    ],
  };
  return new (uPlot())(opts, data, holder);
}

/**
 * A line chart over time: `x` in epoch seconds, `series = [{label, values}]`; each
 * series has its own dash pattern and markers so it reads without colour.
 */
export function lineChart(holder, { x, series, format = String, height = 240 }) {
  const opts = {
    width: width(holder),
    height,
    scales: { x: { time: true }, y: { range: (u, lo, hi) => [0, hi > 0 ? hi * 1.1 : 1] } },
    axes: [{}, { values: (u, ticks) => ticks.map(format), size: 60 }],
    series: [
      { label: 'week of', value: (u, v) => (v == null ? '—' : new Date(v * 1000).toISOString().slice(0, 10)) },
      ...series.map((s, i) => ({
        label: s.label,
        stroke: PALETTE[i % PALETTE.length],
        width: 2,
        dash: DASHES[i % DASHES.length],
        spanGaps: true,
        points: { show: true, size: 7, fill: '#fff' },
        value: (u, v) => (v == null ? '—' : format(v)),
      })),
    ],
  };
  return new (uPlot())(opts, [x, ...series.map((s) => s.values)], holder);
}

/** Keeps `charts` (a live list) as wide as their figures when the window resizes. */
export function fitOnResize(charts) {
  let t = null;
  addEventListener('resize', () => {
    clearTimeout(t);
    t = setTimeout(() => {
      for (const c of charts) c.setSize({ width: width(c.root.parentElement), height: c.height });
    }, 150);
  });
}
