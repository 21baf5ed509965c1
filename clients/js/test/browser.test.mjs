// The SDK in a real browser: headless Chromium (Debian's /usr/bin/chromium, driven by
// playwright-core) loads src/index.js as a plain ES module from a tiny static server, connects to
// the real Valtronics server with the browser's own WebSocket, subscribes, and receives a
// telemetry_update that the test ingests; then again with encoding 'msgpack', @msgpack/msgpack
// resolved by the page's import map. Skipped only when /usr/bin/chromium is missing.

import assert from 'node:assert/strict';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { dirname, join, normalize } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { ingest, startServer, token } from './helpers.mjs';

const CHROMIUM = '/usr/bin/chromium';
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..'); // clients/js

const PAGE = `<!doctype html>
<meta charset="utf-8">
<title>Valtronics SDK in a browser</title>
<script type="importmap">
  {"imports": {"@msgpack/msgpack": "/node_modules/@msgpack/msgpack/dist.esm/index.mjs"}}
</script>
<script type="module">
  import * as sdk from '/src/index.js';
  window.sdk = sdk;
</script>`;

/**
 * Serves the page at /, the SDK under /src/, the examples and @msgpack/msgpack's ES modules;
 * records every path asked for.
 */
async function staticServer() {
  const requested = [];
  const srv = createServer(async (req, res) => {
    const path = new URL(req.url, 'http://x').pathname;
    requested.push(path);
    if (path === '/') {
      res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
      res.end(PAGE);
      return;
    }
    const file = normalize(join(ROOT, path));
    const msgpackDir = join(ROOT, 'node_modules', '@msgpack', 'msgpack', 'dist.esm') + '/';
    const served = (file.startsWith(join(ROOT, 'src') + '/') && file.endsWith('.js')) ||
      (file.startsWith(join(ROOT, 'examples') + '/') && file.endsWith('.html')) ||
      (file.startsWith(msgpackDir) && file.endsWith('.mjs'));
    if (!served) {
      res.writeHead(404).end();
      return;
    }
    try {
      const body = await readFile(file);
      const type = file.endsWith('.html') ? 'text/html' : 'text/javascript';
      res.writeHead(200, { 'Content-Type': `${type}; charset=utf-8` });
      res.end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  return { srv, port: srv.address().port, requested };
}

test('headless Chromium: connect, subscribe, receive a telemetry_update', { timeout: 60_000 }, async (t) => {
  if (!existsSync(CHROMIUM)) {
    t.skip(`${CHROMIUM} is missing (Debian package chromium, installed by scripts/install-deps)`);
    return;
  }
  const { chromium } = await import('playwright-core');
  const web = await staticServer();
  t.after(() => web.srv.close());
  const origin = `http://127.0.0.1:${web.port}`;
  // The page's origin is not the WebSocket's host: the server must allow it (else HTTP 403).
  const server = await startServer({ config: { auth: { allowed_origins: [origin] } } });
  t.after(() => server.stop());
  const admin = token({ sub: 'ops', role: 'admin' });
  const user = token({ sub: 'browser-user', role: 'user', devices: '41' });

  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  t.after(() => browser.close());
  const page = await browser.newPage();
  const pageErrors = [];
  page.on('pageerror', (err) => pageErrors.push(err.message));
  await page.goto(`${origin}/`);
  await page.waitForFunction(() => window.sdk !== undefined, null, { timeout: 10_000 });

  const setup = await page.evaluate(async ({ url, tok }) => {
    const { ValtronicsWebSocket } = window.sdk;
    const c = new ValtronicsWebSocket(url, tok);
    window.client = c;
    window.updates = [];
    c.onTelemetryUpdate = (m) => window.updates.push(m);
    const auth = await c.connect();
    const sub = await c.subscribe('telemetry', { device_id: 41, metrics: ['temperature'] });
    window.firstUpdate = c.waitFor('telemetry_update', { timeout: 10_000 });
    return { auth, sub, state: c.state, nativeSocket: c._ws instanceof window.WebSocket };
  }, { url: `${server.url}/ws`, tok: user });
  assert.equal(setup.auth.success, true);
  assert.equal(setup.auth.user, 'browser-user');
  assert.deepEqual(setup.sub.filters, { device_id: [41], metrics: ['temperature'], frequency: 'real-time' });
  assert.equal(setup.state, 'open');
  assert.equal(setup.nativeSocket, true, "the browser's own WebSocket is used");

  await ingest(server, admin, 41, { temperature: { value: 21.5, unit: '°C' }, humidity: { value: 40 } });
  const update = await page.evaluate(() => window.firstUpdate);
  assert.equal(update.type, 'telemetry_update');
  assert.equal(update.device_id, 41);
  assert.deepEqual(Object.keys(update.telemetry), ['temperature']);
  assert.equal(update.telemetry.temperature.value, 21.5);
  assert.equal(update.telemetry.temperature.unit, '°C');
  assert.equal(update.seq, 1);
  const viaCallback = await page.evaluate(() => window.updates.map((u) => u.seq));
  assert.deepEqual(viaCallback, [1]);

  // MessagePack (extension, docs/protocol.md "MessagePack"): the browser's WebSocket offers
  // valtronics.msgpack, and the codec comes from the page's import map.
  const packed = await page.evaluate(async ({ url, tok }) => {
    const c = new window.sdk.ValtronicsWebSocket(url, tok, { encoding: 'msgpack' });
    window.packedClient = c;
    await c.connect();
    await c.subscribe('telemetry', { device_id: 41 });
    window.packedUpdate = c.waitFor('telemetry_update', { timeout: 10_000 });
    return { protocol: c._ws.protocol, binaryType: c._ws.binaryType };
  }, { url: `${server.url}/ws`, tok: user });
  assert.deepEqual(packed, { protocol: 'valtronics.msgpack', binaryType: 'arraybuffer' });
  await ingest(server, admin, 41, { temperature: { value: 22.25, unit: '°C' } });
  const packedUpdate = await page.evaluate(() => window.packedUpdate);
  assert.equal(packedUpdate.device_id, 41);
  assert.equal(packedUpdate.telemetry.temperature.value, 22.25);
  assert.equal(packedUpdate.telemetry.temperature.unit, '°C');
  assert.equal(packedUpdate.seq, 1);
  await page.evaluate(() => window.packedClient.disconnect());

  // A page from an origin the server does not allow: the handshake is refused (403), and
  // connect() rejects (a browser does not tell the status; the SDK does not retry by default).
  const other = await browser.newPage();
  await other.goto(`http://localhost:${web.port}/`);
  await other.waitForFunction(() => window.sdk !== undefined, null, { timeout: 10_000 });
  const refused = await other.evaluate(async ({ url, tok }) => {
    const c = new window.sdk.ValtronicsWebSocket(url, tok);
    try {
      await c.connect();
      return { ok: true };
    } catch (err) {
      return { ok: false, code: err.code, state: c.state };
    }
  }, { url: `${server.url}/ws`, tok: user });
  assert.deepEqual(refused, { ok: false, code: 'connect_failed', state: 'closed' });

  await page.evaluate(() => window.client.disconnect());
  assert.deepEqual(pageErrors, []);

  // The browser example of docs/clients/js.md works as written.
  const example = await browser.newPage();
  example.on('pageerror', (err) => pageErrors.push(err.message));
  const q = new URLSearchParams({ url: `${server.url}/ws`, token: user, device: '41' });
  await example.goto(`${origin}/examples/browser.html?${q}`);
  await example.waitForFunction(() => document.getElementById('state').textContent === 'open'
    && document.getElementById('log').textContent.includes('connected as browser-user'), null, { timeout: 10_000 });
  // subscribe() resolved once the alerts subscription is in the registry too.
  await example.waitForFunction(() => window.client.subscriptions.filter((s) => s.confirmed).length === 2, null, { timeout: 10_000 });
  await ingest(server, admin, 41, { temperature: { value: 22.5, unit: '°C' } });
  await example.waitForFunction(() => document.getElementById('log').textContent.includes('telemetry 41: temperature=22.5°C'),
    null, { timeout: 10_000 });
  await example.evaluate(() => window.client.disconnect());
  assert.deepEqual(pageErrors, []);
  // The browser fetched the SDK's modules, and @msgpack/msgpack's through the import map once
  // a client asked for MessagePack: never `ws` nor anything else from node_modules.
  assert.ok(web.requested.includes('/src/index.js'));
  assert.ok(web.requested.every((p) => p === '/' || p === '/favicon.ico' || p === '/examples/browser.html'
    || /^\/src\/[a-z]+\.js$/.test(p) || /^\/node_modules\/@msgpack\/msgpack\/dist\.esm\/[A-Za-z0-9/]+\.mjs$/.test(p)),
  web.requested.join(' '));
});
