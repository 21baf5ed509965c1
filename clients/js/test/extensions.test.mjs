// The SDK with the server's protocol extensions (issue 15, docs/protocol.md#extensions-of-the-spec),
// against the real binary: telemetry_stale runs through the seq bookkeeping (the next update is not
// a gap) and reaches its event and onTelemetryStale; a subscribe the token covers in part keeps the
// covered devices in the registry, reports the others as subscriptionRemoved ('forbidden'), and the
// restore after a reconnect (one merged subscribe) still delivers; a deadband passes through as a
// filter and holds back the values that moved less than it.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { ValtronicsWebSocket } from '../src/index.js';
import { T, ingest, launch, next, record, token } from './helpers.mjs';

const FAST = { base: 20, cap: 200 };

/** Waits for the first telemetry_update of `device` satisfying `pred`, collecting every one before. */
function updatesUntil(c, device, pred, { timeout = 5000 } = {}) {
  const seen = [];
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { off(); reject(new Error(`no matching update within ${timeout} ms; got ${JSON.stringify(seen)}`)); }, timeout);
    const off = c.on('telemetry_update', (u) => {
      if (u.device_id !== device) return;
      seen.push(u);
      if (pred(u)) {
        clearTimeout(timer);
        off();
        resolve(seen);
      }
    });
  });
}

test('stale_after: telemetry_stale is delivered, and the reading after it is not a gap', T, async (t) => {
  const server = await launch();
  t.after(() => server.stop());
  const admin = token({ sub: 'stella', role: 'admin' });
  const c = new ValtronicsWebSocket(`${server.url}/ws`, admin);
  t.after(() => c.disconnect());
  await c.connect();
  const log = record(c, ['gap', 'duplicate', 'telemetry_stale']);
  const viaCallback = [];
  c.onTelemetryStale = (m) => viaCallback.push(m);
  const dev = 141;

  const reply = await c.subscribe('telemetry', { device_id: dev, stale_after: '1s' });
  assert.equal(reply.filters.stale_after, '1s');
  assert.equal(reply.forbidden, undefined);

  // The device never reported: its clock started with the subscription.
  const stale = await next(c, 'telemetry_stale', { timeout: 5000 });
  assert.equal(stale.channel, 'telemetry');
  assert.equal(stale.device_id, dev);
  assert.equal(stale.stale_after, '1s');
  assert.equal(stale.last_seen, null);
  assert.equal(stale.metric, undefined, 'a clock per device has no metric');
  assert.equal(typeof stale.timestamp, 'string');
  assert.equal(stale.seq, 1);
  assert.deepEqual(viaCallback, [stale]);

  const update = next(c, 'telemetry_update');
  await ingest(server, admin, dev, { temperature: { value: 20 } });
  const u = await update;
  assert.equal(u.device_id, dev);
  assert.equal(u.seq, stale.seq + 1);
  assert.deepEqual(log.gap, [], 'the stale message took its seq: no gap before the update');
  assert.deepEqual(log.duplicate, []);
  assert.equal(log.telemetry_stale.length, 1);
});

