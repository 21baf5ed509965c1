// Pipelined HTTP/1.1 ingest (issue 11, docs/protocol.md "Pipelined ingest") driven by undici's
// Client with `pipelining` (a real HTTP client nobody here wrote, the one behind Node's fetch):
// single-reading requests kept in flight on one connection are all accepted and answered in
// order, a GET behind them sees them, and a subscriber gets every reading in the order it was
// sent.
//
//   VALTRONICS_BIN=build/valtronics node --test tests/integration/http_pipelining.test.mjs

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Client as HttpClient } from 'undici';

import { connectAuthed, startServer, subscribe, token } from './server.mjs';

const T = { timeout: 60_000 };

describe('pipelined ingest through undici', { timeout: 120_000 }, () => {
  let server;
  let admin;

  before(async () => {
    server = await startServer({ config: { '': { threads: 1 } } });
    admin = token({ sub: 'alice', role: 'admin' });
  });
  after(async () => { if (server) await server.stop(); });

  test('300 one-reading requests, 32 in flight on one connection: all accepted in order', T, async () => {
    const ws = await connectAuthed(server, admin);
    const reply = await subscribe(ws, 'telemetry', { device_id: 41 });
    assert.equal(reply.type, 'subscribed');

    const http = new HttpClient(server.http, { pipelining: 32 });
    const n = 300;
    // All issued at once: undici keeps 32 in flight on its one connection and matches the
    // answers to the requests in order (a reordered answer would fail its parsing).
    const answers = await Promise.all(Array.from({ length: n }, async (_, i) => {
      const res = await http.request({
        method: 'POST',
        path: '/api/v1/telemetry',
        headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
        body: JSON.stringify({ device_id: 41, telemetry: { level: { value: i } } }),
      });
      const body = await res.body.json();
      return { status: res.statusCode, id: res.headers['x-request-id'], body };
    }));
    await http.close();

    for (const [i, a] of answers.entries()) {
      assert.equal(a.status, 202, `request ${i}: ${JSON.stringify(a.body)}`);
      assert.deepEqual(a.body.data, { accepted: 1 });
    }
    // One connection, request ids conn.1 .. conn.n in the order the requests were sent.
    const conn = answers[0].id.split('.')[0];
    assert.deepEqual(answers.map((a) => a.id), answers.map((_, i) => `${conn}.${i + 1}`));

    // Every reading reaches the subscriber, in the order sent, seq without a gap.
    const values = [];
    let seq = null;
    while (values.length < n) {
      const msg = await ws.waitFor('telemetry_update', 20_000);
      values.push(msg.telemetry.level.value);
      if (seq !== null) assert.equal(msg.seq, seq + 1);
      seq = msg.seq;
    }
    assert.deepEqual(values, Array.from({ length: n }, (_, i) => i));
    ws.close();
    // How many the server read ahead depends on how undici's writes and the server's reads
    // fall; test_http_pipelining sends a burst in one write and asserts the counter.
  });

  test('a GET pipelined behind ingest sees it; errors keep their place', T, async () => {
    const http = new HttpClient(server.http, { pipelining: 8 });
    const auth = { authorization: `Bearer ${admin}`, 'content-type': 'application/json' };
    const post = (body) => http.request({ method: 'POST', path: '/api/v1/telemetry', headers: auth, body });
    const results = await Promise.all([
      post(JSON.stringify({ device_id: 42, telemetry: { level: { value: 1 } } })),
      post('{"device_id": 42, "telemetry": '),  // malformed JSON: 400 in its place
      post(JSON.stringify({ device_id: 42, telemetry: { level: { value: 2 } } })),
      // Not pipelined past the ingest: waits for it, then reads what it stored.
      http.request({ method: 'GET', path: '/api/v1/devices/42/telemetry/latest', headers: auth }),
      post(JSON.stringify({ device_id: 42, telemetry: { level: { value: 3 } } })),
    ].map(async (p) => {
      const res = await p;
      return { status: res.statusCode, body: await res.body.json() };
    }));
    await http.close();
    assert.deepEqual(results.map((r) => r.status), [202, 400, 202, 200, 202]);
    assert.equal(results[1].body.error.code, 'VALIDATION_ERROR');
    assert.match(results[1].body.error.message, /not valid JSON/);
    assert.equal(results[3].body.data.telemetry.level.value, 2, JSON.stringify(results[3].body));
  });
});
