// Shared by the dashboard's browser tests (docs/dashboard.md, "Tests"): headless Chromium
// (Debian's /usr/bin/chromium, driven by playwright-core from web/node_modules) against the real
// binary, whose `web` folder beside it holds the built dashboard (cmake/Web.cmake).

import { existsSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export { BIN, SECRET, ingest, request, startServer, token } from '../integration/server.mjs';
import { BIN } from '../integration/server.mjs';

const here = dirname(fileURLToPath(import.meta.url));
export const ROOT = join(here, '..', '..');
export const CHROMIUM = '/usr/bin/chromium';
export const SCREENSHOTS = process.env.VALTRONICS_SCREENSHOTS || join(ROOT, 'build', 'screenshots');

/** Why these tests cannot run here, or null. */
export function missing() {
  if (!existsSync(CHROMIUM)) return `${CHROMIUM} is missing (Debian package chromium, scripts/install-deps)`;
  if (!existsSync(join(dirname(BIN), 'web', 'index.html'))) {
    return `${join(dirname(BIN), 'web', 'index.html')} is missing: build the target \`web\` (make build)`;
  }
  return null;
}

export async function launchBrowser() {
  // playwright-core is a dev dependency of web/ (web/package-lock.json).
  const require = createRequire(join(ROOT, 'web', 'package.json'));
  const { chromium } = require('playwright-core');
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

/**
 * A new page of `browser` (options: viewport, colorScheme) that records console errors, page
 * errors and failed requests in `problems`; `check()` asserts there were none.
 */
export async function newPage(browser, options = {}) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, ...options });
  const page = await context.newPage();
  const problems = [];
  page.on('console', (m) => { if (m.type() === 'error') problems.push(`console: ${m.text()}`); });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()} ${r.failure()?.errorText}`));
  return { page, context, problems };
}

/** Saves a full-page screenshot as <build>/screenshots/<name>.png; returns its path. */
export async function screenshot(page, name) {
  mkdirSync(SCREENSHOTS, { recursive: true });
  const path = join(SCREENSHOTS, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

/** The text of a device card's metric value, or null. */
export function metricText(page, deviceId, metric) {
  return page.evaluate(({ deviceId, metric }) =>
    document.querySelector(`.card[data-device-id="${deviceId}"] .metric[data-metric="${metric}"] .value`)?.textContent ?? null,
  { deviceId, metric });
}
