// wss:// with Node's `ws` package: a server with a certificate made at test time (openssl CLI:
// a CA and a certificate for 127.0.0.1 signed by it), a client trusting that CA, an https
// ingest with Node's own https module delivered over wss; a client not trusting the CA is
// refused; under mTLS a client without a certificate is refused and one with it is served.
//
//   VALTRONICS_BIN=build/valtronics node --test tests/integration/tls_ws.test.mjs

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import WebSocket from 'ws';

import { Client, startServer, token, withTimeout } from './server.mjs';

const T = { timeout: 20_000 };

/** CA, server certificate (127.0.0.1, localhost) and client certificate in a temp directory. */
function makePki() {
  const dir = mkdtempSync(join(tmpdir(), 'valtronics-tls-js-'));
  const ssl = (...args) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  const key = (name) => ssl('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', name);
  key('ca.key');
  ssl('req', '-x509', '-new', '-key', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=JS Test CA');
  const sign = (name, cn, ext) => {
    key(`${name}.key`);
    ssl('req', '-new', '-key', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`);
    writeFileSync(join(dir, `${name}.ext`), ext);
    ssl('x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial',
      '-out', `${name}.pem`, '-days', '2', '-extfile', `${name}.ext`);
  };
  sign('server', 'valtronics-js', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  sign('client', 'device-9', 'extendedKeyUsage=clientAuth\n');
  const file = (n) => join(dir, n);
  return { dir, file, read: (n) => readFileSync(file(n)), cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

function openWss(url, options) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, options);
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

function httpsPost(port, path, body, bearer, ca) {
  return new Promise((resolve, reject) => {
    const data = JSON.stringify(body);
    const req = https.request({
      host: '127.0.0.1', port, path, method: 'POST', ca,
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${bearer}`, 'Content-Length': Buffer.byteLength(data) },
    }, (res) => {
      let text = '';
      res.on('data', (c) => { text += c; });
      res.on('end', () => resolve({ status: res.statusCode, body: JSON.parse(text) }));
    });
    req.on('error', reject);
    req.end(data);
  });
}

describe('wss with ws', { timeout: 90_000 }, () => {
  let pki;
  let admin;
  before(() => {
    pki = makePki();
    admin = token({ sub: 'js-tls', role: 'admin' });
  });
  after(() => pki && pki.cleanup());

  test('subscribe over wss, ingest over https, receive the update', T, async () => {
    const server = await startServer({ config: { tls: { cert: pki.file('server.pem'), key: pki.file('server.key') } } });
    try {
      const ws = await openWss(`wss://127.0.0.1:${server.port}/ws`, { ca: pki.read('ca.pem') });
      const c = new Client(ws);
      ws.send(JSON.stringify({ type: 'auth', token: admin }));
      assert.equal((await c.waitFor('auth_response')).success, true);
      ws.send(JSON.stringify({ type: 'subscribe', channel: 'telemetry', device_id: 77 }));
      await c.waitFor('subscribed');
      const r = await httpsPost(server.port, '/api/v1/telemetry',
        { device_id: 77, telemetry: { temperature: { value: 19.25, unit: 'C' } } }, admin, pki.read('ca.pem'));
      assert.equal(r.status, 202, JSON.stringify(r.body));
      const update = await c.waitFor('telemetry_update');
      assert.equal(update.device_id, 77);
      assert.equal(update.telemetry.temperature.value, 19.25);
      assert.match(ws._socket.getProtocol(), /^TLSv1\.[23]$/);
      ws.close();
    } finally {
      await server.stop();
    }
  });

  test('a client that does not trust the CA is refused', T, async () => {
    const server = await startServer({ config: { tls: { cert: pki.file('server.pem'), key: pki.file('server.key') } } });
    try {
      await assert.rejects(openWss(`wss://127.0.0.1:${server.port}/ws`, {}),
        (e) => /self[- ]signed|unable to (get|verify)/i.test(e.message));
    } finally {
      await server.stop();
    }
  });

  test('mTLS: no client certificate refused, with one served', T, async () => {
    const server = await startServer({
      config: { tls: { cert: pki.file('server.pem'), key: pki.file('server.key'), ca_file: pki.file('ca.pem') } },
    });
    try {
      // Without a certificate the TLS 1.3 handshake completes on the client's side, and the
      // server's alert arrives next: either the open fails or the socket closes without a frame.
      const refused = await withTimeout(new Promise((resolve) => {
        const ws = new WebSocket(`wss://127.0.0.1:${server.port}/ws`, { ca: pki.read('ca.pem') });
        ws.once('open', () => resolve(false));
        ws.once('error', () => resolve(true));
        ws.once('close', () => resolve(true));
      }), 10_000, 'refusal');
      assert.equal(refused, true);

      const ws = await openWss(`wss://127.0.0.1:${server.port}/ws`,
        { ca: pki.read('ca.pem'), cert: pki.read('client.pem'), key: pki.read('client.key') });
      const c = new Client(ws);
      ws.send(JSON.stringify({ type: 'auth', token: admin }));
      assert.equal((await c.waitFor('auth_response')).success, true);
      ws.close();
    } finally {
      await server.stop();
    }
  });
});
