// The dashboard under load (issue 14; docs/dashboard.md, "CPU"): 200 devices reporting every
// second (`valtronics simulate`), the page open on all of them. The tab must stay below one core:
// measured as the renderer's main-thread busy time (CDP Performance.getMetrics TaskDuration)
// and as the CPU time of every renderer process of the browser (/proc), each over wall time.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';

import { BIN, launchBrowser, missing, newPage, request, screenshot, startServer, token } from './helpers.mjs';

const DEVICES = 200;
const MEASURE_MS = 10_000;
const TICKS = 100; // clock ticks per second of /proc/<pid>/stat (USER_HZ, 100 on Linux)

/** Every descendant of `root`: [{ pid, cmdline }]. */
function descendants(root) {
  const children = new Map();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (!children.has(ppid)) children.set(ppid, []);
      children.get(ppid).push(Number(d));
    } catch { /* gone */ }
  }
  const out = [];
  const walk = (pid) => {
    for (const c of children.get(pid) ?? []) {
      let cmdline = '';
      try { cmdline = readFileSync(`/proc/${c}/cmdline`, 'utf8').replaceAll('\0', ' '); } catch {}
      out.push({ pid: c, cmdline });
      walk(c);
    }
  };
  walk(root);
  return out;
}

/** utime + stime of `pids`, in seconds (a process that ended counts 0). */
function cpuSeconds(pids) {
  let ticks = 0;
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(f[11]) + Number(f[12]); // fields 14 and 15 of stat
    } catch { /* gone */ }
  }
  return ticks / TICKS;
}

test(`${DEVICES} devices at 1 Hz: the tab stays below one core`, { skip: missing() ?? false, timeout: 120_000 }, async (t) => {
  const server = await startServer({});
  t.after(() => server.stop());
  const admin = token({ sub: 'load-admin', role: 'admin', devices: '*' });
  const sim = spawn(BIN, ['simulate', '--url', server.http, '--token', admin, '--devices', String(DEVICES),
    '--interval', '1s', '--seed', '7', '-q'], { stdio: 'ignore' });
  t.after(() => { if (sim.exitCode === null) sim.kill('SIGTERM'); });
  // Every device registered (the first batch) before the page opens.
  for (let i = 0; ; i++) {
    const r = await request(server, 'GET', '/api/v1/devices?size=1', { token: admin });
    if (r.body?.pagination?.total >= DEVICES) break;
    assert.ok(i < 100, `the simulator registered ${r.body?.pagination?.total} devices`);
    await sleep(100);
  }

  const browser = await launchBrowser();
  t.after(() => browser.close());
  const { page, problems } = await newPage(browser);
  await page.goto(`${server.http}/#token=${encodeURIComponent(admin)}`);
  await page.waitForFunction((n) => document.querySelectorAll('.card .metric .value').length >= n
    && document.getElementById('badge').dataset.state === 'live', DEVICES, { timeout: 30_000 });
  await sleep(3000); // past the snapshot and the first charts

  const renderers = descendants(process.pid).filter((p) => p.cmdline.includes('--type=renderer')).map((p) => p.pid);
  assert.ok(renderers.length >= 1, 'found the renderer process');
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Performance.enable');
  const taskDuration = async () => (await cdp.send('Performance.getMetrics')).metrics.find((m) => m.name === 'TaskDuration').value;
  const sent = async () => (await request(server, 'GET', '/api/v1/ws/stats', { token: admin })).body.data.messagesSent;

  const t0 = performance.now();
  const task0 = await taskDuration();
  const cpu0 = cpuSeconds(renderers);
  const sent0 = await sent();
  await sleep(MEASURE_MS);
  const wall = (performance.now() - t0) / 1000;
  const task = (await taskDuration()) - task0;
  const cpu = cpuSeconds(renderers) - cpu0;
  const rate = ((await sent()) - sent0) / wall;

  const figures = {
    devices: DEVICES, seconds: Number(wall.toFixed(1)), updatesPerSecond: Math.round(rate),
    mainThreadCores: Number((task / wall).toFixed(3)), rendererCores: Number((cpu / wall).toFixed(3)),
  };
  console.log(`dashboard load: ${JSON.stringify(figures)}`);
  await screenshot(page, 'dashboard-200-devices');

  // The load was there: the page received about one update per device per second.
  assert.ok(rate >= DEVICES * 0.75, `only ${rate.toFixed(0)} updates/s reached the page`);
  assert.ok(figures.mainThreadCores < 1, `main thread busy ${figures.mainThreadCores} of a core`);
  assert.ok(figures.rendererCores < 1, `renderer processes used ${figures.rendererCores} cores`);
  // Values still move: a card's reading changes during the run.
  const before = await page.textContent(`.card[data-device-id="${DEVICES}"] .metric .value`);
  await page.waitForFunction(({ id, v }) => document.querySelector(`.card[data-device-id="${id}"] .metric .value`).textContent !== v,
    { id: DEVICES, v: before }, { timeout: 10_000 });
  assert.deepEqual(problems, []);
});
