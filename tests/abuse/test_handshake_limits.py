"""Handshake abuse from one address, from raw sockets: more new WebSockets a minute than
`limits.connections_per_minute` (429), more open than `limits.max_connections` (503), and a
stream of malformed upgrades (400, or 426 for a version other than 13). Each refusal is a JSON body naming the limit or the fault,
the connection is closed after it, every refusal is counted (`limitViolations`), and a
well-behaved bystander, connected before the abuse, keeps receiving its readings on time while
the refusals run."""

import json
import sys
import time
import unittest

from abuse_support import AbuseTestCase, http_exchange, upgrade_request, ws_open

HAMMER = 200  # refused upgrades in a row at least, as fast as one thread can send them
HAMMER_SECONDS = 1.5  # and for at least this long, so the bystander's readings run beside them


class HandshakeTestCase(AbuseTestCase):
    def stats(self):
        status, body = self.server.request("GET", "/api/v1/ws/stats", token_=self.admin)
        self.assertEqual(status, 200, body)
        return body["data"]

    def hammer(self, request, want_status):
        """Sends `request` on fresh connections, HAMMER times and for HAMMER_SECONDS at least;
        asserts each answer; returns the last error object, the count and the refusals per
        second."""
        t0 = time.monotonic()
        err, n = None, 0
        while n < HAMMER or time.monotonic() - t0 < HAMMER_SECONDS:
            status, _, body, closed = http_exchange(self.server.port, request)
            self.assertEqual(status, want_status, body)
            self.assertTrue(closed, "a refused upgrade closes the connection")
            err = json.loads(body)["error"]
            n += 1
        return err, n, n / (time.monotonic() - t0)


class ConnectionsPerMinute(HandshakeTestCase):
    PER_MINUTE = 6
    config = {"limits": {"connections_per_minute": PER_MINUTE}}

    def test_new_connections_beyond_the_rate_are_429(self):
        with self.bystander() as b:  # its WebSocket is the address's first of the minute
            held = [ws_open(self.server.port) for _ in range(self.PER_MINUTE - 1)]
            before = self.stats()["limitViolations"]
            err, n, rate = self.hammer(upgrade_request(), 429)
            for s in held:
                s.close()
            b.assert_on_time(self, "connections_per_minute hammer")
        self.assertEqual(err["code"], "TOO_MANY_REQUESTS")
        self.assertIn("limits.connections_per_minute (6)", err["message"])
        self.assertGreaterEqual(self.stats()["limitViolations"] - before, n)
        # Plain HTTP is not a WebSocket handshake: it is not counted against the rate.
        self.assertEqual(self.server.request("GET", "/health")[0], 200)
        print(f"\n  [connections_per_minute] {n} upgrades refused 429 at {rate:.0f}/s")


class MaxConnections(HandshakeTestCase):
    MAX = 4
    config = {"limits": {"max_connections": MAX, "connections_per_minute": 100000}}

    def test_connections_beyond_the_cap_are_503_and_a_freed_slot_is_reusable(self):
        with self.bystander() as b:  # holds one of the MAX slots
            held = [ws_open(self.server.port) for _ in range(self.MAX - 1)]
            err, n, rate = self.hammer(upgrade_request(), 503)
            self.assertEqual(err["code"], "SERVICE_UNAVAILABLE")
            self.assertEqual(err["details"], {"limit": "max_connections", "max": self.MAX})
            self.assertIn("limits.max_connections (4)", err["message"])
            held.pop().close()
            deadline = time.monotonic() + 3
            while self.stats()["activeConnections"] >= self.MAX and time.monotonic() < deadline:
                time.sleep(0.05)
            held.append(ws_open(self.server.port))  # asserts the 101
            for s in held:
                s.close()
            b.assert_on_time(self, "max_connections hammer")
        print(f"\n  [max_connections] {n} upgrades refused 503 at {rate:.0f}/s")


class MalformedUpgrades(HandshakeTestCase):
    config = {"limits": {"connections_per_minute": 100000}}

    def test_malformed_upgrades_are_400_naming_the_fault(self):
        # (request, status, words of the message); an unsupported version is 426 with the
        # version the server speaks (RFC 6455 section 4.4).
        cases = [
            (upgrade_request(key="not-a-key"), 400, "Sec-WebSocket-Key"),
            (upgrade_request(key=""), 400, "Sec-WebSocket-Key"),
            (upgrade_request().replace(b"Sec-WebSocket-Version: 13", b"Sec-WebSocket-Version: 8"),
             426, "version 13"),
        ]
        with self.bystander() as b:
            t0, n = time.monotonic(), 0
            while n < HAMMER or time.monotonic() - t0 < HAMMER_SECONDS:
                for request, want, words in cases:
                    status, headers, body, closed = http_exchange(self.server.port, request)
                    self.assertEqual(status, want, (request, body))
                    self.assertTrue(closed)
                    message = json.loads(body)["error"]["message"]
                    self.assertIn(words.lower(), message.lower(), body)
                    if want == 426:
                        self.assertEqual(headers.get("sec-websocket-version"), "13")
                    n += 1
            b.assert_on_time(self, "malformed upgrades")
        print(f"\n  [malformed upgrades] {n} refused", file=sys.stderr)

if __name__ == "__main__":
    unittest.main()