test('a subscribe the token covers in part: the covered devices stay, the others are removed as forbidden, and a reconnect restores the rest', T, async (t) => {
  const server = await launch();
  t.after(() => server.stop());
  const admin = token();
  const [a, b, c3] = [151, 152, 153];
  const tok = token({ sub: 'paula', role: 'user', devices: `${a},${b}` });
  const c = new ValtronicsWebSocket(`${server.url}/ws`, tok, { maxMessageBytes: Infinity, reconnect: FAST });
  t.after(() => c.disconnect());
  await c.connect();
  const log = record(c, ['subscriptionRemoved', 'error', 'gap', 'sent']);

  const reply = await c.subscribe('telemetry', { device_id: [a, b, c3], metrics: ['temperature'] });
  assert.deepEqual(reply.forbidden, [c3]);
  assert.deepEqual(reply.filters.device_id, [a, b]);
  assert.deepEqual(c.subscriptions.map((s) => [s.channel, s.device_id, s.confirmed]).sort(),
    [['telemetry', a, true], ['telemetry', b, true]]);
  assert.deepEqual(log.subscriptionRemoved.map((r) => [r.channel, r.device_id, r.reason, r.filters, r.error.code, r.error.device_id]),
    [['telemetry', c3, 'forbidden', { metrics: ['temperature'] }, 'forbidden', c3]]);
  assert.deepEqual(log.error, [], 'a subscribe granted in part is not an error');

  // Force a reconnect: a frame over the server's 1 KB limit makes it close with 1009.
  const back = next(c, 'reconnected');
  log.sent.length = 0;
  c.send({ type: 'ping', padding: 'x'.repeat(2048) });
  const r = await back;
  assert.equal(r.subscriptions, 2);
  assert.deepEqual(r.failed, []);
  // The two keys had identical filters: restored by one subscribe naming both.
  const resent = log.sent.filter((m) => typeof m === 'object' && m.type === 'batch')
    .flatMap((m) => m.messages).filter((m) => m.type === 'subscribe');
  assert.deepEqual(resent.map((m) => [m.channel, m.device_id, m.metrics]), [['telemetry', [a, b], ['temperature']]]);
  assert.deepEqual(log.error, []);
  assert.equal(log.subscriptionRemoved.length, 1, 'the restore removed nothing');
  assert.deepEqual(c.subscriptions.map((s) => s.device_id).sort(), [a, b]);

  const update = next(c, 'telemetry_update');
  await ingest(server, admin, a, { temperature: { value: 7 }, humidity: { value: 50 } });
  const u = await update;
  assert.equal(u.device_id, a);
  assert.deepEqual(Object.keys(u.telemetry), ['temperature']);
  assert.equal(u.seq, 1);
  assert.deepEqual(log.gap, []);
});

test('a restore the new token covers in part keeps the covered devices of the merged subscribe', T, async (t) => {
  const server = await launch();
  t.after(() => server.stop());
  const admin = token();
  let tok = token({ sub: 'quinn', role: 'user', devices: '161,162,163' });
  const c = new ValtronicsWebSocket(`${server.url}/ws`, tok, { maxMessageBytes: Infinity, reconnect: FAST, getToken: () => tok });
  t.after(() => c.disconnect());
  await c.connect();
  await c.subscribe('telemetry', { device_id: [161, 162, 163] });
  const log = record(c, ['subscriptionRemoved', 'error']);

  tok = token({ sub: 'quinn', role: 'user', devices: '161,163' }); // what getToken() returns from now on
  const back = next(c, 'reconnected');
  c.send({ type: 'ping', padding: 'x'.repeat(2048) });
  const r = await back;
  assert.equal(r.subscriptions, 3);
  assert.deepEqual(r.failed.map((e) => [e.code, e.channel, e.device_id]), [['forbidden', 'telemetry', 162]]);
  assert.deepEqual(log.subscriptionRemoved.map((x) => [x.channel, x.device_id, x.reason]), [['telemetry', 162, 'restore']]);
  assert.deepEqual(log.error.map((e) => [e.code, e.device_id]), [['forbidden', 162]]);
  assert.deepEqual(c.subscriptions.map((s) => s.device_id).sort(), [161, 163]);

  const update = next(c, 'telemetry_update', { filter: (u) => u.device_id === 163 });
  await ingest(server, admin, 163, { temperature: { value: 1 } });
  assert.equal((await update).device_id, 163);
});

test('deadband: only values that moved more than the band since the last one sent are delivered', T, async (t) => {
  const server = await launch();
  t.after(() => server.stop());
  const admin = token();
  const c = new ValtronicsWebSocket(`${server.url}/ws`, admin);
  t.after(() => c.disconnect());
  await c.connect();
  const gaps = record(c, ['gap']).gap;
  const dev = 171;
  // Nested under `filters`, as the spec's Python client writes them: normalized like any filter.
  const reply = await c.subscribe('telemetry', { filters: { device_id: dev, deadband: 1 } });
  assert.equal(reply.filters.deadband, 1);

  const got = updatesUntil(c, dev, (u) => u.telemetry.temperature.value === 21.2);
  for (const value of [20, 20.5, 21.2]) await ingest(server, admin, dev, { temperature: { value } });
  const seen = await got;
  assert.deepEqual(seen.map((u) => u.telemetry.temperature.value), [20, 21.2]);
  // A value held back by the band is not loss: seq does not skip for it.
  assert.deepEqual(seen.map((u) => u.seq), [1, 2]);
  assert.deepEqual(gaps, []);
});
