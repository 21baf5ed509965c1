// The live fleet dashboard (docs/dashboard.md): takes a token from the login form or a
// `#token=` fragment, then shows devices, live telemetry charts, alerts and system figures over
// the project's JavaScript SDK (clients/js) and the REST API.

import 'uplot/dist/uPlot.min.css';
import './style.css';

import { ValtronicsWebSocket } from '../../clients/js/src/index.js';

import { AlertFeed } from './alerts.js';
import { Api, ApiError } from './api.js';
import { Charts, WINDOWS } from './charts.js';
import { DeviceGrid } from './devices.js';
import { SystemPanel } from './system.js';
import { el, onUnexpectedError, schedule, setText } from './util.js';

const TOKEN_KEY = 'valtronics-token';
const THEME_KEY = 'valtronics-theme';
const $ = (id) => document.getElementById(id);

// ---------------------------------------------------------------------------- messages

let messageTimer = 0;
/** The message bar: `kind` 'error' stays until dismissed or replaced; 'info' fades. */
function showMessage(text, kind = 'error') {
  const bar = $('message');
  clearTimeout(messageTimer);
  bar.replaceChildren(el('span', { text }),
    el('button', { type: 'button', class: 'ghost small', text: 'Dismiss', 'aria-label': 'Dismiss message',
      on: { click: () => { bar.hidden = true; } } }));
  bar.dataset.kind = kind;
  bar.hidden = false;
  if (kind === 'info') messageTimer = setTimeout(() => { bar.hidden = true; }, 8000);
}
onUnexpectedError((err) => showMessage(`Something went wrong on this page: ${err?.message ?? err}`));
window.addEventListener('unhandledrejection', (e) => showMessage(`Something went wrong on this page: ${e.reason?.message ?? e.reason}`));

// ---------------------------------------------------------------------------- theme

