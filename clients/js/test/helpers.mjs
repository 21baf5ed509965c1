// Test helpers for the SDK: the integration helpers of the server (real binary, real tokens) plus
// what the SDK tests need on top: a server on a given port with a given database (to kill it and
// start it again where the client reconnects), alert rules, and waiting on SDK events.
//
// Why a second launcher: tests/integration/server.mjs always passes `--listen 127.0.0.1:0`, and
// the CLI refuses a second --listen ("--listen: At Most 1 required but received 2"), while a
// config file's `listen` loses to the flag. So a fixed port needs its own spawn.

import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import WS from 'ws';

import { BIN, SECRET, ingest, request, startServer, token, withTimeout } from '../../../tests/integration/server.mjs';

export { BIN, SECRET, ingest, request, startServer, token, withTimeout };

/** Every test is bounded so that a broken server or SDK fails the run instead of hanging it. */
export const T = { timeout: 20_000 };

const running = new Set();
process.on('exit', () => {
  for (const p of running) { try { process.kill(p.pid, 'SIGKILL'); } catch {} }
});

function tomlValue(v) {
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (typeof v === 'number') return String(v);
  if (Array.isArray(v)) return `[${v.map(tomlValue).join(', ')}]`;
  return JSON.stringify(String(v));
}

/** A temporary directory for a database shared by successive servers; remove() deletes it. */
export function tempDir() {
  const dir = mkdtempSync(join(tmpdir(), 'valtronics-jssdk-'));
  return { dir, db: join(dir, 'valtronics.db'), remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * Starts `valtronics serve` on 127.0.0.1:`port` (0: any free port) with database `db`.
 * Resolves with { port, url, http, proc, output, stop(), kill() }: stop() is SIGTERM (a graceful
 * shutdown), kill() is SIGKILL (a crash).
 */
export async function launch({ port = 0, db, secret = SECRET, config = {} } = {}) {
  const sections = { ...config, limits: { connections_per_minute: 100000, ...config.limits } };
  let toml = `db = ${tomlValue(db ?? ':memory:')}\n`;
  for (const [section, keys] of Object.entries(sections)) {
    toml += `[${section}]\n`;
    for (const [k, v] of Object.entries(keys)) toml += `${k} = ${tomlValue(v)}\n`;
  }
  const confDir = mkdtempSync(join(tmpdir(), 'valtronics-jssdk-conf-'));
  const confPath = join(confDir, 'valtronics.toml');
  writeFileSync(confPath, toml);
  const env = { ...process.env };
  delete env.VALTRONICS_JWT_SECRET;
  const proc = spawn(BIN, ['serve', '--config', confPath, '--listen', `127.0.0.1:${port}`, '--jwt-secret', secret],
    { env, stdio: ['ignore', 'pipe', 'pipe'] });
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
      rmSync(confDir, { recursive: true, force: true });
    },
    kill() { return this.stop('SIGKILL'); },
  };
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => fail('timeout'), 15000);
    function fail(why) {
      clearTimeout(timer);
      server.stop().finally(() => reject(new Error(`server did not start (${why}):\n${server.output}`)));
    }
    const onExit = (code, sig) => fail(`exited with ${code ?? sig}`);
    const onData = (chunk) => {
      server.output += chunk;
      const m = /listening on [^ ]+:(\d+)/.exec(server.output);
      if (m && server.port === null) {
        server.port = Number(m[1]);
        clearTimeout(timer);
        proc.off('exit', onExit);
        resolve();
      }
    };
    proc.stdout.setEncoding('utf8').on('data', onData);
    proc.stderr.setEncoding('utf8').on('data', onData);
    proc.on('exit', onExit);
  });
  return server;
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
