// The dashboard end to end (issue 14; docs/dashboard.md): headless Chromium opens / of the real
// server running the demo simulator (devices 1-5 reporting every second) and checks what a
// person watching would see. Every test saves a screenshot under <build>/screenshots/ and fails
// on any console error, page error or failed request.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { ingest, launchBrowser, metricText, missing, newPage, request, screenshot, startServer, token } from './helpers.mjs';

const skip = missing();
const T = { timeout: 60_000 };

describe('dashboard', { skip: skip ?? false }, () => {
  let server, browser, admin;

  before(async () => {
    // offline_after 2 s: a device silent for 2 s goes offline (the demo's devices report every
    // second and stay online).
    server = await startServer({ demo: true, config: { devices: { offline_after: '2s' } } });
    admin = token({ sub: 'e2e-admin', role: 'admin', devices: '*' });
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  /** Opens /#token=TOKEN and waits for the live badge and the demo's five cards. */
  async function open(tok = admin, options) {
    const p = await newPage(browser, options);
    await p.page.goto(`${server.http}/#token=${encodeURIComponent(tok)}`);
    await p.page.waitForFunction(() => document.getElementById('badge').dataset.state === 'live', null, { timeout: 15_000 });
    await p.page.waitForFunction(() => document.querySelectorAll('.card').length >= 5, null, { timeout: 15_000 });
    return p;
  }

  test('/ serves the built page with its headers; assets are cached, index.html is not', T, async () => {
    const res = await fetch(`${server.http}/`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type'), /^text\/html/);
    assert.equal(res.headers.get('cache-control'), 'no-cache');
    assert.match(res.headers.get('content-security-policy'), /default-src 'self'/);
    assert.match(res.headers.get('content-security-policy'), /connect-src 'self' ws: wss:/);
    const html = await res.text();
    const js = /src="(assets\/main-[A-Za-z0-9]+\.js)"/.exec(html)?.[1];
    assert.ok(js, html);
    const asset = await fetch(`${server.http}/${js}`);
    assert.equal(asset.status, 200);
    assert.match(asset.headers.get('content-type'), /^text\/javascript/);
    assert.match(asset.headers.get('cache-control'), /max-age=31536000/);
    const assetBytes = (await asset.arrayBuffer()).byteLength;
    assert.ok(assetBytes > 10_000);
    const head = await fetch(`${server.http}/${js}`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(Number(head.headers.get('content-length')), assetBytes);
    assert.equal((await head.arrayBuffer()).byteLength, 0);
    // Nothing outside the loaded files: unknown names and escapes are 404.
    // (fetch itself resolves a literal "/assets/../", so the escapes are percent-encoded.)
    for (const path of ['/assets/nope.js', '/assets/..%2f..%2fvaltronics.db', '/assets/%2e%2e%2findex.html', '/index.htm']) {
      assert.equal((await fetch(`${server.http}${path}`)).status, 404, path);
    }
    // The same page in the browser, without a token: the login field, and nothing broken.
    const p = await newPage(browser);
    await p.page.goto(`${server.http}/`);
    await p.page.waitForLoadState('networkidle');
    await screenshot(p.page, 'dashboard-served');
    assert.deepEqual(p.problems, []);
    await p.context.close();
  });

  test('#token=: telemetry values change and a chart starts from history', T, async () => {
    // History of device 1's temperature over the last 14 minutes, stored before the page opens.
    const now = Date.now();
    const readings = [];
    for (let i = 28; i >= 4; i--) {
      readings.push({ device_id: 1, metric_name: 'temperature', metric_value: 20 + (i % 5), unit: '°C',
        timestamp: new Date(now - i * 30_000).toISOString() });
    }
    const seeded = await request(server, 'POST', '/api/v1/telemetry/batch?sync=true', { token: admin, body: readings });
    assert.equal(seeded.status, 200, JSON.stringify(seeded.body));

    const { page, context, problems } = await open();
    // The token left the address bar (it stays in this tab's session storage).
    assert.equal(new URL(page.url()).hash, '');
    assert.equal(await page.textContent('#badge'), 'Live');

    // Device 1's card: its temperature changes as the simulator reports.
    await page.waitForFunction(() => document.querySelector('.card[data-device-id="1"] .metric[data-metric="temperature"] .value')?.textContent, null, { timeout: 10_000 });
    const first = await metricText(page, 1, 'temperature');
    await page.waitForFunction((v) => document.querySelector('.card[data-device-id="1"] .metric[data-metric="temperature"] .value').textContent !== v,
      first, { timeout: 15_000 });
    assert.equal(await page.getAttribute('.card[data-device-id="1"]', 'data-status'), 'online');
    assert.match(await page.textContent('.card[data-device-id="1"] .seen'), /seen \d+ s ago/);

    // The chart of device 1's temperature: history first, then live points after it.
    const chart = '#charts .chart[data-metric="temperature"]';
    await page.waitForSelector(`${chart}[data-live-points]:not([data-live-points="0"])`, { timeout: 15_000 });
    const attrs = await page.$eval(chart, (e) => ({ ...e.dataset }));
    assert.equal(attrs.state, 'ready', `history not loaded: ${JSON.stringify(attrs)}`);
    assert.ok(Number(attrs.historyPoints) >= 5, JSON.stringify(attrs));
    assert.ok(Date.parse(attrs.firstTs) < Date.parse(attrs.firstLiveTs), JSON.stringify(attrs));
    assert.ok(Date.parse(attrs.firstTs) <= now - 10 * 60_000, JSON.stringify(attrs));
    assert.ok(await page.$(`${chart} canvas`), 'uPlot drew a canvas');
    // Another window: the chart starts again from history over 24 h (15-minute buckets).
    await page.$eval(chart, (e) => { e.dataset.old = 'yes'; });
    await page.selectOption('#chart-window', '24h');
    await page.waitForFunction(() => {
      const e = document.querySelector('#charts .chart[data-metric="temperature"]');
      return e && !e.dataset.old && e.dataset.state === 'ready';
    }, null, { timeout: 10_000 });
    const day = await page.$eval(chart, (e) => ({ ...e.dataset }));
    assert.ok(Number(day.historyPoints) >= 1 && Number(day.historyPoints) <= 97, JSON.stringify(day));
    assert.ok(Date.parse(day.firstTs) <= now - 10 * 60_000, JSON.stringify(day));

    // The system sparklines fill (the server samples every second; the page asks for 2 s).
    await page.waitForFunction(() => Number(document.querySelector('.spark[data-metric="cpu_usage"]').dataset.samples) >= 2, null, { timeout: 10_000 });
    await page.waitForFunction(() => Number(document.querySelector('.spark[data-metric="messages_per_second"]').dataset.samples) >= 1, null, { timeout: 10_000 });

    // Filters: by status, type and name.
    await page.fill('#filter-search', 'humidity');
    await page.waitForFunction(() => [...document.querySelectorAll('.card')].filter((c) => !c.hidden).length === 1);
    assert.equal(await page.getAttribute('.card:not([hidden])', 'data-device-id'), '2');
    await page.fill('#filter-search', '');
    await page.selectOption('#filter-type', 'monitor');
    await page.waitForFunction(() => [...document.querySelectorAll('.card')].filter((c) => !c.hidden).map((c) => c.dataset.deviceId).join() === '4');
    await page.selectOption('#filter-type', '');
    await page.selectOption('#filter-status', 'maintenance');
    await page.waitForFunction(() => !document.getElementById('device-empty').hidden);
    await page.selectOption('#filter-status', '');
    await screenshot(page, 'dashboard-telemetry');
    assert.deepEqual(problems, []);
    await context.close();
  });

  test('an alert appears when a rule fires; acknowledge and resolve change its state', T, async () => {
    const { page, context, problems } = await open();
    const name = `E2E humidity rule ${Date.now()}`;
    const rule = await request(server, 'POST', '/api/v1/alert-rules', { token: admin, body: {
      name, device_id: 2, metric: 'humidity', condition: 'gt', threshold: -1000, severity: 'warning', cooldown: '1h' } });
    assert.equal(rule.status, 201, JSON.stringify(rule.body));

    // The demo's next humidity reading fires it: the alert arrives on the channel, unread.
    const item = page.locator('.alert', { hasText: name }).first();
    await item.waitFor({ timeout: 15_000 });
    assert.equal(await item.getAttribute('data-status'), 'active');
    assert.equal(await item.getAttribute('data-severity'), 'warning');
    assert.equal(await item.getAttribute('data-unread'), 'true');
    assert.ok(Number(await page.textContent('#alerts-unread')) >= 1);
    const alertId = Number(await item.getAttribute('data-alert-id'));

    await item.getByRole('button', { name: /^Acknowledge/ }).click();
    await page.waitForFunction((id) => document.querySelector(`.alert[data-alert-id="${id}"]`).dataset.status === 'acknowledged', alertId, { timeout: 10_000 });
    const stored = await request(server, 'GET', `/api/v1/alerts/${alertId}`, { token: admin });
    assert.equal(stored.body.data.status, 'acknowledged');
    assert.equal(stored.body.data.acknowledged_by, 'e2e-admin');
    assert.equal(await item.getAttribute('data-unread'), 'false');
    await screenshot(page, 'dashboard-alert-acknowledged');

    await item.getByRole('button', { name: /^Resolve/ }).click();
    await page.waitForFunction((id) => document.querySelector(`.alert[data-alert-id="${id}"]`).dataset.status === 'resolved', alertId, { timeout: 10_000 });
    // "Open" (the default status filter) hides it now; "All" shows it.
    assert.equal(await item.isHidden(), true);
    await page.selectOption('#alert-status', '');
    await item.waitFor({ state: 'visible', timeout: 5000 }); // at the next frame
    await request(server, 'DELETE', `/api/v1/alert-rules/${rule.body.data.id}`, { token: admin });
    assert.deepEqual(problems, []);
    await context.close();
  });

  test('a device goes offline and comes back', T, async () => {
    const { page, context, problems } = await open();
    // Device 42 is not simulated: it reports when the test says so.
    await ingest(server, admin, 42, { level: { value: 3.5, unit: 'm' } });
    const card = '.card[data-device-id="42"]';
    await page.waitForSelector(`${card}[data-status="online"]`, { timeout: 10_000 });
    assert.equal(await metricText(page, 42, 'level'), '3.5');
    // Silent for devices.offline_after (2 s here): offline, as it happens.
    await page.waitForSelector(`${card}[data-status="offline"]`, { timeout: 15_000 });
    assert.match(await page.textContent(`${card} .change`), /online → offline/);
    await screenshot(page, 'dashboard-device-offline');
    await ingest(server, admin, 42, { level: { value: 3.75, unit: 'm' } });
    await page.waitForSelector(`${card}[data-status="online"]`, { timeout: 10_000 });
    assert.match(await page.textContent(`${card} .change`), /offline → online/);
    assert.equal(await metricText(page, 42, 'level'), '3.75');
    await screenshot(page, 'dashboard-device-back');
    assert.deepEqual(problems, []);
    await context.close();
  });

  test('a wrong token shows a clear message, not a blank page', T, async () => {
    const wrong = token({ sub: 'intruder', role: 'admin', devices: '*', secret: 'not-the-server-secret' });
    for (const [name, tok] of [['signature', wrong], ['garbage', 'not-a-jwt']]) {
      const { page, context, problems } = await newPage(browser);
      await page.goto(`${server.http}/#token=${encodeURIComponent(tok)}`);
      await page.waitForSelector('#message:not([hidden])', { timeout: 10_000 });
      const text = await page.textContent('#message');
      assert.match(text, /The server refused this token/);
      assert.ok(await page.isVisible('#login'), 'the login form is offered');
      assert.ok(await page.isVisible('#token-input'));
      assert.equal(await page.isVisible('#app'), false);
      assert.equal(await page.getAttribute('#badge', 'data-state'), 'refused');
      await screenshot(page, `dashboard-wrong-token-${name}`);

      // The login field takes a good token.
      await page.fill('#token-input', admin);
      await page.click('#login-form button[type="submit"]');
      await page.waitForFunction(() => document.getElementById('badge').dataset.state === 'live', null, { timeout: 10_000 });
      await page.waitForSelector('#app:not([hidden])', { timeout: 10_000 });
      assert.deepEqual(problems, []);
      await context.close();
    }
  });

  test('a 390-pixel phone screen in dark mode', T, async () => {
    const { page, context, problems } = await open(admin, { viewport: { width: 390, height: 844 }, colorScheme: 'dark', isMobile: true, hasTouch: true });
    await page.waitForSelector('#charts .chart canvas', { timeout: 15_000 });
    // Nothing wider than the screen.
    const width = await page.evaluate(() => document.documentElement.scrollWidth);
    assert.ok(width <= 390, `page is ${width} px wide`);
    const bg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    assert.equal(bg, 'rgb(15, 20, 26)');
    await screenshot(page, 'dashboard-phone-dark');
    // The toggle switches to light.
    await page.click('#theme');
    assert.equal(await page.evaluate(() => getComputedStyle(document.body).backgroundColor), 'rgb(244, 246, 248)');
    await screenshot(page, 'dashboard-phone-light');
    assert.deepEqual(problems, []);
    await context.close();
  });
});
