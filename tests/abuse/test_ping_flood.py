"""Defect 1: a client that opens /ws (no token), never reads, and sends empty masked pings as
fast as it can. Before the fix every ping queued a pong (~150 bytes of heap each, counted as 2):
server RSS grew ~78 MiB per connection. Now at most one pong is queued per connection (the
newest ping answered once it drained), so RSS stays flat; a bystander keeps its readings."""

import socket
import time
import unittest

from abuse_support import RSS_CHECKED, AbuseTestCase, frame, ws_open


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class PingFlood(AbuseTestCase):
    def test_unread_ping_flood_keeps_memory_bounded(self):
        pid = self.server.proc.pid
        before = rss_kib(pid)
        ping = frame(0x9, b"") * 1000
        with self.bystander() as b:
            s = ws_open(self.server.port)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            s.settimeout(0.05)
            sent = 0
            t0 = time.monotonic()
            while sent < 1_000_000 and time.monotonic() - t0 < 10:
                try:
                    s.sendall(ping)
                    sent += 1000
                except (socket.timeout, BrokenPipeError, ConnectionResetError):
                    break
            time.sleep(0.5)
            grown = rss_kib(pid) - before
            s.close()
            b.assert_on_time(self, "ping flood")
        print(f"\n  [ping flood] {sent} pings sent, server RSS grew {grown} KiB")
        if RSS_CHECKED:
            self.assertLess(grown, 8 * 1024, f"RSS grew {grown} KiB for {sent} pings")


if __name__ == "__main__":
    unittest.main()
