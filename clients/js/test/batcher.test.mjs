// MessageBatcher: batches of at most 50 messages and 50 KB per frame (the server's limits),
// every message still answered; the spec-style use on a plain socket; and the server's own
// refusal of a 51-message batch, which is why the batcher never builds one.

import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, before, describe, test } from 'node:test';
import WS from 'ws';

import { MAX_BATCH, MAX_BATCH_BYTES, MessageBatcher, ValtronicsWebSocket, utf8Length } from '../src/index.js';
import { T, next, record, startServer, token } from './helpers.mjs';

describe('MessageBatcher', { timeout: 40_000 }, () => {
  let server;
  let admin;
  before(async () => {
    server = await startServer();
    admin = token({ sub: 'bea', role: 'admin' });
  });
  after(() => server.stop());

  test('batchSize must be 1..50 (the server refuses larger batches whole)', () => {
    const target = { send() {} };
    assert.equal(MAX_BATCH, 50);
    for (const bad of [0, 51, 100, 1.5, -1]) assert.throws(() => new MessageBatcher(target, bad), RangeError, String(bad));
    assert.equal(new MessageBatcher(target, 50).batchSize, 50);
    assert.equal(new MessageBatcher(target).batchSize, 10, 'the spec default');
    assert.throws(() => new MessageBatcher(target).send({ type: 'batch', messages: [] }), TypeError);
  });

  test('120 requests go out as 50 + 50 + 20 and every reply comes back', T, async (t) => {
    const c = new ValtronicsWebSocket(`${server.url}/ws`, admin);
    t.after(() => c.disconnect());
    await c.connect();
    const sent = record(c, ['sent']).sent;
    const errors = record(c, ['error']).error;
    const batcher = new MessageBatcher(c, 50, 30);
    const replies = [];
    for (let i = 0; i < 120; i++) replies.push(batcher.send({ type: 'ping', timestamp: `t${i}` }));
    assert.equal(batcher.size, 20, 'two full batches went at once; 20 wait for the timer');
    const pongs = await Promise.all(replies);
    assert.deepEqual(pongs.map((p) => p.timestamp), Array.from({ length: 120 }, (_, i) => `t${i}`));
    assert.deepEqual(sent.map((m) => [m.type, m.messages?.length]), [['batch', 50], ['batch', 50], ['batch', 20]]);
    assert.deepEqual(batcher.stats, { messages: 120, batches: 3 });
    // 120 single frames would have exceeded the 100 messages per second; 3 batches do not.
    assert.deepEqual(errors, []);
  });

  test('frames stay within 50 KB: large messages split a batch before 50', T, async (t) => {
    const c = new ValtronicsWebSocket(`${server.url}/ws`, admin);
    t.after(() => c.disconnect());
    await c.connect();
    const frames = [];
    const realSend = WS.prototype.send;
    // Measure what really goes on the wire.
    t.mock.method(WS.prototype, 'send', function send(data, ...rest) {
      frames.push(typeof data === 'string' ? data : String(data));
      return realSend.call(this, data, ...rest);
    });
    const batcher = new MessageBatcher(c, 50, 30);
    const pad = 'x'.repeat(1000); // each message ~1040 bytes: 50 of them would be over 51200
    const replies = [];
    for (let i = 0; i < 60; i++) replies.push(batcher.send({ type: 'ping', timestamp: `${i}:${pad}` }));
    batcher.flush();
    const pongs = await Promise.all(replies);
    assert.equal(pongs.length, 60);
    const batches = frames.map((f) => JSON.parse(f)).filter((m) => m.type === 'batch');
    const sizes = batches.map((b) => b.messages.length);
    assert.equal(sizes.reduce((a, b) => a + b, 0), 60);
    assert.ok(sizes[0] < 50, `first batch: ${sizes[0]} messages`);
    for (const f of frames) assert.ok(utf8Length(f) <= MAX_BATCH_BYTES, `a frame of ${utf8Length(f)} bytes`);
    assert.equal(c.state, 'open', 'no 1009 close');
    // A message that cannot fit even alone is refused, not sent.
    await assert.rejects(batcher.send({ type: 'ping', timestamp: 'y'.repeat(MAX_BATCH_BYTES) }), { code: 'message_too_large' });
  });

  test('while connecting, batched requests wait and go out after auth', T, async (t) => {
    const c = new ValtronicsWebSocket(`${server.url}/ws`, admin);
    t.after(() => c.disconnect());
    const batcher = new MessageBatcher(c, 5, 10);
    const replies = [];
    for (let i = 0; i < 7; i++) replies.push(batcher.send({ type: 'ping', timestamp: `q${i}` }));
    const sub = batcher.send({ type: 'subscribe', channel: 'alerts' });
    await c.connect();
    assert.equal((await Promise.all(replies)).length, 7);
    assert.equal((await sub).type, 'subscribed');
    assert.deepEqual(c.subscriptions.map((s) => s.channel), ['alerts'], 'a batched subscribe is in the registry');
  });

  test('spec style: a batcher over a plain WebSocket', T, async (t) => {
    const ws = new WS(`${server.url}/ws`);
    t.after(() => ws.close());
    await once(ws, 'open');
    const replies = [];
    ws.on('message', (d) => replies.push(JSON.parse(d.toString())));
    ws.send(JSON.stringify({ type: 'auth', token: admin }));
    const batcher = new MessageBatcher(ws, 50, 10);
    for (let i = 0; i < 60; i++) assert.equal(batcher.send({ type: 'ping', id: i }), undefined);
    while (replies.filter((r) => r.type === 'pong').length < 60) await once(ws, 'message');
    assert.equal(replies[0].type, 'auth_response');
    assert.deepEqual(replies.filter((r) => r.type === 'pong').map((r) => r.id), Array.from({ length: 60 }, (_, i) => i));
  });

  test('the server refuses a 51-message batch whole (the limit the batcher keeps)', T, async (t) => {
    const c = new ValtronicsWebSocket(`${server.url}/ws`, admin);
    t.after(() => c.disconnect());
    await c.connect();
    const refused = next(c, 'error');
    const pongs = record(c, ['pong']).pong;
    c.send({ type: 'batch', messages: Array.from({ length: 51 }, (_, i) => ({ type: 'ping', id: `b${i}` })) });
    assert.equal((await refused).code, 'batch_too_large');
    await c.ping();
    assert.equal(pongs.length, 1, 'none of the 51 was executed');
  });
});
