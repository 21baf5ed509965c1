// Live line charts (uPlot) of the selected device, one per metric. Each chart is first filled
// from the history API for the chosen window, then extended from the `telemetry` channel; live
// updates that arrive while the history loads wait and are appended after it, so the line is in
// time order and history is always drawn first.

import uPlot from 'uplot';

import { ApiError } from './api.js';
import { el, formatValue, schedule, setText } from './util.js';

/** Per window: its length, the history API's bucket, the subscription's frequency, and the
 * spacing of live points on the chart (a faster stream, e.g. the grid's 1 s one for every
 * device, is thinned to it). */
export const WINDOWS = {
  '15m': { ms: 15 * 60_000, interval: '1m', frequency: '1s', step: 1_000 },
  '1h': { ms: 3_600_000, interval: '1m', frequency: '5s', step: 5_000 },
  '24h': { ms: 86_400_000, interval: '15m', frequency: '1m', step: 60_000 },
};

function cssVar(name) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}

export class Charts {
  constructor({ container, note, title, api, onError }) {
    this.container = container;
    this.noteEl = note;
    this.titleEl = title;
    this.api = api;
    this.onError = onError;
    this.deviceId = null;
    this.window = '1h';
    this.charts = new Map(); // metric -> chart state
    this.gen = 0;
    this.resize = new ResizeObserver(() => schedule(() => this.fit()));
    this.resize.observe(container);
  }

  get spec() { return WINDOWS[this.window]; }

  /** Shows device `id` (its record `device`) over `windowKey`; every chart starts again. */
  show(device, windowKey) {
    this.gen++;
    this.deviceId = device?.id ?? null;
    this.window = windowKey;
    for (const c of this.charts.values()) c.plot?.destroy();
    this.charts.clear();
    this.container.replaceChildren();
    setText(this.titleEl, device ? `· ${device.name}` : '');
    this.setNote(device ? 'Waiting for this device\'s metrics…' : 'No device.');
    if (device) this.deviceChanged(device);
  }

  /** Reloads the current view from history (after a reconnect: fills the gap). */
  reload(device) { if (device && device.id === this.deviceId) this.show(device, this.window); }

  setNote(text) { setText(this.noteEl, text); this.noteEl.hidden = !text; }

  /** The grid's record of a device changed: charts for metrics seen the first time. */
  deviceChanged(device) {
    if (device.id !== this.deviceId) return;
    for (const [metric, v] of device.metrics) {
      if (!this.charts.has(metric)) this.addChart(metric, v.unit);
    }
  }

  addChart(metric, unit) {
    const gen = this.gen;
    const c = {
      metric, unit, loading: true, buffer: [], xs: [], ys: [], historyCount: 0, liveCount: 0,
      plot: null, latest: el('span', { class: 'latest' }), body: el('div', { class: 'plot' }),
    };
    c.root = el('figure', { class: 'chart', dataset: { metric, historyPoints: '0', livePoints: '0', state: 'loading' } },
      el('figcaption', {}, el('span', { class: 'metric-name', text: `${metric.replaceAll('_', ' ')}${unit ? ` (${unit})` : ''}` }), c.latest),
      c.body);
    this.charts.set(metric, c);
    // Charts in name order.
    const after = [...this.container.children].find((n) => n.dataset.metric > metric);
    this.container.insertBefore(c.root, after ?? null);
    this.setNote('');
    this.loadHistory(c, gen);
  }

