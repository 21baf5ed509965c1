// Acknowledged alerts (issue 15, docs/protocol.md#acknowledged-alerts-ack) through the SDK and the
// real server, with alerts.ack_timeout = 1s: an alert the SDK did not acknowledge would come again
// (`redelivered: true`) about a second later, so ~2.5 s of silence after an alert shows its ack.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';

import { ValtronicsWebSocket } from '../src/index.js';
import { createRule, gate, ingest, next, record, startServer, token } from './helpers.mjs';

const FAST = { base: 20, cap: 100 };
const QUIET = 2500; // > 2 * alerts.ack_timeout
const T = { timeout: 30_000 };

describe('acknowledged alerts', { timeout: 120_000 }, () => {
  let server;
  let admin;
  before(async () => {
    server = await startServer({ config: { alerts: { ack_timeout: '1s' } } });
    admin = token({ sub: 'ack-admin', role: 'admin' });
    await createRule(server, admin, { name: 'Acked', metric: 'acked', condition: 'gt', threshold: 10, severity: 'critical' });
  });
  after(() => server.stop());

  /** A client recording the alert frames received, the acks sent and the SDK's events. */
  function client(t, options = {}) {
    const c = new ValtronicsWebSocket(`${server.url}/ws`, admin, { reconnect: FAST, ...options });
    t.after(() => c.disconnect());
    const frames = [];   // every `alert` frame, duplicates and redeliveries included
    const acks = [];     // delivery_id of every `ack` sent (a number or a list)
    c.on('message', (m) => { if (m.type === 'alert') frames.push(m); });
    c.on('sent', (m) => { if (m?.type === 'ack') acks.push(m.delivery_id); });
    const log = record(c, ['duplicate', 'gap', 'error']);
    return { c, frames, acks, log };
  }

  const ackedIds = (acks) => acks.flatMap((a) => (Array.isArray(a) ? a : [a]));

  test('an alert is delivered once and acknowledged: no redelivery', T, async (t) => {
    const { c, frames, acks, log } = client(t);
    await c.connect();
    const reply = await c.subscribe('alerts', { device_id: 401, ack: true });
    assert.equal(reply.filters.ack, true);
    const seen = [];
    c.onAlert = (a) => seen.push(a);
    const first = next(c, 'alert');
    await ingest(server, admin, 401, { acked: { value: 20 } });
    const a = await first;
    assert.equal(a.delivery_id, 1);
    assert.equal(a.redelivered, undefined);
    await sleep(QUIET);
    assert.equal(frames.length, 1, `redelivered: ${JSON.stringify(frames)}`);
    assert.deepEqual(acks, [1]);
    assert.equal(seen.length, 1);
    assert.equal(c.lastAlertId, a.alert_id);
    assert.deepEqual([log.duplicate.length, log.gap.length, log.error.length], [0, 0, 0]);
  });

  test('a redelivery is acknowledged but not delivered twice, and reports no seq gap', T, async (t) => {
    // The SDK acks once onAlert's promise settles: held open past alerts.ack_timeout, the server
    // redelivers first. The redelivery is a duplicate (same alert and status, next seq).
    const { c, frames, acks, log } = client(t);
    await c.connect();
    await c.subscribe('alerts', { device_id: 402, ack: true });
    const slow = gate();
    let calls = 0;
    c.onAlert = () => { calls++; return slow.promise; };
    const redelivered = next(c, 'duplicate', { filter: (d) => d.message.redelivered === true });
    await ingest(server, admin, 402, { acked: { value: 20 } });
    const dup = await redelivered; // ~1 s later: the handler has not settled, nothing acked
    assert.equal(dup.reason, 'alert');
    assert.equal(dup.message.delivery_id, 1);
    assert.equal(dup.message.seq, frames[0].seq + 1);
    assert.deepEqual(acks, [], 'a redelivery crossing a pending handler waits for it');
    slow.open();
    await sleep(QUIET);
    assert.deepEqual(ackedIds(acks), [1]);
    const n = frames.length;
    await sleep(1500);
    assert.equal(frames.length, n, 'acknowledged: no more redeliveries');
    assert.equal(calls, 1);
    assert.equal(log.gap.length, 0);
    assert.equal(log.error.length, 0);
  });

  test('a handler that throws is reported and its alert acknowledged all the same', T, async (t) => {
    const { c, frames, acks, log } = client(t);
    await c.connect();
    await c.subscribe('alerts', { device_id: 403, ack: true });
    c.onAlert = () => { throw new Error('handler failed'); };
    const failed = next(c, 'error');
    await ingest(server, admin, 403, { acked: { value: 20 } });
    assert.equal((await failed).message, 'handler failed');
    await sleep(QUIET);
    assert.equal(frames.length, 1);
    assert.deepEqual(acks, [1]);
    assert.equal(log.error.length, 1);
  });

  test('the connection cut while the handler runs: replayed after the reconnect, acknowledged, seen once', T, async (t) => {
    const { c, frames, acks, log } = client(t);
    await c.connect();
    await c.subscribe('alerts', { device_id: 404, ack: true });
    const slow = gate();
    const seen = [];
    c.onAlert = (a) => {
      seen.push(a.alert_id);
      c._ws.terminate(); // the connection dies before the (async) handler is done
      return slow.promise;
    };
    const reconnected = next(c, 'reconnected', { timeout: 10_000 });
    await ingest(server, admin, 404, { acked: { value: 20 } });
    await reconnected;
    // The resume point did not move past the unhandled alert: the replay sends it again, on
    // the new connection with its own delivery id; a duplicate, acknowledged at once.
    const replayed = log.duplicate.length ? log.duplicate[0] : await next(c, 'duplicate');
    assert.equal(replayed.reason, 'alert');
    assert.equal(replayed.message.alert_id, seen[0]);
    assert.equal(replayed.message.delivery_id, 1);
    slow.open(); // the old connection's ack is dropped, not sent on the new one
    await sleep(QUIET);
    assert.deepEqual(ackedIds(acks), [1]);
    assert.equal(frames.length, 2, `frames: ${JSON.stringify(frames)}`);
    assert.deepEqual(seen, [frames[0].alert_id]);
    assert.equal(c.lastAlertId, seen[0]);
    assert.equal(log.error.length, 0, `errors: ${log.error.map((e) => e.message)}`);
  });

  test('the connection cut in a synchronous handler: no ack leaves; the next connection acks its own', T, async (t) => {
    const { c, frames, acks, log } = client(t);
    await c.connect();
    await c.subscribe('alerts', { device_id: 405, ack: true });
    const seen = [];
    let cut = false;
    c.onAlert = (a) => {
      seen.push(a.alert_id);
      if (!cut) {
        cut = true;
        c._ws.terminate();
      }
    };
    const reconnected = next(c, 'reconnected', { timeout: 10_000 });
    await ingest(server, admin, 405, { acked: { value: 20 } });
    await reconnected;
    // Handled before the cut: the resume point is past it, nothing is replayed, and its ack
    // (for the dead connection's delivery id 1) is not sent on the new connection.
    const second = next(c, 'alert');
    await ingest(server, admin, 405, { acked: { value: 5 } });  // resolves the first
    await ingest(server, admin, 405, { acked: { value: 25 } }); // a new alert
    const b = await second;
    assert.equal(b.delivery_id, 1, 'delivery ids count from 1 on every connection');
    await sleep(QUIET);
    assert.equal(frames[0].delivery_id, 1);
    assert.equal(seen[0], frames[0].alert_id);
    assert.equal(seen.length, frames.length, 'no duplicate reached the handler');
    // Every frame after the reconnect was acknowledged once and none came again.
    const after = frames.slice(1);
    assert.deepEqual(after.filter((f) => f.redelivered), []);
    assert.deepEqual(ackedIds(acks).sort(), after.map((f) => f.delivery_id).sort());
    assert.equal(log.error.length, 0, `errors: ${log.error.map((e) => e.message)}`);
  });

  test('a replay burst is acknowledged in one ack with a list', T, async (t) => {
    const probe = client(t);
    await probe.c.connect();
    const start = (await probe.c.subscribe('alerts', { device_id: 406 })).last_alert_id;
    const raised = next(probe.c, 'alert', { filter: (a) => a.device_id === 406 && a.metadata?.actual_value === 50 });
    for (const v of [20, 5, 30, 5, 40, 5, 50]) await ingest(server, admin, 406, { acked: { value: v } });
    await raised; // every alert is stored now (the probe saw the last)

    const { c, frames, acks, log } = client(t);
    await c.connect();
    const reply = await c.subscribe('alerts', { device_id: 406, ack: true, since_alert_id: start });
    assert.equal(reply.recovered, true);
    await sleep(QUIET);
    assert.ok(frames.length >= 4, `replayed ${frames.length}`); // the replay sends each alert once, at its current status
    assert.deepEqual(frames.filter((f) => f.redelivered), []);
    assert.deepEqual(ackedIds(acks).sort((x, y) => x - y), frames.map((f) => f.delivery_id));
    assert.ok(acks.length < frames.length && acks.some(Array.isArray), `acks: ${JSON.stringify(acks)}`);
    assert.equal(log.error.length, 0);
  });
});
