// Live telemetry and alerts in Node:
//
//   node examples/node.mjs ws://127.0.0.1:8000/ws <token> [device_id] [count]
//
// Prints every telemetry update of the device (default 1) and every alert, until `count`
// telemetry updates have arrived (default: forever; Ctrl-C stops). `make demo` in the repository
// root starts a server with simulated devices 1-5 and prints a token.

import { ValtronicsWebSocket } from '../src/index.js'; // from an installed package: '@valtronics/client'

const [url = 'ws://127.0.0.1:8000/ws', token, device = '1', count = 'Infinity'] = process.argv.slice(2);
if (!token) {
  console.error('usage: node examples/node.mjs WS_URL TOKEN [DEVICE_ID] [COUNT]');
  process.exit(2);
}

const client = new ValtronicsWebSocket(url, token);
let left = Number(count);

client.onTelemetryUpdate = (u) => {
  const readings = Object.entries(u.telemetry)
    .map(([name, r]) => `${name}=${r.value}${r.unit ?? ''}`).join(' ');
  console.log(`telemetry device ${u.device_id} #${u.seq}: ${readings}`);
  if (--left <= 0) client.disconnect();
};
client.onAlert = (a) => console.log(`alert ${a.alert_id} [${a.severity}] ${a.title}: ${a.status}`);
client.on('disconnected', (e) => console.log(`disconnected (${e.code}), reconnecting: ${e.willReconnect}`));
client.on('reconnected', () => console.log('reconnected, subscriptions restored'));
client.on('error', (err) => console.error(`error ${err.code}: ${err.message}`));
process.on('SIGINT', () => client.disconnect());

try {
  const auth = await client.connect();
  console.log(`connected as ${auth.user} (${auth.role}), token valid until ${auth.expires_at}`);
  await client.subscribe('telemetry', { device_id: Number(device) });
  await client.subscribe('alerts', { severity: ['warning', 'critical'] });
} catch (err) {
  console.error(`could not start: ${err.code}: ${err.message}`);
  process.exit(1);
}
