// System figures as sparklines: CPU, memory and disk from the `system` channel, active
// connections, and messages per second (the server's messagesSent + messagesReceived from
// GET /api/v1/ws/stats, differenced). Drawn on small canvases, once per frame at most.

import { el, formatValue, schedule, setText } from './util.js';

const KEEP = 90;

const SPARKS = [
  { key: 'cpu_usage', label: 'CPU', unit: '%', max: 100 },
  { key: 'memory_usage', label: 'Memory', unit: '%', max: 100 },
  { key: 'disk_usage', label: 'Disk', unit: '%', max: 100 },
  { key: 'active_connections', label: 'Connections', unit: '' },
  { key: 'messages_per_second', label: 'Messages/s', unit: '' },
];

export class SystemPanel {
  constructor({ container, note }) {
    this.container = container;
    this.noteEl = note;
    this.sparks = new Map();
    for (const s of SPARKS) {
      const value = el('span', { class: 'spark-value', text: '–' });
      const canvas = el('canvas', { class: 'spark-canvas', 'aria-hidden': 'true' });
      const root = el('div', { class: 'spark', dataset: { metric: s.key, samples: '0' } },
        el('span', { class: 'spark-label', text: s.label }), value, canvas);
      this.sparks.set(s.key, { ...s, values: [], value, canvas, root, dirty: false });
      container.append(root);
    }
    this.lastStats = null;
  }

  note(text) {
    setText(this.noteEl, text);
    this.noteEl.hidden = !text;
  }

  push(key, v) {
    const s = this.sparks.get(key);
    if (!s || typeof v !== 'number' || !Number.isFinite(v)) return;
    s.values.push(v);
    if (s.values.length > KEEP) s.values.shift();
    s.dirty = true;
    schedule(() => this.render());
  }

  /** A system_status_update. */
  status(msg) {
    for (const key of ['cpu_usage', 'memory_usage', 'disk_usage', 'active_connections']) this.push(key, msg.metrics?.[key]);
  }

  /** GET /api/v1/ws/stats figures, polled: the message rate since the previous poll. */
  stats(data, atMs) {
    const total = (data.messagesSent ?? 0) + (data.messagesReceived ?? 0);
    if (this.lastStats && atMs > this.lastStats.at) {
      const rate = Math.max(0, (total - this.lastStats.total) / ((atMs - this.lastStats.at) / 1000));
      this.push('messages_per_second', rate);
    }
    this.lastStats = { total, at: atMs };
  }

  render() {
    const stroke = getComputedStyle(document.documentElement).getPropertyValue('--accent').trim() || '#2563eb';
    const dpr = window.devicePixelRatio || 1;
    for (const s of this.sparks.values()) {
      if (!s.dirty) continue;
      s.dirty = false;
      const last = s.values[s.values.length - 1];
      setText(s.value, `${formatValue(last)}${s.unit}`);
      s.root.dataset.samples = String(s.values.length);
      const w = s.canvas.clientWidth || 120;
      const h = s.canvas.clientHeight || 32;
      if (s.canvas.width !== Math.round(w * dpr)) s.canvas.width = Math.round(w * dpr);
      if (s.canvas.height !== Math.round(h * dpr)) s.canvas.height = Math.round(h * dpr);
      const ctx = s.canvas.getContext('2d');
      ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
      ctx.clearRect(0, 0, w, h);
      if (s.values.length < 2) continue;
      const max = s.max ?? Math.max(1, ...s.values) * 1.1;
      const min = s.max ? 0 : Math.min(0, ...s.values);
      ctx.beginPath();
      s.values.forEach((v, i) => {
        const x = w - ((s.values.length - 1 - i) / (KEEP - 1)) * w; // newest at the right edge
        const y = h - 2 - ((v - min) / (max - min || 1)) * (h - 4);
        if (i === 0) ctx.moveTo(x, y); else ctx.lineTo(x, y);
      });
      ctx.strokeStyle = stroke;
      ctx.lineWidth = 1.5;
      ctx.stroke();
    }
  }

  redrawAll() {
    for (const s of this.sparks.values()) s.dirty = true;
    schedule(() => this.render());
  }
}