function applyTheme(theme) {
  if (theme === 'light' || theme === 'dark') document.documentElement.dataset.theme = theme;
  else delete document.documentElement.dataset.theme;
}
function currentTheme() {
  return document.documentElement.dataset.theme ??
    (matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light');
}
applyTheme(localStorage.getItem(THEME_KEY));

// ---------------------------------------------------------------------------- token

/** The token of `#token=...` (then removed from the address bar), else this tab's. */
function takeToken() {
  const hash = new URLSearchParams(location.hash.slice(1));
  const fromHash = hash.get('token');
  if (fromHash) {
    sessionStorage.setItem(TOKEN_KEY, fromHash);
    history.replaceState(null, '', location.pathname + location.search);
    return fromHash;
  }
  return sessionStorage.getItem(TOKEN_KEY);
}

function showLogin(problem) {
  $('app').hidden = true;
  $('logout').hidden = true;
  $('login').hidden = false;
  if (problem) showMessage(problem);
  $('token-input').focus();
}

const REFUSALS = {
  invalid_token: 'the token is not valid (bad signature or format)',
  token_expired: 'the token has expired',
  token_not_yet_valid: 'the token is not valid yet',
  missing_token: 'no token was given',
  UNAUTHORIZED: 'the token is not valid',
};

function refusedText(code, detail) {
  return `The server refused this token: ${REFUSALS[code] ?? code}${detail ? ` (${detail})` : ''}. ` +
    'Paste a valid token below, or open the link that make demo prints.';
}

// ---------------------------------------------------------------------------- the session

let session = null;

class Session {
  constructor(token) {
    this.token = token;
    this.stopped = false;
    this.api = new Api(token, { onUnauthorized: (err) => this.refused('UNAUTHORIZED', err.message) });
    this.badge = $('badge');
    this.countdown = 0;
  }

  setBadge(state, text) {
    this.badge.dataset.state = state;
    setText(this.badge, text);
  }

  refused(code, detail) {
    if (this.stopped) return;
    this.stop();
    sessionStorage.removeItem(TOKEN_KEY);
    this.setBadge('refused', 'Token refused');
    showLogin(refusedText(code, detail));
  }

  stop() {
    this.stopped = true;
    clearInterval(this.countdown);
    clearInterval(this.statsTimer);
    this.grid?.destroy();
    this.client?.disconnect().catch(() => {});
  }

  async start() {
    $('login').hidden = true;
    const url = `${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}/ws`;
    const client = new ValtronicsWebSocket(url, this.token);
    this.client = client;
    this.watchConnection(client);
    this.setBadge('connecting', 'Connecting…');
    // The WebSocket first: a refused token is told by its auth_response, and no REST call fails
    // with it.
    try {
      await client.connect();
    } catch (err) {
      if (['invalid_token', 'token_expired', 'token_not_yet_valid', 'missing_token'].includes(err.code)) {
        return this.refused(err.code, err.reply?.message);
      }
      this.setBadge('closed', 'Disconnected');
      showMessage(`Cannot connect to the server: ${err.message}. Reload the page to try again.`);
      return;
    }
    if (this.stopped) return;
    const auth = client.auth;
    setText($('who'), `${auth.user} · ${auth.role}`);
    $('logout').hidden = false;
    $('app').hidden = false;
    this.privileged = auth.role === 'admin' || auth.role === 'operator';
    this.buildPanels();

    // Records first (names, types), then the live channels (their snapshots fill the values).
    try {
      this.grid.setRecords(await this.api.devices());
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) return;
      showMessage(`Devices could not be listed: ${err.message}`);
    }
    if (this.stopped) return;
    // Alerts: the stored ones first, then the channel from just after the newest of them
    // (since_alert_id). An alert raised in between comes live and unread; so does one raised
    // while the connection is down before the subscription is confirmed (the SDK re-sends it
    // after the reconnect, still from that id). Subscribing first and listing after would take
    // such an alert into the listed history instead: shown read, or not at all.
    let newestListed;
    try {
      const recent = await this.api.recentAlerts(100);
      this.alerts.load(recent);
      newestListed = recent.reduce((max, a) => Math.max(max, a.alert_id), 0);
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) return;
      showMessage(`Alerts could not be listed: ${err.message}`);
    }
    if (this.stopped) return;
    const subs = [
      client.subscribe('devices'),
      client.subscribe('telemetry', { frequency: '1s', snapshot: true }),
      client.subscribe('alerts', newestListed === undefined ? {} : { since_alert_id: newestListed }),
    ];
    if (this.privileged) subs.push(client.subscribe('system', { frequency: '2s' }));
    else this.system.note('System figures need an admin or operator token.');
    const results = await Promise.allSettled(subs);
    for (const r of results) if (r.status === 'rejected') showMessage(`A subscription was refused: ${r.reason.message}`);
    if (this.stopped) return;
    if (auth.role === 'admin') this.pollStats();
    else this.system.sparks.get('messages_per_second').root.title = 'needs an admin token';
    this.selectDefaultDevice();
    // Tests wait for this before they take the server away (everything above is settled).
    $('app').dataset.ready = 'true';
  }

  watchConnection(client) {
    client.on('stateChange', ({ to }) => {
      if (to === 'open') {
        clearInterval(this.countdown);
        this.setBadge('live', 'Live');
      } else if (to === 'connecting' && client.reconnectAttempts > 0) {
        clearInterval(this.countdown);
        this.setBadge('reconnecting', `Reconnecting… (attempt ${client.reconnectAttempts})`);
      } else if (to === 'closed' && !this.stopped) {
        clearInterval(this.countdown);
        this.setBadge('closed', 'Disconnected');
      }
    });
    client.on('reconnecting', ({ delay }) => {
      const at = Date.now() + delay;
      const tick = () => {
        const left = Math.max(0, Math.ceil((at - Date.now()) / 1000));
        this.setBadge('reconnecting', `Reconnecting in ${left} s`);
      };
      clearInterval(this.countdown);
      tick();
      this.countdown = setInterval(tick, 250);
    });
    client.on('disconnected', () => {
      if (!this.stopped) this.setBadge('reconnecting', 'Connection lost');
    });
    client.on('reconnected', () => {
      showMessage('Reconnected: alerts raised meanwhile were replayed.', 'info');
      // The charts' gap is filled from history.
      this.charts?.reload(this.grid.devices.get(this.charts.deviceId));
    });
    client.on('closed', ({ error }) => {
      if (this.stopped || !error) return;
      if (['invalid_token', 'token_expired', 'token_not_yet_valid', 'missing_token'].includes(error.code) || error.closeCode === 4003) {
        this.refused(error.closeCode === 4003 ? 'token_expired' : error.code, error.message);
      } else {
        showMessage(`The connection ended: ${error.message}. Reload the page to connect again.`);
      }
    });
    client.on('error', (err) => {
      // Failures nobody awaits (a refused re-subscription, ...): shown, never thrown.
      if (!this.stopped) showMessage(err.message);
    });
    client.on('telemetry_update', (msg) => {
      if (!this.grid) return;
      if (!this.grid.telemetry(msg)) this.fetchRecord(msg.device_id);
      this.charts.telemetry(msg);
    });
    client.on('device_status_update', (msg) => {
      if (!this.grid) return;
      if (!this.grid.devices.get(msg.device_id)?.known) this.fetchRecord(msg.device_id);
      this.grid.status(msg);
    });
    client.on('alert', (msg) => this.alerts?.live(msg));
    client.on('system_status_update', (msg) => this.system?.status(msg));
  }

  /** A device heard of before its record: GET /api/v1/devices/{id}, once. */
  fetchRecord(id) {
    this.fetching ??= new Set();
    if (this.fetching.has(id)) return;
    this.fetching.add(id);
    this.api.get(`/api/v1/devices/${id}`).then((r) => this.grid.upsertRecord(r.data), () => {});
  }

  buildPanels() {
    const onError = (text) => showMessage(text);
    for (const id of ['device-grid', 'charts', 'alert-feed', 'sparks']) $(id).replaceChildren();
    this.grid = new DeviceGrid({
      grid: $('device-grid'), empty: $('device-empty'), count: $('device-count'),
      statusFilter: $('filter-status'), typeFilter: $('filter-type'), search: $('filter-search'),
      onSelect: (id) => this.selectDevice(id, true),
    });
    this.charts = new Charts({ container: $('charts'), note: $('chart-note'), title: $('chart-title'), api: this.api, onError });
    this.alerts = new AlertFeed({
      feed: $('alert-feed'), empty: $('alert-empty'), unread: $('alerts-unread'),
      severity: $('alert-severity'), status: $('alert-status'), markRead: $('alerts-read'),
      api: this.api, deviceName: (id) => this.grid.devices.get(id)?.name ?? `Device ${id}`, onError,
    });
    this.system = new SystemPanel({ container: $('sparks'), note: $('system-note') });
    this.grid.onChange((d) => {
      this.charts.deviceChanged(d);
      schedule(() => this.syncDeviceOptions());
    });
    $('chart-device').addEventListener('change', (e) => this.selectDevice(Number(e.target.value), false));
    $('chart-window').addEventListener('change', () => this.selectDevice(this.charts.deviceId, false));
  }

  syncDeviceOptions() {
    const select = $('chart-device');
    const devices = this.grid.sorted();
    const labels = devices.map((d) => `${d.id} · ${d.name}`);
    if (select.options.length === devices.length &&
        labels.every((l, i) => select.options[i].textContent === l)) return;
    select.replaceChildren(...devices.map((d, i) => el('option', { value: String(d.id), text: labels[i] })));
    if (this.charts.deviceId !== null) select.value = String(this.charts.deviceId);
    if (this.charts.deviceId === null) this.selectDefaultDevice();
  }

  selectDefaultDevice() {
    if (this.charts.deviceId !== null) return;
    const first = this.grid.sorted()[0];
    if (first) this.selectDevice(first.id, false);
  }

  /** Charts of device `id` over the chosen window, subscribed with the window's frequency. */
  selectDevice(id, scroll) {
    const device = this.grid.devices.get(id);
    if (!device) return;
    const windowKey = $('chart-window').value;
    const previous = this.charts.deviceId;
    if (previous !== null && previous !== id) this.client.unsubscribe('telemetry', previous).catch(() => {});
    this.client.subscribe('telemetry', { device_id: id, frequency: WINDOWS[windowKey].frequency })
      .catch((err) => showMessage(`Telemetry of device ${id}: ${err.message}`));
    $('chart-device').value = String(id);
    this.charts.show(device, windowKey);
    if (scroll) $('telemetry-panel').scrollIntoView({ behavior: 'smooth', block: 'start' });
  }

  pollStats() {
    const poll = async () => {
      try {
        const r = await this.api.stats();
        this.system.stats(r.data, performance.now());
        this.system.note('');
      } catch (err) {
        if (!(err instanceof ApiError && err.status === 401)) this.system.note(`Statistics: ${err.message}`);
      }
    };
    poll();
    this.statsTimer = setInterval(poll, 2000);
  }
}

function begin(token) {
  session?.stop();
  session = new Session(token);
  session.start().catch((err) => showMessage(`The dashboard could not start: ${err.message}`));
}

$('login-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const token = $('token-input').value.trim();
  if (!token) return;
  sessionStorage.setItem(TOKEN_KEY, token);
  $('token-input').value = '';
  $('message').hidden = true;
  begin(token);
});
$('logout').addEventListener('click', () => {
  session?.stop();
  session = null;
  sessionStorage.removeItem(TOKEN_KEY);
  $('badge').dataset.state = 'idle';
  setText($('badge'), 'Not connected');
  setText($('who'), '');
  showLogin();
});
$('theme').addEventListener('click', () => {
  const next = currentTheme() === 'dark' ? 'light' : 'dark';
  localStorage.setItem(THEME_KEY, next);
  applyTheme(next);
  session?.charts?.restyle();
  session?.system?.redrawAll();
});
matchMedia('(prefers-color-scheme: dark)').addEventListener('change', () => {
  session?.charts?.restyle();
  session?.system?.redrawAll();
});

const initial = takeToken();
if (initial) begin(initial);
else showLogin();
