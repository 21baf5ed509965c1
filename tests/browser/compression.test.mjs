// permessage-deflate with a browser (issue 15; docs/protocol.md, "Compression"): headless
// Chromium opens a WebSocket to the real server running the demo simulator, as any page would;
// the handshake agrees permessage-deflate (Chromium offers it by itself), and the compressed
// updates and the page's own compressed messages decode on both sides. The same with the
// server's permessage_deflate off: no extension, the same messages.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { launchBrowser, missing, newPage, screenshot, startServer, token } from './helpers.mjs';

const skip = missing();
const T = { timeout: 60_000 };

/** In the page: connect, authenticate, subscribe, collect `n` telemetry updates. */
async function collect(page, url, tok, n) {
  return page.evaluate(async ({ url, tok, n }) => {
    const ws = new WebSocket(url);
    const updates = [];
    const replies = [];
    await new Promise((resolve, reject) => {
      ws.onerror = () => reject(new Error('websocket error'));
      ws.onopen = () => {
        ws.send(JSON.stringify({ type: 'auth', token: tok }));
        // Long enough for Chromium to compress it (it compresses every message it can).
        ws.send(JSON.stringify({ type: 'subscribe', channel: 'telemetry', id: 'x'.repeat(200) }));
      };
      ws.onmessage = (e) => {
        const m = JSON.parse(e.data);
        if (m.type === 'telemetry_update') updates.push(m);
        else replies.push(m);
        if (updates.length >= n) resolve();
      };
    });
    ws.close();
    // Shown in the test's screenshot: what was agreed, and the updates as the page decoded them.
    const pre = document.createElement('pre');
    pre.textContent = `Sec-WebSocket-Extensions: ${ws.extensions || '(none)'}\n\n` +
      updates.map((u) => JSON.stringify(u)).join('\n');
    document.body.replaceChildren(pre);
    return { extensions: ws.extensions, updates, replies };
  }, { url, tok, n });
}

describe('permessage-deflate in Chromium', { skip: skip ?? false }, () => {
  let on, off, browser;

  before(async () => {
    on = await startServer({ demo: true });
    off = await startServer({ demo: true, config: { server: { permessage_deflate: false } } });
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await on?.stop();
    await off?.stop();
  });

  test('negotiated by default: compressed updates and requests decode', T, async () => {
    const p = await newPage(browser);
    await p.page.goto(`${on.http}/`);
    const got = await collect(p.page, `${on.url}/ws`, token({ sub: 'b', role: 'admin' }), 5);
    assert.match(got.extensions, /^permessage-deflate/);
    assert.match(got.extensions, /server_no_context_takeover/);
    assert.match(got.extensions, /client_no_context_takeover/);
    assert.equal(got.replies.find((m) => m.type === 'subscribed')?.id, 'x'.repeat(200));
    for (const u of got.updates) {
      assert.equal(typeof u.device_id, 'number');
      assert.equal(typeof u.seq, 'number');
      assert.ok(Object.keys(u.telemetry).length > 0);
    }
    const seqs = got.updates.map((u) => u.seq);
    assert.deepEqual(seqs, seqs.map((_, i) => seqs[0] + i), 'seq suffixes decode in order');
    await screenshot(p.page, 'compression-on');
    await p.context.close();
  });

  test('server.permessage_deflate = false: no extension, the same protocol', T, async () => {
    const p = await newPage(browser);
    await p.page.goto(`${off.http}/`);
    const got = await collect(p.page, `${off.url}/ws`, token({ sub: 'b', role: 'admin' }), 3);
    assert.equal(got.extensions, '');
    assert.equal(got.updates.length, 3);
    await screenshot(p.page, 'compression-off');
    await p.context.close();
  });
});
