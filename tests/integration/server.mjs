// Shared helpers for the Node integration tests (the counterpart of harness.py): start the real
// `valtronics` binary on a free loopback port with a temporary TOML configuration, mint tokens with
// `valtronics token`, and talk to the server with the `ws` package and fetch.
//
// The server is stopped by its PID with SIGTERM (SIGKILL after 10 s).

import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';

const here = dirname(fileURLToPath(import.meta.url));
export const BIN = process.env.VALTRONICS_BIN || join(here, '..', '..', 'build', 'valtronics');
export const SECRET = 'integration-test-secret';

// Servers still running when the test process exits (a test that timed out) are killed.
const running = new Set();
process.on('exit', () => {
  for (const proc of running) { try { process.kill(proc.pid, 'SIGKILL'); } catch {} }
});

/** Rejects with `what` when `promise` does not settle within `ms`. */
export function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: nothing within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Returns a token signed by the real CLI. */
export function token({ sub = 'alice', role = 'admin', devices, ttl = '1h', deviceId, secret = SECRET } = {}) {
  const args = ['token', '--secret', secret, '--sub', sub, '--role', role, '--ttl', ttl];
  if (devices !== undefined) args.push('--devices', String(devices));
  if (deviceId !== undefined) args.push('--device-id', String(deviceId));
  return execFileSync(BIN, args, { encoding: 'utf8' }).trim();
}

function tomlValue(v) {
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (typeof v === 'number') return String(v);
  if (Array.isArray(v)) return '[' + v.map(tomlValue).join(', ') + ']';
  return JSON.stringify(String(v));
}

function toml(config) {
  let out = '';
  for (const [k, v] of Object.entries(config[''] || {})) out += `${k} = ${tomlValue(v)}\n`;
  for (const [section, keys] of Object.entries(config)) {
    if (section === '') continue;
    out += `[${section}]\n`;
    for (const [k, v] of Object.entries(keys)) out += `${k} = ${tomlValue(v)}\n`;
  }
  return out;
}

// Every test connects from 127.0.0.1: lift the per-address connection rate, the ban after
// repeated auth failures and the unauthenticated cap (as harness.py does, which says why).
const DEFAULTS = {
  limits: { connections_per_minute: 100000, auth_failures_before_ban: 1000000, max_unauthenticated: 100000 },
};

/**
 * Starts `valtronics serve --config TMP --listen 127.0.0.1:PORT [--jwt-secret S] [--demo] ...extraArgs`
 * and resolves once the "listening on HOST:PORT" log line names the port.
 * config: TOML sections, e.g. { limits: { max_message_bytes: 512 } }; '' holds top-level keys
 * (e.g. { '': { db: path } } to keep the data across a restart).
 * port: 0 (default) for a free port, or the port to listen on (a server started again where its
 * clients reconnect); the promise rejects if the server does not get it.
 * Resolves with { port, url, http, proc, output, stop(signal = 'SIGTERM'), kill() }: stop() is a
 * graceful shutdown (SIGKILL after 10 s), kill() a crash (SIGKILL: no close frame).
 */
