// Duplicate suppression and gap reporting. The real server neither repeats nor skips a `seq`
// without a reason, so these tests put a tampering transport between it and the client (a `ws`
// subclass passed as options.WebSocket) that repeats, drops, reorders or edits real frames.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { ValtronicsWebSocket } from '../src/index.js';
import { T, createRule, ingest, next, record, request, startServer, tampering, token } from './helpers.mjs';

describe('duplicates and gaps', { timeout: 40_000 }, () => {
  let server;
  let admin;
  before(async () => {
    server = await startServer();
    admin = token({ sub: 'dora', role: 'admin' });
  });
  after(() => server.stop());

  test('seq: repeated and stale updates are dropped, gaps reported (explained when conflated)', T, async (t) => {
    let held = null;
    const edit = (text) => {
      const m = JSON.parse(text);
      if (m.type !== 'telemetry_update') return [text];
      switch (m.seq) {
        case 2: return [text, text];       // repeated
        case 4: return [];                 // lost
        case 6: held = text; return [];    // late ...
        case 7: return [text, held];       // ... arriving after 7
        case 8: return [];                 // lost, but 9 says it was merged into it
        case 9: return [JSON.stringify({ ...m, conflated: 2 })];
        default: return [text];
      }
    };
    const c = new ValtronicsWebSocket(`${server.url}/ws`, admin, { WebSocket: tampering(edit) });
    t.after(() => c.disconnect());
    await c.connect();
    await c.subscribe('telemetry', { device_id: 51 });
    const delivered = [];
    c.onTelemetryUpdate = (m) => delivered.push(m.seq);
    const log = record(c, ['duplicate', 'gap']);
    const last = next(c, 'telemetry_update', { filter: (m) => m.seq === 9 });
    for (let i = 1; i <= 9; i++) await ingest(server, admin, 51, { temperature: { value: i } });
    await last;

    assert.deepEqual(delivered, [1, 2, 3, 5, 7, 9]);
    assert.deepEqual(log.duplicate.map((d) => [d.reason, d.seq, d.lastSeq]), [['seq', 2, 2], ['seq', 6, 7]]);
    assert.deepEqual(log.gap.map((g) => [g.channel, g.expected, g.received, g.missed, g.conflated, g.explained]), [
      ['telemetry', 4, 5, 1, 0, false],
      ['telemetry', 6, 7, 1, 0, false],
      ['telemetry', 8, 9, 1, 2, true],
    ]);
  });

  test('alerts: an alert is delivered once per status, never going back', T, async (t) => {
    // Without seq (stripped here) only the alert check stands between the user and a repeat.
    let firstActive = null;
    const edit = (text) => {
      const m = JSON.parse(text);
      if (m.type !== 'alert') return [text];
      delete m.seq;
      const plain = JSON.stringify(m);
      if (m.status === 'active') {
        firstActive = plain;
        return [plain, plain];
      }
      return [plain, firstActive]; // the acknowledged state, then the stale active one again
    };
    const c = new ValtronicsWebSocket(`${server.url}/ws`, admin, { WebSocket: tampering(edit) });
    t.after(() => c.disconnect());
    await c.connect();
    await c.subscribe('alerts', { device_id: 52 });
    await createRule(server, admin, { name: 'Leak', device_id: 52, metric: 'pressure', condition: 'lt', threshold: 1, severity: 'warning' });
    const alerts = [];
    c.onAlert = (a) => alerts.push([a.alert_id, a.status]);
    const dups = record(c, ['duplicate']).duplicate;

    const active = next(c, 'alert', { filter: (a) => a.status === 'active' });
    await ingest(server, admin, 52, { pressure: { value: 0.5 } });
    const a = await active;
    const acked = next(c, 'alert', { filter: (x) => x.status === 'acknowledged' });
    const r = await request(server, 'POST', `/api/v1/alerts/${a.alert_id}/acknowledge`, { token: admin, body: {} });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    await acked;
    // The stale 'active' copy follows 'acknowledged' in the same event: a ping is the barrier.
    await c.ping();

    assert.deepEqual(alerts, [[a.alert_id, 'active'], [a.alert_id, 'acknowledged']]);
    assert.deepEqual(dups.map((d) => [d.reason, d.alertId, d.status]),
      [['alert', a.alert_id, 'active'], ['alert', a.alert_id, 'active']]);
  });
});
