"""Bans after repeated auth failures (`limits.auth_failures_before_ban`, `auth_failure_window`,
`ban_duration`): an address that presented 3 bad tokens (REST bearer, WebSocket auth message,
handshake bearer) is refused with 403 ADDRESS_BANNED and Retry-After, before any other work
(valid token or not, REST and WebSocket upgrades alike), until the ban expires; other
addresses (forwarded by the trusted proxy, here the test itself) are unaffected, and a
bystander keeps its readings on time. The stats count it all. Before issue 10's fix nothing
was banned (and the configuration keys did not exist)."""

import json
import time
import unittest

from abuse_support import (RSS_CHECKED, AbuseTestCase, close_code_of, frame, http_exchange,
                           raw_connect, read_frames, read_http_response, upgrade_request)

BAN_SECONDS = 3


def rest(port, xff, token, path="/api/v1/devices"):
    raw = (f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
           f"X-Forwarded-For: {xff}\r\nConnection: close\r\n\r\n").encode()
    status, headers, body, _ = http_exchange(port, raw)
    return status, headers, (json.loads(body) if body else None)


def ws_auth_fails(port, xff, token):
    """A WebSocket from `xff` that sends a bad auth message; returns its close code."""
    s = raw_connect(port)
    try:
        s.sendall(upgrade_request(extra=f"X-Forwarded-For: {xff}\r\n"))
        status, _, _ = read_http_response(s)
        assert status == 101, status
        s.sendall(frame(0x1, json.dumps({"type": "auth", "token": token})))
        return close_code_of(read_frames(s))[0]
    finally:
        s.close()


class Bans(AbuseTestCase):
    config = {"server": {"trusted_proxies": ["127.0.0.1"]},
              "limits": {"auth_failures_before_ban": 3, "auth_failure_window": "1m",
                         "ban_duration": f"{BAN_SECONDS}s"}}

    def stats(self):
        status, body = self.server.request("GET", "/api/v1/ws/stats", token_=self.admin)
        self.assertEqual(status, 200, body)
        return body["data"]

    def assert_banned(self, status, headers, body):
        self.assertEqual(status, 403, body)
        self.assertEqual(body["error"]["code"], "ADDRESS_BANNED")
        retry = int(headers["retry-after"])
        self.assertTrue(1 <= retry <= BAN_SECONDS, retry)
        self.assertEqual(body["error"]["details"]["retry_after_s"], retry)

    def test_rest_failures_ban_the_address_until_the_ban_expires(self):
        before = self.stats()
        attacker, neighbour = "198.51.100.50", "198.51.100.51"
        with self.bystander() as b:
            for _ in range(3):
                status, _, body = rest(self.server.port, attacker, "not.a.token")
                self.assertEqual(status, 401, body)
            # Banned now: even a valid token is refused, before the route runs; so is an upgrade.
            t_banned = time.monotonic()
            self.assert_banned(*rest(self.server.port, attacker, self.admin))
            status, headers, body, closed = http_exchange(
                self.server.port, upgrade_request(extra=f"X-Forwarded-For: {attacker}\r\n"))
            self.assert_banned(status, headers, json.loads(body))
            self.assertTrue(closed)
            # Another address is not affected.
            status, _, body = rest(self.server.port, neighbour, self.admin)
            self.assertEqual(status, 200, body)
            # The ban ends after ban_duration.
            time.sleep(max(0.0, BAN_SECONDS + 0.3 - (time.monotonic() - t_banned)))
            status, _, body = rest(self.server.port, attacker, self.admin)
            self.assertEqual(status, 200, body)
            b.stop()  # waits for the readings in flight
            b.assert_on_time(self, "banned REST client")
        after = self.stats()
        self.assertEqual(after["authFailures"] - before["authFailures"], 3)
        self.assertEqual(after["bans"] - before["bans"], 1)
        self.assertEqual(after["bannedRefusals"] - before["bannedRefusals"], 2)
        self.assertEqual(after["bannedAddresses"], 0)
        log = "".join(self.server.output)
        self.assertIn(f"suspicious: repeated auth failures from {attacker}", log)
        self.assertIn(f"address {attacker} banned for {BAN_SECONDS} s", log)

    def test_websocket_failures_ban_the_address(self):
        attacker = "2001:db8::66"
        with self.bystander() as b:
            # Bad auth messages, then a bad bearer token on the handshake.
            self.assertEqual(ws_auth_fails(self.server.port, attacker, "bad"), 4001)
            self.assertEqual(ws_auth_fails(self.server.port, attacker, self.admin + "x"), 4001)
            s = raw_connect(self.server.port)
            s.sendall(upgrade_request(extra=f"X-Forwarded-For: {attacker}\r\n"
                                            "Authorization: Bearer nope\r\n"))
            # The auth_response and the close frame follow the 101 at once, often in the
            # same read: everything up to the close frame, then split.
            data = b""
            s.settimeout(5)
            while b"\x88" not in data.partition(b"\r\n\r\n")[2]:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
            s.close()
            head, _, frames = data.partition(b"\r\n\r\n")
            self.assertTrue(head.startswith(b"HTTP/1.1 101"), head)
            close_at = frames.index(b"\x88")
            self.assertEqual(frames[close_at + 2:close_at + 4], (4001).to_bytes(2, "big"))
            # Banned: it keeps trying for a second (refused each time, before any work) while
            # the bystander gets its readings.
            refused = 0
            t_end = time.monotonic() + 1.0
            while time.monotonic() < t_end:
                status, headers, body, _ = http_exchange(
                    self.server.port, upgrade_request(extra=f"X-Forwarded-For: {attacker}\r\n"))
                self.assert_banned(status, headers, json.loads(body))
                refused += 1
            self.assertGreaterEqual(self.stats()["bannedAddresses"], 1)
            print(f"\n  [banned WebSocket client] {refused} upgrades refused in 1 s")
            b.stop()  # waits for the readings in flight
            b.assert_on_time(self, "banned WebSocket client")


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def read_pipelined(s, n, buf):
    """The statuses of `n` responses read from `s` (after the bytes `buf` already read), and
    the bytes read past them."""
    statuses = []
    while len(statuses) < n:
        head_end = buf.find(b"\r\n\r\n")
        if head_end >= 0:
            head = buf[:head_end].decode("latin-1").split("\r\n")
            length = 0
            for line in head[1:]:
                k, _, v = line.partition(":")
                if k.strip().lower() == "content-length":
                    length = int(v)
            if len(buf) >= head_end + 4 + length:
                statuses.append(int(head[0].split()[1]))
                buf = buf[head_end + 4 + length:]
                continue
        chunk = s.recv(1 << 16)
        if not chunk:
            break
        buf += chunk
    return statuses, buf


