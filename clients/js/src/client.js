// ValtronicsWebSocket: the spec's JavaScript client (same class and method names), made reliable.
//
// What the spec's printed client lacks and this one does (docs/clients/js.md has the details):
//   - connect() and subscribe() return promises, settled by auth_response / subscribed / error;
//   - every request carries an `id`, so an `error` reply rejects exactly the request it answers;
//   - after a reconnect it authenticates again (asking getToken() for a fresh token), re-subscribes
//     everything with the same filters, and resumes alerts with since_alert_id (from the last
//     alert delivered, or before the first one from the subscription's last_alert_id);
//   - it reconnects forever by default, with exponential backoff and full jitter, but never after a
//     token the server refused;
//   - messages sent while (re)connecting are queued and flushed after auth;
//   - updates are checked against the per-channel `seq`: duplicates are dropped, gaps reported;
//   - a subscribe the token covers only in part keeps what was granted and reports the rest
//     (`forbidden` in the `subscribed` reply, an extension: docs/protocol.md);
//   - alerts of a subscription with `ack: true` (an extension) are acknowledged by themselves,
//     after the application's handlers ran, duplicates included (see _onUpdate, _ackLater).
//
// The connection goes through these states:
//   idle -> connecting -> open -> (reconnecting -> connecting -> open)* -> closed
// `closed` is terminal until connect() is called again (the subscription registry is kept).

import { DEFAULT_BACKOFF, backoffDelay } from './backoff.js';
import { Emitter } from './emitter.js';
import { FATAL_AUTH_CODES, ValtronicsError, fromReply } from './errors.js';
import { MAX_BATCH, MAX_BATCH_BYTES, MAX_MESSAGE_BYTES, batchFrame, chunkSerialized, utf8Length } from './limits.js';
import { loadMsgpack, loadWebSocket } from './transport.js';

/**
 * Update message types, with the spec's callback property for each. telemetry_stale (an
 * extension, docs/protocol.md#extensions-of-the-spec) is numbered by `seq` on the telemetry
 * channel like an update, so it must go through the same seq bookkeeping: skipping it would make
 * the next telemetry_update look like a gap.
 */
const CALLBACKS = {
  telemetry_update: 'onTelemetryUpdate',
  telemetry_stale: 'onTelemetryStale',
  alert: 'onAlert',
  device_status_update: 'onDeviceStatusUpdate',
  system_status_update: 'onSystemStatusUpdate',
};
const CHANNEL_OF = {
  telemetry_update: 'telemetry',
  telemetry_stale: 'telemetry',
  alert: 'alerts',
  device_status_update: 'devices',
  system_status_update: 'system',
};
/** An alert's status only moves forward (docs/alerts.md): active -> acknowledged -> resolved. */
const ALERT_RANK = { active: 0, acknowledged: 1, resolved: 2 };
/** Refusals worth trying again later (the others remove a subscription from the registry). */
const TRANSIENT_CODES = new Set(['rate_limited', 'timeout', 'internal_error', 'disconnected']);
/**
 * `ack` frames: at most this many delivery ids each (the server's limit, docs/protocol.md,
 * "Acknowledged alerts"). Each frame is also kept within maxMessageBytes: acks go as single
 * frames, never inside a `batch`, because the server does not hold a bare `ack` behind a
 * catch-up (a replay with ack waits for acks), whereas a batch waits for the catch-up to end.
 */
const MAX_ACK_IDS = 1000;
const ACK_FRAME_OVERHEAD = utf8Length('{"type":"ack","delivery_id":[]}');
/** Replies that answer a request and echo its id. */
const REPLY_TYPES = new Set(['auth_response', 'subscribed', 'unsubscribed', 'pong', 'error']);

const DEFAULTS = {
  requestTimeout: 10_000,
  connectTimeout: 10_000,
  heartbeat: { interval: 30_000, timeout: 10_000 },
  queueLimit: 1000,
  maxMessageBytes: MAX_MESSAGE_BYTES,
  maxBatchBytes: MAX_BATCH_BYTES,
  resumeAlerts: true,
  dedupeWindow: 10_000,
  minRefreshInterval: 5_000,
  retryOnFirstConnect: false,
  authHeader: false,
  coalesce: true,
  encoding: 'json',
};
/** The WebSocket subprotocol of each encoding (extension, docs/protocol.md, "MessagePack"). */
const SUBPROTOCOLS = { json: 'valtronics.json', msgpack: 'valtronics.msgpack' };

const noop = () => {};

/**
 * Devices per subscribe when the restore merges keys with identical filters: a few KB of ids at
 * most, far within a batch frame (limits.max_batch_bytes).
 */
const RESTORE_GROUP = 500;

/** The devices a `subscribed` reply says the token does not cover (extension), as strings. */
function forbiddenIds(reply) {
  return new Set(Array.isArray(reply?.forbidden) ? reply.forbidden.map(String) : []);
}

/** The error reported for one device left out of a `subscribed` reply by its `forbidden`. */
function forbiddenError(reply, channel, device) {
  return new ValtronicsError('forbidden', `forbidden: the token does not cover device ${device}`,
    { id: reply.id, reply, channel, device_id: device });
}

/** `err` naming one (channel, device) key; a copy when one refusal stands for several keys. */
function keyError(err, sub, copy) {
  const e = copy ? new ValtronicsError(err.code, err.message, { id: err.id, reply: err.reply }) : err;
  e.channel = sub.channel;
  e.device_id = sub.device;
  return e;
}

function subKey(channel, device) {
  return `${channel}\u0000${device ?? '*'}`;
}

