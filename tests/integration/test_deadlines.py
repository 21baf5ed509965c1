"""Connection deadlines against the real server: the idle keepalive (limits.idle_timeout: a ping,
then close 4010 when nothing answers) and the write stall (limits.write_timeout: a peer that reads
nothing while frames wait is closed and counted in /api/v1/ws/stats)."""
import asyncio
import json
import time
import unittest

from harness import Server, connect, recv_type, run, subscribe, token
from test_limits import Ingester, RawWs, close_code, filler_batch

PING, PONG, CLOSE = 0x9, 0xA, 0x8


def next_control_frame(raw, deadline):
    """The next ping or close frame before `deadline` (text frames are skipped)."""
    while True:
        raw.sock.settimeout(max(0.05, deadline - time.monotonic()))
        op, payload = raw.recv_frame()
        if op in (PING, CLOSE):
            return op, payload


class IdleKeepaliveTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Server({"limits": {"idle_timeout": "1s"}})
        cls.server.start()

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def test_silent_client_is_pinged_then_closed_with_4010(self):
        raw = RawWs(self.server.port, rcvbuf=0)
        try:
            raw.auth(token())
            start = time.monotonic()
            op, _ = next_control_frame(raw, start + 5)
            self.assertEqual(op, PING, "the server pings a silent client")
            pinged = time.monotonic() - start
            self.assertGreaterEqual(pinged, 0.8, "not before idle_timeout")
            op, payload = next_control_frame(raw, start + 8)
            self.assertEqual(op, CLOSE)
            self.assertEqual(close_code(payload), 4010)
            self.assertGreaterEqual(time.monotonic() - start, pinged + 0.8,
                                    "closed only after another idle_timeout without an answer")
        finally:
            raw.close()

    def test_a_pong_keeps_the_connection(self):
        raw = RawWs(self.server.port, rcvbuf=0)
        try:
            raw.auth(token())
            start = time.monotonic()
            for _ in range(3):  # three idle periods, each ping answered
                op, payload = next_control_frame(raw, time.monotonic() + 5)
                self.assertEqual(op, PING)
                raw.sock.sendall(RawWs.frame(payload, opcode=PONG))
            self.assertGreater(time.monotonic() - start, 2.5)
            raw.sock.settimeout(5)
            raw.send_json({"type": "ping", "id": "still-here"})
            reply = raw.recv_json()
            self.assertEqual((reply["type"], reply["id"]), ("pong", "still-here"))
        finally:
            raw.close()

    def test_a_websocket_library_answers_on_its_own(self):
        async def main():
            # websockets answers the server's pings by itself; its own keepalive is off so that
            # only the server's pings happen.
            ws = await connect(self.server, token_=token(), ping_interval=None)
            await asyncio.sleep(3.5)  # more than three idle_timeouts
            await ws.send(json.dumps({"type": "ping", "id": 7}))
            reply = await recv_type(ws, "pong")
            self.assertEqual(reply["id"], 7)
            await ws.close()
        run(main())


def non_reading_subscriber(server, tok):
    """A raw client subscribed to every device's telemetry that will read nothing more (and has
    a small receive buffer, so the server's socket fills soon)."""
    raw = RawWs(server.port, rcvbuf=4096)
    raw.auth(tok)
    raw.send_json({"type": "subscribe", "channel": "telemetry", "id": 1})
    assert raw.recv_json()["type"] == "subscribed"
    return raw


class WriteStallTest(unittest.TestCase):
    def test_a_peer_that_reads_nothing_is_closed_and_counted(self):
        cfg = {"limits": {"write_timeout": "1s", "idle_timeout": "0s"}}
        with Server(cfg) as s:
            admin = token()
            raw = non_reading_subscriber(s, admin)
            try:
                # Fill the server's socket buffer: once a write would block, the stall deadline
                # runs.
                ingest = Ingester(s, admin)
                body = filler_batch()
                deadline = time.monotonic() + 20
                stats = {}
                while time.monotonic() < deadline:
                    ingest.post("/api/v1/telemetry/batch", body)
                    status, reply = s.request("GET", "/api/v1/ws/stats", token_=admin)
                    self.assertEqual(status, 200, reply)
                    stats = reply["data"]
                    if stats["writeTimeouts"] >= 1:
                        break
                    time.sleep(0.05)
                ingest.close()
                self.assertEqual(stats.get("writeTimeouts"), 1, stats)
                # Its close frame cannot get through a full socket: the close linger (2 s)
                # drops it.
                deadline = time.monotonic() + 5
                while stats["activeConnections"] and time.monotonic() < deadline:
                    time.sleep(0.1)
                    stats = s.request("GET", "/api/v1/ws/stats", token_=admin)[1]["data"]
                self.assertEqual(stats["activeConnections"], 0, "the stalled peer was dropped")
            finally:
                raw.close()

    def test_zero_disables_it(self):
        cfg = {"limits": {"write_timeout": "0s", "idle_timeout": "0s"}}
        with Server(cfg) as s:
            admin = token()
            raw = non_reading_subscriber(s, admin)
            try:
                ingest = Ingester(s, admin)
                for _ in range(60):
                    ingest.post("/api/v1/telemetry/batch", filler_batch())
                ingest.close()
                time.sleep(2)
                status, reply = s.request("GET", "/api/v1/ws/stats", token_=admin)
                self.assertEqual(reply["data"]["writeTimeouts"], 0, reply)
                self.assertEqual(reply["data"]["activeConnections"], 1, reply)
            finally:
                raw.close()


if __name__ == "__main__":
    unittest.main()
