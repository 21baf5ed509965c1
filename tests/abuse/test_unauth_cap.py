"""The cap on WebSocket connections open but not yet authenticated (`limits.max_unauthenticated`):
connections that never authenticate fill it, the next upgrade is answered 503 with a JSON body
naming the limit, an authenticated bystander keeps its readings on time, and once
`auth.auth_timeout` has closed the idle ones (4001) the slots are free again. Before issue 10's
fix there was no such cap (nor the key): unauthenticated sockets were limited only by
`limits.max_connections`."""

import json
import time
import unittest

from abuse_support import (AbuseTestCase, close_code_of, http_exchange, read_frames, ws_open,
                           upgrade_request)

CAP = 5
AUTH_TIMEOUT = 2


class UnauthenticatedCap(AbuseTestCase):
    config = {"limits": {"max_unauthenticated": CAP},
              "auth": {"auth_timeout": f"{AUTH_TIMEOUT}s"}}

    def stats(self):
        status, body = self.server.request("GET", "/api/v1/ws/stats", token_=self.admin)
        self.assertEqual(status, 200, body)
        return body["data"]

    def test_cap_refuses_then_frees_after_the_auth_timeout(self):
        with self.bystander() as b:
            # The bystander authenticated: it holds no unauthenticated slot.
            self.assertEqual(self.stats()["unauthenticatedConnections"], 0)
            t0 = time.monotonic()
            idle = [ws_open(self.server.port) for _ in range(CAP)]
            self.assertEqual(self.stats()["unauthenticatedConnections"], CAP)
            status, _, body, closed = http_exchange(self.server.port, upgrade_request())
            self.assertEqual(status, 503, body)
            err = json.loads(body)["error"]
            self.assertEqual(err["code"], "SERVICE_UNAVAILABLE")
            self.assertEqual(err["details"], {"limit": "max_unauthenticated", "max": CAP})
            self.assertIn("max_unauthenticated", err["message"])
            self.assertTrue(closed)
            self.assertGreaterEqual(self.stats()["limitViolations"], 1)
            # The idle ones are closed 4001 at the auth timeout; their slots come back.
            for s in idle:
                self.assertEqual(close_code_of(read_frames(s, timeout=AUTH_TIMEOUT + 3))[0], 4001)
                s.close()
            waited = time.monotonic() - t0
            self.assertLess(waited, AUTH_TIMEOUT + 2.5)
            deadline = time.monotonic() + 3
            while self.stats()["unauthenticatedConnections"] and time.monotonic() < deadline:
                time.sleep(0.05)
            self.assertEqual(self.stats()["unauthenticatedConnections"], 0)
            again = ws_open(self.server.port)  # asserts the 101
            again.close()
            b.stop()  # waits for the readings in flight
            b.assert_on_time(self, "unauthenticated cap")
        print(f"\n  [unauth cap] {CAP} idle connections closed after {waited:.2f} s")


if __name__ == "__main__":
    unittest.main()
