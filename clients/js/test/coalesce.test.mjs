// Coalesced frames (issue 15, docs/protocol.md "Coalesced frames") through the SDK, against the
// real binary: the SDK asks for them by default, a burst of updates then arrives in fewer frames
// than messages, and every message still reaches the application on its own, in seq order, with
// no gap or duplicate; with `coalesce: false` every frame holds one message.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import WS from 'ws';

import { ValtronicsWebSocket } from '../src/index.js';
import { T, launch, record, request, token } from './helpers.mjs';

/** The `ws` class, counting the frames its sockets receive. */
function countingWebSocket() {
  const counter = { frames: 0, arrays: 0 };
  class Counting extends WS {
    constructor(...args) {
      super(...args);
      this.on('message', (data) => {
        counter.frames += 1;
        if (String(data).startsWith('[')) counter.arrays += 1;
      });
    }
  }
  return { Counting, counter };
}

async function burst(server, tok, devices) {
  // One request, many devices: the server publishes the updates in one turn.
  const items = [];
  for (let d = 1; d <= devices; d += 1) items.push({ device_id: d, metric_name: 'level', metric_value: d });
  const r = await request(server, 'POST', '/api/v1/telemetry/batch', { body: { telemetry_data: items }, token: tok });
  assert.equal(r.status, 202, JSON.stringify(r.body));
}

async function receiveBurst({ coalesce }) {
  const server = await launch();
  try {
    const admin = token({ sub: 'cora', role: 'admin' });
    const { Counting, counter } = countingWebSocket();
    const c = new ValtronicsWebSocket(`${server.url}/ws`, admin, { WebSocket: Counting, coalesce });
    const hellos = [];
    c.on('hello', (m) => hellos.push(m));
    try {
      await c.connect();
      const log = record(c, ['gap', 'duplicate']);
      await c.subscribe('telemetry');
      const got = [];
      const all = new Promise((resolve) => {
        c.on('telemetry_update', (u) => {
          got.push(u);
          if (got.length === 300) resolve();
        });
      });
      const framesBefore = counter.frames;
      await burst(server, admin, 300);
      await Promise.race([all, new Promise((_, reject) => setTimeout(() => reject(new Error(`${got.length} of 300 updates`)), 10_000))]);
      assert.deepEqual(got.map((u) => u.device_id), Array.from({ length: 300 }, (_, i) => i + 1));
      assert.deepEqual(got.map((u) => u.seq), Array.from({ length: 300 }, (_, i) => i + 1));
      assert.deepEqual(log, { gap: [], duplicate: [] }, 'no gap, no duplicate');
      return { frames: counter.frames - framesBefore, arrays: counter.arrays, hellos };
    } finally {
      c.disconnect();
    }
  } finally {
    await server.stop();
  }
}

test('coalesce (default): a burst comes in fewer frames, every message delivered alone and in order', T, async () => {
  const { frames, arrays, hellos } = await receiveBurst({ coalesce: true });
  assert.equal(hellos.length, 1);
  assert.deepEqual(hellos[0].features, ['coalesce']);
  assert.ok(arrays > 0, 'at least one array frame');
  assert.ok(frames < 300, `300 updates in ${frames} frames`);
  console.log(`coalesced: 300 updates in ${frames} frames`);
});

test('coalesce: false asks for nothing: one frame per message', T, async () => {
  const { frames, arrays, hellos } = await receiveBurst({ coalesce: false });
  assert.deepEqual(hellos, []);
  assert.equal(arrays, 0);
  assert.equal(frames, 300);
});
