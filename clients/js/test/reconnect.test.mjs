// Reconnecting: the server is killed and started again on the same port (same database); the
// client re-authenticates (asking getToken() first), re-subscribes with the same filters, and
// resumes alerts with since_alert_id, delivering an alert raised while it was away exactly once.
// Also: disconnect() stops reconnecting, a refused token ends it, maxAttempts, requests in flight
// when the connection drops, retryOnFirstConnect.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { ValtronicsWebSocket } from '../src/index.js';
import {
  T, createRule, freePort, gate, ingest, launch, next, record, serversOnOneDatabase, storedAlerts,
  tampering, token,
} from './helpers.mjs';

const FAST = { base: 20, cap: 200 };

test('server killed and restarted: re-subscribes, and an alert raised meanwhile arrives exactly once', { timeout: 40_000 }, async (t) => {
  const admin = token({ sub: 'rita', role: 'admin' });
  const onDb = serversOnOneDatabase(t);
  const first = await onDb();
  const dev = 21;
  await createRule(first, admin, { name: 'Overheat', device_id: dev, metric: 'temperature', condition: 'gt', threshold: 50, severity: 'critical' });

  // getToken() is asked before every reconnect; here it also holds the reconnect back until the
  // test has raised an alert on the new server (a gate, instead of racing the backoff timer).
  const held = gate();
  const reasons = [];
  const c = new ValtronicsWebSocket(`${first.url}/ws`, admin, {
    reconnect: FAST,
    getToken: async ({ reason }) => {
      reasons.push(reason);
      await held.promise;
      return admin;
    },
  });
  t.after(() => c.disconnect());
  await c.connect();
  await c.subscribe('telemetry', { device_id: dev, metrics: ['temperature'] });
  // Two alerts subscriptions that overlap on device 21 (every device, and device 21 alone): after
  // the reconnect each asks for a replay of what was missed, and the connection gets the missed
  // alert once (the second replay skips what the first sent).
  await c.subscribe('alerts', {});
  await c.subscribe('alerts', { device_id: dev });

  const alerts = [];
  c.onAlert = (a) => alerts.push(a);
  const raw = [];
  c.on('message', (m) => { if (m.type === 'alert') raw.push(m); });
  const dups = record(c, ['duplicate']).duplicate;

  const firstAlert = next(c, 'alert');
  await ingest(first, admin, dev, { temperature: { value: 60 } });
  const a1 = await firstAlert;
  assert.equal(c.lastAlertId, a1.alert_id);

  const disconnected = next(c, 'disconnected');
  await first.kill(); // SIGKILL: a crash, no close frame
  const down = await disconnected;
  assert.equal(down.code, 1006);
  assert.equal(down.willReconnect, true);

  const second = await onDb({ port: first.port });
  // While the client is away: the first alert resolves (60 -> 40) and a new one is raised (70).
  // An observer on the new server tells when the new alert is committed and published.
  const observer = new ValtronicsWebSocket(`${second.url}/ws`, admin);
  t.after(() => observer.disconnect());
  await observer.connect();
  await observer.subscribe('alerts', { device_id: dev });
  const raised = next(observer, 'alert', { filter: (a) => a.alert_id > a1.alert_id && a.status === 'active' });
  await ingest(second, admin, dev, { temperature: { value: 40 } });
  await ingest(second, admin, dev, { temperature: { value: 70 } });
  const a2 = await raised;
  const stored = await storedAlerts(second, admin, dev);
  assert.deepEqual(stored.map((a) => [a.alert_id, a.status]), [[a1.alert_id, 'resolved'], [a2.alert_id, 'active']]);

  const recoveries = record(c, ['recovery']).recovery;
  const reconnected = next(c, 'reconnected', { timeout: 10_000 });
  held.open();
  const r = await reconnected;
  assert.equal(r.subscriptions, 3);
  assert.deepEqual(r.failed, []);
  assert.ok(reasons.includes('reconnect'), `getToken reasons: ${reasons}`);

  // 'reconnected' comes after the replays (the restore ends with a ping the server answers only
  // after them): the missed alert was delivered once, and came once.
  const after = alerts.filter((a) => a.alert_id > a1.alert_id);
  assert.deepEqual(after.map((a) => [a.alert_id, a.status]), [[a2.alert_id, 'active']]);
  assert.equal(raw.filter((a) => a.alert_id === a2.alert_id).length, 1, 'one replay per connection');
  assert.equal(dups.filter((d) => d.reason === 'alert').length, 0);
  assert.equal(c.lastAlertId, a2.alert_id);
  assert.equal(recoveries.length, 2);
  for (const rec of recoveries) {
    assert.equal(rec.recovered, true);
    assert.equal(rec.sinceAlertId, a1.alert_id);
  }
  // Nothing of the first alert was delivered again.
  assert.equal(alerts.filter((a) => a.alert_id === a1.alert_id).length, 1);

  // Telemetry flows again, on the re-sent filters; seq restarted at 1 on the new connection
  // (a client that kept the old connection's seq would drop this update as a duplicate).
  const update = next(c, 'telemetry_update');
  await ingest(second, admin, dev, { temperature: { value: 71 }, humidity: { value: 30 } });
  const u = await update;
  assert.deepEqual(Object.keys(u.telemetry), ['temperature']);
  assert.equal(u.seq, 1);
  assert.equal(dups.filter((d) => d.reason === 'seq').length, 0);
});