  async loadHistory(c, gen) {
    const end = new Date();
    const start = new Date(end.getTime() - this.spec.ms);
    let points = [];
    let problem = null;
    try {
      const h = await this.api.history({ deviceId: this.deviceId, metric: c.metric, start, end, interval: this.spec.interval });
      points = h.points ?? [];
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) return; // the page shows the token problem
      problem = err instanceof ApiError && err.status === 404 && err.code === 'NOT_FOUND'
        ? 'no history API on this server: live values only'
        : `history unavailable: ${err.message}`;
    }
    if (gen !== this.gen) return; // another device or window since
    for (const p of points) {
      c.xs.push(Date.parse(p.timestamp) / 1000);
      c.ys.push(p.value);
    }
    c.historyCount = points.length;
    c.loading = false;
    c.root.dataset.historyPoints = String(points.length);
    c.root.dataset.state = problem ? 'live-only' : 'ready';
    if (problem) c.root.title = problem;
    if (problem) this.onError?.(problem);
    const waiting = c.buffer;
    c.buffer = [];
    for (const [ts, v] of waiting) this.append(c, ts, v);
    schedule(() => this.draw(c));
  }

  /** A telemetry_update of any device. */
  telemetry(msg) {
    if (msg.device_id !== this.deviceId) return;
    for (const [metric, v] of Object.entries(msg.telemetry)) {
      const c = this.charts.get(metric);
      if (!c) continue; // the grid's change listener adds it (then its history comes first)
      const ts = Date.parse(v.timestamp);
      if (c.loading) c.buffer.push([ts, v.value]);
      else {
        this.append(c, ts, v.value);
        schedule(() => this.draw(c));
      }
    }
  }

  append(c, tsMs, value) {
    const x = tsMs / 1000;
    const last = c.xs.length ? c.xs[c.xs.length - 1] : -Infinity;
    if (x <= last) return; // already covered (history up to it, or a repeat)
    const lastLive = c.liveCount > 0 ? last : -Infinity;
    if (c.liveCount > 0 && (x - lastLive) * 1000 < this.spec.step) {
      // Thinned to the window's step: the newest value stands for its step.
      c.ys[c.ys.length - 1] = value;
      c.pendingLatest = value;
      return;
    }
    c.xs.push(x);
    c.ys.push(value);
    if (c.liveCount++ === 0) c.firstLiveMs = tsMs;
    c.pendingLatest = value;
    // Only the window is kept.
    const from = x - this.spec.ms / 1000;
    let drop = 0;
    while (drop < c.xs.length && c.xs[drop] < from) drop++;
    if (drop) {
      c.xs.splice(0, drop);
      c.ys.splice(0, drop);
    }
  }

  opts(c, width) {
    const axis = cssVar('--muted') || '#666';
    const grid = cssVar('--grid') || 'rgba(128,128,128,.2)';
    return {
      width,
      height: 170,
      legend: { show: false },
      cursor: { drag: { x: false, y: false } },
      // The whole window, ending at the newest point.
      scales: { x: { time: true, range: (u, min, max) => {
        const hi = max ?? Date.now() / 1000;
        return [Math.min(min ?? hi, hi - this.spec.ms / 1000), hi];
      } } },
      axes: [
        { stroke: axis, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid } },
        { stroke: axis, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid }, size: 56,
          values: (u, vals) => vals.map((v) => formatValue(v)) },
      ],
      // Points are drawn where they are sparse (uPlot's default), so a lone first value shows.
      series: [{}, { label: c.metric, stroke: cssVar('--accent') || '#2563eb', width: 1.5 }],
    };
  }

  draw(c) {
    if (this.charts.get(c.metric) !== c) return; // removed meanwhile
    // For tests and curious users: what the chart holds, and where live data begins.
    c.root.dataset.livePoints = String(c.liveCount);
    c.root.dataset.points = String(c.xs.length);
    if (c.xs.length) c.root.dataset.firstTs = new Date(c.xs[0] * 1000).toISOString();
    if (c.firstLiveMs !== undefined) c.root.dataset.firstLiveTs = new Date(c.firstLiveMs).toISOString();
    if (c.pendingLatest !== undefined) {
      setText(c.latest, `${formatValue(c.pendingLatest)}${c.unit ? ` ${c.unit}` : ''}`);
      c.pendingLatest = undefined;
    }
    const data = [c.xs, c.ys];
    if (!c.plot) {
      const width = Math.max(200, c.body.clientWidth || this.container.clientWidth || 300);
      c.plot = new uPlot(this.opts(c, width), data, c.body);
    } else {
      c.plot.setData(data);
    }
  }

  fit() {
    for (const c of this.charts.values()) {
      if (!c.plot) continue;
      const w = Math.max(200, c.body.clientWidth);
      if (Math.abs(w - c.plot.width) > 2) c.plot.setSize({ width: w, height: 170 });
    }
  }

  /** Colours come from CSS: charts are drawn again after a theme change. */
  restyle() {
    for (const c of this.charts.values()) {
      if (!c.plot) continue;
      c.plot.destroy();
      c.plot = null;
      c.body.replaceChildren();
      this.draw(c);
    }
  }
}
