// Test helpers for the SDK: the integration helpers of the server (real binary, real tokens) plus
// what the SDK tests need on top: a server on a given port with a given database (to kill it and
// start it again where the client reconnects), alert rules, and waiting on SDK events.

import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import WS from 'ws';

import { BIN, SECRET, ingest, request, startServer, token, withTimeout } from '../../../tests/integration/server.mjs';

export { BIN, SECRET, ingest, request, startServer, token, withTimeout };

/** Every test is bounded so that a broken server or SDK fails the run instead of hanging it. */
export const T = { timeout: 20_000 };

/** A temporary directory for a database shared by successive servers; remove() deletes it. */
export function tempDir() {
  const dir = mkdtempSync(join(tmpdir(), 'valtronics-jssdk-'));
  return { dir, db: join(dir, 'valtronics.db'), remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * Servers sharing one database for the length of test `t` (a restart on the same port keeps the
 * alerts): returns launch(options) on that database; every server launched is stopped and the
 * database removed when the test ends.
 */
export function serversOnOneDatabase(t) {
  const data = tempDir();
  const servers = [];
  t.after(async () => {
    for (const s of servers) await s.stop();
    data.remove();
  });
  return async (options = {}) => {
    const server = await launch({ ...options, db: data.db });
    servers.push(server);
    return server;
  };
}

/**
 * startServer() on 127.0.0.1:`port` (0: any free port) with database `db` (default: a fresh one).
 * Resolves with { port, url, http, proc, output, stop(), kill() }: stop() is SIGTERM (a graceful
 * shutdown), kill() is SIGKILL (a crash).
 */
export function launch({ port = 0, db, secret = SECRET, config = {} } = {}) {
  const top = db === undefined ? config[''] : { ...config[''], db };
  return startServer({ port, secret, config: top === undefined ? config : { ...config, '': top } });
}

/** A loopback port that was free a moment ago (for a server started later). */
export async function freePort() {
  const srv = createServer();
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const { port } = srv.address();
  srv.close();
  await once(srv, 'close');
  return port;
}

/** Creates an alert rule over REST (docs/alerts.md); resolves with the rule. */
export async function createRule(server, tok, rule) {
  const r = await request(server, 'POST', '/api/v1/alert-rules', { token: tok, body: rule });
  if (r.status !== 201) throw new Error(`rule refused: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body.data;
}

/** Alerts stored on the server for a device, oldest first. */
export async function storedAlerts(server, tok, deviceId) {
  const r = await request(server, 'GET', `/api/v1/alerts?device_id=${deviceId}`, { token: tok });
  if (r.status !== 200) throw new Error(`alerts: ${r.status} ${JSON.stringify(r.body)}`);
  return [...r.body.data].sort((a, b) => a.alert_id - b.alert_id);
}

/** The server's GET /api/v1/ws/stats figures. */
export async function serverStats(server, tok) {
  const r = await request(server, 'GET', '/api/v1/ws/stats', { token: tok });
  if (r.status !== 200) throw new Error(`stats: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body.data;
}

/** Records every payload of `events` emitted by `emitter`: { [event]: payload[] }. */
export function record(emitter, events) {
  const log = {};
  for (const e of events) {
    log[e] = [];
    emitter.on(e, (p) => log[e].push(p));
  }
  return log;
}

/** Waits for an SDK event (with a bounded default timeout). */
export function next(emitter, event, { timeout = 5000, filter } = {}) {
  return emitter.waitFor(event, { timeout, filter });
}

/** A promise with its resolve function outside (a gate a test opens). */
export function gate() {
  let open;
  const promise = new Promise((r) => { open = r; });
  return { promise, open };
}

/**
 * A `ws` WebSocket class (for options.WebSocket) whose received frames go through
 * edit(text) -> texts to deliver: a test can repeat, drop, reorder or rewrite real frames.
 */
export function tampering(edit) {
  return class TamperingWebSocket extends WS {
    addEventListener(type, listener, options) {
      if (type !== 'message') return super.addEventListener(type, listener, options);
      return super.addEventListener('message', (ev) => {
        for (const data of edit(ev.data)) listener.call(this, { type: 'message', data, target: this });
      }, options);
    }
  };
}
