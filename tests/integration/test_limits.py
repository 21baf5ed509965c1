"""Limits: connections (total, per address), message rate and size, batch size, binary frames,
Origin validation, and slow consumers (bounded memory, conflation, 4009 on reliable overflow)."""
import asyncio
import base64
import http.client
import json
import os
import socket
import struct
import time
import unittest

import websockets

from harness import (Server, connect, expect_close, recv_json, recv_type, run, subscribe,
                     token, vm_rss_kb)


# ------------------------------------------------------------------------------ raw client
class RawWs:
    """A WebSocket client on a plain socket, so a test can stop reading while the server keeps
    writing. `rcvbuf` shrinks the kernel receive buffer (set before connect) so that the server's
    outbound queue, not the kernel, absorbs what the client does not read."""

    def __init__(self, port, path="/ws", rcvbuf=4096, timeout=5):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(timeout)
        self.sock.connect(("127.0.0.1", port))
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                           "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                           f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n")
                          .encode())
        self.buf = b""
        while b"\r\n\r\n" not in self.buf:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise ConnectionError("closed during handshake")
            self.buf += chunk
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        status = head.split(b"\r\n", 1)[0]
        if b" 101 " not in status + b" ":
            raise ConnectionError(f"handshake refused: {head!r}")

    @staticmethod
    def frame(payload, opcode=0x1):
        if isinstance(payload, str):
            payload = payload.encode()
        mask = os.urandom(4)
        n = len(payload)
        if n < 126:
            header = struct.pack("!BB", 0x80 | opcode, 0x80 | n)
        elif n < 65536:
            header = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, n)
        else:
            header = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, n)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        return header + mask + masked

    def send_json(self, obj):
        self.sock.sendall(self.frame(json.dumps(obj)))

    def _fill(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(1 << 16)
            if not chunk:
                raise ConnectionError("connection closed by server")
            self.buf += chunk

    def recv_frame(self):
        """Returns (opcode, payload bytes) of the next frame (server frames are unmasked)."""
        self._fill(2)
        b0, b1 = self.buf[0], self.buf[1]
        n = b1 & 0x7F
        pos = 2
        if n == 126:
            self._fill(4)
            n = struct.unpack("!H", self.buf[2:4])[0]
            pos = 4
        elif n == 127:
            self._fill(10)
            n = struct.unpack("!Q", self.buf[2:10])[0]
            pos = 10
        self._fill(pos + n)
        payload = self.buf[pos:pos + n]
        self.buf = self.buf[pos + n:]
        return b0 & 0x0F, payload

    def recv_json(self):
        while True:
            op, payload = self.recv_frame()
            if op == 0x1:
                return json.loads(payload)
            if op == 0x8:
                raise ConnectionError(f"close frame {close_code(payload)}")

    def auth(self, tok):
        self.send_json({"type": "auth", "token": tok})
        reply = self.recv_json()
        assert reply["type"] == "auth_response" and reply["success"], reply

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def close_code(payload):
    return struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None



class Ingester:
    """Keep-alive HTTP client for fast repeated ingest."""

    def __init__(self, server, tok):
        self.conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        self.headers = {"Content-Type": "application/json", "Authorization": "Bearer " + tok}

    def post(self, path, body):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.conn.request("POST", path, body=data, headers=self.headers)
        r = self.conn.getresponse()
        text = r.read()
        assert r.status == 202, (r.status, text)
        return json.loads(text)

    def close(self):
        self.conn.close()


def filler_batch(devices=range(1, 11), metrics=100, value=1.5):
    """One batch body: `metrics` readings for each device (one telemetry_update per device)."""
    items = [{"device_id": d, "metric_name": f"metric_{m:03d}", "metric_value": value + m,
              "unit": "u"} for d in devices for m in range(metrics)]
    return json.dumps({"telemetry_data": items}).encode()


# ----------------------------------------------------------------------------- connections
class ConnectionLimitsTest(unittest.TestCase):
    def test_max_connections_refuses_with_503(self):
        with Server(config={"limits": {"max_connections": 3}}) as s:
            async def main():
                open_ = [await websockets.connect(s.url + "/ws") for _ in range(3)]
                with self.assertRaises(websockets.exceptions.InvalidStatusCode) as cm:
                    await websockets.connect(s.url + "/ws", open_timeout=5)
                self.assertEqual(cm.exception.status_code, 503)
                # A slot freed by a closing client can be taken again.
                await open_.pop().close()
                deadline = time.monotonic() + 3
                while True:
                    try:
                        open_.append(await websockets.connect(s.url + "/ws"))
                        break
                    except websockets.exceptions.InvalidStatusCode as e:
                        self.assertEqual(e.status_code, 503)
                        if time.monotonic() > deadline:
                            raise AssertionError("slot not released after a client closed")
                        await asyncio.sleep(0.05)
                for ws in open_:
                    await ws.close()
            run(main())

    def test_connections_per_minute_refuses_with_429(self):
        with Server(config={"limits": {"connections_per_minute": 3}}) as s:
            async def main():
                for _ in range(3):
                    ws = await websockets.connect(s.url + "/ws")
                    await ws.close()
                with self.assertRaises(websockets.exceptions.InvalidStatusCode) as cm:
                    await websockets.connect(s.url + "/ws", open_timeout=5)
                self.assertEqual(cm.exception.status_code, 429)
            run(main())


# ------------------------------------------------------------------------------ messages
class MessageLimitsTest(unittest.TestCase):
    def test_message_rate_limited_then_flood_closes_4008(self):
        with Server(config={"limits": {"messages_per_second": 20,
                                       "flood_close_after": "1s"}}) as s:
            async def main():
                ws = await connect(s, token_=token())
                for i in range(100):
                    await ws.send(json.dumps({"type": "ping", "id": i}))
                pongs, limited = 0, 0
                for _ in range(100):
                    msg = await recv_json(ws)
                    if msg["type"] == "pong":
                        pongs += 1
                    else:
                        self.assertEqual(msg["type"], "error", msg)
                        self.assertEqual(msg["error"], "rate_limited", msg)
                        limited += 1
                # Burst of one second's allowance (20; the auth message took one), plus what
                # refills meanwhile.
                self.assertGreaterEqual(pongs, 19)
                self.assertLess(pongs, 40)
                self.assertEqual(pongs + limited, 100)
                # Keep flooding at 5x the rate, whatever the server's speed (a slow build
                # answers late; the flood must not slow down with it), while reading every
                # reply: after flood_close_after (1 s) the server closes with 4008.
                started = time.monotonic()

                async def flood():
                    try:
                        while True:
                            await ws.send(json.dumps({"type": "ping"}))
                            await asyncio.sleep(0.01)
                    except websockets.exceptions.ConnectionClosed:
                        pass
                sender = asyncio.create_task(flood())
                code = None
                try:
                    while time.monotonic() - started < 8:
                        await asyncio.wait_for(ws.recv(), 8)
                except websockets.exceptions.ConnectionClosed as e:
                    code = e.rcvd.code if e.rcvd else None
                except asyncio.TimeoutError:
                    pass
                sender.cancel()
                elapsed = time.monotonic() - started
                self.assertEqual(code, 4008, "flooding connection not closed with 4008")
                self.assertGreaterEqual(elapsed, 0.8, "closed before flood_close_after")
            run(main())

    def test_oversized_text_frame_closes_1009(self):
        with Server() as s:
            async def main():
                ws = await connect(s, token_=token())
                msg = json.dumps({"type": "ping", "timestamp": "x" * 2000})
                self.assertGreater(len(msg), 2000)
                await ws.send(msg)
                await expect_close(ws, 1009)
            run(main())

    def test_large_batch_frame_accepted_under_max_batch_bytes(self):
        with Server() as s:  # defaults: max_message_bytes 1024, max_batch_bytes 51200
            async def main():
                ws = await connect(s, token_=token())
                ids = [f"{i:03d}-" + "p" * 100 for i in range(45)]
                frame = json.dumps({"type": "batch",
                                    "messages": [{"type": "ping", "id": i} for i in ids]})
                self.assertGreater(len(frame), 5000)
                await ws.send(frame)
                for expected in ids:
                    reply = await recv_json(ws)
                    self.assertEqual(reply["type"], "pong", reply)
                    self.assertEqual(reply["id"], expected)
                # Still open and working.
                await ws.send(json.dumps({"type": "ping", "id": "after"}))
                self.assertEqual((await recv_json(ws))["id"], "after")
                await ws.close()
            run(main())

    def test_batch_frame_over_max_batch_bytes_closes_1009(self):
        with Server(config={"limits": {"max_batch_bytes": 4096}}) as s:
            async def main():
                ws = await connect(s, token_=token())
                ids = [f"{i:03d}-" + "p" * 100 for i in range(45)]
                frame = json.dumps({"type": "batch",
                                    "messages": [{"type": "ping", "id": i} for i in ids]})
                self.assertGreater(len(frame), 4096)
                await ws.send(frame)
                await expect_close(ws, 1009)
            run(main())

    def test_binary_frame_closes_1003(self):
        with Server() as s:
            async def main():
                ws = await connect(s, token_=token())
                await ws.send(b'{"type":"ping"}')
                await expect_close(ws, 1003)
            run(main())


# -------------------------------------------------------------------------------- origin
class OriginTest(unittest.TestCase):
    def assert_refused_403(self, s, origin):
        async def main():
            with self.assertRaises(websockets.exceptions.InvalidStatusCode) as cm:
                await websockets.connect(s.url + "/ws", origin=origin, open_timeout=5)
            self.assertEqual(cm.exception.status_code, 403)
        run(main())

    def assert_accepted(self, s, origin):
        async def main():
            ws = await websockets.connect(s.url + "/ws", origin=origin, open_timeout=5)
            await ws.send(json.dumps({"type": "auth", "token": token()}))
            self.assertTrue((await recv_json(ws))["success"])
            await ws.close()
        run(main())

    def test_default_same_host_only(self):
        with Server() as s:
            self.assert_refused_403(s, "http://evil.example")
            self.assert_accepted(s, f"http://127.0.0.1:{s.port}")
            self.assert_accepted(s, None)  # no Origin header: non-browser client

    def test_allowed_origins_list(self):
        with Server(config={"auth": {"allowed_origins": ["http://dash.example"]}}) as s:
            self.assert_accepted(s, "http://dash.example")
            self.assert_refused_403(s, "http://evil.example")
            self.assert_accepted(s, None)

    def test_allowed_origins_star(self):
        with Server(config={"auth": {"allowed_origins": ["*"]}}) as s:
            self.assert_accepted(s, "http://evil.example")
            self.assert_accepted(s, "https://anything.example:8443")


# ------------------------------------------------------------------------ slow consumers
class SlowConsumerTest(unittest.TestCase):
    CONFIG = {"limits": {"max_outbound_bytes": 65536}}

    # Under ASan the server's RSS also holds freed memory in quarantine and shadow memory.
    @unittest.skipIf(os.environ.get("VALTRONICS_SANITIZER"),
                     "RSS is not the server's own under a sanitizer (tests/sanitizers/run-ctest)")
    def test_memory_bounded_and_server_responsive(self):
        with Server(config=self.CONFIG) as s:
            admin = token()
            slow = RawWs(s.port)
            slow.auth(admin)
            slow.send_json({"type": "subscribe", "channel": "telemetry", "id": "s"})
            self.assertEqual(slow.recv_json()["type"], "subscribed")
            # From here on `slow` never reads.

            async def main():
                normal = await connect(s, token_=admin)
                reply = await subscribe(normal, "telemetry", device_id=999)
                self.assertEqual(reply["type"], "subscribed", reply)
                await asyncio.sleep(0.2)
                base = vm_rss_kb(s.proc.pid)

                body = filler_batch()  # 1000 readings, ~80 KB of telemetry_update per request
                ing = Ingester(s, admin)
                loop = asyncio.get_running_loop()
                started = time.monotonic()

                def flood():
                    for _ in range(600):  # ~45 MB of updates for the slow client
                        ing.post("/api/v1/telemetry/batch", body)
                await loop.run_in_executor(None, flood)
                flood_s = time.monotonic() - started
                grown_mb = (vm_rss_kb(s.proc.pid) - base) / 1024

                # The server still answers a normal client promptly.
                t0 = time.monotonic()
                await normal.send(json.dumps({"type": "ping", "id": "p"}))
                pong = await recv_type(normal, "pong", timeout=2)
                self.assertEqual(pong["id"], "p")
                ing.post("/api/v1/telemetry", {"device_id": 999, "metric_name": "probe",
                                               "metric_value": 42})
                upd = await recv_type(normal, "telemetry_update", timeout=2)
                self.assertEqual(upd["telemetry"]["probe"]["value"], 42)
                self.assertLess(time.monotonic() - t0, 2)
                ing.close()
                await normal.close()
                return grown_mb, flood_s

            grown_mb, flood_s = run(main())
            # With the queue bounded at 64 KiB the slow client costs almost nothing; an unbounded
            # queue would hold the ~30 MB of updates it was sent.
            self.assertLess(grown_mb, 20, f"VmRSS grew {grown_mb:.1f} MB in {flood_s:.1f}s")
            self.assertIsNone(s.proc.poll(), "server died")
            slow.close()

    def test_conflation_latest_value_wins(self):
        with Server(config=self.CONFIG) as s:
            admin = token()
            slow = RawWs(s.port)
            slow.auth(admin)
            slow.send_json({"type": "subscribe", "channel": "telemetry", "id": "s"})
            self.assertEqual(slow.recv_json()["type"], "subscribed")

            ing = Ingester(s, admin)
            body = filler_batch()
            for _ in range(100):  # far more than kernel buffers + 64 KiB: the queue is full
                ing.post("/api/v1/telemetry/batch", body)
            n = 500
            ing.post("/api/v1/telemetry/batch",
                     [{"device_id": 77, "metric_name": "seq", "metric_value": v}
                      for v in range(1, n + 1)])
            ing.post("/api/v1/telemetry", {"device_id": 78, "metric_name": "marker",
                                           "metric_value": 1})
            ing.close()

            # Now read everything: until the marker arrived and then nothing more for 0.5 s.
            seq_values, marker = [], False
            deadline = time.monotonic() + 20
            while True:
                self.assertLess(time.monotonic(), deadline, "updates never stopped")
                slow.sock.settimeout(0.5 if marker else 5)
                try:
                    msg = slow.recv_json()
                except socket.timeout:
                    self.assertTrue(marker, "marker never arrived")
                    break
                if msg.get("type") != "telemetry_update":
                    continue
                if msg["device_id"] == 77:
                    seq_values.append(msg["telemetry"]["seq"]["value"])
                if msg["device_id"] == 78:
                    marker = True
            slow.close()
            self.assertTrue(seq_values, "no update of device 77 at all")
            self.assertEqual(seq_values[-1], n, "latest value must win")
            self.assertLess(len(seq_values), n, "updates were not conflated")
            self.assertEqual(seq_values, sorted(seq_values), "older value overtook a newer one")

    def test_reliable_overflow_closes_4009(self):
        with Server(config={"limits": {"max_outbound_bytes": 65536,
                                       "messages_per_second": 100000}}) as s:
            slow = RawWs(s.port)
            slow.auth(token())
            # Each pong echoes ~900 bytes; 1500 of them (~1.4 MB) cannot fit in 64 KiB plus the
            # kernel buffers of a client that does not read.
            ping = RawWs.frame(json.dumps({"type": "ping", "timestamp": "t" * 900}))
            try:
                slow.sock.sendall(ping * 1500)
            except OSError:
                pass  # the server may already have closed the socket
            # Finally read: pongs, then a close frame with 4009.
            code, pongs = None, 0
            try:
                while True:
                    op, payload = slow.recv_frame()
                    if op == 0x8:
                        code = close_code(payload)
                        break
                    if op == 0x1:
                        self.assertEqual(json.loads(payload)["type"], "pong")
                        pongs += 1
            except (ConnectionError, OSError) as e:
                self.fail(f"no close frame after {pongs} pongs: {e!r}")
            slow.close()
            self.assertEqual(code, 4009)
            self.assertLess(pongs, 1500)


if __name__ == "__main__":
    unittest.main()
