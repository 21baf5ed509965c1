// A small Node `ws` server speaking the Valtronics protocol (docs/protocol.md), as far as the
// benchmarks need it: a peer for bench/compare, written the way a Node developer would write it.
//
//   VALTRONICS_JWT_SECRET=... node server.mjs [--port 8000]      (or PORT=8000)
//
// WebSocket at /ws: auth (HS256 JWT, first message or `Authorization: Bearer` on the handshake),
// subscribe/unsubscribe to telemetry by device_id, ping. HTTP: POST /api/v1/telemetry and
// /api/v1/telemetry/batch (Bearer token of an admin or operator, or a device token for its own
// device), GET /health.
//
// Each telemetry update is serialized once (JSON.stringify) and sent to every subscriber of its
// device with ws.send. Differences from Valtronics: `seq` is counted per device, not per
// connection (one serialization cannot carry a per-connection number); no filters beyond
// device_id, no other channel, no rate limits, no outbound limit (a client that does not read
// makes its socket buffer grow).
import http from 'node:http';
import { parseArgs } from 'node:util';
import jwt from 'jsonwebtoken';
import { WebSocketServer } from 'ws';

const { values: args } = parseArgs({ options: { port: { type: 'string' } } });
const port = Number(args.port ?? process.env.PORT ?? 8000);
const secret = process.env.VALTRONICS_JWT_SECRET;
if (!secret) {
  console.error('server.mjs: set VALTRONICS_JWT_SECRET');
  process.exit(2);
}

const LEEWAY_S = 5;
const MAX_BODY = 1 << 20;
const METRIC_NAME = /^[a-z0-9_.-]{1,64}$/;

const subscribers = new Map(); // device_id -> Set of sockets
const everyDevice = new Set(); // sockets subscribed to every device
const deviceSeq = new Map(); // device_id -> last seq

const now = () => new Date().toISOString();

// Returns { claims } or { error, message }.
function verify(token) {
  if (typeof token !== 'string' || token === '') return { error: 'missing_token', message: 'no token' };
  try {
    const claims = jwt.verify(token, secret, { algorithms: ['HS256'], clockTolerance: LEEWAY_S });
    if (typeof claims.exp !== 'number') return { error: 'invalid_token', message: 'exp is required' };
    if (typeof claims.sub !== 'string') return { error: 'invalid_token', message: 'sub is required' };
    return { claims };
  } catch (e) {
    if (e.name === 'TokenExpiredError') return { error: 'token_expired', message: 'token expired' };
    if (e.name === 'NotBeforeError') return { error: 'token_not_yet_valid', message: 'token not yet valid' };
    return { error: 'invalid_token', message: e.message };
  }
}

function mayView(claims, deviceId) {
  if (claims.role === 'admin' || claims.role === 'operator') return true;
  if (claims.role === 'device') return false;
  const d = claims.devices;
  return d === '*' || (Array.isArray(d) && d.includes(deviceId));
}

// ------------------------------------------------------------------------------- WebSocket

function reply(ws, msg, id) {
  if (id !== undefined) msg.id = id;
  ws.send(JSON.stringify(msg));
}

function authenticate(ws, token, id) {
  const { claims, error, message } = verify(token);
  if (error) {
    reply(ws, { type: 'auth_response', success: false, error, message }, id);
    ws.close(4001, error);
    return;
  }
  ws.claims = claims;
  reply(ws, {
    type: 'auth_response', success: true, message: 'Authentication successful',
    user: claims.sub, role: claims.role, expires_at: new Date(claims.exp * 1000).toISOString(),
  }, id);
}

function unsubscribeAll(ws) {
  everyDevice.delete(ws);
  for (const deviceId of ws.devices) {
    const set = subscribers.get(deviceId);
    set.delete(ws);
    if (set.size === 0) subscribers.delete(deviceId);
  }
  ws.devices.clear();
}

