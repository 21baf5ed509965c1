// The device grid: one card per device (name, type, status colour, last seen, latest values),
// created once and updated in place. Messages only mark cards dirty; the next animation frame
// writes what changed, so 200 devices reporting every second cost one batch of text updates per
// frame, not one layout per message.

import { ago, el, formatValue, schedule, setText, timeOf } from './util.js';

const MAX_METRICS = 4;
const STATUSES = ['online', 'offline', 'warning', 'error', 'maintenance'];

export class DeviceGrid {
  constructor({ grid, empty, count, statusFilter, typeFilter, search, onSelect }) {
    this.gridEl = grid;
    this.emptyEl = empty;
    this.countEl = count;
    this.statusFilter = statusFilter;
    this.typeFilter = typeFilter;
    this.searchEl = search;
    this.onSelect = onSelect;
    this.devices = new Map(); // id -> device state
    this.dirty = new Set();
    this.order = [];
    this.structureChanged = false;
    this.filtersChanged = true;
    this.types = new Set();
    this.listeners = new Set();
    const refilter = () => { this.filtersChanged = true; this.request(); };
    statusFilter.addEventListener('change', refilter);
    typeFilter.addEventListener('change', refilter);
    search.addEventListener('input', refilter);
    // Relative "last seen" times move on by themselves.
    this.clock = setInterval(() => { for (const id of this.devices.keys()) this.dirty.add(id); this.request(); }, 1000);
  }

  destroy() { clearInterval(this.clock); }

  /** fn(device) after any change to a device's record or values (the chart panel listens). */
  onChange(fn) { this.listeners.add(fn); }

  request() { schedule(() => this.render()); }

  ensure(id) {
    let d = this.devices.get(id);
    if (!d) {
      d = { id, name: `Device ${id}`, type: '', model: '', status: 'offline', lastSeen: NaN,
        metrics: new Map(), change: null, ui: null, known: false };
      this.devices.set(id, d);
      this.structureChanged = true;
    }
    return d;
  }

  /** Records from GET /api/v1/devices. */
  setRecords(records) {
    for (const r of records) this.upsertRecord(r);
    this.request();
  }

  upsertRecord(r) {
    const d = this.ensure(r.id);
    d.name = r.name ?? d.name;
    d.type = r.device_type ?? d.type;
    d.model = r.model ?? '';
    if (r.status) d.status = r.status;
    if (r.last_seen) d.lastSeen = Math.max(Date.parse(r.last_seen), d.lastSeen || 0);
    d.known = true;
    if (d.type && !this.types.has(d.type)) {
      this.types.add(d.type);
      this.structureChanged = true;
    }
    this.dirty.add(d.id);
    this.notify(d);
  }

  /** A telemetry_update: returns false for a device the grid has no record of yet. */
  telemetry(msg) {
    const known = this.devices.get(msg.device_id)?.known ?? false;
    const d = this.ensure(msg.device_id);
    let newest = d.lastSeen || 0;
    for (const [metric, v] of Object.entries(msg.telemetry)) {
      const ts = Date.parse(v.timestamp);
      d.metrics.set(metric, { value: v.value, unit: v.unit ?? '', ts });
      if (ts > newest) newest = ts;
    }
    d.lastSeen = newest;
    this.dirty.add(d.id);
    this.request();
    this.notify(d);
    return known;
  }

  /** A device_status_update (a snapshot has old_status equal to new_status). */
  status(msg) {
    const d = this.ensure(msg.device_id);
    const changed = d.status !== msg.new_status;
    if (msg.reason !== 'snapshot' && msg.old_status !== msg.new_status) {
      d.change = { from: msg.old_status, to: msg.new_status, at: Date.parse(msg.timestamp) || Date.now(), reason: msg.reason };
      d.flash = true;
    }
    d.status = msg.new_status;
    const seen = msg.metadata?.last_seen ? Date.parse(msg.metadata.last_seen) : NaN;
    if (Number.isFinite(seen) && !(seen <= d.lastSeen)) d.lastSeen = seen;
    if (changed) this.filtersChanged = true;
    this.dirty.add(d.id);
    this.request();
    this.notify(d);
  }

  notify(d) { for (const fn of this.listeners) fn(d); }

  sorted() { return [...this.devices.values()].sort((a, b) => a.id - b.id); }

