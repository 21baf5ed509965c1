// WebSocketDebugger: logs every frame (in the spec's logMessage shape) and connection events,
// filtered by level, never a token.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { ValtronicsWebSocket, WebSocketDebugger, utf8Length } from '../src/index.js';
import { T, next, startServer, token } from './helpers.mjs';

test('logs frames and events of a real session, levels, redaction, sink', T, async (t) => {
  const server = await startServer();
  t.after(() => server.stop());
  const admin = token({ sub: 'deb', role: 'admin' });
  const c = new ValtronicsWebSocket(`${server.url}/ws`, admin, { maxMessageBytes: Infinity, reconnect: { base: 10, cap: 20 } });
  t.after(() => c.disconnect());
  const lines = [];
  const fakeConsole = Object.fromEntries(['debug', 'info', 'warn', 'error', 'log']
    .map((level) => [level, (...args) => lines.push([level, args[0]])]));
  const sunk = [];
  const dbg = new WebSocketDebugger(c, { logLevel: 'debug', console: fakeConsole, includePayload: true, sink: (e) => sunk.push(e) });

  await c.connect();
  const sub = await c.subscribe('telemetry', { device_id: 71 });
  const frames = dbg.entries.filter((e) => e.data?.direction);
  assert.deepEqual(frames.map((e) => [e.data.direction, e.data.type]),
    [['sent', 'hello'], ['sent', 'auth'], ['received', 'hello'], ['received', 'auth_response'],
      ['sent', 'subscribe'], ['received', 'subscribed']]);
  const subEntry = frames[5];
  assert.equal(subEntry.level, 'DEBUG');
  assert.equal(subEntry.data.channel, 'telemetry');
  assert.equal(subEntry.data.id, sub.id);
  assert.equal(subEntry.data.size, utf8Length(JSON.stringify(sub)));
  assert.match(subEntry.timestamp, /Z$/);
  // The token is in no entry, no console line; the auth entry shows it redacted.
  assert.equal(frames[1].data.payload.token, '[redacted]');
  assert.ok(!JSON.stringify(dbg.entries).includes(admin));
  assert.ok(!JSON.stringify(lines).includes(admin));
  assert.ok(dbg.entries.some((e) => e.level === 'INFO' && e.message === 'authenticated'));
  // Console lines in the spec's format.
  assert.ok(lines.some(([level, line]) => level === 'info' && /^\[WebSocket\] \S+Z INFO: authenticated$/.test(line)), JSON.stringify(lines));
  assert.deepEqual(sunk, dbg.entries);

  // At 'warn', frames are no longer logged, a drop and its reconnect are.
  dbg.setLogLevel('warn');
  assert.throws(() => dbg.setLogLevel('verbose'), RangeError);
  dbg.clear();
  const back = next(c, 'reconnected');
  c.send({ type: 'ping', padding: 'x'.repeat(2048) });
  await back;
  assert.ok(dbg.entries.length > 0);
  assert.ok(dbg.entries.every((e) => e.level === 'WARN' || e.level === 'ERROR'), JSON.stringify(dbg.entries));
  assert.ok(dbg.entries.some((e) => /^disconnected \(1009/.test(e.message)), JSON.stringify(dbg.entries));
  assert.ok(dbg.entries.some((e) => /^reconnecting in \d+ ms \(attempt 1\)$/.test(e.message)));

  // Errors at 'error'; disable() stops everything; getLog filters.
  dbg.setLogLevel('debug');
  await assert.rejects(c.subscribe('weather'));
  c.send({ type: 'subscribe', channel: 'weather' }); // unmatched: an error event
  await next(c, 'error');
  assert.equal(dbg.getLog({ level: 'error' }).length, 1);
  assert.equal(dbg.getLog({ level: 'error' })[0].data.code, 'unknown_channel');
  dbg.disable();
  const before = dbg.entries.length;
  await c.ping();
  assert.equal(dbg.entries.length, before);
  dbg.enable();
  dbg.detach();
  await c.ping();
  assert.equal(dbg.entries.length, before);
});

test('bounded: keeps the last maxEntries entries', () => {
  const dbg = new WebSocketDebugger(null, { console: false, maxEntries: 3, logLevel: 'debug' });
  for (let i = 0; i < 5; i++) dbg.log('info', `m${i}`);
  assert.deepEqual(dbg.entries.map((e) => e.message), ['m2', 'm3', 'm4']);
  assert.equal(dbg.shouldLog('debug'), true);
  dbg.setLogLevel('error');
  assert.equal(dbg.log('warn', 'dropped'), null);
  assert.equal(dbg.logMessage('sent', { type: 'ping' }), null);
});