test('outage before the first alert: resumes from the subscription\'s last_alert_id, the alert raised meanwhile arrives exactly once', { timeout: 40_000 }, async (t) => {
  const admin = token({ sub: 'rosa', role: 'admin' });
  const onDb = serversOnOneDatabase(t);
  const first = await onDb();
  const dev = 22;
  await createRule(first, admin, { name: 'Overheat', device_id: dev, metric: 'temperature', condition: 'gt', threshold: 50, severity: 'critical' });
  // An alert stored before the client subscribes: history, never to be delivered to it.
  await ingest(first, admin, dev, { temperature: { value: 60 } });
  let old;
  for (let i = 0; i < 200 && !old; i++) {
    [old] = await storedAlerts(first, admin, dev);
    if (!old) await new Promise((r) => setTimeout(r, 25));
  }
  assert.ok(old, 'the first alert was not stored');

  const held = gate();
  const c = new ValtronicsWebSocket(`${first.url}/ws`, admin, {
    reconnect: FAST,
    getToken: async () => { await held.promise; return admin; },
  });
  t.after(() => c.disconnect());
  await c.connect();
  assert.equal(c.lastAlertId, null);
  const reply = await c.subscribe('alerts', { device_id: dev });
  assert.equal(reply.last_alert_id, old.alert_id);
  assert.equal(c.lastAlertId, old.alert_id, 'the resume point before the first alert');
  const alerts = [];
  c.onAlert = (a) => alerts.push(a);
  const raw = [];
  c.on('message', (m) => { if (m.type === 'alert') raw.push(m); });
  const recoveries = record(c, ['recovery']).recovery;

  const disconnected = next(c, 'disconnected');
  await first.kill();
  await disconnected;
  const second = await onDb({ port: first.port });
  // While the client is away: the old alert resolves (60 -> 40), a new one is raised (70).
  const observer = new ValtronicsWebSocket(`${second.url}/ws`, admin);
  t.after(() => observer.disconnect());
  await observer.connect();
  await observer.subscribe('alerts', { device_id: dev });
  const raised = next(observer, 'alert', { filter: (a) => a.alert_id > old.alert_id && a.status === 'active' });
  await ingest(second, admin, dev, { temperature: { value: 40 } });
  await ingest(second, admin, dev, { temperature: { value: 70 } });
  const a2 = await raised;

  const reconnected = next(c, 'reconnected', { timeout: 10_000 });
  held.open();
  const r = await reconnected;
  assert.deepEqual(r.failed, []);
  assert.equal(recoveries.length, 1);
  assert.equal(recoveries[0].sinceAlertId, old.alert_id);
  assert.equal(recoveries[0].recovered, true);
  // The restore ends with a ping answered after the replay: the missed alert is in, once.
  assert.deepEqual(alerts.map((a) => [a.alert_id, a.status, a.seq]), [[a2.alert_id, 'active', 1]]);
  assert.equal(raw.length, 1);
  assert.equal(c.lastAlertId, a2.alert_id);
});