/** JSON with sorted object keys: equal filters give equal strings (for grouping). */
function stableJson(v) {
  if (Array.isArray(v)) return `[${v.map(stableJson).join(',')}]`;
  if (v && typeof v === 'object') {
    return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${stableJson(v[k])}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

/**
 * Accepts filters the way either spec client writes them (top level, or under `filters`) and
 * returns { devices: number[] | null, filters } with everything at the top level. A key given in
 * both places with different values is the server's `invalid_filter`, reported here already.
 */
export function normalizeFilters(input) {
  if (input == null) input = {};
  if (typeof input !== 'object' || Array.isArray(input)) {
    throw new ValtronicsError('invalid_filter', 'filters must be an object');
  }
  const { filters: nested, ...out } = input;
  if (nested != null) {
    if (typeof nested !== 'object' || Array.isArray(nested)) {
      throw new ValtronicsError('invalid_filter', "'filters' must be an object");
    }
    for (const [k, v] of Object.entries(nested)) {
      if (k in out && stableJson(out[k]) !== stableJson(v)) {
        throw new ValtronicsError('invalid_filter',
          `invalid_filter: '${k}' is given at the top level and under 'filters' with different values`);
      }
      out[k] = v;
    }
  }
  for (const k of ['type', 'channel', 'id']) {
    if (k in out) throw new ValtronicsError('invalid_filter', `invalid_filter: '${k}' is not a filter`);
  }
  let devices = null;
  if (out.device_id !== undefined) {
    devices = Array.isArray(out.device_id) ? [...out.device_id] : [out.device_id];
    delete out.device_id;
  }
  return { devices, filters: out };
}

export class ValtronicsWebSocket extends Emitter {
  /**
   * new ValtronicsWebSocket(url, token, options?) as in the spec, or (url, options) with
   * options.token and/or options.getToken.
   */
  constructor(url, token, options = {}) {
    super();
    if (token !== null && typeof token === 'object') {
      options = token;
      token = options.token;
    }
    if (typeof url !== 'string' && !(url instanceof URL)) throw new TypeError('url must be a string');
    if ((token === undefined || token === null) && typeof options.getToken !== 'function') {
      throw new TypeError('a token or an options.getToken() function is required');
    }
    this.url = String(url);
    // On /ws/<channel> the server subscribes to that channel by itself after auth (docs/protocol.md,
    // "Endpoints"); the client knows it so that a reconnect can resume it (alerts: since_alert_id).
    this._endpointChannel = /\/ws\/(telemetry|alerts|devices|system)\/?(?:[?#].*)?$/.exec(this.url)?.[1] ?? null;
    this.token = token ?? null;
    const o = { ...DEFAULTS, ...options };
    if (!Object.hasOwn(SUBPROTOCOLS, o.encoding)) {
      throw new TypeError(`encoding must be 'json' or 'msgpack', not ${JSON.stringify(o.encoding)}`);
    }
    this._opts = o;
    this._codec = null; // the MessagePack codec, once loaded (encoding 'msgpack')
    this._getToken = typeof o.getToken === 'function' ? o.getToken : null;
    this._reconnect = o.reconnect === false ? null : { ...DEFAULT_BACKOFF, ...(typeof o.reconnect === 'object' ? o.reconnect : {}) };
    this._heartbeat = o.heartbeat === false || o.heartbeat?.interval === 0 ? null : { ...DEFAULTS.heartbeat, ...o.heartbeat };

    // The spec's callback properties (assigned by the user).
    this.onTelemetryUpdate = null;
    this.onAlert = null;
    this.onDeviceStatusUpdate = null;
    this.onSystemStatusUpdate = null;
    this.onTelemetryStale = null; // extension: a subscription with stale_after

    this._state = 'idle';
    this._ws = null;
    this._gen = 0;              // id of the current socket; events of older sockets are ignored
    this._stopped = false;      // disconnect() called: no reconnect
    this._hasConnected = false; // a session was established since the last connect() call
    this._attempt = 0;          // reconnect attempts since the last successful auth
    this._reconnectTimer = null;
    this._connectTimer = null;
    this._heartbeatTimer = null;
    this._authId = null;        // id of the auth message of the current attempt
    this._helloId = null;       // id of the hello (coalesced frames) of the current attempt
    this._authError = null;     // the server refused our token on this socket
    this._socketError = null;   // last transport error text (for connect_failed messages)
    this._auth = null;          // last successful auth_response
    this._waiters = [];         // connect() promises: settled by the next auth or the end
    this._nextId = 1;
    this._pending = new Map();  // id -> request entry (see _prepare)
    this._queue = [];           // { entry } | { text } waiting for an open connection
    this._subs = new Map();     // subKey -> { channel, device, filters, pendingId }
    this._lastSeq = new Map();  // channel -> last seq delivered on this connection
    this._alertRanks = new Map(); // alert_id -> rank of the last status delivered (insertion-ordered)
    this._lastAlertId = Number.isInteger(o.lastAlertId) ? o.lastAlertId : null;
    this._refreshing = false;
    this._expiringDuringRefresh = null;
    this._lastRefreshAt = 0;
    this._refreshTimer = null;
    // Acknowledged alerts (subscriptions with `ack: true`). Delivery ids belong to a connection:
    // both sets are for the current socket (_gen) and emptied when it goes down.
    this._acks = [];            // delivery ids to acknowledge in the next `ack` frame(s)
    this._ackTimer = null;      // the flush of _acks (a timer of 0 ms: one frame per burst)
    this._ackHeld = new Set();  // delivery ids whose onAlert promise has not settled yet
    this.latency = null;        // round trip of the last heartbeat ping, ms
  }

  // ------------------------------------------------------------------------------ properties

  /** 'idle' | 'connecting' | 'open' | 'reconnecting' | 'closed' */
  get state() { return this._state; }
  /** True while authenticated on an open connection. */
  get connected() { return this._state === 'open'; }
  /** The last successful auth_response ({ user, role, expires_at, ... }), or null. */
  get auth() { return this._auth; }
  /**
   * Where an alerts subscription resumes after a reconnect: the highest alert_id delivered so far;
   * before the first alert, the `last_alert_id` of the first alerts `subscribed` reply without a
   * replay (where that subscription started); null before either.
   */
  get lastAlertId() { return this._lastAlertId; }
  set lastAlertId(v) {
    if (v !== null && !Number.isInteger(v)) throw new TypeError('lastAlertId must be an integer or null');
    this._lastAlertId = v;
  }
  /** Reconnect attempts since the last successful authentication. */
  get reconnectAttempts() { return this._attempt; }
  /** Messages waiting for the connection. */
  get queued() { return this._queue.length; }
  /** The registry re-sent after every reconnect: one entry per (channel, device) key. */
  get subscriptions() {
    return [...this._subs.values()].map((s) => ({
      channel: s.channel, device_id: s.device, filters: { ...s.filters }, confirmed: s.pendingId === null,
    }));
  }

  // ------------------------------------------------------------------------------ public API

  /**
   * Opens the connection and authenticates. Resolves with the auth_response once it reports
   * success; rejects with a ValtronicsError (the server's code, e.g. 'invalid_token') when auth
   * fails, or 'connect_failed' when the connection cannot be opened (unless retryOnFirstConnect).
   * Calling it while connecting returns a promise for the same outcome.
   */
  connect() {
    if (this._state === 'open') return Promise.resolve(this._auth);
    const p = new Promise((resolve, reject) => this._waiters.push({ resolve, reject }));
    if (this._state === 'idle' || this._state === 'closed') {
      this._stopped = false;
      this._hasConnected = false;
      this._attempt = 0;
      this._attemptConnect('connect');
    }
    return p;
  }

  /**
   * Subscribes. `filters` as in the spec (top level: { device_id, metrics, ... }) or nested
   * ({ filters: {...} }). Resolves with the `subscribed` reply; rejects with the server's error.
   * The subscription is kept in the registry and re-sent after every reconnect. Naming several
   * devices of which the token covers only some resolves all the same, with the uncovered ones in
   * the reply's `forbidden` (an extension): those leave the registry, each reported as
   * `subscriptionRemoved` with reason 'forbidden'. Only when none is covered does it reject
   * ('forbidden'). The extension options (deadband, stale_after, aggregate, ...) pass through
   * like any filter.
   */
  subscribe(channel, filters = {}) {
    let norm;
    try {
      if (typeof channel !== 'string') throw new ValtronicsError('invalid_message', 'channel must be a string');
      norm = normalizeFilters(filters);
    } catch (err) {
      return this._handled(Promise.reject(err));
    }
    const msg = { type: 'subscribe', channel, ...norm.filters };
    if (norm.devices) msg.device_id = norm.devices.length === 1 ? norm.devices[0] : norm.devices;
    return this.request(msg);
  }

  /**
   * Unsubscribes from (channel, deviceId), or from every subscription of the channel when
   * deviceId is omitted. Resolves with the `unsubscribed` reply.
   */
  unsubscribe(channel, deviceId) {
    const msg = { type: 'unsubscribe', channel };
    if (deviceId !== undefined && deviceId !== null) msg.device_id = deviceId;
    return this.request(msg);
  }

  /** Sends a ping; resolves with the pong. */
  ping(timestamp = new Date().toISOString()) {
    return this.request({ type: 'ping', timestamp });
  }

  /**
   * Sends a message and resolves with its reply (matched by `id`, which is added when absent).
   * subscribe / unsubscribe messages sent this way update the registry like subscribe().
   * Options: timeout (ms, default requestTimeout).
   */
  request(message, { timeout } = {}) {
    let entry;
    try {
      entry = this._prepare(message, { timeout });
    } catch (err) {
      return this._handled(Promise.reject(err));
    }
    this._dispatch([entry]);
    return entry.promise;
  }

  /**
   * Sends a message without waiting for a reply (the spec's send). An object is serialized as
   * JSON. Sent at once when connected, queued (and sent after auth) while connecting; throws a
   * ValtronicsError 'not_connected' once the client is closed. Returns true if sent now.
   */
  send(message) {
    if (this._state === 'closed') {
      throw new ValtronicsError('not_connected', 'not_connected: the client is closed; call connect() first');
    }
    const text = typeof message === 'string' ? message : JSON.stringify(message);
    this._checkSize(text, typeof message === 'object' && message?.type === 'batch', message);
    if (this._state === 'open') {
      this._write(text, message);
      return true;
    }
    this._enqueue({ text, message });
    return false;
  }

  /**
   * Sends `auth` again with a new token (from the argument, or getToken()): the server keeps the
   * connection and its subscriptions and moves the expiry. Resolves with the auth_response.
   * Done automatically on token_expiring when getToken is set.
   */
  async refreshToken(token) {
    if (token === undefined) {
      if (!this._getToken) throw new TypeError('refreshToken() needs a token or options.getToken');
      token = await this._getToken({ reason: 'manual', expiresAt: this._auth?.expires_at ?? null });
    }
    if (typeof token !== 'string' || !token) throw new TypeError('the token must be a non-empty string');
    this.token = token;
    if (this._state !== 'open') {
      // Not connected: the next (re)connect authenticates with this token.
      if (this._state === 'closed' || this._state === 'idle') return null;
      return this.connect();
    }
    // _onFrame records the new auth_response and emits tokenRefreshed as soon as it arrives.
    return this.request({ type: 'auth', token });
  }

  /**
   * Closes the connection for good: no reconnect, pending and queued requests are rejected with
   * 'disconnected'. The subscription registry is kept, so a later connect() restores it.
   * Resolves once the socket is closed.
   */
  async disconnect(code = 1000, reason = '') {
    this._stopped = true;
    const ws = this._ws;
    let closed = Promise.resolve();
    if (ws && ws.readyState !== 3 /* CLOSED */) {
      closed = new Promise((resolve) => {
        const t = setTimeout(() => { terminate(ws); resolve(); }, 2000);
        ws.addEventListener('close', () => { clearTimeout(t); resolve(); });
      });
    }
    if (this._ws) this._down(this._gen, { code, reason: reason || 'disconnect() called', local: { code, reason } });
    else if (this._state !== 'closed') this._terminate(null);
    await closed;
  }

  // -------------------------------------------------------------------------- connecting

  async _attemptConnect(reason) {
    const gen = ++this._gen;
    this._setState('connecting');
    this._authError = null;
    this._socketError = null;
    this.emit('connecting', { attempt: this._attempt, reason });
    let token;
    let Impl;
    try {
      if (this._getToken && (reason !== 'connect' || !this.token)) {
        const fresh = await this._getToken({ reason, expiresAt: this._auth?.expires_at ?? null });
        if (fresh) this.token = fresh;
      }
      token = this.token;
      if (!token) throw new ValtronicsError('missing_token', 'missing_token: getToken() returned no token');
      Impl = await loadWebSocket(this._opts.WebSocket);
      if (this._opts.encoding === 'msgpack') this._codec = await loadMsgpack(this._opts.msgpack);
    } catch (err) {
      if (gen !== this._gen) return;
      const e = err instanceof ValtronicsError ? err : new ValtronicsError('connect_failed',
        `connect_failed: ${err?.message ?? err}`, { cause: err });
      this._gen++; // nothing was opened
      this._afterDown({ code: 1006, reason: e.message, error: e, wasOpen: false });
      return;
    }
    if (gen !== this._gen || this._stopped) return; // disconnect() while waiting for the token

    let ws;
    try {
      // JSON is asked for by no subprotocol at all, so that a server without the extension
      // answers too; MessagePack only by its own (a server that does not name it in its answer
      // fails the handshake).
      const protocols = this._opts.encoding === 'json' ? [] : [SUBPROTOCOLS[this._opts.encoding]];
      ws = this._opts.authHeader
        ? new Impl(this.url, protocols, { headers: { Authorization: `Bearer ${token}` } })
        : new Impl(this.url, protocols);
      if (this._codec) ws.binaryType = 'arraybuffer';
    } catch (err) {
      this._gen++;
      this._afterDown({ code: 1006, reason: err.message, wasOpen: false,
        error: new ValtronicsError('connect_failed', `connect_failed: ${err.message}`, { cause: err }) });
      return;
    }
    this._ws = ws;
    this._connectTimer = setTimeout(() => {
      this._down(gen, { code: 4000, reason: 'connect timeout',
        error: new ValtronicsError('timeout', `timeout: not authenticated within ${this._opts.connectTimeout} ms`) });
    }, this._opts.connectTimeout);

    ws.addEventListener('open', () => {
      if (gen !== this._gen) return;
      this.emit('open', { url: this.url });
      if (this._opts.coalesce) {
        // Extension (docs/protocol.md, "Coalesced frames"): the server may then send several
        // messages as one JSON array frame; _onFrame takes both. An older server answers
        // unknown_type, which _onMessage leaves aside.
        this._helloId = this._newId();
        const hello = { type: 'hello', features: ['coalesce'], id: this._helloId };
        this._write(JSON.stringify(hello), hello);
      }
      if (!this._opts.authHeader) {
        this._authId = this._newId();
        this._write(JSON.stringify({ type: 'auth', token, id: this._authId }), { type: 'auth', token, id: this._authId });
      }
    });
    ws.addEventListener('message', (ev) => {
      if (gen === this._gen) this._onFrame(gen, ev.data);
    });
    ws.addEventListener('error', (ev) => {
      if (gen === this._gen) this._socketError = ev?.message || ev?.error?.message || 'WebSocket error';
    });
    ws.addEventListener('close', (ev) => {
      this._down(gen, { code: ev.code, reason: ev.reason });
    });
  }

  _onAuthResponse(gen, msg) {
    if (!msg.success) {
      const err = fromReply(msg);
      this._authError = err;
      // The server closes with 4001 (or 4029); do not wait for it.
      this._down(gen, { code: msg.error === 'too_many_connections' ? 4029 : 4001, reason: 'authentication failed', error: err });
      return;
    }
    clearTimeout(this._connectTimer);
    this._connectTimer = null;
    const reconnected = this._hasConnected;
    this._auth = msg;
    this._hasConnected = true;
    this._lastSeq.clear(); // seq restarts at 1 on every connection
    this._setState('open');
    this._startHeartbeat(gen);
    this.emit('authenticated', msg);
    const waiters = this._waiters.splice(0);
    for (const w of waiters) w.resolve(msg);
    // Restore first (its replies come first), then whatever waited for the connection.
    const restored = this._restore();
    this._flush();
    // The endpoint's own subscription: not re-sent this time (the server just made it), but
    // from now on part of the registry, so a reconnect re-sends it with since_alert_id.
    const ch = this._endpointChannel;
    if (ch && ![...this._subs.values()].some((s) => s.channel === ch)) {
      this._subs.set(subKey(ch, null), { channel: ch, device: null, filters: {}, pendingId: null });
    }
    restored.then((result) => {
      if (gen !== this._gen) return;
      this._attempt = 0; // only a session that got as far as re-subscribing resets the backoff
      this.emit('resubscribed', result);
      if (reconnected) this.emit('reconnected', { auth: msg, ...result });
    });
  }

  /**
   * Re-sends every confirmed subscription (pending ones are re-sent as requests from the queue).
   * Keys of one channel with identical filters go as one subscribe with a `device_id` list (at
   * most RESTORE_GROUP devices each): fewer messages against the server's message rate. That is
   * safe because the server grants such a subscribe in part (an extension,
   * docs/protocol.md#extensions-of-the-spec): a device the new token no longer covers comes back
   * in the reply's `forbidden` and is dropped alone; only when the token covers none of them is
   * the whole message refused, and then every key of it is refused. The messages go in batches
   * of at most 50 (a batch counts as one message for the rate limit), alerts with
   * since_alert_id. A ping ends the last batch: the server answers it only after every replay,
   * so its pong means the restore is complete.
   */
  _restore() {
    const groups = new Map(); // signature -> the group taking its next keys
    const entries = [];
    for (const s of this._subs.values()) {
      if (s.pendingId !== null) continue;
      const sig = `${s.channel}\u0000${s.device === null ? '*' : '#'}\u0000${stableJson(s.filters)}`;
      let g = groups.get(sig);
      if (!g || g.subs.length >= RESTORE_GROUP) {
        g = { channel: s.channel, filters: s.filters, subs: [] };
        groups.set(sig, g);
        entries.push(g);
      }
      g.subs.push(s);
    }
    for (const [i, g] of entries.entries()) {
      const msg = { type: 'subscribe', channel: g.channel, ...g.filters };
      if (g.subs[0].device !== null) {
        msg.device_id = g.subs.length === 1 ? g.subs[0].device : g.subs.map((s) => s.device).sort((a, b) => a - b);
      }
      this._resumeAlerts(msg);
      const entry = this._prepare(msg, { internal: true, registry: false });
      entry.subs = g.subs;
      entries[i] = entry;
    }
    const keys = entries.reduce((n, e) => n + e.subs.length, 0);
    if (entries.length === 0) return Promise.resolve({ subscriptions: 0, failed: [] });
    const barrier = this._prepare({ type: 'ping', timestamp: null }, { internal: true });
    this._sendBatched([...entries, barrier]);
    const failed = [];
    // Refused for good (e.g. the new token no longer covers it): drop it from the registry,
    // unless a later subscribe replaced it meanwhile. A transient refusal keeps it, to be tried
    // again after the next reconnect.
    const refuse = (sub, err) => {
      const key = subKey(sub.channel, sub.device);
      const dropped = !TRANSIENT_CODES.has(err.code) && this._subs.get(key) === sub;
      if (dropped) this._subs.delete(key);
      failed.push(err);
      if (dropped) {
        this.emit('subscriptionRemoved', {
          channel: sub.channel, device_id: sub.device, filters: { ...sub.filters }, reason: 'restore', error: err,
        });
      }
      this.emit('error', err);
    };
    const waits = entries.map((e) => e.promise.then((reply) => {
      // Granted in part: the devices the token does not cover are refused alone.
      const forbidden = forbiddenIds(reply);
      for (const sub of e.subs) {
        if (forbidden.has(String(sub.device))) refuse(sub, forbiddenError(reply, sub.channel, sub.device));
      }
      if (reply.channel === 'alerts' && 'recovered' in reply) this._emitRecovery(e.msg, reply);
    }, (err) => {
      if (err.code === 'disconnected') return;
      // Refused whole: every key of the message, each with its own error naming it.
      for (const sub of e.subs) refuse(sub, keyError(err, sub, e.subs.length > 1));
    }));
    return Promise.all([...waits, barrier.promise.catch(noop)]).then(() => ({ subscriptions: keys, failed }));
  }

  /** After a drop: an alerts subscribe resumes from the newest alert already delivered. */
  _resumeAlerts(msg) {
    if (msg.channel !== 'alerts' || !this._opts.resumeAlerts || this._lastAlertId === null) return;
    const given = Number.isInteger(msg.since_alert_id) ? msg.since_alert_id : -1;
    msg.since_alert_id = Math.max(given, this._lastAlertId);
  }

  /**
   * An alerts `subscribed` (a reply, or the one /ws/alerts sends after auth): before the first
   * alert, its last_alert_id (where the subscription starts) is the resume point, so alerts raised
   * during a first outage are not lost. Not after a replay: the replayed alerts set it as they
   * arrive (the reply's would skip those still in flight when the connection drops).
   */
  _alertsStart(reply) {
    if (this._lastAlertId !== null || !Number.isInteger(reply.last_alert_id)) return;
    if (reply.filters && typeof reply.filters === 'object' && 'since_alert_id' in reply.filters) return;
    this._lastAlertId = reply.last_alert_id;
  }

  _emitRecovery(msg, reply) {
    this.emit('recovery', { channel: 'alerts', sinceAlertId: msg.since_alert_id ?? null, recovered: reply.recovered, reply });
  }

  // ------------------------------------------------------------------------------ closing

  /** The socket `gen` is gone (closed by either side, failed, or abandoned). */
  _down(gen, { code = 1006, reason = '', error = null, local = null, kill = false }) {
    if (gen !== this._gen) return;
    this._gen++; // from now on, events of that socket are ignored
    const ws = this._ws;
    this._ws = null;
    if (ws) {
      try {
        // A dead connection (heartbeat) is cut at once: a close handshake would wait for nothing.
        if (kill) terminate(ws);
        else if (local) ws.close(local.code, local.reason);
        else if (ws.readyState === 0 || ws.readyState === 1) ws.close(1000);
      } catch {
        terminate(ws);
      }
    }
    const wasOpen = this._state === 'open';
    if (!error && this._authError) error = this._authError;
    if (!error && !wasOpen && !local) {
      error = new ValtronicsError('connect_failed',
        `connect_failed: connection closed before authentication (code ${code}${this._socketError ? `, ${this._socketError}` : reason ? `, ${reason}` : ''})`,
        { closeCode: code });
    }
    this._afterDown({ code, reason, error, wasOpen });
  }

  _afterDown({ code, reason, error, wasOpen }) {
    clearTimeout(this._connectTimer);
    this._connectTimer = null;
    this._stopHeartbeat();
    this._dropAcks();
    clearTimeout(this._refreshTimer);
    this._refreshTimer = null;
    // Requests in flight on the dead connection: internal ones are dropped (the restore of the
    // next connection supersedes them); the user's go back to the front of the queue, in order.
    const resend = [];
    for (const e of this._pending.values()) {
      if (!e.inflight) continue;
      e.inflight = false;
      clearTimeout(e.timer);
      if (e.internal) this._settle(e, false, new ValtronicsError('disconnected', 'disconnected: the connection closed'));
      else if (e.msg.type === 'auth') this._settle(e, false, new ValtronicsError('disconnected',
        'disconnected: the connection closed during the token refresh (the next connection uses the new token)'));
      else resend.push({ entry: e, resend: true });
    }
    this._queue.unshift(...resend);

    const willReconnect = !this._terminalError(code, error);
    if (wasOpen) this.emit('disconnected', { code, reason, error, willReconnect: willReconnect && !this._stopped });
    if (this._stopped) return this._terminate(null);
    const fatal = this._terminalError(code, error);
    if (fatal) return this._terminate(fatal);
    const delay = backoffDelay(this._attempt, this._reconnect);
    this._attempt++;
    this._setState('reconnecting');
    this.emit('reconnecting', { attempt: this._attempt, delay, code, reason, error });
    this._reconnectTimer = setTimeout(() => {
      this._reconnectTimer = null;
      this._attemptConnect('reconnect');
    }, delay);
  }

  /** The error that ends the client, or null when it should reconnect. */
  _terminalError(code, error) {
    if (error && FATAL_AUTH_CODES.has(error.code)) return error;
    if (code === 4003 && !this._getToken) {
      return new ValtronicsError('token_expired',
        'token_expired: the connection was closed (4003) because the token expired; set options.getToken to refresh it',
        { closeCode: 4003, cause: error ?? undefined });
    }
    if (!this._hasConnected && !this._opts.retryOnFirstConnect) return error ?? new ValtronicsError('connect_failed', `connect_failed: closed with ${code}`, { closeCode: code });
    if (!this._reconnect) {
      return new ValtronicsError('connection_closed', `connection_closed: closed with ${code}${error ? ` (${error.message})` : ''} and reconnect is disabled`,
        { closeCode: code, cause: error ?? undefined });
    }
    if (this._attempt >= this._reconnect.maxAttempts) {
      return new ValtronicsError('reconnect_failed', `reconnect_failed: gave up after ${this._attempt} reconnect attempts`,
        { closeCode: code, cause: error ?? undefined });
    }
    return null;
  }

  /** Ends the client: state closed, everything waiting is rejected. `error` null: disconnect(). */
  _terminate(error) {
    clearTimeout(this._reconnectTimer);
    this._reconnectTimer = null;
    this._setState('closed');
    const err = error ?? new ValtronicsError('disconnected', 'disconnected: disconnect() was called');
    const waiters = this._waiters.splice(0);
    for (const w of waiters) w.reject(err);
    for (const e of [...this._pending.values()]) this._settle(e, false, err);
    this._queue = [];
    if (error && waiters.length === 0) this.emit('error', error);
    this.emit('closed', { error });
  }

  _setState(s) {
    if (s === this._state) return;
    const from = this._state;
    this._state = s;
    this.emit('stateChange', { from, to: s });
  }

  // ---------------------------------------------------------------------------- requests

  _newId() {
    return `v${this._nextId++}`;
  }

  /** Marks a promise as handled so fire-and-forget calls (as in the spec) never crash Node. */
  _handled(p) {
    p.catch(noop);
    return p;
  }

  /**
   * Builds a request entry (not yet sent): gives the message an id, registers it in _pending,
   * and for subscribe/unsubscribe applies it to the registry (undone if the request fails).
   */
  _prepare(message, { timeout, internal = false, registry = true, batched = false } = {}) {
    if (!message || typeof message !== 'object' || Array.isArray(message) || typeof message.type !== 'string') {
      throw new ValtronicsError('invalid_message', 'invalid_message: a request is an object with a string type');
    }
    if (message.type === 'batch') throw new ValtronicsError('invalid_message', 'invalid_message: use MessageBatcher or send() for batches');
    if (this._state === 'closed' && !internal) {
      throw new ValtronicsError('not_connected', 'not_connected: the client is closed; call connect() first');
    }
    const msg = { ...message };
    if (msg.id === undefined) msg.id = this._newId();
    if (this._pending.has(msg.id)) throw new ValtronicsError('invalid_message', `invalid_message: id ${msg.id} is already in use`);
    // Inside a batch only the batch frame's limit applies (checked by whoever builds the batch).
    if (!internal && !batched) this._checkSize(JSON.stringify(msg), false, msg);
    const entry = { id: msg.id, msg, internal, inflight: false, timer: null, timeout: timeout ?? this._opts.requestTimeout, undo: null };
    entry.promise = this._handled(new Promise((resolve, reject) => { entry.resolve = resolve; entry.reject = reject; }));
    if (registry && (msg.type === 'subscribe' || msg.type === 'unsubscribe')) entry.undo = this._applyToRegistry(msg);
    this._pending.set(msg.id, entry);
    return entry;
  }

  /** Applies a subscribe/unsubscribe to the registry now; returns the function that undoes it. */
  _applyToRegistry(msg) {
    const prev = [];
    if (msg.type === 'subscribe') {
      const { devices, filters } = normalizeFilters(Object.fromEntries(
        Object.entries(msg).filter(([k]) => !['type', 'channel', 'id'].includes(k))));
      for (const d of devices ?? [null]) {
        const k = subKey(msg.channel, d);
        // `prev`: what a refusal restores (cleared when the server removes that subscription
        // meanwhile, see _onSubscriptionRemoved).
        this._subs.set(k, { channel: msg.channel, device: d, filters, pendingId: msg.id, prev: this._subs.get(k) });
        prev.push(k);
      }
      return (ok, reply) => {
        // A `subscribed` may grant the request in part (extension): the devices in its
        // `forbidden` were not subscribed, and leave the registry as a refusal would; the others
        // stay.
        const forbidden = ok ? forbiddenIds(reply) : new Set();
        const refused = [];
        for (const k of prev) {
          const cur = this._subs.get(k);
          if (cur?.pendingId !== msg.id) continue; // superseded by a later request, or removed
          const old = cur.prev;
          cur.prev = undefined;
          const granted = ok && !forbidden.has(String(cur.device));
          if (granted) cur.pendingId = null;
          else if (old) this._subs.set(k, { ...old, pendingId: old.pendingId && this._pending.has(old.pendingId) ? old.pendingId : null });
          else this._subs.delete(k);
          if (ok && !granted) refused.push(cur);
        }
        for (const cur of refused) {
          this.emit('subscriptionRemoved', {
            channel: cur.channel, device_id: cur.device, filters: { ...cur.filters }, reason: 'forbidden',
            error: forbiddenError(reply, cur.channel, cur.device),
          });
        }
      };
    }
    for (const [k, s] of this._subs) {
      if (s.channel === msg.channel && (msg.device_id === undefined || s.device === msg.device_id)) {
        prev.push([k, s]);
        this._subs.delete(k);
      }
    }
    return (ok) => {
      if (ok) return;
      for (const [k, old] of prev) if (!this._subs.has(k)) this._subs.set(k, old);
    };
  }

  _settle(entry, ok, value) {
    if (!this._pending.has(entry.id)) return;
    this._pending.delete(entry.id);
    clearTimeout(entry.timer);
    entry.undo?.(ok, value);
    if (ok) entry.resolve(value);
    else entry.reject(value);
  }

  _checkSize(text, isBatch, message) {
    const limit = isBatch ? this._opts.maxBatchBytes : this._opts.maxMessageBytes;
    if (limit && limit !== Infinity) {
      // The server counts the bytes as sent: MessagePack's once its codec is loaded (before the
      // first connection the JSON size stands in; MessagePack is never the larger).
      const packed = this._codec && typeof message === 'object' && message !== null;
      const n = packed ? this._codec.encode(message).length : utf8Length(text);
      if (n > limit) {
        throw new ValtronicsError('message_too_large',
          `message_too_large: ${n} bytes, the server accepts at most ${limit} (it would close the connection with 1009)`);
      }
    }
  }

  /** Sends request entries now when open (several as one batch), or queues them. */
  _dispatch(entries) {
    if (this._state === 'open') this._sendBatched(entries);
    else for (const entry of entries) this._enqueue({ entry });
  }

  _enqueue(item) {
    if (this._queue.length >= this._opts.queueLimit) {
      const err = new ValtronicsError('queue_full', `queue_full: ${this._queue.length} messages are already waiting for the connection`);
      if (item.entry) {
        this._settle(item.entry, false, err);
        return;
      }
      throw err;
    }
    this._queue.push(item);
  }

  /** Writes request entries, alone or in batches of at most 50, and starts their timeouts. */
  _sendBatched(entries) {
    if (entries.length === 0) return;
    const texts = entries.map((e) => JSON.stringify(e.msg));
    for (const e of entries) this._arm(e);
    let i = 0;
    for (const chunk of chunkSerialized(texts, { maxItems: MAX_BATCH, maxBytes: this._opts.maxBatchBytes })) {
      const msgs = entries.slice(i, i + chunk.length).map((e) => e.msg);
      i += chunk.length;
      // One message goes alone, unless it is over the single-frame limit (an internal
      // re-subscribe grouping many devices can be): inside a batch the batch limit applies.
      if (chunk.length === 1 && utf8Length(chunk[0]) <= this._opts.maxMessageBytes) this._write(chunk[0], msgs[0]);
      else this._write(batchFrame(chunk), { type: 'batch', messages: msgs });
    }
  }

  _arm(entry) {
    entry.inflight = true;
    clearTimeout(entry.timer);
    if (entry.timeout && entry.timeout !== Infinity) {
      entry.timer = setTimeout(() => {
        const err = new ValtronicsError('timeout', `timeout: no reply to ${entry.msg.type} ${entry.id} within ${entry.timeout} ms`, { id: entry.id });
        this._settle(entry, false, err);
        entry.onTimeout?.(err);
      }, entry.timeout);
    }
  }

  /** Sends what waited for the connection, in order; consecutive requests go out batched. */
  _flush() {
    const items = this._queue.splice(0);
    let run = [];
    const flushRun = () => {
      this._sendBatched(run);
      run = [];
    };
    for (const item of items) {
      if (item.entry) {
        if (!this._pending.has(item.entry.id)) continue; // timed out or settled meanwhile
        if (item.resend && item.entry.msg.type === 'subscribe') this._resumeAlerts(item.entry.msg);
        run.push(item.entry);
      } else {
        flushRun();
        this._write(item.text, item.message);
      }
    }
    flushRun();
  }

  _write(text, message) {
    if (!this._ws) return; // a listener of an earlier 'sent' disconnected meanwhile
    // MessagePack: the message object (a string the caller wrote itself goes as the JSON text
    // it is, which the server also reads on a MessagePack connection).
    const packed = this._codec && typeof message === 'object' && message !== null;
    this._ws.send(packed ? this._codec.encode(message) : text);
    this.emit('sent', typeof message === 'object' && message !== null ? message : text);
  }

  // ----------------------------------------------------------------------------- receiving

  _onFrame(gen, data) {
    let parsed = null;
    if (typeof data !== 'string' && this._codec) {
      // MessagePack (encoding 'msgpack'): a map, or an array of them when coalesced.
      try {
        parsed = this._codec.decode(data instanceof ArrayBuffer ? new Uint8Array(data) : data);
      } catch (err) {
        this.emit('error', new ValtronicsError('invalid_reply', `invalid_reply: not MessagePack: ${err.message}`));
        return;
      }
    } else {
      if (typeof data !== 'string') {
        try {
          data = new TextDecoder().decode(data);
        } catch {
          this.emit('error', new ValtronicsError('invalid_reply', 'invalid_reply: a binary frame from the server'));
          return;
        }
      }
      try {
        parsed = JSON.parse(data);
      } catch {
        parsed = null;
      }
    }
    // A coalesced frame (extension, after `hello`) is an array of messages, handled in order.
    const list = Array.isArray(parsed) ? parsed : [parsed];
    for (const msg of list) {
      if (gen !== this._gen) return; // a message of the array ended this connection
      if (!msg || typeof msg !== 'object' || Array.isArray(msg)) {
        this.emit('error', new ValtronicsError('invalid_reply', `invalid_reply: not a JSON object: ${String(JSON.stringify(msg) ?? msg).slice(0, 100)}`));
        continue;
      }
      this._onMessage(gen, msg);
    }
  }

  _onMessage(gen, msg) {
    this.emit('message', msg);
    if (msg.id !== undefined && msg.id !== null && msg.id === this._helloId) {
      // hello's answer: the features agreed, or (a server without the extension) unknown_type.
      if (msg.type === 'hello') this.emit('hello', msg);
      return;
    }

    if (this._state === 'connecting') {
      if (msg.type === 'auth_response' && (msg.id === this._authId || msg.id === undefined)) {
        this._onAuthResponse(gen, msg);
        return;
      }
      if (msg.type === 'error' && msg.id === this._authId && msg.id !== null) {
        this._down(gen, { code: 4001, reason: 'authentication failed', error: fromReply(msg) });
        return;
      }
    }

    if (msg.type in CALLBACKS) {
      this._onUpdate(msg, gen);
      return;
    }
    if (msg.type === 'subscribed' && msg.channel === 'alerts') this._alertsStart(msg);
    if (REPLY_TYPES.has(msg.type) && msg.id !== undefined && msg.id !== null && this._pending.has(msg.id)) {
      const entry = this._pending.get(msg.id);
      if (msg.type === 'error' || (msg.type === 'auth_response' && !msg.success)) {
        const err = fromReply(msg);
        // A refused refresh: the server closes with 4001 next, and the client must not retry.
        if (msg.type === 'auth_response' && FATAL_AUTH_CODES.has(err.code)) this._authError = err;
        this._settle(entry, false, err);
      } else {
        // A refresh took effect: record it now, before any later frame (token_expiring for the
        // new token can follow in the same read) is looked at.
        if (msg.type === 'auth_response') this._auth = msg;
        this._settle(entry, true, msg);
      }
      if (msg.type !== 'error') this.emit(msg.type, msg);
      if (msg.type === 'auth_response' && msg.success) this.emit('tokenRefreshed', msg);
      if (msg.type === 'subscribed' && msg.channel === 'alerts' && 'recovered' in msg && !entry.internal) this._emitRecovery(entry.msg, msg);
      return;
    }
    if (msg.type === 'error') {
      const err = fromReply(msg);
      // After a token refresh, a subscription the new token no longer covers: the server removed
      // it and names it (docs/protocol.md, "Token refresh").
      if ((msg.id === undefined || msg.id === null) && msg.error === 'forbidden' && typeof msg.channel === 'string') {
        this._onSubscriptionRemoved(msg, err);
      }
      this.emit('error', err);
      return;
    }
    if (msg.type === 'token_expiring') {
      this.emit('token_expiring', msg);
      // A warning about a token already replaced (it crossed our refresh) needs nothing.
      if (this._auth && msg.expires_at !== this._auth.expires_at) return;
      if (this._refreshing) this._expiringDuringRefresh = msg.expires_at;
      else this._refresh(gen, msg.expires_at);
      return;
    }
    this.emit(msg.type, msg);
  }

  /**
   * An `error` without id naming (channel, device_id): the server removed that subscription (a
   * token refresh whose claims no longer cover it; device_id null: the every-device one and
   * `system`). That exact key leaves the registry, so a reconnect does not ask for it again;
   * the application hears of it as `subscriptionRemoved` (then `error`).
   */
  _onSubscriptionRemoved(msg, err) {
    const device = msg.device_id ?? null;
    err.channel = msg.channel;
    err.device_id = device;
    const key = subKey(msg.channel, device);
    const cur = this._subs.get(key);
    let removed = null;
    if (cur && cur.pendingId !== null) {
      // A subscribe for that key is still waiting for its reply (sent after the refresh, so the
      // server answers it with the new token): its reply decides; a refusal restores nothing.
      removed = cur.prev ?? null;
      cur.prev = undefined;
    } else if (cur) {
      removed = cur;
      this._subs.delete(key);
    }
    this.emit('subscriptionRemoved', {
      channel: msg.channel, device_id: device, filters: removed ? { ...removed.filters } : null,
      reason: 'token_refresh', error: err,
    });
  }

  /**
   * seq check, alert de-duplication, then the event and the spec's callback; for an alert with a
   * `delivery_id` (an alerts subscription with `ack: true`), then its `ack`.
   *
   * Acknowledged alerts (docs/protocol.md#acknowledged-alerts-ack):
   *   - every alert carrying a delivery_id is acknowledged, duplicates included: a redelivery
   *     (`redelivered: true`, same delivery_id, next seq) is a duplicate by (alert_id, status)
   *     and is not delivered again, but unacknowledged the server would send it again every
   *     alerts.ack_timeout;
   *   - the ack goes after the 'alert' listeners and onAlert ran; when onAlert returns a
   *     promise, after that promise settled. A redelivery arriving meanwhile is not acknowledged
   *     on its own (it is the same delivery id): the settling handler acknowledges both;
   *   - a handler that throws (or whose promise rejects) is reported as 'error' and the alert is
   *     acknowledged all the same. Not acknowledging would not run the handler again: the
   *     redelivery is a duplicate the client drops, so the server would only keep re-sending it
   *     until the connection closes. An application that must retry a failed alert does so
   *     itself (or resumes from its own persisted lastAlertId);
   *   - the resume point (lastAlertId, since_alert_id after a reconnect) of such an alert moves
   *     when it is handled, so an alert still in a pending onAlert promise when the connection
   *     drops is replayed by the next connection (and dropped there as a duplicate, and acked);
   *   - acks of one burst of frames go as one `ack` with a list (a 0 ms timer), straight to the
   *     socket: not through the request queue (so never `queue_full`), and only on the
   *     connection that sent those delivery ids. Pending acks are dropped when it goes down: the
   *     next connection's replay sends the alerts again, with its own delivery ids.
   */
  _onUpdate(msg, gen = this._gen) {
    const channel = msg.channel ?? CHANNEL_OF[msg.type];
    const deliveryId = msg.type === 'alert' && Number.isSafeInteger(msg.delivery_id) && msg.delivery_id >= 1
      ? msg.delivery_id : null;
    if (typeof msg.seq === 'number') {
      const last = this._lastSeq.get(channel) ?? 0;
      if (msg.seq <= last) {
        this.emit('duplicate', { channel, reason: 'seq', seq: msg.seq, lastSeq: last, message: msg });
        if (deliveryId !== null) this._ackLater(gen, deliveryId);
        return;
      }
      if (msg.seq > last + 1) {
        const missed = msg.seq - last - 1;
        const conflated = typeof msg.conflated === 'number' ? msg.conflated : 0;
        // A conflated update stands for `conflated` updates: it explains a skip of conflated - 1.
        this.emit('gap', { channel, expected: last + 1, received: msg.seq, missed, conflated,
          explained: conflated > 0 && missed <= conflated - 1, message: msg });
      }
      this._lastSeq.set(channel, msg.seq);
    }
    let resumeAt = null;
    if (msg.type === 'alert' && msg.alert_id !== undefined && msg.alert_id !== null) {
      const rank = ALERT_RANK[msg.status] ?? 0;
      const seen = this._alertRanks.get(msg.alert_id);
      if (seen !== undefined && rank <= seen) {
        this.emit('duplicate', { channel, reason: 'alert', alertId: msg.alert_id, status: msg.status, message: msg });
        if (deliveryId !== null) this._ackLater(gen, deliveryId);
        return;
      }
      this._alertRanks.delete(msg.alert_id);
      this._alertRanks.set(msg.alert_id, rank);
      if (this._alertRanks.size > this._opts.dedupeWindow) {
        this._alertRanks.delete(this._alertRanks.keys().next().value);
      }
      if (Number.isInteger(msg.alert_id)) {
        // An acknowledged alert moves the resume point once handled (below).
        if (deliveryId === null) this._advanceAlertId(msg.alert_id);
        else resumeAt = msg.alert_id;
      }
    }
    this.emit(msg.type, msg);
    const cb = this[CALLBACKS[msg.type]];
    let result;
    if (typeof cb === 'function') {
      try {
        result = cb.call(this, msg);
      } catch (err) {
        this.emit('error', err);
      }
    }
    if (deliveryId === null) return;
    const handled = () => {
      if (resumeAt !== null) this._advanceAlertId(resumeAt);
      this._ackLater(gen, deliveryId);
    };
    if (result && typeof result.then === 'function') {
      if (gen === this._gen) this._ackHeld.add(deliveryId);
      Promise.resolve(result).then(noop, (err) => this.emit('error', err)).then(() => {
        if (gen === this._gen) this._ackHeld.delete(deliveryId);
        handled();
      });
      return;
    }
    handled();
  }

  _advanceAlertId(id) {
    if (this._lastAlertId === null || id > this._lastAlertId) this._lastAlertId = id;
  }

  /**
   * Queues the ack of `deliveryId`, received on socket `gen`: sent with the others of the same
   * burst by _flushAcks, or dropped if that socket is gone (its delivery ids mean nothing to the
   * next connection, which may reuse the numbers). A delivery id whose onAlert promise is still
   * pending (a redelivery crossing a slow handler) waits for that handler.
   */
  _ackLater(gen, deliveryId) {
    if (gen !== this._gen || this._state !== 'open' || this._ackHeld.has(deliveryId)) return;
    this._acks.push(deliveryId);
    if (this._ackTimer === null) this._ackTimer = setTimeout(() => this._flushAcks(gen), 0);
  }

  _flushAcks(gen) {
    this._ackTimer = null;
    const ids = [...new Set(this._acks.splice(0))];
    if (gen !== this._gen || this._state !== 'open' || !this._ws || ids.length === 0) return;
    // Frames of at most MAX_ACK_IDS ids and maxMessageBytes bytes (about 150 small ids per KB).
    const limit = this._opts.maxMessageBytes && this._opts.maxMessageBytes !== Infinity ? this._opts.maxMessageBytes : Infinity;
    let frame = [];
    let bytes = ACK_FRAME_OVERHEAD;
    const send = () => {
      const deliveryId = frame.length === 1 ? frame[0] : frame;
      const message = { type: 'ack', delivery_id: deliveryId };
      this._write(JSON.stringify(message), message);
      frame = [];
      bytes = ACK_FRAME_OVERHEAD;
    };
    for (const id of ids) {
      const len = String(id).length + (frame.length ? 1 : 0);
      if (frame.length && (frame.length >= MAX_ACK_IDS || bytes + len > limit)) send();
      frame.push(id);
      bytes += String(id).length + (frame.length > 1 ? 1 : 0);
    }
    if (frame.length) send();
  }

  /** The socket went down: its pending acks are void (see _ackLater). */
  _dropAcks() {
    clearTimeout(this._ackTimer);
    this._ackTimer = null;
    this._acks = [];
    this._ackHeld.clear();
  }

  // ------------------------------------------------------------------------ token refresh

  /**
   * On token_expiring: ask getToken() for a new token and send `auth` again. At most one refresh
   * per minRefreshInterval: a server whose expiry_warning is longer than the new tokens' lifetime
   * sends token_expiring again at once, which must not become a tight loop.
   */
  async _refresh(gen, expiresAt) {
    if (!this._getToken || this._refreshing) return;
    this._refreshing = true;
    try {
      const wait = this._lastRefreshAt + this._opts.minRefreshInterval - Date.now();
      if (wait > 0) {
        const left = Date.parse(expiresAt) - Date.now() - 1000;
        await new Promise((r) => { this._refreshTimer = setTimeout(r, Math.max(0, Math.min(wait, left))); });
      }
      if (gen !== this._gen || this._state !== 'open') return;
      const token = await this._getToken({ reason: 'token_expiring', expiresAt });
      if (gen !== this._gen || this._state !== 'open') return;
      if (!token || token === this.token) {
        this.emit('error', new ValtronicsError('token_not_refreshed',
          `token_not_refreshed: getToken() returned no new token; the server closes the connection at ${expiresAt}`));
        return;
      }
      this._lastRefreshAt = Date.now();
      await this.refreshToken(token);
    } catch (err) {
      if (err?.code !== 'disconnected') this.emit('error', err);
    } finally {
      this._refreshing = false;
      // The server warns again at once when the new token is itself short-lived; that warning
      // may have arrived while this refresh was finishing.
      const again = this._expiringDuringRefresh;
      this._expiringDuringRefresh = null;
      if (again && again === this._auth?.expires_at && gen === this._gen) this._refresh(gen, again);
    }
  }

  // ---------------------------------------------------------------------------- heartbeat

  /**
   * An application-level ping every heartbeat.interval: browsers expose no WebSocket ping, and a
   * connection that died without a FIN (a laptop that slept, a NAT that forgot) is only noticed
   * by a reply that does not come. No pong within heartbeat.timeout: the socket is dropped and
   * the client reconnects.
   */
  _startHeartbeat(gen) {
    if (!this._heartbeat) return;
    this._heartbeatTimer = setInterval(() => {
      if (gen !== this._gen || this._state !== 'open') return;
      const started = Date.now();
      const entry = this._prepare({ type: 'ping', timestamp: new Date(started).toISOString() },
        { internal: true, timeout: this._heartbeat.timeout });
      entry.onTimeout = (err) => this._down(gen, { code: 4000, reason: 'heartbeat timeout', kill: true,
        error: new ValtronicsError('heartbeat_timeout', `heartbeat_timeout: no pong within ${this._heartbeat.timeout} ms`, { cause: err }) });
      entry.promise.then(() => {
        this.latency = Date.now() - started;
        this.emit('latency', this.latency);
      }, noop);
      this._sendBatched([entry]);
    }, this._heartbeat.interval);
    this._heartbeatTimer.unref?.(); // an idle heartbeat alone must not keep Node running
  }

  _stopHeartbeat() {
    clearInterval(this._heartbeatTimer);
    this._heartbeatTimer = null;
  }
}

function terminate(ws) {
  try {
    if (typeof ws.terminate === 'function') ws.terminate();
    else ws.close();
  } catch {
    // already closed
  }
}
