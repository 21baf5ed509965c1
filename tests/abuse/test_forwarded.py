"""Forwarded client addresses (`server.trusted_proxies`): from a trusted proxy, two clients it
forwards (X-Forwarded-For or RFC 7239 `Forwarded`) have separate per-address limits
(`limits.connections_per_minute` here); from an untrusted peer the headers are ignored, so a
client naming a new address on every attempt does not escape its limit. A bystander keeps its
readings on time meanwhile. Before issue 10's fix there was no `trusted_proxies` key (the
server refused the configuration) and every request counted as its peer's address."""

import json
import unittest

from abuse_support import AbuseTestCase, http_exchange, upgrade_request

PER_MINUTE = 4


def upgrade_status(port, extra):
    status, _, body, _ = http_exchange(port, upgrade_request(extra=extra))
    return status, body


class FromATrustedProxy(AbuseTestCase):
    # The test client is the proxy: 127.0.0.1 is trusted.
    config = {"server": {"trusted_proxies": ["127.0.0.1", "10.0.0.0/8"]},
              "limits": {"connections_per_minute": PER_MINUTE}}

    def test_forwarded_clients_have_their_own_limits(self):
        with self.bystander() as b:
            # Client A, as nginx forwards it (a claim of its own on the left, ignored).
            a = "X-Forwarded-For: 203.0.113.99, 198.51.100.1\r\n"
            got = [upgrade_status(self.server.port, a)[0] for _ in range(PER_MINUTE + 2)]
            self.assertEqual(got, [101] * PER_MINUTE + [429, 429], got)
            # Client B through two proxies: its own limit, untouched by A's.
            b_hdr = "X-Forwarded-For: 198.51.100.2, 10.1.2.3\r\n"
            got_b = [upgrade_status(self.server.port, b_hdr)[0] for _ in range(PER_MINUTE)]
            self.assertEqual(got_b, [101] * PER_MINUTE, got_b)
            # Client C, an IPv6 address in the RFC 7239 header.
            c = 'Forwarded: for="[2001:db8::7]:4711";proto=http\r\n'
            got_c = [upgrade_status(self.server.port, c)[0] for _ in range(PER_MINUTE + 1)]
            self.assertEqual(got_c, [101] * PER_MINUTE + [429], got_c)
            # The same IPv6 client spelled differently is the same address.
            status, body = upgrade_status(self.server.port, "X-Forwarded-For: 2001:DB8:0::7\r\n")
            self.assertEqual(status, 429, body)
            self.assertEqual(json.loads(body)["error"]["code"], "TOO_MANY_REQUESTS")
            b.stop()  # waits for the readings in flight
            b.assert_on_time(self, "forwarded clients")

    def test_garbage_forwarding_header_counts_as_the_proxy(self):
        # "unknown" names no address: the request counts as the proxy's own (127.0.0.1), whose
        # limit the bystander's WebSocket shares, so fewer than PER_MINUTE upgrades pass.
        with self.bystander() as b:
            got = [upgrade_status(self.server.port, "X-Forwarded-For: unknown, garbage\r\n")[0]
                   for _ in range(PER_MINUTE)]
            self.assertIn(429, got)
            self.assertLessEqual(got.count(101), PER_MINUTE - 1, got)
            # A real forwarded address is still its own.
            status, _ = upgrade_status(self.server.port, "X-Forwarded-For: 198.51.100.77\r\n")
            self.assertEqual(status, 101)
            b.stop()  # waits for the readings in flight
            b.assert_on_time(self, "garbage header")


class FromAnUntrustedPeer(AbuseTestCase):
    # 127.0.0.1 is not a trusted proxy here: its headers are ignored.
    config = {"server": {"trusted_proxies": ["10.0.0.0/8"]},
              "limits": {"connections_per_minute": PER_MINUTE}}

    def test_spoofed_headers_do_not_escape_the_limit(self):
        with self.bystander() as b:  # the bystander's WebSocket is one of 127.0.0.1's
            got = []
            for i in range(PER_MINUTE + 3):
                spoof = (f"X-Forwarded-For: 198.51.100.{i + 10}\r\n"
                         f'Forwarded: for="198.51.100.{i + 10}"\r\n')
                got.append(upgrade_status(self.server.port, spoof)[0])
            self.assertEqual(got, [101] * (PER_MINUTE - 1) + [429] * 4, got)
            b.stop()  # waits for the readings in flight
            b.assert_on_time(self, "spoofed forwarding headers")


if __name__ == "__main__":
    unittest.main()
