// @valtronics/client: the JavaScript SDK of the Valtronics WebSocket API (browsers and Node 20+).
// Plain ES modules, no build step. Documentation: docs/clients/js.md in the Valtronics repository.

export { ValtronicsWebSocket, normalizeFilters } from './client.js';
export { MessageBatcher } from './batcher.js';
export { WebSocketPool } from './pool.js';
export { ConnectionMonitor } from './monitor.js';
export { WebSocketDebugger } from './debugger.js';
export { Emitter } from './emitter.js';
export { ValtronicsError, CLIENT_ERROR_CODES, FATAL_AUTH_CODES } from './errors.js';
export { backoffDelay, DEFAULT_BACKOFF } from './backoff.js';
export { MAX_BATCH, MAX_BATCH_BYTES, MAX_MESSAGE_BYTES, utf8Length } from './limits.js';
