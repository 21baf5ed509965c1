// The Node example of docs/clients/js.md runs as written, against the demo server (simulated
// devices 1-5), with a user token: it prints the connection and live telemetry, then exits.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { startServer, token } from './helpers.mjs';

const EXAMPLE = join(dirname(fileURLToPath(import.meta.url)), '..', 'examples', 'node.mjs');

test('examples/node.mjs prints live telemetry of the demo server', { timeout: 30_000 }, async (t) => {
  const secret = 'js-example-secret';
  const server = await startServer({ demo: true, secret });
  t.after(() => server.stop());
  const user = token({ sub: 'carol', role: 'user', devices: '1,2,3', secret });
  const proc = spawn(process.execPath, [EXAMPLE, `${server.url}/ws`, user, '2', '2'], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.after(() => { if (proc.exitCode === null) proc.kill('SIGKILL'); });
  let out = '';
  proc.stdout.setEncoding('utf8').on('data', (d) => { out += d; });
  proc.stderr.setEncoding('utf8').on('data', (d) => { out += d; });
  const [code] = await once(proc, 'exit');
  assert.equal(code, 0, out);
  const lines = out.trim().split('\n');
  assert.match(lines[0], /^connected as carol \(user\), token valid until \S+Z$/);
  const telemetry = lines.filter((l) => l.startsWith('telemetry '));
  assert.equal(telemetry.length, 2, out);
  assert.match(telemetry[0], /^telemetry device 2 #1: ([a-z_]+=-?[\d.]+\S* ?)+$/);
  assert.match(telemetry[1], /^telemetry device 2 #2: /);
});
