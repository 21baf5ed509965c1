"""Logs (issue 13; docs/operations.md, "Logs"): JSON lines with --log-format json, a connection
id on every line about a connection, a request id and an access-log line at info for every
HTTP request, and no token, secret or password at any level, checked by grepping the output
of a debug-level run that used tokens everywhere."""

import asyncio
import json
import unittest

import websockets

from harness import SECRET, Server, run, token


class LogsTest(unittest.TestCase):
    def test_debug_run_with_tokens_everywhere(self):
        admin = token("admin", "admin")
        user = token("bob", "user", devices="1")
        server = Server({"": {}}, extra_args=["--log-level", "debug", "--log-format", "json"])
        with server as s:
            async def clients():
                # Token in the auth message.
                async with websockets.connect(s.url + "/ws") as ws:
                    await ws.send(json.dumps({"type": "auth", "token": admin}))
                    await ws.recv()
                    await ws.send(json.dumps({"type": "subscribe", "channel": "telemetry",
                                              "device_id": 1}))
                    await ws.recv()
                    await asyncio.to_thread(s.ingest, 1, {"t": 20.5}, admin)
                    await ws.recv()
                # Token in the handshake's Authorization header.
                async with websockets.connect(
                        s.url + "/ws", extra_headers={"Authorization": "Bearer " + user}) as ws:
                    await ws.recv()
                # A bad token (its text must not be echoed into the log either).
                async with websockets.connect(s.url + "/ws") as ws:
                    await ws.send(json.dumps({"type": "auth", "token": user[:-4] + "AAAA"}))
                    await ws.recv()
            run(clients())
            # REST with a bearer token, and a token in a query string.
            s.request("GET", "/api/v1/devices", token_=admin)
            s.request("GET", f"/api/v1/devices?page=1&token={admin}", token_=admin)
            s.request("GET", "/health")
        out = "".join(s.output)

        for secret in [SECRET, admin, user, user[:-4] + "AAAA"]:
            self.assertNotIn(secret, out)
        # Nor any of a token's signature or payload alone.
        for t in [admin, user]:
            for part in t.split(".")[1:]:
                self.assertNotIn(part, out)

        lines = [json.loads(l) for l in out.splitlines() if l.strip()]
        self.assertTrue(lines)
        for l in lines:
            self.assertIn(l["level"], ["trace", "debug", "info", "warning", "warn", "error",
                                       "critical"])
            self.assertTrue(l["time"].endswith("Z"))
        # Every line about a WebSocket connection names it.
        ws_lines = [l for l in lines if l["msg"].startswith("ws ")]
        self.assertTrue(ws_lines)
        for l in ws_lines:
            self.assertIn("conn", l, l)
        # One access-log line per HTTP request, at info, with its request id and status.
        access = [l for l in lines if l["msg"].startswith("http conn=")]
        self.assertGreaterEqual(len(access), 5, access)  # 3 upgrades, 2 GETs, /health, ingest
        for l in access:
            self.assertEqual(l["level"], "info")
            self.assertIn("req", l)
            self.assertTrue(l["req"].startswith(l["conn"] + "."), l)
        self.assertTrue(any("/api/v1/devices?page=1&token=***" in l["msg"] for l in access),
                        access)
        self.assertTrue(any('"GET /health" 200' in l["msg"] for l in access), access)
        self.assertTrue(any('"GET /ws" 101' in l["msg"] for l in access), access)
        # The effective configuration is logged at debug, its secret masked.
        self.assertTrue(any(l["msg"].startswith("effective configuration") for l in lines))

    def test_text_format_by_default(self):
        with Server() as s:
            s.request("GET", "/health")
        out = "".join(s.output)
        self.assertIn("listening on", out)
        self.assertFalse(out.lstrip().startswith("{"))
        self.assertRegex(out, r'http conn=\d+ req=\d+\.1 client=127\.0\.0\.1 "GET /health" 200')


if __name__ == "__main__":
    unittest.main()
