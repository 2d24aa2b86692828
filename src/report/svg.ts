// A small, plain SVG chart: one x–y panel with axes, ticks, a legend, and any of scatter points,
// lines, interval bands and step histograms per series. Text is real <text> (searchable, crisp);
// the same markup is inlined in the HTML report and rendered to PNG by resvg, so it uses only
// presentation attributes (no CSS, no scripts) that both understand.

export interface XY {
  x: number;
  y: number;
}

export interface Series {
  name: string;
  color: string;
  /** Drawn as dots. */
  points?: XY[];
  /** Drawn as a polyline (fitted curve, profile). */
  line?: XY[];
  /** The line is a fitted curve: marked `class="fit"` with its y extremes, so a reader (or a test) can check it. */
  fit?: boolean;
  dashed?: boolean;
  /** Filled between low and high (an interval band). */
  band?: Array<{ x: number; low: number; high: number }>;
  /** A histogram as bin edges (k+1) and counts (k), drawn as a filled step outline. */
  histogram?: { edges: number[]; counts: number[] };
}

export interface PlotSpec {
  /** Unique in the page: names the figure's files and its clip path. */
  id: string;
  title: string;
  xLabel: string;
  yLabel: string;
  /** Logarithmic x axis (x > 0). */
  xLog?: boolean;
  /** Categorical x: x values are indices into these labels. */
  xCategories?: string[];
  /** A fixed linear x range (e.g. relative depth [0, 1]), padded a little. */
  xDomain?: [number, number];
  series: Series[];
  /** A line of text under the title (e.g. "too few points to fit"). */
  note?: string;
  /** The y metric's physical range, recorded on the <svg> (data-range-low/high) for readers and tests. */
  yRange?: { low: number; high: number };
  width?: number;
  height?: number;
}

export const PALETTE = ['#4e79a7', '#f28e2b', '#59a14f', '#e15759', '#76b7b2', '#edc948', '#b07aa1', '#ff9da7', '#9c755f', '#bab0ac'];

const FONT = 'DejaVu Sans, Liberation Sans, Arial, Helvetica, sans-serif';

export function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** Short numbers for ticks: 1.2M, 350, 0.042. */
export function formatTick(v: number, digits = 3): string {
  const a = Math.abs(v);
  if (a === 0) return '0';
  const units: Array<[number, string]> = [
    [1e12, 'T'],
    [1e9, 'B'],
    [1e6, 'M'],
    [1e3, 'k'],
  ];
  for (const [u, s] of units) if (a >= u) return `${+(v / u).toPrecision(digits)}${s}`;
  if (a >= 0.01) return `${+v.toPrecision(digits)}`;
  return v.toExponential(digits - 2);
}

/**
 * Labels for a set of ticks: the fewest significant digits (from 3) that tell every tick apart, so
 * ticks 12.05 and 12.1 never both read "12.1".
 */
export function tickLabels(ticks: number[]): string[] {
  for (let digits = 3; digits <= 10; digits++) {
    const labels = ticks.map((t) => formatTick(t, digits));
    if (new Set(labels).size === labels.length) return labels;
  }
  return ticks.map((t) => String(t));
}

/** "Nice" linear ticks (1, 2, 5 × 10^k steps) covering [lo, hi]. */
export function linearTicks(lo: number, hi: number, target = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / target;
  const mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const out: number[] = [];
  // Multiples k·step (not a running sum, whose round-off would print 0.30000000000000004).
  for (let k = Math.ceil(lo / step - 1e-9); k * step <= hi + step * 1e-9; k++) out.push(k === 0 ? 0 : +(k * step).toPrecision(12));
  return out;
}

/** Powers of ten in [lo, hi]; with 1, 2, 5 multiples when the range spans under two decades, every multiple under one. */
export function logTicks(lo: number, hi: number): number[] {
  // Under a decade, 1, 2, 5 may leave one tick (3.1M–6.6M holds only 5M): then every integer multiple.
  const wide = logTicksWith(lo, hi, Math.log10(hi / lo) < 2 ? [1, 2, 5] : [1]);
  if (wide.length >= 3 || Math.log10(hi / lo) >= 1) return wide.length >= 2 ? wide : [lo, hi];
  const fine = logTicksWith(lo, hi, [1, 2, 3, 4, 5, 6, 7, 8, 9]);
  return fine.length >= 2 ? fine : [lo, hi];
}

