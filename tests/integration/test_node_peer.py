"""The Node `ws` benchmark peer (bench/peers/node-ws/server.mjs) speaks enough of our protocol for
bench/compare: it authenticates with a token minted by `valtronics token`, subscribes, answers
pings, and delivers what is ingested over HTTP. Skipped when its node_modules is missing (run
scripts/install-deps)."""
import asyncio
import json
import os
import re
import shutil
import subprocess
import threading
import time
import unittest
import urllib.error
import urllib.request

import websockets

from harness import SECRET, recv_json, recv_type, stop_by_pid, token

PEER = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", "..", "bench", "peers",
                                     "node-ws"))
MISSING = None
if shutil.which("node") is None:
    MISSING = "node is not installed"
elif not all(os.path.isdir(os.path.join(PEER, "node_modules", m)) for m in ("ws", "jsonwebtoken")):
    MISSING = f"{PEER}/node_modules is missing: run scripts/install-deps"


class NodePeer:
    """Runs `node server.mjs` on a free loopback port (it prints the port); stopped by PID."""

    def __enter__(self):
        env = dict(os.environ, VALTRONICS_JWT_SECRET=SECRET)
        self.proc = subprocess.Popen(["node", os.path.join(PEER, "server.mjs"), "--port", "0"],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                     env=env)
        self.output = []
        self.port = None
        deadline = time.time() + 15
        while time.time() < deadline and self.port is None:
            line = self.proc.stdout.readline()
            if not line:
                break
            self.output.append(line)
            m = re.search(r"listening on 127\.0\.0\.1:(\d+)", line)
            if m:
                self.port = int(m.group(1))
        if self.port is None:
            self.__exit__()
            raise RuntimeError("node peer did not start:\n" + "".join(self.output))
        # Keep draining output so the peer never blocks on a full pipe.
        self.drain = threading.Thread(target=lambda: self.output.extend(self.proc.stdout),
                                      daemon=True)
        self.drain.start()
        return self

    def __exit__(self, *exc):
        stop_by_pid(self.proc)
        if getattr(self, "drain", None):
            self.drain.join(5)
        self.proc.stdout.close()

    def post(self, path, body, token_=None):
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}",
                                     data=json.dumps(body).encode(), method="POST")
        req.add_header("Content-Type", "application/json")
        if token_:
            req.add_header("Authorization", "Bearer " + token_)
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read())


@unittest.skipIf(MISSING, MISSING)
class NodePeerTest(unittest.TestCase):
    def test_auth_subscribe_ingest_and_receive(self):
        admin = token("bench", "admin")

        async def scenario(peer):
            async with websockets.connect(f"ws://127.0.0.1:{peer.port}/ws") as ws:
                await ws.send(json.dumps({"type": "ping", "timestamp": "t0", "id": 1}))
                pong = await recv_json(ws)
                self.assertEqual((pong["type"], pong["timestamp"], pong["id"]), ("pong", "t0", 1))

                await ws.send(json.dumps({"type": "auth", "token": admin, "id": 2}))
                auth = await recv_json(ws)
                self.assertEqual(auth["type"], "auth_response")
                self.assertTrue(auth["success"], auth)
                self.assertEqual((auth["user"], auth["role"], auth["id"]), ("bench", "admin", 2))

                await ws.send(json.dumps({"type": "subscribe", "channel": "telemetry",
                                          "device_id": 7, "id": 3}))
                sub = await recv_json(ws)
                self.assertEqual(sub["type"], "subscribed", sub)
                self.assertEqual(sub["filters"]["device_id"], [7])

                body = {"telemetry_data": [
                    {"device_id": 8, "metric_name": "bench_seq", "metric_value": 1},
                    {"device_id": 7, "metric_name": "bench_seq", "metric_value": 1730000000000000},
                    {"device_id": 7, "telemetry": {"temperature": {"value": 23.5, "unit": "C"}}},
                ]}
                status, reply = await asyncio.to_thread(
                    peer.post, "/api/v1/telemetry/batch", body, admin)
                self.assertEqual(status, 202, reply)
                self.assertEqual(reply, {"success": True, "data": {"accepted": 3}})

                # Device 7's two readings make one update, as with Valtronics; device 8's is not
                # sent to this subscriber.
                update = await recv_type(ws, "telemetry_update")
                self.assertEqual(update["channel"], "telemetry")
                self.assertEqual(update["device_id"], 7)
                self.assertEqual(update["telemetry"]["bench_seq"]["value"], 1730000000000000)
                self.assertEqual(update["telemetry"]["temperature"]["unit"], "C")
                self.assertRegex(update["telemetry"]["temperature"]["timestamp"],
                                 r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
                with self.assertRaises(asyncio.TimeoutError):
                    await asyncio.wait_for(ws.recv(), 0.3)

        with NodePeer() as peer:
            asyncio.run(scenario(peer))

    def test_bad_tokens_are_refused(self):
        async def scenario(peer):
            async with websockets.connect(f"ws://127.0.0.1:{peer.port}/ws") as ws:
                await ws.send(json.dumps({"type": "auth", "token": token(secret="other-secret")}))
                auth = await recv_json(ws)
                self.assertFalse(auth["success"])
                self.assertEqual(auth["error"], "invalid_token")
                with self.assertRaises(websockets.ConnectionClosed) as closed:
                    await ws.recv()
                self.assertEqual(closed.exception.rcvd.code, 4001)

        with NodePeer() as peer:
            asyncio.run(scenario(peer))
            body = {"telemetry_data": [{"device_id": 1, "metric_name": "x", "metric_value": 1}]}
            status, reply = peer.post("/api/v1/telemetry/batch", body)
            self.assertEqual(status, 401, reply)
            status, reply = peer.post("/api/v1/telemetry/batch", body, token("u", "user", devices="*"))
            self.assertEqual(status, 403, reply)
            bad = {"telemetry_data": [{"device_id": 0, "metric_name": "x", "metric_value": 1}]}
            status, reply = peer.post("/api/v1/telemetry/batch", bad, token())
            self.assertEqual(status, 400, reply)
            self.assertEqual(reply["error"]["details"], {"index": 0, "field": "device_id"})


if __name__ == "__main__":
    unittest.main()
