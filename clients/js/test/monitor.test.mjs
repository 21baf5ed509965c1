// ConnectionMonitor: the spec's figures, from the client's events; messagesSent agrees with what
// the server counts as received (GET /api/v1/ws/stats) on a server used by nothing else.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { ConnectionMonitor, Emitter, ValtronicsWebSocket } from '../src/index.js';
import { T, next, serverStats, startServer, token } from './helpers.mjs';

test('figures from a real session with a reconnect, cross-checked with the server', T, async (t) => {
  const server = await startServer();
  t.after(() => server.stop());
  const admin = token({ sub: 'mo', role: 'admin' });
  const c = new ValtronicsWebSocket(`${server.url}/ws`, admin, { maxMessageBytes: Infinity, reconnect: { base: 10, cap: 20 } });
  t.after(() => c.disconnect());
  const monitor = new ConnectionMonitor();
  monitor.addConnection('main', c);
  assert.deepEqual(monitor.getStats(), {
    totalConnections: 0, activeConnections: 0, messagesReceived: 0, messagesSent: 0,
    reconnects: 0, gaps: 0, duplicates: 0, errors: 0, averageConnectionDuration: 0, messagesPerConnection: 0,
  });

  await c.connect();
  await c.subscribe('telemetry', { device_id: 61 });
  for (let i = 0; i < 3; i++) await c.ping();
  let s = monitor.getStats();
  assert.equal(s.totalConnections, 1);
  assert.equal(s.activeConnections, 1);
  assert.equal(s.messagesSent, 6, 'hello (coalesced frames), auth, subscribe, 3 pings');
  assert.equal(s.messagesReceived, 6, 'hello, auth_response, subscribed, 3 pongs');

  const back = next(c, 'reconnected');
  c.send({ type: 'ping', padding: 'x'.repeat(2048) }); // dropped by the server (1009)
  await back;
  await assert.rejects(c.subscribe('weather'), { code: 'unknown_channel' });
  s = monitor.getStats();
  assert.equal(s.totalConnections, 2);
  assert.equal(s.activeConnections, 1);
  assert.equal(s.reconnects, 1);
  assert.ok(s.averageConnectionDuration > 0);
  assert.equal(s.messagesPerConnection, (s.messagesReceived + s.messagesSent) / 2);

  // What the client wrote is what the server read (frames: a batch is one).
  const server_ = await serverStats(server, admin);
  assert.equal(s.messagesSent, server_.messagesReceived);
  assert.equal(server_.totalConnections, 2);

  const one = monitor.getConnectionStats('main');
  assert.equal(one.sessions, 2);
  assert.equal(one.state, 'open');
  await c.disconnect();
  assert.equal(monitor.getStats().activeConnections, 0);
  assert.equal(monitor.removeConnection('main'), true);
  assert.equal(monitor.getConnectionStats('main'), null);
});

test('durations and per-connection averages with a fake clock', () => {
  let now = 1_000_000;
  const monitor = new ConnectionMonitor({ now: () => now });
  // Any emitter with the client's events will do; `connected` is read at addConnection.
  const fake = () => Object.assign(new Emitter(), { connected: false, state: 'idle' });
  const a = fake();
  const b = fake();
  monitor.addConnection('a', a);
  monitor.addConnection('b', b);
  assert.throws(() => monitor.addConnection('a', a), /already/);
  a.emit('authenticated', {});
  now += 10_000;
  b.emit('authenticated', {});
  a.emit('sent', {});
  a.emit('message', {});
  b.emit('message', {});
  b.emit('gap', {});
  b.emit('duplicate', {});
  now += 10_000;
  a.emit('disconnected', {}); // a: 20 s
  a.emit('reconnecting', {});
  // b is still open: 10 s so far.
  let s = monitor.getStats();
  assert.equal(s.totalConnections, 2);
  assert.equal(s.activeConnections, 1);
  assert.equal(s.averageConnectionDuration, 15);
  assert.equal(s.messagesPerConnection, 1.5);
  assert.equal(s.gaps, 1);
  assert.equal(s.duplicates, 1);
  now += 30_000;
  a.emit('authenticated', {});
  a.emit('reconnected', {});
  now += 20_000;
  monitor.removeConnection('b'); // b: 60 s, ended now
  s = monitor.getStats();
  // closed: a 20 s, b 60 s; open: a 20 s -> 100 / 3
  assert.equal(s.totalConnections, 3);
  assert.equal(s.activeConnections, 1);
  assert.equal(s.reconnects, 1);
  assert.ok(Math.abs(s.averageConnectionDuration - 100 / 3) < 1e-9, String(s.averageConnectionDuration));
  b.emit('message', {}); // no longer watched
  assert.equal(monitor.getStats().messagesReceived, 2);
});