class ManyAddresses(AbuseTestCase):
    """Bans from more addresses than the ban list holds (limits::kMaxBannedAddresses, 10 000):
    the list stays at its bound (the bans ending first are evicted), memory stays bounded."""
    config = {"server": {"trusted_proxies": ["127.0.0.1"]},
              "limits": {"auth_failures_before_ban": 1, "ban_duration": "5m"}}
    ADDRESSES = 20_000
    MAX_BANNED = 10_000

    def test_ban_list_is_bounded(self):
        pid = self.server.proc.pid
        before = rss_kib(pid)
        with self.bystander() as b:
            t0 = time.monotonic()
            s = raw_connect(self.server.port, timeout=10)
            batch = 200
            answered = 0
            pending = b""
            for start in range(0, self.ADDRESSES, batch):
                reqs = b"".join(
                    (f"GET /api/v1/devices HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer bad\r\n"
                     f"X-Forwarded-For: 2001:db8::{i:x}\r\n\r\n").encode()
                    for i in range(start, start + batch))
                s.sendall(reqs)
                statuses, pending = read_pipelined(s, batch, pending)
                self.assertEqual(statuses, [401] * batch)
                answered += batch
            s.close()
            elapsed = time.monotonic() - t0
            b.stop()  # waits for the readings in flight
            b.assert_on_time(self, "bans from 20 000 addresses")
        grown = rss_kib(pid) - before
        stats = self.server.request("GET", "/api/v1/ws/stats", token_=self.admin)[1]["data"]
        print(f"\n  [many addresses] {answered} bad tokens from distinct addresses in "
              f"{elapsed:.1f} s: bans {stats['bans']}, banned now {stats['bannedAddresses']}, "
              f"server RSS grew {grown} KiB")
        self.assertEqual(stats["bans"], self.ADDRESSES)
        self.assertEqual(stats["bannedAddresses"], self.MAX_BANNED)
        # The oldest bans went first: the first address is free again, the last is banned.
        status, _, _ = rest(self.server.port, "2001:db8::0", self.admin)
        self.assertEqual(status, 200)
        status, _, body = rest(self.server.port, f"2001:db8::{self.ADDRESSES - 1:x}", self.admin)
        self.assertEqual(status, 403, body)
        if RSS_CHECKED:
            self.assertLess(grown, 16 * 1024, f"RSS grew {grown} KiB")


if __name__ == "__main__":
    unittest.main()