export async function startServer({ config = {}, secret = SECRET, demo = false, extraArgs = [], port = 0 } = {}) {
  const merged = {};
  for (const src of [DEFAULTS, config]) {
    for (const [section, keys] of Object.entries(src)) merged[section] = { ...merged[section], ...keys };
  }
  const dir = mkdtempSync(join(tmpdir(), 'valtronics-js-'));
  // Each server gets its own database unless the test names one.
  merged[''] = { db: join(dir, 'valtronics.db'), ...merged[''] };
  const confPath = join(dir, 'valtronics.toml');
  writeFileSync(confPath, toml(merged));
  const args = ['serve', '--config', confPath, '--listen', `127.0.0.1:${port}`];
  if (secret) args.push('--jwt-secret', secret);
  if (demo) args.push('--demo');
  args.push(...extraArgs);
  const env = { ...process.env };
  delete env.VALTRONICS_JWT_SECRET;
  const proc = spawn(BIN, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(proc);
  proc.on('exit', () => running.delete(proc));

  const server = {
    proc,
    port: null,
    output: '',
    get url() { return `ws://127.0.0.1:${this.port}`; },
    get http() { return `http://127.0.0.1:${this.port}`; },
    async stop(signal = 'SIGTERM') {
      if (proc.exitCode === null && proc.signalCode === null) {
        const exited = once(proc, 'exit');
        process.kill(proc.pid, signal);
        const timer = setTimeout(() => { try { process.kill(proc.pid, 'SIGKILL'); } catch {} }, 10000);
        await exited;
        clearTimeout(timer);
      }
      rmSync(dir, { recursive: true, force: true });
    },
    kill() { return this.stop('SIGKILL'); },
  };

  await new Promise((resolve, reject) => {
    const fail = (why) => {
      clearTimeout(timer);
      server.stop().finally(() => reject(new Error(`server did not start (${why}):\n${server.output}`)));
    };
    const timer = setTimeout(() => fail('timeout'), 15000);
    const onData = (chunk) => {
      server.output += chunk;
      const m = /listening on [^ ]+:(\d+)/.exec(server.output);
      if (m && server.port === null) {
        server.port = Number(m[1]);
        if (port !== 0 && server.port !== port) {
          fail(`listening on ${server.port}, not on the port asked for (${port})`);
          return;
        }
        clearTimeout(timer);
        proc.off('exit', onExit);
        resolve();
      }
    };
    const onExit = (code, sig) => fail(`exited with ${code ?? sig}`);
    // Keep draining both pipes for the server's whole life so it never blocks on a full pipe.
    proc.stdout.setEncoding('utf8').on('data', onData);
    proc.stderr.setEncoding('utf8').on('data', onData);
    proc.on('exit', onExit);
  });
  return server;
}

/**
 * A queue of received messages with waiting helpers: tests wait for a message of a given type,
 * assert silence, or wait for the close. `Client` fills it from a `ws` socket; a test can also
 * push() into one itself (e.g. from the spec's client class).
 */
export class Inbox {
  constructor() {
    this.inbox = [];
    this.waiters = [];
    this.closed = null; // { code, reason } once closed
  }

  push(msg) {
    this.inbox.push(msg);
    this._wake();
  }

  _wake() {
    const ws = this.waiters;
    this.waiters = [];
    for (const w of ws) w();
  }

  _changed(timeoutMs) {
    return new Promise((resolve) => {
      const t = setTimeout(resolve, timeoutMs);
      this.waiters.push(() => { clearTimeout(t); resolve(); });
    });
  }

  /** Resolves with the next message (of any type). */
  async next(timeoutMs = 5000) {
    const deadline = Date.now() + timeoutMs;
    while (this.inbox.length === 0) {
      if (this.closed) throw new Error(`connection closed (${this.closed.code} ${this.closed.reason}) while waiting for a message`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no message within ${timeoutMs} ms`);
      await this._changed(left);
    }
    return this.inbox.shift();
  }

  /** Receives until a message of `type` (matching `pred`) arrives; others are skipped. */
  async waitFor(type, timeoutMs = 5000, pred = () => true) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no ${type} within ${timeoutMs} ms`);
      let msg;
      try {
        msg = await this.next(left);
      } catch (e) {
        throw new Error(`no ${type}: ${e.message}`);
      }
      if (msg.type === type && pred(msg)) return msg;
    }
  }

  /** Asserts that nothing (optionally: nothing matching `pred`) arrives within `ms`. */
  async expectSilence(ms = 500, pred = () => true) {
    await new Promise((r) => setTimeout(r, ms));
    const bad = this.inbox.find(pred);
    if (bad) throw new Error(`unexpected message: ${JSON.stringify(bad)}`);
    this.inbox = [];
  }
}

/** A `ws` client whose text frames (parsed as JSON) land in its Inbox. */
export class Client extends Inbox {
  constructor(ws) {
    super();
    this.ws = ws;
    ws.on('message', (data, isBinary) => {
      let msg;
      try { msg = JSON.parse(data.toString()); } catch { msg = { type: '<non-json>', raw: data.toString(), isBinary }; }
      this.push(msg);
    });
    ws.on('close', (code, reason) => {
      this.closed = { code, reason: reason.toString() };
      this._wake();
    });
    ws.on('error', () => {}); // reported through 'close'
  }

  /** Waits for the connection to close; returns { code, reason }. Messages before it are kept. */
  async waitClose(timeoutMs = 5000) {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`connection not closed within ${timeoutMs} ms`);
      await this._changed(left);
    }
    return this.closed;
  }

  send(msg) {
    this.ws.send(typeof msg === 'string' ? msg : JSON.stringify(msg));
  }

  close() {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.close(1000);
    else if (this.ws.readyState === WebSocket.CONNECTING) this.ws.terminate();
  }
}

/** Opens a WebSocket (options go to `ws`: headers, origin, ...); resolves with a Client once open. */
export async function open(server, path = '/ws', options = {}) {
  const ws = new WebSocket(server.url + path, options);
  const client = new Client(ws);
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject); // a refused handshake: "Unexpected server response: 403"
  });
  return client;
}

/** Opens a WebSocket and authenticates with `tok` in the first message; asserts success. */
export async function connectAuthed(server, tok, path = '/ws', options = {}) {
  const c = await open(server, path, options);
  c.send({ type: 'auth', token: tok });
  const reply = await c.next();
  if (reply.type !== 'auth_response' || reply.success !== true) {
    c.close();
    throw new Error(`authentication failed: ${JSON.stringify(reply)}`);
  }
  return c;
}

/** Sends a subscribe (fields spread at top level) and returns the first reply. */
export async function subscribe(client, channel, fields = {}) {
  client.send({ type: 'subscribe', channel, ...fields });
  return client.next();
}

/** HTTP request with fetch; resolves with { status, body } (body parsed as JSON when possible). */
export async function request(server, method, path, { body, token: tok, headers = {} } = {}) {
  const h = { 'Content-Type': 'application/json', ...headers };
  if (tok) h.Authorization = `Bearer ${tok}`;
  const res = await fetch(server.http + path, {
    method,
    headers: h,
    body: body === undefined ? undefined : (typeof body === 'string' ? body : JSON.stringify(body)),
    signal: AbortSignal.timeout(10000),
  });
  const text = await res.text();
  let parsed = text;
  try { parsed = JSON.parse(text); } catch {}
  return { status: res.status, body: parsed };
}

/** POSTs one reading to /api/v1/telemetry in the telemetry_update shape; asserts 202. */
export async function ingest(server, tok, deviceId, telemetry) {
  const r = await request(server, 'POST', '/api/v1/telemetry', {
    body: { device_id: deviceId, telemetry }, token: tok,
  });
  if (r.status !== 202) throw new Error(`ingest refused: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}