function subscribe(ws, msg) {
  if (msg.channel !== 'telemetry') {
    return reply(ws, { type: 'error', error: 'unknown_channel', message: 'this server serves telemetry only' }, msg.id);
  }
  const ids = msg.device_id ?? msg.filters?.device_id;
  const list = ids === undefined ? [] : [ids].flat();
  if (!list.every((d) => Number.isInteger(d) && d > 0)) {
    return reply(ws, { type: 'error', error: 'invalid_filter', message: 'device_id must be positive integers' }, msg.id);
  }
  if (ws.claims.role === 'device' || list.some((d) => !mayView(ws.claims, d))) {
    return reply(ws, { type: 'error', error: 'forbidden', message: 'the token does not cover that device' }, msg.id);
  }
  if (list.length === 0) everyDevice.add(ws);
  for (const d of list) {
    if (!subscribers.has(d)) subscribers.set(d, new Set());
    subscribers.get(d).add(ws);
    ws.devices.add(d);
  }
  reply(ws, {
    type: 'subscribed', channel: 'telemetry',
    filters: { device_id: [...new Set(list)].sort((a, b) => a - b), frequency: 'real-time' },
  }, msg.id);
}

function unsubscribe(ws, msg) {
  let removed = 0;
  if (msg.device_id === undefined) {
    removed = ws.devices.size + (everyDevice.has(ws) ? 1 : 0);
    unsubscribeAll(ws);
  } else if (ws.devices.delete(msg.device_id)) {
    const set = subscribers.get(msg.device_id);
    set.delete(ws);
    if (set.size === 0) subscribers.delete(msg.device_id);
    removed = 1;
  }
  reply(ws, { type: 'unsubscribed', channel: msg.channel, device_id: msg.device_id, removed }, msg.id);
}

function onMessage(ws, data, isBinary) {
  let msg;
  try {
    msg = isBinary ? null : JSON.parse(data);
  } catch {
    msg = null;
  }
  if (msg === null || typeof msg !== 'object' || Array.isArray(msg)) {
    return reply(ws, { type: 'error', error: 'invalid_json', message: 'expected a JSON object' });
  }
  const { type, id } = msg;
  if (type === 'ping') {
    return reply(ws, { type: 'pong', timestamp: msg.timestamp ?? null, server_time: now() }, id);
  }
  if (type === 'auth') return authenticate(ws, msg.token, id);
  if (!ws.claims) {
    return reply(ws, { type: 'error', error: 'not_authenticated', message: 'authenticate first' }, id);
  }
  if (type === 'subscribe') return subscribe(ws, msg);
  if (type === 'unsubscribe') return unsubscribe(ws, msg);
  reply(ws, { type: 'error', error: 'unknown_type', message: `unknown type ${type}` }, id);
}

// ---------------------------------------------------------------------------------- ingest

function sendJson(res, status, body) {
  res.writeHead(status, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify(body));
}

function fail(res, status, code, message, details = {}) {
  sendJson(res, status, { success: false, error: { code, message, details } });
}

// Turns the items of a request into telemetry updates, one per device, a repeated metric of a
// device starting a new update (as Valtronics does). Throws { index, field, message }.
function parseItems(items) {
  const updates = [];
  const latest = new Map(); // device_id -> its latest update in this request
  const add = (deviceId, name, reading) => {
    let u = latest.get(deviceId);
    if (!u || name in u.telemetry) {
      u = { device_id: deviceId, telemetry: {} };
      updates.push(u);
      latest.set(deviceId, u);
    }
    u.telemetry[name] = reading;
  };
  // `field` names the value's field in errors: metric_value or telemetry.NAME.value.
  const reading = (index, field, value, unit, timestamp, fallback) => {
    if (typeof value !== 'number' || !Number.isFinite(value)) {
      throw { index, field, message: 'must be a finite number' };
    }
    const r = { value };
    if (unit !== undefined) r.unit = String(unit);
    const t = timestamp === undefined ? fallback : new Date(timestamp);
    if (Number.isNaN(t.getTime())) throw { index, field: field.replace(/value$/, 'timestamp'), message: 'unparsable' };
    r.timestamp = t.toISOString();
    return r;
  };
  items.forEach((item, index) => {
    const deviceId = item?.device_id;
    if (!Number.isInteger(deviceId) || deviceId <= 0) {
      throw { index, field: 'device_id', message: 'must be a positive integer' };
    }
    const received = new Date();
    if (item.telemetry !== undefined) {
      const itemTime = item.timestamp === undefined ? received : new Date(item.timestamp);
      for (const [name, m] of Object.entries(item.telemetry)) {
        if (!METRIC_NAME.test(name)) throw { index, field: `telemetry.${name}`, message: 'bad metric name' };
        add(deviceId, name, reading(index, `telemetry.${name}.value`, m?.value, m?.unit, m?.timestamp, itemTime));
      }
    } else {
      const name = item.metric_name;
      if (typeof name !== 'string' || !METRIC_NAME.test(name)) {
        throw { index, field: 'metric_name', message: 'must match [a-z0-9_.-]{1,64}' };
      }
      add(deviceId, name, reading(index, 'metric_value', item.metric_value, item.unit, item.timestamp, received));
    }
  });
  return updates;
}