test('disconnect() during the backoff stops reconnecting', T, async (t) => {
  const server = await launch();
  t.after(() => server.stop());
  const c = new ValtronicsWebSocket(`${server.url}/ws`, token(), { reconnect: { base: 60_000, cap: 60_000 }, maxMessageBytes: Infinity });
  await c.connect();
  const log = record(c, ['connecting', 'closed']);
  const reconnecting = next(c, 'reconnecting');
  c.send({ type: 'ping', padding: 'x'.repeat(2048) }); // the server closes with 1009
  const r = await reconnecting;
  assert.equal(r.code, 1009);
  assert.equal(c.state, 'reconnecting');
  await c.disconnect();
  assert.equal(c.state, 'closed');
  assert.equal(log.closed.length, 1);
  assert.equal(log.closed[0].error, null);
  assert.equal(c._reconnectTimer, null, 'the reconnect timer is cancelled');
  assert.equal(log.connecting.length, 0);
});

test('a token refused on reconnect ends the client instead of looping', T, async (t) => {
  const first = await launch({ secret: 'secret-one' });
  const tok = token({ sub: 'sam', role: 'admin', secret: 'secret-one' });
  const c = new ValtronicsWebSocket(`${first.url}/ws`, tok, { reconnect: FAST });
  t.after(() => c.disconnect());
  await c.connect();
  await c.subscribe('alerts');
  const port = first.port;
  const order = [];
  for (const e of ['connecting', 'reconnecting', 'authenticated', 'error', 'closed']) c.on(e, (p) => order.push([e, p]));
  await first.stop(); // SIGTERM: a graceful shutdown (close 1001)
  // The same port, another secret: the old token is now invalid.
  const second = await launch({ port, secret: 'secret-two' });
  t.after(() => second.stop());
  const closed = await next(c, 'closed', { timeout: 10_000 });
  assert.equal(closed.error.code, 'invalid_token');
  assert.equal(c.state, 'closed');
  // It tried until the server was back (attempts refused by the closed port), was refused the
  // token once, and stopped there: the refusal is the last attempt, and nothing is scheduled.
  const names = order.map(([e]) => e);
  assert.equal(names.filter((e) => e === 'authenticated').length, 0);
  assert.deepEqual(names.slice(-3), ['connecting', 'error', 'closed']);
  assert.equal(order.at(-2)[1].code, 'invalid_token');
  assert.equal(names.filter((e) => e === 'error').length, 1);
  assert.equal(c._reconnectTimer, null);
  assert.throws(() => c.send({ type: 'ping' }), { code: 'not_connected' });
});

test('reconnect.maxAttempts: gives up with reconnect_failed', T, async (t) => {
  const server = await launch();
  const c = new ValtronicsWebSocket(`${server.url}/ws`, token(), { reconnect: { base: 10, cap: 20, maxAttempts: 3 } });
  t.after(() => c.disconnect());
  await c.connect();
  const log = record(c, ['reconnecting', 'error']);
  const closed = next(c, 'closed', { timeout: 10_000 });
  await server.stop();
  const { error } = await closed;
  assert.equal(error.code, 'reconnect_failed');
  assert.deepEqual(log.reconnecting.map((r) => r.attempt), [1, 2, 3]);
  assert.deepEqual(log.error.map((e) => e.code), ['reconnect_failed']);
  for (const r of log.reconnecting) assert.ok(r.delay >= 0 && r.delay < 20, `delay ${r.delay}`);
});

