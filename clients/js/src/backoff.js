// Reconnect delays: exponential backoff with "full jitter" (a uniformly random delay between 0 and
// min(cap, base * 2^attempt)). Jitter spreads the reconnects of many clients that lost the same
// server at the same moment, so a restarted server is not hit by all of them at once.

export const DEFAULT_BACKOFF = Object.freeze({ base: 500, cap: 30_000, maxAttempts: Infinity });

/**
 * The delay in ms before reconnect attempt `attempt` (0 for the first reconnect).
 * `random` returns a number in [0, 1) (Math.random by default; injectable for tests).
 */
export function backoffDelay(attempt, { base = DEFAULT_BACKOFF.base, cap = DEFAULT_BACKOFF.cap } = {},
  random = Math.random) {
  // 2 ** attempt overflows to Infinity for large attempts; min() keeps the ceiling at cap.
  const ceiling = Math.min(cap, base * 2 ** Math.max(0, attempt));
  return Math.floor(random() * ceiling);
}
