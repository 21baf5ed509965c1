// WebSocketDebugger: the spec's debugging utility (log levels, enable/disable) attached to a
// ValtronicsWebSocket: every frame in and out is logged at 'debug' in the shape of the spec's
// logMessage() entry ({timestamp, direction, type, size, channel}), connection events at 'info',
// trouble (reconnects, gaps) at 'warn' and errors at 'error'. Entries are kept in a bounded ring
// (`entries`) so a test or a bug report can look at the last ones. Tokens are never logged.

import { utf8Length } from './limits.js';

const LEVELS = ['debug', 'info', 'warn', 'error'];

/** A copy of a message with every token replaced (auth messages, and batches holding them). */
function redact(message) {
  if (!message || typeof message !== 'object') return message;
  if (Array.isArray(message.messages)) return { ...message, messages: message.messages.map(redact) };
  if ('token' in message) return { ...message, token: '[redacted]' };
  return message;
}

export class WebSocketDebugger {
  /**
   * @param ws a ValtronicsWebSocket (or null to use log() by hand)
   * @param options logLevel ('debug' | 'info' | 'warn' | 'error', default 'info'),
   *   console (an object with debug/info/warn/error, or false for none; default globalThis.console),
   *   maxEntries (default 1000), includePayload (store the redacted message, default false),
   *   sink (a function called with every entry, e.g. to send it to a logging service)
   */
  constructor(ws, { logLevel = 'info', console: out = globalThis.console, maxEntries = 1000,
    includePayload = false, sink = null } = {}) {
    this.ws = ws;
    this.enabled = true;
    this.logLevel = logLevel;
    this.entries = [];
    this.maxEntries = maxEntries;
    this.includePayload = includePayload;
    this._console = out || null;
    this._sink = sink;
    this._off = [];
    if (ws) this._attach(ws);
  }

  _attach(ws) {
    const on = (event, fn) => this._off.push(ws.on(event, fn));
    on('sent', (m) => this.logMessage('sent', m));
    on('message', (m) => this.logMessage('received', m));
    on('connecting', (e) => this.log('info', `connecting (${e.reason}, attempt ${e.attempt})`, { url: ws.url }));
    on('authenticated', (m) => this.log('info', 'authenticated', { user: m.user, role: m.role, expires_at: m.expires_at }));
    on('tokenRefreshed', (m) => this.log('info', 'token refreshed', { expires_at: m.expires_at }));
    on('resubscribed', (r) => this.log('info', `re-subscribed ${r.subscriptions} subscription(s)`, { failed: r.failed.map((e) => e.code) }));
    on('disconnected', (e) => this.log('warn', `disconnected (${e.code}${e.reason ? ` ${e.reason}` : ''})`, { willReconnect: e.willReconnect }));
    on('reconnecting', (e) => this.log('warn', `reconnecting in ${e.delay} ms (attempt ${e.attempt})`, { code: e.code, error: e.error?.message }));
    on('reconnected', () => this.log('info', 'reconnected'));
    on('gap', (g) => this.log('warn', `gap on ${g.channel}: expected seq ${g.expected}, got ${g.received}`, { missed: g.missed, conflated: g.conflated, explained: g.explained }));
    on('duplicate', (d) => this.log('debug', `duplicate on ${d.channel} dropped (${d.reason})`, { seq: d.seq, alertId: d.alertId }));
    on('recovery', (r) => this.log(r.recovered ? 'info' : 'warn', `alerts resumed since ${r.sinceAlertId}: recovered=${r.recovered}`));
    on('error', (err) => this.log('error', err?.message ?? String(err), { code: err?.code }));
    on('closed', (e) => this.log('info', 'closed', { error: e.error?.code ?? null }));
  }

  /** Stops listening to the client. */
  detach() {
    for (const off of this._off) off();
    this._off = [];
  }

  log(level, message, data = null) {
    if (!this.enabled || !this.shouldLog(level)) return null;
    const entry = { timestamp: new Date().toISOString(), level: level.toUpperCase(), message, data };
    this.entries.push(entry);
    if (this.entries.length > this.maxEntries) this.entries.splice(0, this.entries.length - this.maxEntries);
    const c = this._console;
    if (c) (c[level] ?? c.log).call(c, `[WebSocket] ${entry.timestamp} ${entry.level}: ${message}`, data ?? '');
    if (this._sink) {
      try {
        this._sink(entry);
      } catch {
        // a failing sink must not break the client
      }
    }
    return entry;
  }

  /** The spec's logMessage(direction, message), at level 'debug'. */
  logMessage(direction, message) {
    if (!this.enabled || !this.shouldLog('debug')) return null;
    const text = typeof message === 'string' ? message : JSON.stringify(message);
    const m = typeof message === 'object' && message !== null ? message : {};
    const data = {
      direction, // 'sent' or 'received'
      type: m.type ?? null,
      size: utf8Length(text),
      channel: m.channel ?? null,
      id: m.id ?? null,
    };
    if (Array.isArray(m.messages)) data.count = m.messages.length;
    if (m.type === 'error') data.error = m.error;
    if (this.includePayload) data.payload = redact(m);
    return this.log('debug', `${direction} ${data.type ?? 'frame'}`, data);
  }

  shouldLog(level) {
    return LEVELS.indexOf(level) >= LEVELS.indexOf(this.logLevel);
  }

  enable() {
    this.enabled = true;
  }

  disable() {
    this.enabled = false;
  }

  setLogLevel(level) {
    if (!LEVELS.includes(level)) throw new RangeError(`log level must be one of ${LEVELS.join(', ')}`);
    this.logLevel = level;
  }

  /** Kept entries, optionally only those at `level` or above. */
  getLog({ level } = {}) {
    if (!level) return [...this.entries];
    const min = LEVELS.indexOf(level);
    return this.entries.filter((e) => LEVELS.indexOf(e.level.toLowerCase()) >= min);
  }

  clear() {
    this.entries = [];
  }
}