test('a request in flight when the connection drops is sent again after the reconnect', T, async (t) => {
  const server = await launch();
  const admin = token();
  const c = new ValtronicsWebSocket(`${server.url}/ws`, admin, { reconnect: FAST, maxMessageBytes: Infinity });
  t.after(async () => { await c.disconnect(); await server.stop(); });
  await c.connect();
  const sent = record(c, ['sent']).sent;
  // The oversized frame makes the server close (1009) without reading what follows it.
  c.send({ type: 'ping', padding: 'x'.repeat(2048) });
  const sub = c.subscribe('telemetry', { device_id: 22 });
  const reply = await sub;
  assert.equal(reply.type, 'subscribed');
  const subscribes = sent.flatMap((m) => (m.type === 'batch' ? m.messages : [m])).filter((m) => m.type === 'subscribe');
  assert.equal(subscribes.length, 2, 'sent on the old connection, then again on the new one');
  assert.equal(subscribes[0].id, subscribes[1].id);
  assert.equal(reply.id, subscribes[0].id);
  const update = next(c, 'telemetry_update');
  await ingest(server, admin, 22, { temperature: { value: 5 } });
  assert.equal((await update).device_id, 22);
});

test('retryOnFirstConnect: connect() waits for a server that is not up yet', T, async (t) => {
  const port = await freePort();
  const admin = token();
  const c = new ValtronicsWebSocket(`ws://127.0.0.1:${port}/ws`, admin, { retryOnFirstConnect: true, reconnect: FAST });
  t.after(() => c.disconnect());
  const connected = c.connect();
  const sub = c.subscribe('telemetry', { device_id: 23 });
  const failed = await next(c, 'reconnecting');
  assert.equal(failed.error.code, 'connect_failed');
  const server = await launch({ port });
  t.after(() => server.stop());
  assert.equal((await connected).success, true);
  assert.equal((await sub).type, 'subscribed');
});

test('on /ws/alerts the endpoint\'s own subscription is resumed too', T, async (t) => {
  const server = await launch();
  const admin = token();
  t.after(() => server.stop());
  await createRule(server, admin, { name: 'Dry', device_id: 24, metric: 'humidity', condition: 'lt', threshold: 10 });
  const held = gate();
  const c = new ValtronicsWebSocket(`${server.url}/ws/alerts`, admin, {
    maxMessageBytes: Infinity,
    reconnect: FAST,
    getToken: async ({ reason }) => { if (reason === 'reconnect') await held.promise; return admin; },
  });
  t.after(() => c.disconnect());
  const alerts = [];
  c.onAlert = (a) => alerts.push([a.alert_id, a.status]);
  await c.connect(); // no subscribe(): the endpoint subscribes
  const first = next(c, 'alert');
  await ingest(server, admin, 24, { humidity: { value: 5 } });
  const a1 = await first;
  assert.deepEqual(c.subscriptions.map((s) => [s.channel, s.device_id]), [['alerts', null]]);

  const observer = new ValtronicsWebSocket(`${server.url}/ws/alerts`, admin);
  t.after(() => observer.disconnect());
  await observer.connect();
  const dropped = next(c, 'disconnected');
  c.send({ type: 'ping', padding: 'x'.repeat(2048) }); // the server closes with 1009
  await dropped;
  // While away: resolved (status change of a1, not replayed: see the docs) and raised again.
  const raised = next(observer, 'alert', { filter: (a) => a.alert_id > a1.alert_id });
  await ingest(server, admin, 24, { humidity: { value: 50 } });
  await ingest(server, admin, 24, { humidity: { value: 4 } });
  const a2 = await raised;
  const back = next(c, 'reconnected');
  held.open();
  assert.equal((await back).subscriptions, 1);
  assert.deepEqual(alerts, [[a1.alert_id, 'active'], [a2.alert_id, 'active']]);
});

test('heartbeat: a connection whose pongs stop coming is dropped and replaced', T, async (t) => {
  const server = await launch();
  t.after(() => server.stop());
  let swallowPongs = false;
  const edit = (text) => (swallowPongs && JSON.parse(text).type === 'pong' ? [] : [text]);
  const c = new ValtronicsWebSocket(`${server.url}/ws`, token(), {
    WebSocket: tampering(edit), heartbeat: { interval: 100, timeout: 300 }, reconnect: FAST,
  });
  t.after(() => c.disconnect());
  await c.connect();
  const latency = await next(c, 'latency');
  assert.ok(latency >= 0 && latency < 300, String(latency));
  assert.equal(c.latency, latency);
  swallowPongs = true; // as if the network silently died
  const down = await next(c, 'disconnected', { timeout: 3000 });
  assert.equal(down.error.code, 'heartbeat_timeout');
  assert.equal(down.willReconnect, true);
  swallowPongs = false;
  await next(c, 'reconnected');
  assert.equal(c.state, 'open');
});

