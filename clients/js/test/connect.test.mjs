// ValtronicsWebSocket against one real server: connect / auth, subscribe / unsubscribe and their
// promises, errors matched by id, updates reaching the spec's onX callbacks and the emitter, and
// the queue while connecting.
//
//   cd clients/js && VALTRONICS_BIN=../../build/valtronics node --test test/connect.test.mjs

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { ValtronicsWebSocket } from '../src/index.js';
import { T, createRule, freePort, ingest, next, record, startServer, token } from './helpers.mjs';

describe('ValtronicsWebSocket against one server', { timeout: 60_000 }, () => {
  let server;
  let admin;
  let url;
  const clients = [];
  const client = (tok, options) => {
    const c = new ValtronicsWebSocket(url, tok, options);
    clients.push(c);
    return c;
  };

  before(async () => {
    server = await startServer();
    admin = token({ sub: 'alice', role: 'admin' });
    url = `${server.url}/ws`;
  });
  after(async () => {
    await Promise.all(clients.map((c) => c.disconnect()));
    if (server) await server.stop();
  });

  test('connect() resolves with the auth_response, only after it arrived', T, async () => {
    const c = client(admin);
    const order = [];
    for (const e of ['connecting', 'open', 'authenticated']) c.on(e, () => order.push(e));
    assert.equal(c.state, 'idle');
    const p = c.connect();
    assert.equal(c.state, 'connecting');
    assert.equal(c.connect() instanceof Promise, true, 'a second connect() while connecting');
    const auth = await p;
    order.push('resolved');
    assert.deepEqual(order, ['connecting', 'open', 'authenticated', 'resolved']);
    assert.equal(auth.type, 'auth_response');
    assert.equal(auth.success, true);
    assert.equal(auth.user, 'alice');
    assert.equal(auth.role, 'admin');
    assert.match(auth.expires_at, /Z$/);
    assert.equal(c.state, 'open');
    assert.equal(c.connected, true);
    assert.equal(c.auth, auth);
    assert.equal(await c.connect(), auth, 'connect() when open resolves with the same auth');
  });

  test('connect() rejects on a bad token, and the client does not retry it', T, async () => {
    const forged = token({ sub: 'mallory', role: 'admin', secret: 'not-the-server-secret' });
    // Even with retryOnFirstConnect: a refused token is never retried.
    const c = client(forged, { retryOnFirstConnect: true, reconnect: { base: 10, cap: 20 } });
    const log = record(c, ['connecting', 'reconnecting', 'closed']);
    await assert.rejects(c.connect(), (err) => {
      assert.equal(err.name, 'ValtronicsError');
      assert.equal(err.code, 'invalid_token');
      assert.equal(err.reply.type, 'auth_response');
      assert.equal(err.reply.success, false);
      return true;
    });
    assert.equal(c.state, 'closed');
    assert.equal(log.connecting.length, 1);
    assert.equal(log.reconnecting.length, 0);
    assert.equal(log.closed.length, 1);
    assert.equal(log.closed[0].error.code, 'invalid_token');
    // Closed means closed: nothing is queued for a later connection.
    assert.throws(() => c.send({ type: 'ping' }), { code: 'not_connected' });
    await assert.rejects(c.subscribe('telemetry'), { code: 'not_connected' });
  });

  test('connect() rejects with connect_failed when nothing listens (no retry by default)', T, async () => {
    const port = await freePort();
    const c = client(admin);
    c.url = `ws://127.0.0.1:${port}/ws`;
    const log = record(c, ['reconnecting']);
    await assert.rejects(c.connect(), { code: 'connect_failed' });
    assert.equal(c.state, 'closed');
    assert.equal(log.reconnecting.length, 0);
  });

  test('authHeader: the token goes in an Authorization: Bearer header (Node)', T, async () => {
    const c = client(admin, { authHeader: true });
    const sent = record(c, ['sent']).sent;
    const auth = await c.connect();
    assert.equal(auth.success, true);
    assert.equal(auth.id, undefined, 'auth_response to the header carries no id');
    // Only the hello asking for coalesced frames (the SDK's default) went out: no auth message.
    assert.deepEqual(sent.map((m) => m.type), ['hello'], 'no auth message was sent');
    const sub = await c.subscribe('telemetry', { device_id: 3 });
    assert.equal(sub.type, 'subscribed');
  });

  test('getToken() supplies the token when the constructor has none', T, async () => {
    const calls = [];
    const c = client(undefined, { getToken: (ctx) => { calls.push(ctx.reason); return admin; } });
    assert.equal((await c.connect()).success, true);
    assert.deepEqual(calls, ['connect']);
    assert.throws(() => new ValtronicsWebSocket(url), TypeError, 'neither token nor getToken');
  });

  test('subscribe() resolves with subscribed; errors reject the request they answer', T, async () => {
    const c = client(admin);
    await c.connect();
    // Filters nested (the spec's Python style) and at the top level (its JS style) mix.
    const sub = await c.subscribe('telemetry', { device_id: 1, filters: { metrics: ['temperature'] } });
    assert.deepEqual(sub.filters, { device_id: [1], metrics: ['temperature'], frequency: 'real-time' });
    assert.equal(sub.channel, 'telemetry');

    // Three requests in flight at once: each settles by its own reply, matched by id.
    const [bad, good, badFilter] = await Promise.allSettled([
      c.subscribe('weather'),
      c.subscribe('alerts', { severity: 'critical' }),
      c.subscribe('telemetry', { colour: 'red' }),
    ]);
    assert.equal(bad.status, 'rejected');
    assert.equal(bad.reason.code, 'unknown_channel');
    assert.match(bad.reason.message, /weather/);
    assert.equal(bad.reason.reply.id, bad.reason.id);
    assert.equal(good.status, 'fulfilled');
    assert.deepEqual(good.value.filters, { severity: ['critical'] });
    assert.equal(badFilter.status, 'rejected');
    assert.equal(badFilter.reason.code, 'unknown_filter');
    assert.match(badFilter.reason.message, /colour/);

    // Only what the server accepted is in the registry that is re-sent after a reconnect.
    assert.deepEqual(c.subscriptions.map((s) => [s.channel, s.device_id, s.confirmed]).sort(),
      [['alerts', null, true], ['telemetry', 1, true]]);

    // The same key given twice with different values is refused before anything is sent.
    const sent = record(c, ['sent']).sent;
    await assert.rejects(c.subscribe('alerts', { severity: 'info', filters: { severity: 'warning' } }), { code: 'invalid_filter' });
    assert.equal(sent.length, 0);
    // A frame the server would answer with close 1009 is refused here; the connection stays.
    await assert.rejects(c.subscribe('telemetry', { metrics: Array.from({ length: 200 }, (_, i) => `metric_${i}`) }),
      { code: 'message_too_large' });
    assert.equal((await c.ping()).type, 'pong');
    assert.equal(c.state, 'open');
  });

  test('forbidden: a user token subscribing to a device it does not cover', T, async () => {
    const c = client(token({ sub: 'bob', role: 'user', devices: '1,2' }));
    await c.connect();
    assert.deepEqual((await c.subscribe('telemetry', { device_id: [1, 2] })).filters.device_id, [1, 2]);
    await assert.rejects(c.subscribe('telemetry', { device_id: 9 }), { code: 'forbidden' });
    await assert.rejects(c.subscribe('system'), { code: 'forbidden' });
    assert.deepEqual(c.subscriptions.map((s) => s.device_id).sort(), [1, 2]);
  });

  test('an error that answers no pending request is emitted as an error event', T, async () => {
    const c = client(admin);
    await c.connect();
    const error = next(c, 'error');
    c.send({ type: 'subscribe', channel: 'weather' }); // raw send: no id
    const err = await error;
    assert.equal(err.code, 'unknown_channel');
    assert.equal(err.reply.type, 'error');
  });

  test('updates reach the onX callbacks and the emitter', T, async () => {
    const c = client(admin);
    await c.connect();
    const dev = 11;
    await ingest(server, admin, dev, { temperature: { value: 20, unit: '°C' } }); // registers the device
    // The spec's callback properties, each feeding a list and waking whoever waits on it.
    const got = {};
    const waiting = [];
    const callback = (type) => (m) => {
      got[type].push(m);
      for (const w of waiting.filter((w) => w.type === type && w.pred(m))) {
        waiting.splice(waiting.indexOf(w), 1);
        w.resolve(m);
      }
    };
    const arrived = (type, pred = () => true) => new Promise((resolve) => waiting.push({ type, pred, resolve }));
    const props = { telemetry_update: 'onTelemetryUpdate', alert: 'onAlert',
      device_status_update: 'onDeviceStatusUpdate', system_status_update: 'onSystemStatusUpdate' };
    for (const [type, prop] of Object.entries(props)) {
      got[type] = [];
      c[prop] = callback(type);
    }
    const viaEmitter = record(c, Object.keys(props));

    const status = arrived('device_status_update');
    const system = arrived('system_status_update');
    await Promise.all([
      c.subscribe('telemetry', { device_id: dev }),
      c.subscribe('alerts', { device_id: dev }),
      c.subscribe('devices', { device_id: dev }), // snapshot (default): the current status at once
      c.subscribe('system', { metrics: ['cpu_usage', 'active_connections'], frequency: '1s' }),
    ]);
    const snap = await status;
    assert.equal(snap.device_id, dev);
    assert.equal(snap.reason, 'snapshot');

    await createRule(server, admin, { name: 'Boiler too hot', device_id: dev, metric: 'temperature',
      condition: 'gt', threshold: 50, severity: 'critical' });
    const telemetry = arrived('telemetry_update', (m) => m.telemetry.temperature?.value === 60);
    const alert = arrived('alert');
    await ingest(server, admin, dev, { temperature: { value: 60, unit: '°C' } });
    const t = await telemetry;
    assert.equal(t.device_id, dev);
    assert.equal(t.telemetry.temperature.unit, '°C');
    const a = await alert;
    assert.equal(a.device_id, dev);
    assert.equal(a.title, 'Boiler too hot');
    assert.equal(a.severity, 'critical');
    assert.equal(a.status, 'active');
    assert.equal(c.lastAlertId, a.alert_id);
    const s = await system;
    assert.deepEqual(Object.keys(s.metrics).sort(), ['active_connections', 'cpu_usage']);

    // The emitter saw exactly what the callbacks saw (the same objects, in the same order).
    for (const type of Object.keys(props)) assert.deepEqual(viaEmitter[type], got[type], type);
  });

  test('unsubscribe() resolves with unsubscribed and updates stop', T, async () => {
    const c = client(admin);
    await c.connect();
    await c.subscribe('telemetry', { device_id: [12, 13] });
    const un = await c.unsubscribe('telemetry', 12);
    assert.equal(un.type, 'unsubscribed');
    assert.equal(un.removed, 1);
    assert.deepEqual(c.subscriptions.map((s) => s.device_id), [13]);
    const updates = record(c, ['telemetry_update']).telemetry_update;
    // Device 13's update, ingested after device 12's, is the barrier: 12's would come first.
    const barrier = next(c, 'telemetry_update', { filter: (m) => m.device_id === 13 });
    await ingest(server, admin, 12, { temperature: { value: 1 } });
    await ingest(server, admin, 13, { temperature: { value: 2 } });
    await barrier;
    assert.deepEqual(updates.map((m) => m.device_id), [13]);
    assert.equal((await c.unsubscribe('telemetry')).removed, 1);
    assert.equal((await c.unsubscribe('telemetry')).removed, 0, 'idempotent');
  });

  test('messages sent while connecting are queued and flushed after auth', T, async () => {
    const c = client(admin);
    const sent = record(c, ['sent']).sent;
    const errors = record(c, ['error']).error;
    // Before connect(), as the spec's usage example does, and while connecting.
    const sub = c.subscribe('telemetry', { device_id: 14 });
    assert.equal(c.send({ type: 'ping', id: 'raw-1' }), false, 'queued, not sent');
    const connecting = c.connect();
    const pong = c.ping();
    assert.equal(c.queued, 3);
    assert.equal(sent.length, 0);
    const rawPong = next(c, 'pong', { filter: (m) => m.id === 'raw-1' });
    await connecting;
    assert.equal((await sub).type, 'subscribed');
    assert.equal((await pong).type, 'pong');
    assert.equal((await rawPong).id, 'raw-1');
    assert.equal(c.queued, 0);
    // hello (coalesced frames, the default) and auth went first, then the queue in order.
    assert.deepEqual(sent.slice(0, 2).map((m) => m.type), ['hello', 'auth']);
    const flat = sent.slice(2).flatMap((m) => (m.type === 'batch' ? m.messages : [m]));
    assert.deepEqual(flat.map((m) => m.type), ['subscribe', 'ping', 'ping']);
    assert.equal(flat[1].id, 'raw-1');
    assert.deepEqual(errors, [], 'nothing was refused as not_authenticated');
    const update = next(c, 'telemetry_update');
    await ingest(server, admin, 14, { temperature: { value: 3 } });
    assert.equal((await update).device_id, 14);
  });

  test('the queue is bounded by queueLimit', T, async () => {
    const c = client(admin, { queueLimit: 2 });
    c.send({ type: 'ping' });
    c.send({ type: 'ping' });
    assert.throws(() => c.send({ type: 'ping' }), { code: 'queue_full' });
    await assert.rejects(c.ping(), { code: 'queue_full' });
    assert.equal(c.queued, 2);
  });

  test('disconnect() rejects what waits and stops the client; connect() again restores', T, async () => {
    const c = client(admin);
    const queued = c.subscribe('telemetry', { device_id: 15 });
    const closed = next(c, 'closed');
    await c.disconnect();
    await assert.rejects(queued, { code: 'disconnected' });
    assert.equal((await closed).error, null);
    assert.equal(c.state, 'closed');
    assert.deepEqual(c.subscriptions, [], 'a rejected subscribe is not in the registry');

    await c.connect();
    await c.subscribe('telemetry', { device_id: 15 });
    await c.disconnect();
    assert.throws(() => c.send({ type: 'ping' }), { code: 'not_connected' });
    // The registry survives disconnect(): a new connect() re-subscribes.
    const resubscribed = next(c, 'resubscribed');
    await c.connect();
    assert.equal((await resubscribed).subscriptions, 1);
    const update = next(c, 'telemetry_update');
    await ingest(server, admin, 15, { temperature: { value: 4 } });
    assert.equal((await update).device_id, 15);
  });
});
