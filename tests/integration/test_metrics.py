"""GET /metrics (issue 13; docs/operations.md, "Metrics"): the Prometheus text format, checked
by Prometheus's own `promtool check metrics`; counters that move with what clients do; who may
scrape (metrics.allow, admin token) and the separate metrics.listen listener."""

import asyncio
import json
import re
import shutil
import subprocess
import unittest
import os
import urllib.error
import urllib.request

import websockets

from harness import (Server, ServerTestCase, metric_value as value, parse_metrics as parse, run,
                     token, wait_until)

PROMTOOL = shutil.which("promtool")


class MetricsTest(ServerTestCase):
    def scrape(self, token_=None, port=None):
        url = f"http://127.0.0.1:{port or self.server.port}/metrics"
        req = urllib.request.Request(url)
        if token_:
            req.add_header("Authorization", "Bearer " + token_)
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.headers.get("Content-Type"), r.read().decode()

    def test_promtool_accepts_the_scrape(self):
        status, ctype, text = self.scrape()
        self.assertEqual(status, 200)
        self.assertTrue(ctype.startswith("text/plain; version=0.0.4"), ctype)
        self.assertIsNotNone(PROMTOOL, "promtool (Debian prometheus) is not installed")
        check = subprocess.run([PROMTOOL, "check", "metrics"], input=text, text=True,
                               capture_output=True)
        # Exit 1 is a parse error; 3 lists lint problems. The one lint problem allowed is the
        # platform's documented name of a gauge, valtronics_devices_total (docs/operations.md).
        self.assertIn(check.returncode, (0, 3), check.stdout + check.stderr)
        problems = [l for l in (check.stdout + check.stderr).splitlines() if l.strip()]
        self.assertEqual(problems, [] if check.returncode == 0 else [
            'valtronics_devices_total non-counter metrics should not have "_total" suffix'])

    def test_documented_families_and_platform_names(self):
        _, _, text = self.scrape()
        families = set(re.findall(r"^# TYPE (\S+) ", text, re.M))
        for name in ["valtronics_devices_total", "valtronics_alerts_total",
                     "valtronics_telemetry_points_total", "valtronics_connections_active",
                     "valtronics_connections_total", "valtronics_auth_failures_total",
                     "valtronics_messages_in_total", "valtronics_messages_out_total",
                     "valtronics_bytes_in_total", "valtronics_bytes_out_total",
                     "valtronics_fanout_deliveries_total", "valtronics_conflated_updates_total",
                     "valtronics_slow_consumer_disconnects_total",
                     "valtronics_rate_limit_hits_total", "valtronics_handshake_refusals_total",
                     "valtronics_ingest_rejected_total", "valtronics_store_queue_depth",
                     "valtronics_store_commit_seconds", "valtronics_ingest_to_enqueue_seconds",
                     "valtronics_enqueue_to_write_seconds", "valtronics_auth_successes_total"]:
            self.assertIn(name, families)
        # docs/operations.md lists every family (its table cannot fall behind the server).

        docs = open(os.path.join(os.path.dirname(__file__), "..", "..", "docs",
                                 "operations.md")).read()
        for name in families:
            self.assertIn(f"`{name}`", docs, f"{name} is not documented in docs/operations.md")

    def test_counters_follow_what_clients_do(self):
        before = parse(self.scrape()[2])
        admin = self.admin

        async def clients():
            # One good auth and subscription, one bad token, one refused handshake (Origin).
            async with websockets.connect(self.ws_url("/ws")) as ws:
                await ws.send(json.dumps({"type": "auth", "token": admin}))
                self.assertTrue(json.loads(await ws.recv())["success"])
                await ws.send(json.dumps({"type": "subscribe", "channel": "telemetry",
                                          "device_id": 1}))
                await ws.recv()
                status, _ = await asyncio.to_thread(self.server.request, "POST",
                                                    "/api/v1/telemetry",
                                                    {"device_id": 1, "telemetry": {
                                                        "t": {"value": 1}, "h": {"value": 2}}},
                                                    admin)
                self.assertEqual(status, 202)
                update = json.loads(await ws.recv())
                self.assertEqual(update["type"], "telemetry_update")
            async with websockets.connect(self.ws_url("/ws")) as ws:
                await ws.send(json.dumps({"type": "auth", "token": "not.a.token"}))
                await ws.recv()
            with self.assertRaises(websockets.exceptions.InvalidStatusCode):
                async with websockets.connect(self.ws_url("/ws"),
                                              origin="https://evil.example"):
                    pass
        run(clients())
        # A refused ingest: a body that is not JSON.
        status, _ = self.server.request("POST", "/api/v1/telemetry", raw=b"{", token_=admin)
        self.assertEqual(status, 400)

        def moved():
            after = parse(self.scrape()[2])
            d = lambda name, **l: value(after, name, **l) - value(before, name, **l)
            return {
                "ok": d("valtronics_auth_successes_total") >= 2,  # WS auth + REST bearer
                "bad": d("valtronics_auth_failures_total", reason="invalid_token") >= 1,
                "sub": d("valtronics_messages_in_total", type="subscribe", channel="telemetry"),
                "auth_in": d("valtronics_messages_in_total", type="auth", channel="none"),
                "points": d("valtronics_telemetry_points_total", source="http"),
                "rejected": d("valtronics_ingest_rejected_total", source="http"),
                "out": d("valtronics_messages_out_total", type="telemetry_update",
                         channel="telemetry"),
                "fanout": d("valtronics_fanout_deliveries_total") >= 1,
                "refused": d("valtronics_handshake_refusals_total", status="403"),
                "ws": d("valtronics_connections_total", endpoint="websocket"),
                "bytes": d("valtronics_bytes_in_total") > 0 and d("valtronics_bytes_out_total") > 0,
                "enqueue": d("valtronics_ingest_to_enqueue_seconds_count") >= 1,
                "written": d("valtronics_enqueue_to_write_seconds_count") >= 1,
                "commit": d("valtronics_store_commit_seconds_count") >= 1,
            }
        expected = {"ok": True, "bad": True, "sub": 1, "auth_in": 2, "points": 2, "rejected": 1,
                    "out": 1, "fanout": True, "refused": 1, "ws": 2, "bytes": True,
                    "enqueue": True, "written": True, "commit": True}
        wait_until(lambda: moved() == expected, timeout=10, what="counters")
        self.assertEqual(moved(), expected)
        after = parse(self.scrape()[2])
        self.assertGreaterEqual(value(after, "valtronics_devices_total", status="online"), 1)

    def test_no_token_and_any_token_from_an_allowed_address(self):
        # From 127.0.0.1 (metrics.allow defaults to loopback) the token is not looked at: no
        # token, or a user's, is served alike (the refusals: MetricsAccessTest).
        for token_ in [None, self.mint("bob", "user")]:
            status, _, text = self.scrape(token_=token_)
            self.assertEqual(status, 200)
            self.assertIn("# TYPE valtronics_uptime_seconds gauge", text)


