// The pieces that need no server: backoff with full jitter, batch chunking, filter
// normalization, the emitter, argument checks.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  DEFAULT_BACKOFF, Emitter, MAX_BATCH_BYTES, ValtronicsWebSocket, backoffDelay, normalizeFilters, utf8Length,
} from '../src/index.js';
import { batchFrame, chunkSerialized } from '../src/limits.js';

test('backoff: full jitter between 0 and min(cap, base * 2^attempt)', () => {
  const opts = { base: 100, cap: 5000 };
  const almostOne = () => 0.999999;
  assert.deepEqual([0, 1, 2, 3, 4, 5, 6, 50, 5000].map((n) => backoffDelay(n, opts, almostOne)),
    [99, 199, 399, 799, 1599, 3199, 4999, 4999, 4999]);
  assert.equal(backoffDelay(3, opts, () => 0), 0);
  assert.equal(backoffDelay(3, opts, () => 0.5), 400);
  // Math.random: always inside the window, and actually spread over it.
  const samples = Array.from({ length: 2000 }, () => backoffDelay(4, opts));
  assert.ok(samples.every((d) => Number.isInteger(d) && d >= 0 && d < 1600));
  assert.ok(Math.min(...samples) < 200 && Math.max(...samples) > 1400, 'not jittered over the window');
  assert.equal(DEFAULT_BACKOFF.maxAttempts, Infinity, 'reconnects forever by default');
  assert.equal(backoffDelay(10, {}, almostOne), DEFAULT_BACKOFF.cap - 1);
});

test('chunking: at most 50 messages and maxBytes per batch frame', () => {
  const small = Array.from({ length: 120 }, (_, i) => JSON.stringify({ type: 'ping', id: i }));
  assert.deepEqual(chunkSerialized(small).map((c) => c.length), [50, 50, 20]);
  const big = Array.from({ length: 10 }, () => JSON.stringify({ type: 'ping', timestamp: 'x'.repeat(300) }));
  const chunks = chunkSerialized(big, { maxBytes: 1000 });
  assert.ok(chunks.length > 1);
  for (const c of chunks) assert.ok(utf8Length(batchFrame(c)) <= 1000, String(utf8Length(batchFrame(c))));
  assert.deepEqual(chunks.flat(), big);
  assert.throws(() => chunkSerialized(['x'.repeat(MAX_BATCH_BYTES)]), RangeError);
  assert.equal(utf8Length('°C €𝄞'), 2 + 1 + 1 + 3 + 4);
});

test('filters: top level and nested mean the same; conflicts are refused', () => {
  assert.deepEqual(normalizeFilters({ device_id: 1, metrics: ['a'] }), { devices: [1], filters: { metrics: ['a'] } });
  assert.deepEqual(normalizeFilters({ filters: { device_id: [1, 2], severity: 'critical' } }),
    { devices: [1, 2], filters: { severity: 'critical' } });
  assert.deepEqual(normalizeFilters({ severity: ['a', 'b'], filters: { severity: ['a', 'b'] } }),
    { devices: null, filters: { severity: ['a', 'b'] } });
  assert.throws(() => normalizeFilters({ severity: 'info', filters: { severity: 'warning' } }), { code: 'invalid_filter' });
  assert.throws(() => normalizeFilters({ id: 3 }), { code: 'invalid_filter' });
  assert.throws(() => normalizeFilters([1]), { code: 'invalid_filter' });
  assert.deepEqual(normalizeFilters(undefined), { devices: null, filters: {} });
});

test('emitter: on/once/off, throwing listeners, waitFor', async () => {
  const e = new Emitter();
  const seen = [];
  const off = e.on('x', (v) => seen.push(['on', v]));
  e.once('x', (v) => seen.push(['once', v]));
  e.emit('x', 1);
  e.emit('x', 2);
  off();
  e.emit('x', 3);
  assert.deepEqual(seen, [['on', 1], ['once', 1], ['on', 2]]);
  assert.equal(e.listenerCount('x'), 0);

  // A throwing listener neither stops the others nor escapes: it becomes an 'error' event.
  const errors = [];
  e.on('error', (err) => errors.push(err.message));
  e.on('y', () => { throw new Error('boom'); });
  e.on('y', () => seen.push('after'));
  assert.equal(e.emit('y'), true);
  assert.deepEqual(errors, ['boom']);
  assert.equal(seen.at(-1), 'after');

  const later = e.waitFor('z', { filter: (v) => v > 1, timeout: 1000 });
  e.emit('z', 1);
  e.emit('z', 2);
  assert.equal(await later, 2);
  await assert.rejects(e.waitFor('never', { timeout: 10 }), { code: 'timeout' });
  const ac = new AbortController();
  const aborted = e.waitFor('never', { signal: ac.signal });
  ac.abort(new Error('stop'));
  await assert.rejects(aborted, /stop/);
  assert.equal(e.listenerCount('never'), 0);
});

test('an error event nobody listens to is written to the console, not thrown', (t) => {
  const warn = t.mock.method(console, 'warn', () => {});
  const e = new Emitter();
  e.on('error', () => {}, { passive: true }); // an observer only (like ConnectionMonitor)
  assert.doesNotThrow(() => e.emit('error', new Error('lost')));
  assert.equal(warn.mock.callCount(), 1);
  e.on('error', () => {});
  e.emit('error', new Error('handled'));
  assert.equal(warn.mock.callCount(), 1);
});

test('constructor: spec signature, options form, and argument checks', () => {
  const a = new ValtronicsWebSocket('ws://localhost:8000/ws', 'jwt-token');
  assert.equal(a.url, 'ws://localhost:8000/ws');
  assert.equal(a.token, 'jwt-token');
  assert.equal(a.state, 'idle');
  for (const cb of ['onTelemetryUpdate', 'onAlert', 'onDeviceStatusUpdate', 'onSystemStatusUpdate']) assert.equal(a[cb], null);
  const b = new ValtronicsWebSocket('ws://localhost:8000/ws', { token: 't', lastAlertId: 42 });
  assert.equal(b.token, 't');
  assert.equal(b.lastAlertId, 42);
  assert.throws(() => new ValtronicsWebSocket('ws://x/ws'), TypeError);
  assert.throws(() => new ValtronicsWebSocket(42, 't'), TypeError);
  assert.throws(() => { b.lastAlertId = 'x'; }, TypeError);
});
