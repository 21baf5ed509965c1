"""Reconnect delays: exponential backoff with full jitter.

Full jitter (a uniformly random delay between 0 and the exponential bound) rather than a fixed
or "equal" jitter: when a server restarts, every client it had reconnects at once; spreading the
attempts over the whole window is what keeps them from arriving as one storm again and again
(the server also limits new connections per address per minute, see docs/protocol.md)."""

import random


class Backoff:
    """delay(attempt) for attempt = 0, 1, 2, ...: uniform in [0, min(cap, base * 2**attempt)].

    base: bound of the first attempt's delay, seconds (> 0).
    cap: largest bound, seconds (>= base).
    rng: a random.Random (tests pass a seeded one)."""

    def __init__(self, base=0.5, cap=30.0, rng=None):
        if not base > 0:
            raise ValueError("backoff base must be > 0")
        if not cap >= base:
            raise ValueError("backoff cap must be >= base")
        self.base = float(base)
        self.cap = float(cap)
        self._rng = rng or random.Random()

    def bound(self, attempt):
        """The upper bound of the delay before attempt number `attempt` (from 0)."""
        if attempt < 0:
            raise ValueError("attempt must be >= 0")
        # 2**attempt overflows a float near attempt 1024; any bound past the cap is the cap.
        if attempt >= 64:
            return self.cap
        return min(self.cap, self.base * (2 ** attempt))

    def delay(self, attempt):
        return self._rng.uniform(0.0, self.bound(attempt))
