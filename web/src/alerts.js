// The alert feed: newest first, severity colours, filters by severity and status, an unread
// count (alerts that arrived live, including those replayed after a reconnect), and
// Acknowledge / Resolve buttons that call the REST API. A state change that arrives on the
// `alerts` channel (from this page or anyone else) updates the item in place.

import { ApiError } from './api.js';
import { el, schedule, setText, timeOf } from './util.js';

const RANK = { active: 0, acknowledged: 1, resolved: 2 };
const MAX_ITEMS = 300;

export class AlertFeed {
  constructor({ feed, empty, unread, severity, status, markRead, api, deviceName, onError }) {
    this.feedEl = feed;
    this.emptyEl = empty;
    this.unreadEl = unread;
    this.severityEl = severity;
    this.statusEl = status;
    this.api = api;
    this.deviceName = deviceName;
    this.onError = onError;
    this.alerts = new Map(); // alert_id -> { alert, ui, unread, dirty }
    this.dirty = new Set();
    this.added = false;
    this.unread = 0;
    this.refilter = true;
    severity.addEventListener('change', () => { this.refilter = true; this.request(); });
    status.addEventListener('change', () => { this.refilter = true; this.request(); });
    markRead.addEventListener('click', () => this.markAllRead());
  }

  request() { schedule(() => this.render()); }

  /** Alerts from GET /api/v1/alerts (already seen: not unread). */
  load(list) {
    for (const a of list) this.upsert(a, false);
    this.request();
  }

  /** An `alert` message of the channel (live or replayed after a reconnect). */
  live(msg) {
    this.upsert(msg, true);
    this.request();
  }

  upsert(a, live) {
    let item = this.alerts.get(a.alert_id);
    if (!item) {
      item = { alert: a, ui: null, unread: live && a.status !== 'resolved' };
      if (item.unread) this.unread++;
      this.alerts.set(a.alert_id, item);
      this.added = true;
    } else if ((RANK[a.status] ?? 0) >= (RANK[item.alert.status] ?? 0)) {
      item.alert = { ...item.alert, ...a };
      if (a.status === 'resolved' && item.unread) this.setRead(item);
    }
    this.dirty.add(a.alert_id);
  }

  setRead(item) {
    if (!item.unread) return;
    item.unread = false;
    this.unread--;
    this.dirty.add(item.alert.alert_id);
  }

  markAllRead() {
    for (const item of this.alerts.values()) this.setRead(item);
    this.request();
  }

  async act(item, action) {
    const id = item.alert.alert_id;
    item.busy = true;
    this.dirty.add(id);
    this.request();
    try {
      const r = action === 'ack' ? await this.api.acknowledge(id) : await this.api.resolve(id);
      this.setRead(item);
      this.upsert(r.data, false);
    } catch (err) {
      if (!(err instanceof ApiError && err.status === 401)) {
        const why = err instanceof ApiError && err.status === 403 ? 'this token may not respond to alerts' : err.message;
        this.onError?.(`Alert ${id}: ${action === 'ack' ? 'acknowledge' : 'resolve'} failed: ${why}`);
      }
    } finally {
      item.busy = false;
      this.dirty.add(id);
      this.request();
    }
  }

  build(item) {
    const ui = {};
    ui.sev = el('span', { class: 'sev' });
    ui.title = el('strong', { class: 'title' });
    ui.state = el('span', { class: 'state' });
    ui.msg = el('p', { class: 'msg' });
    ui.device = el('span', { class: 'dev' });
    ui.time = el('time');
    ui.ack = el('button', { type: 'button', class: 'small', text: 'Acknowledge', on: { click: () => this.act(item, 'ack') } });
    ui.resolve = el('button', { type: 'button', class: 'small ghost', text: 'Resolve', on: { click: () => this.act(item, 'resolve') } });
    ui.root = el('li', { class: 'alert', dataset: { alertId: String(item.alert.alert_id) } },
      el('div', { class: 'alert-head' }, ui.sev, ui.title, ui.state),
      ui.msg,
      el('div', { class: 'alert-foot' }, ui.device, ui.time, el('span', { class: 'spacer' }), ui.ack, ui.resolve));
    ui.root.addEventListener('click', (e) => { if (e.target.tagName !== 'BUTTON') { this.setRead(item); this.request(); } });
    item.ui = ui;
    return ui.root;
  }

  update(item) {
    const a = item.alert;
    const ui = item.ui;
    ui.root.dataset.severity = a.severity;
    ui.root.dataset.status = a.status;
    ui.root.dataset.unread = String(item.unread);
    setText(ui.sev, a.severity);
    setText(ui.title, a.title);
    setText(ui.state, a.status);
    setText(ui.msg, a.message ?? '');
    setText(ui.device, this.deviceName(a.device_id));
    const ts = Date.parse(a.timestamp);
    setText(ui.time, Number.isFinite(ts) ? timeOf(ts) : '');
    if (Number.isFinite(ts)) ui.time.dateTime = new Date(ts).toISOString();
    ui.ack.hidden = a.status !== 'active';
    ui.resolve.hidden = a.status === 'resolved';
    ui.ack.disabled = ui.resolve.disabled = Boolean(item.busy);
    ui.ack.setAttribute('aria-label', `Acknowledge alert ${a.alert_id}: ${a.title}`);
    ui.resolve.setAttribute('aria-label', `Resolve alert ${a.alert_id}: ${a.title}`);
  }

  render() {
    if (this.added) {
      this.added = false;
      // Newest first; beyond MAX_ITEMS the oldest go.
      const ids = [...this.alerts.keys()].sort((x, y) => y - x);
      for (const id of ids.slice(MAX_ITEMS)) {
        const item = this.alerts.get(id);
        if (item.unread) this.unread--;
        item.ui?.root.remove();
        this.alerts.delete(id);
        this.dirty.delete(id);
      }
      const frag = document.createDocumentFragment();
      for (const id of ids.slice(0, MAX_ITEMS)) {
        const item = this.alerts.get(id);
        frag.append(item.ui ? item.ui.root : this.build(item));
        this.dirty.add(id);
      }
      this.feedEl.append(frag);
      this.refilter = true;
    }
    for (const id of this.dirty) {
      const item = this.alerts.get(id);
      if (item?.ui) this.update(item);
    }
    if (this.dirty.size) this.refilter = true;
    this.dirty.clear();
    if (this.refilter) {
      this.refilter = false;
      const sev = this.severityEl.value;
      const st = this.statusEl.value;
      let visible = 0;
      for (const item of this.alerts.values()) {
        const a = item.alert;
        const show = (!sev || a.severity === sev) &&
          (!st || (st === 'open' ? a.status !== 'resolved' : a.status === st));
        if (item.ui.root.hidden === show) item.ui.root.hidden = !show;
        if (show) visible++;
      }
      this.emptyEl.hidden = visible > 0;
      setText(this.emptyEl, this.alerts.size ? 'No alert matches the filters.' : 'No alert.');
    }
    setText(this.unreadEl, String(this.unread));
    this.unreadEl.dataset.count = String(this.unread);
    this.unreadEl.setAttribute('aria-label', `${this.unread} unread alert${this.unread === 1 ? '' : 's'}`);
    const title = this.unread ? `(${this.unread}) Valtronics fleet` : 'Valtronics fleet';
    if (document.title !== title) document.title = title;
  }
}