  buildCard(d) {
    const ui = {};
    ui.dot = el('span', { class: 'dot', 'aria-hidden': 'true' });
    ui.name = el('h3', { class: 'name' });
    ui.status = el('span', { class: 'status' });
    ui.type = el('span', { class: 'type' });
    ui.seen = el('span', { class: 'seen' });
    ui.metrics = el('dl', { class: 'metrics' });
    ui.rows = new Map();
    ui.change = el('p', { class: 'change' });
    ui.chart = el('button', { type: 'button', class: 'ghost small', text: 'Chart',
      on: { click: () => this.onSelect?.(d.id) } });
    ui.root = el('article', { class: 'card', role: 'listitem', dataset: { deviceId: String(d.id) } },
      el('div', { class: 'card-head' }, ui.dot, ui.name, ui.status),
      el('div', { class: 'meta' }, ui.type, el('span', { 'aria-hidden': 'true', text: ' · ' }), ui.seen, ui.chart),
      ui.metrics, ui.change);
    ui.root.addEventListener('animationend', () => ui.root.classList.remove('flash'));
    d.ui = ui;
    return ui.root;
  }

  updateCard(d, now) {
    const ui = d.ui;
    setText(ui.name, d.name);
    if (ui.root.dataset.status !== d.status) {
      ui.root.dataset.status = d.status;
      ui.root.setAttribute('aria-label', `${d.name}: ${d.status}`);
    }
    setText(ui.status, d.status);
    setText(ui.type, d.model ? `${d.type} · ${d.model}` : d.type || 'unknown type');
    setText(ui.seen, `seen ${ago(d.lastSeen, now)}`);
    if (Number.isFinite(d.lastSeen)) {
      const title = new Date(d.lastSeen).toLocaleString();
      if (ui.seen.title !== title) ui.seen.title = title;
    }
    let shown = 0;
    for (const [metric, v] of d.metrics) {
      if (shown++ >= MAX_METRICS) break;
      let row = ui.rows.get(metric);
      if (!row) {
        row = { value: el('span', { class: 'value' }), unit: el('span', { class: 'unit' }) };
        row.root = el('div', { class: 'metric', dataset: { metric } },
          el('dt', { text: metric.replaceAll('_', ' ') }), el('dd', {}, row.value, row.unit));
        ui.rows.set(metric, row);
        ui.metrics.append(row.root);
      }
      setText(row.value, formatValue(v.value));
      setText(row.unit, v.unit ? ` ${v.unit}` : '');
    }
    if (d.change) setText(ui.change, `${d.change.from} → ${d.change.to} at ${timeOf(d.change.at)}`);
    if (d.flash) {
      d.flash = false;
      ui.root.classList.remove('flash');
      void ui.root.offsetWidth; // restart the animation
      ui.root.classList.add('flash');
    }
  }

  matches(d, status, type, q) {
    return (!status || d.status === status) && (!type || d.type === type) && (!q || d.name.toLowerCase().includes(q));
  }

  render() {
    const now = Date.now();
    if (this.structureChanged) {
      this.structureChanged = false;
      const cards = this.sorted();
      const frag = document.createDocumentFragment();
      for (const d of cards) frag.append(d.ui ? d.ui.root : this.buildCard(d));
      this.gridEl.append(frag); // moves existing cards into id order, appends new ones
      for (const d of cards) this.dirty.add(d.id);
      // The type filter offers every type seen.
      const current = this.typeFilter.value;
      const types = [...this.types].sort();
      if (this.typeFilter.options.length !== types.length + 1) {
        this.typeFilter.replaceChildren(el('option', { value: '', text: 'All' }),
          ...types.map((t) => el('option', { value: t, text: t })));
        this.typeFilter.value = types.includes(current) ? current : '';
      }
      this.filtersChanged = true;
    }
    for (const id of this.dirty) {
      const d = this.devices.get(id);
      if (d?.ui) this.updateCard(d, now);
    }
    this.dirty.clear();
    if (this.filtersChanged) {
      this.filtersChanged = false;
      const status = this.statusFilter.value;
      const type = this.typeFilter.value;
      const q = this.searchEl.value.trim().toLowerCase();
      let visible = 0;
      const counts = Object.fromEntries(STATUSES.map((s) => [s, 0]));
      for (const d of this.devices.values()) {
        const show = this.matches(d, status, type, q);
        if (d.ui.root.hidden === show) d.ui.root.hidden = !show;
        if (show) visible++;
        counts[d.status] = (counts[d.status] ?? 0) + 1;
      }
      this.emptyEl.hidden = visible > 0 || this.devices.size === 0;
      const total = this.devices.size;
      setText(this.countEl, `${visible === total ? total : `${visible} of ${total}`} · ${counts.online} online`);
    }
  }
}