test('a subscription the new token no longer covers is dropped alone at the reconnect', T, async (t) => {
  const server = await launch();
  const admin = token();
  t.after(() => server.stop());
  let tok = token({ sub: 'ned', role: 'user', devices: '25,26' });
  const c = new ValtronicsWebSocket(`${server.url}/ws`, tok, {
    maxMessageBytes: Infinity, reconnect: FAST, getToken: () => tok,
  });
  t.after(() => c.disconnect());
  await c.connect();
  await c.subscribe('telemetry', { device_id: [25, 26] });
  const log = record(c, ['error', 'subscriptionRemoved']);
  const errors = log.error;
  tok = token({ sub: 'ned', role: 'user', devices: '25' }); // what getToken() returns from now on
  const back = next(c, 'reconnected');
  c.send({ type: 'ping', padding: 'x'.repeat(2048) }); // the server closes with 1009
  const r = await back;
  assert.equal(r.subscriptions, 2);
  assert.deepEqual(r.failed.map((e) => [e.code, e.channel, e.device_id]), [['forbidden', 'telemetry', 26]]);
  assert.deepEqual(errors.map((e) => e.code), ['forbidden']);
  assert.deepEqual(log.subscriptionRemoved.map((r) => [r.channel, r.device_id, r.reason]), [['telemetry', 26, 'restore']]);
  assert.deepEqual(c.subscriptions.map((s) => s.device_id), [25]);
  const update = next(c, 'telemetry_update');
  await ingest(server, admin, 25, { temperature: { value: 9 } });
  assert.equal((await update).device_id, 25);
});

test('a subscription a token refresh removed leaves the registry and is not restored after a reconnect', { timeout: 30_000 }, async (t) => {
  const onDb = serversOnOneDatabase(t);
  const first = await onDb();
  const admin = token({ sub: 'una', role: 'admin' });
  const c = new ValtronicsWebSocket(`${first.url}/ws`, admin, { reconnect: FAST });
  t.after(() => c.disconnect());
  await c.connect();
  await c.subscribe('telemetry', { device_id: [1, 5] });
  assert.deepEqual(c.subscriptions.map((s) => s.device_id).sort(), [1, 5]);

  const log = record(c, ['subscriptionRemoved', 'error']);
  const removed = next(c, 'subscriptionRemoved');
  const refreshed = await c.refreshToken(token({ sub: 'una', role: 'user', devices: '1' }));
  assert.equal(refreshed.success, true);
  const r = await removed;
  assert.equal(r.channel, 'telemetry');
  assert.equal(r.device_id, 5);
  assert.equal(r.reason, 'token_refresh');
  assert.equal(r.error.code, 'forbidden');
  await c.ping(); // anything else the server sent after the auth_response has arrived
  assert.equal(log.subscriptionRemoved.length, 1);
  assert.deepEqual(log.error.map((e) => [e.code, e.channel, e.device_id, e.id]), [['forbidden', 'telemetry', 5, undefined]]);
  assert.deepEqual(c.subscriptions.map((s) => [s.channel, s.device_id, s.confirmed]), [['telemetry', 1, true]]);

  // Reconnect (a server restarted on the same port): only device 1 is asked for, and granted.
  const subscribed = record(c, ['subscribed']).subscribed;
  const reconnected = next(c, 'reconnected', { timeout: 15_000 });
  await first.stop();
  await onDb({ port: first.port });
  const back = await reconnected;
  assert.equal(back.subscriptions, 1);
  assert.deepEqual(back.failed, []);
  assert.deepEqual(subscribed.map((m) => [m.channel, m.filters.device_id]), [['telemetry', [1]]]);
  assert.deepEqual(log.error.length, 1, 'no forbidden after the reconnect');
  assert.equal(log.subscriptionRemoved.length, 1);
  assert.deepEqual(c.subscriptions.map((s) => s.device_id), [1]);
});