class MetricsAccessTest(unittest.TestCase):
    def test_outside_metrics_allow_needs_an_admin_token(self):
        with Server({"metrics": {"allow": ["10.0.0.0/8"]}}) as s:
            status, body = s.request("GET", "/metrics")
            self.assertEqual(status, 401, body)
            status, body = s.request("GET", "/metrics", token_=token("bob", "user"))
            self.assertEqual(status, 403, body)
            status, body = s.request("GET", "/metrics", token_=token("root", "admin"))
            self.assertEqual(status, 200)
            self.assertIn("# TYPE valtronics_connections_active gauge", body)

    def test_separate_metrics_listener(self):
        import socket
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        with Server({"metrics": {"listen": f"127.0.0.1:{port}"}}) as s:
            wait_until(lambda: any(f"metrics listener on 127.0.0.1:{port}" in l
                                   for l in s.output), timeout=5, what="the metrics listener")
            # The main listener no longer serves it; the metrics one serves nothing else.
            status, body = s.request("GET", "/metrics")
            self.assertEqual(status, 404)
            self.assertIn("metrics.listen", body["error"]["message"])
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
                self.assertEqual(r.status, 200)
                self.assertIn("valtronics_uptime_seconds", r.read().decode())
            for path in ["/health", "/api/v1/devices", "/ws"]:
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10)
                    self.fail(f"{path} served on the metrics listener")
                except urllib.error.HTTPError as e:
                    self.assertEqual(e.code, 404)


if __name__ == "__main__":
    unittest.main()
