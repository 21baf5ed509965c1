// WebSocketPool: lazily opens up to N authenticated connections, then hands them out round-robin,
// skipping one that is reconnecting.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { ConnectionMonitor, ValtronicsWebSocket, WebSocketPool } from '../src/index.js';
import { T, gate, next, record, serverStats, startServer, token } from './helpers.mjs';

describe('WebSocketPool', { timeout: 40_000 }, () => {
  let server;
  let admin;
  before(async () => {
    server = await startServer();
    admin = token({ sub: 'pia', role: 'admin' });
  });
  after(() => server.stop());

  test('up to N authenticated connections, then round-robin', T, async (t) => {
    const monitor = new ConnectionMonitor();
    const pool = new WebSocketPool(3, { url: `${server.url}/ws`, token: admin, monitor });
    t.after(() => pool.disconnect());
    const got = [];
    for (let i = 0; i < 7; i++) got.push(await pool.getConnection());
    const [a, b, c] = got;
    assert.equal(new Set([a, b, c]).size, 3);
    assert.deepEqual(got.map((x) => [a, b, c].indexOf(x)), [0, 1, 2, 0, 1, 2, 0]);
    for (const conn of got) {
      assert.ok(conn instanceof ValtronicsWebSocket);
      assert.equal(conn.state, 'open');
      assert.equal(conn.auth.user, 'pia');
    }
    assert.equal(pool.size, 3);
    assert.equal((await serverStats(server, admin)).activeConnections, 3);
    assert.equal(monitor.getStats().activeConnections, 3);

    // Requests spread over the connections in turn (the next one is b).
    const sent = [a, b, c].map((conn) => record(conn, ['sent']).sent);
    for (let i = 0; i < 6; i++) assert.equal((await pool.request({ type: 'ping' })).type, 'pong');
    assert.deepEqual(sent.map((s) => s.length), [2, 2, 2]);
  });

  test('a connection that is reconnecting is skipped until it is back', T, async (t) => {
    const held = gate();
    const pool = new WebSocketPool({
      maxConnections: 3,
      url: `${server.url}/ws`,
      token: admin,
      maxMessageBytes: Infinity,
      reconnect: { base: 10, cap: 20 },
      // Asked before each reconnect: holds b's reconnect until the test lets it go.
      getToken: async ({ reason }) => { if (reason === 'reconnect') await held.promise; return admin; },
    });
    t.after(() => pool.disconnect());
    const [a, b, c] = await pool.connectAll();
    const connecting = next(b, 'connecting');
    b.send({ type: 'ping', padding: 'x'.repeat(2048) }); // the server drops b (1009)
    await connecting;
    assert.equal(b.state, 'connecting');
    const got = [];
    for (let i = 0; i < 4; i++) got.push(await pool.getConnection());
    assert.deepEqual(got.map((x) => [a, b, c].indexOf(x)), [0, 2, 0, 2]);
    const back = next(b, 'reconnected');
    held.open();
    await back;
    const again = [];
    for (let i = 0; i < 3; i++) again.push(await pool.getConnection());
    assert.deepEqual(again.map((x) => [a, b, c].indexOf(x)).sort(), [0, 1, 2]);
  });

  test('a connection that fails to authenticate leaves the pool', T, async (t) => {
    const pool = new WebSocketPool(2, { url: `${server.url}/ws`, token: token({ secret: 'wrong' }) });
    t.after(() => pool.disconnect());
    await assert.rejects(pool.getConnection(), { code: 'invalid_token' });
    assert.equal(pool.size, 0);
  });
});
