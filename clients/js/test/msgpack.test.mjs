// MessagePack (issue 15, docs/protocol.md "MessagePack") through the SDK (`encoding: 'msgpack'`,
// @msgpack/msgpack) against the real binary: the handshake agrees valtronics.msgpack, every
// frame both ways is binary MessagePack, a coalesced burst reaches the application message by
// message in seq order, acknowledged alerts are acknowledged in MessagePack (no redelivery),
// the Authorization-header handshake works the same, and after the server is killed and
// restarted the client restores its subscriptions (one MessagePack batch) and gets updates again.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';

import { decode } from '@msgpack/msgpack';
import WS from 'ws';

import { ValtronicsWebSocket } from '../src/index.js';
import {
  T, createRule, ingest, next, record, request, serversOnOneDatabase, startServer, token,
} from './helpers.mjs';

/** The `ws` class, keeping what its sockets agree, send and receive. */
function watchingWebSocket() {
  const seen = { protocols: [], sentText: 0, sentBinary: [], frames: 0, textFrames: 0, arrays: 0 };
  class Watching extends WS {
    constructor(...args) {
      super(...args);
      this.on('open', () => seen.protocols.push(this.protocol));
      this.on('message', (data, isBinary) => {
        seen.frames += 1;
        if (!isBinary) seen.textFrames += 1;
        else if (Array.isArray(decode(data))) seen.arrays += 1;
      });
    }

    send(data, ...rest) {
      if (typeof data === 'string') seen.sentText += 1;
      else seen.sentBinary.push(decode(data));
      return super.send(data, ...rest);
    }
  }
  return { Watching, seen };
}

describe('encoding: msgpack', { timeout: 120_000 }, () => {
  let server;
  let admin;
  before(async () => {
    server = await startServer({ config: { alerts: { ack_timeout: '1s' } } });
    admin = token({ sub: 'packer', role: 'admin' });
    await createRule(server, admin, { name: 'Packed', metric: 'packed', condition: 'gt', threshold: 10, severity: 'critical' });
  });
  after(() => server.stop());

  test('a coalesced burst arrives whole and in order, every frame MessagePack', T, async (t) => {
    const { Watching, seen } = watchingWebSocket();
    const c = new ValtronicsWebSocket(`${server.url}/ws`, admin, { WebSocket: Watching, encoding: 'msgpack' });
    t.after(() => c.disconnect());
    const log = record(c, ['gap', 'duplicate', 'error']);
    await c.connect();
    assert.deepEqual(seen.protocols, ['valtronics.msgpack']);
    const reply = await c.subscribe('telemetry');
    assert.equal(reply.type, 'subscribed');
    const got = [];
    const all = new Promise((resolve) => {
      c.on('telemetry_update', (u) => {
        got.push(u);
        if (got.length === 200) resolve();
      });
    });
    const items = Array.from({ length: 200 }, (_, i) => ({ device_id: 5001 + i, metric_name: 'level', metric_value: i + 0.5 }));
    const r = await request(server, 'POST', '/api/v1/telemetry/batch', { body: { telemetry_data: items }, token: admin });
    assert.equal(r.status, 202, JSON.stringify(r.body));
    await Promise.race([all, sleep(10_000).then(() => { throw new Error(`${got.length} of 200 updates`); })]);
    assert.deepEqual(got.map((u) => u.device_id), items.map((i) => i.device_id));
    assert.deepEqual(got.map((u) => u.telemetry.level.value), items.map((i) => i.metric_value));
    assert.deepEqual(got.map((u) => u.seq), Array.from({ length: 200 }, (_, i) => i + 1));
    assert.deepEqual([log.gap.length, log.duplicate.length, log.error.length], [0, 0, 0]);
    assert.equal(seen.textFrames, 0, 'no text frame from the server');
    assert.equal(seen.sentText, 0, 'no text frame to the server');
    assert.deepEqual(seen.sentBinary.slice(0, 2).map((m) => m.type), ['hello', 'auth']);
    assert.ok(seen.arrays > 0 && seen.frames < 100, `200 updates in ${seen.frames} frames`);
  });

  test('acknowledged alerts are acknowledged in MessagePack and not sent again', T, async (t) => {
    const { Watching, seen } = watchingWebSocket();
    const c = new ValtronicsWebSocket(`${server.url}/ws`, admin, { WebSocket: Watching, encoding: 'msgpack', coalesce: false });
    t.after(() => c.disconnect());
    const frames = [];
    c.on('message', (m) => { if (m.type === 'alert') frames.push(m); });
    await c.connect();
    await c.subscribe('alerts', { device_id: 5301, ack: true });
    const alert = next(c, 'alert');
    await ingest(server, admin, 5301, { packed: { value: 20 } });
    assert.equal((await alert).delivery_id, 1);
    await sleep(2500); // > 2 * alerts.ack_timeout: an unacknowledged alert would be back
    assert.equal(frames.length, 1, JSON.stringify(frames));
    assert.deepEqual(seen.sentBinary.filter((m) => m.type === 'ack').map((m) => m.delivery_id), [1]);
  });

  test('with authHeader the token goes in the handshake, the rest in MessagePack, sized as such', T, async (t) => {
    const { Watching, seen } = watchingWebSocket();
    const c = new ValtronicsWebSocket(`${server.url}/ws`, admin, { WebSocket: Watching, encoding: 'msgpack', authHeader: true });
    t.after(() => c.disconnect());
    await c.connect();
    assert.deepEqual(seen.protocols, ['valtronics.msgpack']);
    // 400 numbers: 1 200 bytes as JSON, over limits.max_message_bytes (1 KB), but 400 as
    // MessagePack, which is what the server counts (and the SDK checks) on this connection.
    const big = Array.from({ length: 400 }, (_, i) => 10 + (i % 90));
    const pong = await c.ping(big);
    assert.equal(pong.type, 'pong');
    assert.deepEqual(pong.timestamp, big);
    assert.ok(!seen.sentBinary.some((m) => m.type === 'auth'));
  });

  test('an unknown encoding is refused when the client is made', () => {
    assert.throws(() => new ValtronicsWebSocket('ws://127.0.0.1:1/ws', 't', { encoding: 'cbor' }),
      /encoding must be 'json' or 'msgpack'/);
  });
});

test('encoding msgpack: after a server restart the subscriptions are restored and updates flow', { timeout: 40_000 }, async (t) => {
  const admin = token({ sub: 'packer', role: 'admin' });
  const onDb = serversOnOneDatabase(t);
  const first = await onDb();
  const c = new ValtronicsWebSocket(`${first.url}/ws`, admin, { encoding: 'msgpack', reconnect: { base: 20, cap: 200 } });
  t.after(() => c.disconnect());
  const log = record(c, ['error']);
  await c.connect();
  await c.subscribe('telemetry', { device_id: 5401, metrics: ['level'] });
  await c.subscribe('alerts', { device_id: 5401 });
  const disconnected = next(c, 'disconnected');
  await first.kill(); // SIGKILL: no close frame
  await disconnected;
  const second = await onDb({ port: first.port });
  const back = await next(c, 'reconnected', { timeout: 15_000 });
  assert.equal(back.subscriptions, 2);
  assert.deepEqual(back.failed, []);
  const update = next(c, 'telemetry_update');
  await ingest(second, admin, 5401, { level: { value: 3.5 }, other: { value: 1 } });
  const u = await update;
  assert.deepEqual(Object.keys(u.telemetry), ['level'], 'the restored filter');
  assert.equal(u.telemetry.level.value, 3.5);
  assert.equal(u.seq, 1, 'seq restarts on the new connection');
  assert.deepEqual(log.error, []);
});
