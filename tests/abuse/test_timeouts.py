"""Slow and silent peers, one timeout per phase, each set short here so the suite stays fast:
- slowloris on the HTTP head (`limits.header_timeout`) and on the body (`limits.body_timeout`),
  one peer and fifty at once, each still trickling bytes when it is cut;
- a WebSocket that never authenticates (`auth.auth_timeout`, close 4001);
- an authenticated WebSocket that goes silent (`limits.idle_timeout`: a ping, then close 4010);
- a subscriber that stops reading while frames wait for it (`limits.write_timeout`, close 4009,
  counted as `writeTimeouts`).
Each checks that a well-behaved bystander keeps receiving its readings on time meanwhile."""

import json
import socket
import sys
import time
import unittest

from abuse_support import (AbuseTestCase, close_code_of, frame, raw_connect, read_frames,
                           read_http_response, upgrade_request, ws_open)

PING, PONG, CLOSE, TEXT = 0x9, 0xA, 0x8, 0x1


def dropped_after(s, limit):
    """Seconds until the server closes `s` (reading whatever it sends), None if not within
    `limit`."""
    t0 = time.monotonic()
    s.settimeout(limit)
    try:
        while s.recv(4096):
            pass
    except socket.timeout:
        return None
    except ConnectionResetError:
        pass
    return time.monotonic() - t0


class Trickler:
    """Sends `head` and then one byte of `drip` every 0.2 s on each of `n` sockets (a slowloris
    that is never idle) until each is closed; records when each was closed."""

    def __init__(self, port, n, head, drip):
        self.socks = [raw_connect(port) for _ in range(n)]
        self.head, self.drip = head, drip
        self.closed_after = [None] * n

    def run(self, limit):
        t0 = time.monotonic()
        for s in self.socks:
            s.sendall(self.head)
            s.setblocking(False)
        i = 0
        while time.monotonic() - t0 < limit and None in self.closed_after:
            for k, s in enumerate(self.socks):
                if self.closed_after[k] is not None:
                    continue
                try:
                    if s.recv(4096) == b"":
                        self.closed_after[k] = time.monotonic() - t0
                        continue
                except BlockingIOError:
                    pass
                except ConnectionResetError:
                    self.closed_after[k] = time.monotonic() - t0
                    continue
                try:
                    s.send(self.drip[i % len(self.drip):i % len(self.drip) + 1])
                except (BrokenPipeError, ConnectionResetError):
                    self.closed_after[k] = time.monotonic() - t0
            i += 1
            time.sleep(0.2)
        for s in self.socks:
            s.close()
        return self.closed_after


class Slowloris(AbuseTestCase):
    config = {"limits": {"header_timeout": "1s", "body_timeout": "2s",
                         "max_http_connections": 1000}}

    def test_one_slow_head_is_cut_after_header_timeout(self):
        with self.bystander() as b:
            s = raw_connect(self.server.port)
            s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")  # never finished
            took = dropped_after(s, 5)
            s.close()
            b.assert_on_time(self, "slow head")
        self.assertIsNotNone(took, "not dropped")
        self.assertGreater(took, 0.8)
        self.assertLess(took, 2.5)

    def assert_fifty_trickles_cut(self, label, head, drip, within):
        """Fifty peers send `head`, then a byte of `drip` every 0.2 s; each must be cut within
        `within` = (earliest, latest) seconds while the bystander stays on time."""
        with self.bystander() as b:
            closed = Trickler(self.server.port, 50, head, drip).run(limit=within[1] + 3)
            b.assert_on_time(self, f"fifty trickling {label}")
        self.assertNotIn(None, closed, f"a trickling {label[:-1]} was never cut")
        print(f"\n  [slowloris {label}] 50 cut after {min(closed):.2f}-{max(closed):.2f} s",
              file=sys.stderr)
        self.assertGreater(min(closed), within[0])
        self.assertLess(max(closed), within[1], "a byte now and then must not extend the deadline")

    def test_fifty_trickling_heads_are_cut_after_header_timeout(self):
        self.assert_fifty_trickles_cut("heads", b"GET /health HTTP/1.1\r\n", b"X-Slow: aaaaaa\r\n",
                                       within=(0.8, 3.0))

    def test_fifty_trickling_bodies_are_cut_after_body_timeout(self):
        head = (b"POST /api/v1/telemetry HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b"Content-Length: 100000\r\n\r\n")
        self.assert_fifty_trickles_cut("bodies", head, b'{"device_id":1,"pad":"' + b"x" * 64,
                                       within=(1.5, 4.5))


class SilentWebSockets(AbuseTestCase):
    config = {"auth": {"auth_timeout": "1s"},
              "limits": {"idle_timeout": "1s", "connections_per_minute": 1000}}

    def test_never_authenticating_closes_4001(self):
        with self.bystander() as b:
            socks = [ws_open(self.server.port) for _ in range(20)]
            t0 = time.monotonic()
            codes = [close_code_of(read_frames(s, timeout=4))[0] for s in socks]
            took = time.monotonic() - t0
            for s in socks:
                s.close()
            b.assert_on_time(self, "never authenticating")
        self.assertEqual(codes, [4001] * 20)
        self.assertLess(took, 3.5)

    def test_silent_after_auth_is_pinged_then_closed_4010(self):
        with self.bystander() as b:
            socks = []
            for _ in range(20):
                s = ws_open(self.server.port)
                s.sendall(frame(TEXT, json.dumps({"type": "auth", "token": self.admin})))
                socks.append(s)
            t0 = time.monotonic()
            results = [read_frames(s, timeout=5) for s in socks]
            took = time.monotonic() - t0
            for s in socks:
                s.close()
            b.assert_on_time(self, "silent after auth")
        for frames in results:
            self.assertIn(PING, [op for op, _ in frames], "pinged before the close")
            self.assertEqual(close_code_of(frames)[0], 4010, frames[-2:])
        print(f"\n  [idle] 20 silent connections closed 4010 within {took:.2f} s", file=sys.stderr)
        self.assertLess(took, 4.5)


class StoppedReader(AbuseTestCase):
    config = {"limits": {"write_timeout": "1s", "idle_timeout": "0s"}}

    def test_a_subscriber_that_stops_reading_is_closed_4009_and_counted(self):
        # A small receive buffer: the server's socket fills after a few hundred KB.
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.connect(("127.0.0.1", self.server.port))
        s.sendall(upgrade_request())
        self.assertEqual(read_http_response(s)[0], 101)
        s.sendall(frame(TEXT, json.dumps({"type": "auth", "token": self.admin})))
        s.sendall(frame(TEXT, json.dumps({"type": "subscribe", "channel": "telemetry"})))
        time.sleep(0.3)  # then it reads nothing more
        with self.bystander() as b:
            items = [{"device_id": 1, "metric_name": f"m{m:03d}", "metric_value": m, "unit": "u"}
                     for m in range(300)]
            body = {"telemetry_data": items}
            deadline = time.monotonic() + 20
            stats = {}
            while time.monotonic() < deadline:
                status, reply = self.server.request("POST", "/api/v1/telemetry/batch", body,
                                                    token_=self.admin)
                self.assertEqual(status, 202, reply)
                stats = self.server.request("GET", "/api/v1/ws/stats",
                                            token_=self.admin)[1]["data"]
                if stats["writeTimeouts"] >= 1:
                    break
                time.sleep(0.05)
            time.sleep(2.5)  # through the close linger; the bystander keeps going
            b.assert_on_time(self, "stopped reader")
        s.close()
        self.assertEqual(stats.get("writeTimeouts"), 1, stats)


if __name__ == "__main__":
    unittest.main()
