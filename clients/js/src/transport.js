// Which WebSocket class to use. Browsers have one built in. Node 20 has none (Node 22's global one
// cannot send an Authorization header), so in Node the `ws` package is loaded, lazily, with a
// dynamic import: the SDK stays a plain ES module that a browser can load, and a browser never
// tries to fetch `ws`. A caller can always pass its own class as options.WebSocket.

import { ValtronicsError } from './errors.js';

let cached = null;

export function isNode() {
  return typeof process !== 'undefined' && typeof process.versions?.node === 'string' &&
    typeof process.versions.bun !== 'string' && typeof process.versions.deno !== 'string';
}

/** Resolves with the WebSocket constructor to use. */
export async function loadWebSocket(explicit) {
  if (explicit) return explicit;
  if (cached) return cached;
  if (isNode()) {
    // A variable specifier (and the hints) keep bundlers from trying to bundle `ws` for browsers.
    const name = 'ws';
    try {
      const mod = await import(/* webpackIgnore: true */ /* @vite-ignore */ name);
      cached = mod.WebSocket ?? mod.default;
      return cached;
    } catch (err) {
      if (typeof globalThis.WebSocket === 'function') return (cached = globalThis.WebSocket);
      throw new ValtronicsError('no_websocket',
        "no WebSocket implementation: in Node install the 'ws' package (npm install ws) or pass options.WebSocket",
        { cause: err });
    }
  }
  if (typeof globalThis.WebSocket === 'function') return (cached = globalThis.WebSocket);
  throw new ValtronicsError('no_websocket', 'no WebSocket implementation: pass options.WebSocket');
}

let cachedMsgpack = null;

/**
 * The MessagePack codec for encoding 'msgpack' ({ encode, decode }, as @msgpack/msgpack exports
 * them): the one passed as options.msgpack, else `@msgpack/msgpack` imported on first use (in
 * Node, or in a browser through a bundler or an import map).
 */
export async function loadMsgpack(explicit) {
  if (explicit) return explicit;
  if (cachedMsgpack) return cachedMsgpack;
  const name = '@msgpack/msgpack';
  try {
    const mod = await import(/* webpackIgnore: true */ /* @vite-ignore */ name);
    cachedMsgpack = { encode: mod.encode, decode: mod.decode };
    return cachedMsgpack;
  } catch (err) {
    throw new ValtronicsError('no_msgpack',
      "no MessagePack codec for encoding 'msgpack': install @msgpack/msgpack (npm install @msgpack/msgpack) or pass options.msgpack",
      { cause: err });
  }
}