function publish(update) {
  const seq = (deviceSeq.get(update.device_id) ?? 0) + 1;
  deviceSeq.set(update.device_id, seq);
  const frame = JSON.stringify({
    type: 'telemetry_update', channel: 'telemetry', device_id: update.device_id,
    telemetry: update.telemetry, seq,
  });
  for (const ws of subscribers.get(update.device_id) ?? []) ws.send(frame);
  for (const ws of everyDevice) if (!ws.devices.has(update.device_id)) ws.send(frame);
}

async function ingest(req, res, batch) {
  const auth = req.headers.authorization ?? '';
  const { claims, message } = auth.startsWith('Bearer ') ? verify(auth.slice(7)) : { message: 'no bearer token' };
  if (!claims) return fail(res, 401, 'UNAUTHORIZED', message);

  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > MAX_BODY) return fail(res, 413, 'PAYLOAD_TOO_LARGE', 'body over 1 MiB');
    chunks.push(chunk);
  }
  let body;
  try {
    body = JSON.parse(Buffer.concat(chunks));
  } catch {
    return fail(res, 400, 'VALIDATION_ERROR', 'body is not JSON');
  }
  const items = batch ? (Array.isArray(body) ? body : body?.telemetry_data) : [body];
  if (!Array.isArray(items)) return fail(res, 400, 'VALIDATION_ERROR', 'expected telemetry_data: [...]');

  let updates;
  try {
    updates = parseItems(items);
  } catch (e) {
    if (!('field' in e)) throw e;
    return fail(res, 400, 'VALIDATION_ERROR', `${e.field} ${e.message}`, { index: e.index, field: e.field });
  }
  const allowed = (u) => claims.role === 'admin' || claims.role === 'operator' ||
    (claims.role === 'device' && claims.device_id === u.device_id);
  if (!updates.every(allowed)) return fail(res, 403, 'FORBIDDEN', 'the token may not ingest for that device');

  let accepted = 0;
  for (const u of updates) {
    accepted += Object.keys(u.telemetry).length;
    publish(u);
  }
  sendJson(res, 202, { success: true, data: { accepted } });
}

// ------------------------------------------------------------------------------------ HTTP

const server = http.createServer((req, res) => {
  const path = req.url.split('?')[0];
  if (path === '/health' && req.method === 'GET') {
    return sendJson(res, 200, { status: 'ok', active_connections: wss.clients.size, time: now() });
  }
  if (path === '/api/v1/telemetry' || path === '/api/v1/telemetry/batch') {
    if (req.method !== 'POST') return fail(res, 405, 'METHOD_NOT_ALLOWED', 'use POST');
    return ingest(req, res, path.endsWith('/batch')).catch((e) => {
      console.error(e);
      if (!res.headersSent) fail(res, 500, 'INTERNAL_ERROR', 'internal error');
    });
  }
  fail(res, 404, 'NOT_FOUND', 'no such route');
});

const wss = new WebSocketServer({ server, path: '/ws', maxPayload: 50 * 1024 });

wss.on('connection', (ws, req) => {
  ws.devices = new Set();
  ws.on('message', (data, isBinary) => onMessage(ws, data, isBinary));
  ws.on('close', () => unsubscribeAll(ws));
  ws.on('error', () => {});
  const auth = req.headers.authorization;
  if (auth?.startsWith('Bearer ')) authenticate(ws, auth.slice(7));
});

const shutdown = () => {
  for (const ws of wss.clients) ws.close(1001, 'server shutting down');
  server.close(() => process.exit(0));
  server.closeAllConnections();
  setTimeout(() => process.exit(0), 2000).unref();
};
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);

server.listen(port, '127.0.0.1', () => {
  console.log(`listening on 127.0.0.1:${server.address().port}`);
});