function logTicksWith(lo: number, hi: number, multiples: number[]): number[] {
  const out: number[] = [];
  for (let k = Math.floor(Math.log10(lo)); k <= Math.ceil(Math.log10(hi)); k++) {
    for (const m of multiples) {
      const v = m * Math.pow(10, k);
      if (v >= lo * (1 - 1e-9) && v <= hi * (1 + 1e-9)) out.push(v);
    }
  }
  return out;
}

function extent(values: number[]): [number, number] {
  const finite = values.filter(Number.isFinite);
  if (!finite.length) return [0, 1];
  let lo = Math.min(...finite);
  let hi = Math.max(...finite);
  if (lo === hi) {
    const pad = lo === 0 ? 1 : Math.abs(lo) * 0.05;
    lo -= pad;
    hi += pad;
  }
  return [lo, hi];
}

export function renderPlot(spec: PlotSpec): string {
  const width = spec.width ?? 560;
  const height = spec.height ?? 340;
  const perRow = width < 500 ? 2 : 3;
  const legendRows = Math.ceil(spec.series.length / perRow);
  const m = { left: 64, right: 16, top: spec.note ? 50 : 34, bottom: 46 + legendRows * 16 };
  const pw = width - m.left - m.right;
  const ph = height - m.top - m.bottom;

  const xs: number[] = [];
  const ys: number[] = [];
  for (const s of spec.series) {
    for (const p of [...(s.points ?? []), ...(s.line ?? [])]) {
      xs.push(p.x);
      ys.push(p.y);
    }
    for (const b of s.band ?? []) {
      xs.push(b.x);
      ys.push(b.low, b.high);
    }
    if (s.histogram) {
      xs.push(...s.histogram.edges);
      ys.push(0, ...s.histogram.counts);
    }
  }
  let xLo: number;
  let xHi: number;
  if (spec.xCategories) {
    xLo = -0.5;
    xHi = spec.xCategories.length - 0.5;
  } else if (spec.xDomain) {
    const pad = (spec.xDomain[1] - spec.xDomain[0]) * 0.05;
    [xLo, xHi] = [spec.xDomain[0] - pad, spec.xDomain[1] + pad];
  } else if (spec.xLog) {
    [xLo, xHi] = extent(xs.filter((v) => v > 0).map(Math.log10));
    const pad = (xHi - xLo) * 0.06;
    [xLo, xHi] = [Math.pow(10, xLo - pad), Math.pow(10, xHi + pad)];
  } else {
    [xLo, xHi] = extent(xs);
    const pad = spec.series.some((s) => s.histogram) ? 0 : (xHi - xLo) * 0.05;
    [xLo, xHi] = [xLo - pad, xHi + pad];
  }
  let [yLo, yHi] = extent(ys);
  const yPad = (yHi - yLo) * 0.08;
  [yLo, yHi] = [spec.series.some((s) => s.histogram) ? 0 : yLo - yPad, yHi + yPad];

  const sx = (x: number) =>
    m.left + (spec.xLog ? (Math.log10(x) - Math.log10(xLo)) / (Math.log10(xHi) - Math.log10(xLo)) : (x - xLo) / (xHi - xLo)) * pw;
  const sy = (y: number) => m.top + ph - ((y - yLo) / (yHi - yLo)) * ph;
  const f = (v: number) => v.toFixed(1);

  const rangeAttrs = spec.yRange ? ` data-range-low="${spec.yRange.low}" data-range-high="${spec.yRange.high}"` : '';
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="${FONT}" font-size="11"${rangeAttrs}>`,
    `<title>${escapeXml(spec.title)}</title>`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="${width / 2}" y="18" text-anchor="middle" font-size="13" font-weight="bold" fill="#222">${escapeXml(spec.title)}</text>`,
  );
  if (spec.note) out.push(`<text x="${width / 2}" y="36" text-anchor="middle" font-size="11" fill="#b03030">${escapeXml(spec.note)}</text>`);

  // Grid and ticks.
  const xTicks = spec.xCategories ? spec.xCategories.map((_, i) => i) : spec.xLog ? logTicks(xLo, xHi) : linearTicks(xLo, xHi);
  const xLabels = spec.xCategories ? xTicks.map((t) => spec.xCategories![t]) : tickLabels(xTicks);
  for (const [i, t] of xTicks.entries()) {
    const x = f(sx(t));
    const label = xLabels[i];
    out.push(`<line x1="${x}" y1="${m.top}" x2="${x}" y2="${m.top + ph}" stroke="#eeeeee"/>`);
    out.push(`<text x="${x}" y="${m.top + ph + 14}" text-anchor="middle" fill="#444">${escapeXml(label)}</text>`);
  }
  const yTicks = linearTicks(yLo, yHi);
  const yLabels = tickLabels(yTicks);
  for (const [i, t] of yTicks.entries()) {
    const y = f(sy(t));
    out.push(`<line x1="${m.left}" y1="${y}" x2="${m.left + pw}" y2="${y}" stroke="#eeeeee"/>`);
    out.push(`<text x="${m.left - 6}" y="${y}" dy="0.35em" text-anchor="end" fill="#444">${escapeXml(yLabels[i])}</text>`);
  }
  out.push(`<rect x="${m.left}" y="${m.top}" width="${pw}" height="${ph}" fill="none" stroke="#888888"/>`);
  out.push(`<text x="${m.left + pw / 2}" y="${m.top + ph + 30}" text-anchor="middle" fill="#222">${escapeXml(spec.xLabel)}</text>`);
  out.push(
    `<text transform="translate(14 ${m.top + ph / 2}) rotate(-90)" text-anchor="middle" fill="#222">${escapeXml(spec.yLabel)}</text>`,
  );

  // Data, clipped to the panel.
  const clip = `clip-${spec.id.replace(/[^A-Za-z0-9_-]/g, '_')}`;
  out.push(`<clipPath id="${clip}"><rect x="${m.left}" y="${m.top}" width="${pw}" height="${ph}"/></clipPath>`);
  out.push(`<g clip-path="url(#${clip})">`);
  // Layered across series: bands, then histograms, then lines, then points on top of everything.
  const histOpacity = spec.series.filter((s) => s.histogram).length > 3 ? 0.08 : 0.25;
  for (const s of spec.series) {
    if (!s.band?.length) continue;
    const upper = s.band.map((b) => `${f(sx(b.x))},${f(sy(b.high))}`);
    const lower = [...s.band].reverse().map((b) => `${f(sx(b.x))},${f(sy(b.low))}`);
    out.push(`<polygon points="${[...upper, ...lower].join(' ')}" fill="${s.color}" fill-opacity="0.18" stroke="none"/>`);
  }
  for (const s of spec.series) {
    if (!s.histogram) continue;
    const { edges, counts } = s.histogram;
    const pts = [`${f(sx(edges[0]))},${f(sy(0))}`];
    counts.forEach((c, i) => pts.push(`${f(sx(edges[i]))},${f(sy(c))}`, `${f(sx(edges[i + 1]))},${f(sy(c))}`));
    pts.push(`${f(sx(edges[edges.length - 1]))},${f(sy(0))}`);
    out.push(`<polygon points="${pts.join(' ')}" fill="${s.color}" fill-opacity="${histOpacity}" stroke="${s.color}" stroke-width="1.5"/>`);
  }
  for (const s of spec.series) {
    if (!(s.line && s.line.length > 1)) continue;
    const dash = s.dashed ? ' stroke-dasharray="5 4"' : '';
    const ly = s.line.map((p) => p.y);
    const fit = s.fit ? ` class="fit" data-y-min="${Math.min(...ly)}" data-y-max="${Math.max(...ly)}"` : '';
    out.push(
      `<polyline points="${s.line.map((p) => `${f(sx(p.x))},${f(sy(p.y))}`).join(' ')}" fill="none" stroke="${s.color}" stroke-width="2"${dash}${fit}/>`,
    );
  }
  for (const s of spec.series) {
    for (const p of s.points ?? []) {
      out.push(`<circle cx="${f(sx(p.x))}" cy="${f(sy(p.y))}" r="4" fill="${s.color}" stroke="#ffffff" stroke-width="1"/>`);
    }
  }
  out.push('</g>');

  // Legend, two or three per row under the axis label.
  spec.series.forEach((s, i) => {
    const col = i % perRow;
    const row = Math.floor(i / perRow);
    const x = m.left + col * (pw / perRow);
    const y = m.top + ph + 46 + row * 16;
    out.push(`<rect x="${f(x)}" y="${y - 8}" width="10" height="10" fill="${s.color}"/>`);
    out.push(`<text x="${f(x + 14)}" y="${y}" fill="#222">${escapeXml(truncate(s.name, perRow === 2 ? 24 : 30))}</text>`);
  });
  out.push('</svg>');
  return out.join('\n');
}

function truncate(s: string, n: number): string {
  return s.length <= n ? s : s.slice(0, n - 1) + '…';
}
