// The dashboard across a server restart (issue 14; docs/dashboard.md, "Reconnects"): the badge
// counts down to the next attempt while the server is away, and an alert raised while the page
// was disconnected appears once it is back (the SDK resumes alerts with since_alert_id). The
// alert is raised by another server on the same database while the page's server is down, so
// it is certainly one the page missed.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

import { ingest, launchBrowser, missing, newPage, request, screenshot, startServer, token } from './helpers.mjs';

test('reconnect: countdown badge, then the alerts missed meanwhile', { skip: missing() ?? false, timeout: 90_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'valtronics-dash-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const config = { '': { db: join(dir, 'valtronics.db') } };
  const servers = [];
  t.after(async () => { for (const s of servers) await s.stop(); });
  const first = await startServer({ demo: true, config });
  servers.push(first);
  const admin = token({ sub: 'e2e-admin', role: 'admin', devices: '*' });

  const browser = await launchBrowser();
  t.after(() => browser.close());
  const { page, problems } = await newPage(browser);
  await page.goto(`${first.http}/#token=${encodeURIComponent(admin)}`);
  await page.waitForFunction(() => document.getElementById('badge').dataset.state === 'live', null, { timeout: 15_000 });
  await page.waitForFunction(() => document.querySelectorAll('.card').length >= 5, null, { timeout: 15_000 });
  // Started through (alerts listed, subscriptions confirmed): the outage below is one the page
  // sees as a reconnect, not one in the middle of its start.
  await page.waitForSelector('#app[data-ready="true"]', { state: 'attached', timeout: 15_000 });

  // The server goes away: the badge counts down to the next attempt (the backoff grows while
  // nothing answers, so a countdown of a second or more comes within a few attempts).
  const outageFrom = problems.length;
  await first.stop();
  await page.waitForFunction(() => /^Reconnecting in \d+ s$/.test(document.getElementById('badge').textContent), null, { timeout: 20_000 });
  assert.equal(await page.getAttribute('#badge', 'data-state'), 'reconnecting');
  await screenshot(page, 'dashboard-reconnecting');

  // Meanwhile another server on the same database raises an alert.
  const other = await startServer({ config });
  servers.push(other);
  const name = `Raised while away ${Date.now()}`;
  const rule = await request(other, 'POST', '/api/v1/alert-rules', { token: admin, body: {
    name, device_id: 2, metric: 'humidity', condition: 'gt', threshold: -1000, severity: 'critical', cooldown: '1h' } });
  assert.equal(rule.status, 201, JSON.stringify(rule.body));
  await ingest(other, admin, 2, { humidity: { value: 55, unit: '%' } });
  for (let i = 0; ; i++) {
    const r = await request(other, 'GET', '/api/v1/alerts?device_id=2&status=active', { token: admin });
    if (r.body.data.some((a) => a.title === name)) break;
    assert.ok(i < 50, 'the alert was not stored');
    await new Promise((r) => setTimeout(r, 100));
  }
  await other.stop();
  assert.equal(await page.locator('.alert', { hasText: name }).count(), 0, 'not seen before the reconnect');

  // The page's server comes back where it was: the page reconnects, resumes alerts, and shows
  // the missed one, unread.
  const again = await startServer({ demo: true, config, port: first.port });
  servers.push(again);
  await page.waitForFunction(() => document.getElementById('badge').dataset.state === 'live', null, { timeout: 40_000 });
  const item = page.locator('.alert', { hasText: name }).first();
  await item.waitFor({ timeout: 10_000 });
  assert.equal(await item.getAttribute('data-unread'), 'true');
  assert.equal(await item.getAttribute('data-severity'), 'critical');
  await page.waitForSelector('#message[data-kind="info"]:not([hidden])', { timeout: 5000 });
  assert.match(await page.textContent('#message'), /Reconnected/);
  // Live values flow again.
  const v = await page.textContent('.card[data-device-id="1"] .metric .value');
  await page.waitForFunction((v) => document.querySelector('.card[data-device-id="1"] .metric .value').textContent !== v, v, { timeout: 10_000 });
  await screenshot(page, 'dashboard-reconnected');

  // The only errors: the browser's own reports of the attempts and polls that found no server
  // during the outage.
  const unexpected = problems.slice(outageFrom).filter((p) => !/ERR_CONNECTION_REFUSED|ERR_CONNECTION_RESET|ERR_EMPTY_RESPONSE|ERR_ABORTED/.test(p));
  assert.deepEqual([...problems.slice(0, outageFrom), ...unexpected], []);
});
