"""Issue 10, defect 3: one device token could break alert delivery for every dashboard. A reading's
`unit` had no length bound and was copied into the alert text: one reading with a ~1 MB unit
against a global rule made an alert frame larger than `limits.max_outbound_bytes`, every alerts
subscriber was closed 4009, and every `since_alert_id` resume below it was closed again.

Now every stored string is bounded (docs/rest.md "Field bounds", config/limits.hpp): over-long
fields are 400 naming the field, and the largest alert a device can cause (every part at its
bound, in multi-byte characters) reaches every subscriber and every resume without a close.
Start-up refuses a `limits.max_outbound_bytes` below the largest stored message."""

import asyncio
import json
import os
import subprocess
import sys
import time
import unittest

from abuse_support import AbuseTestCase
import harness

# The bounds of config/limits.hpp (characters, UTF-8 code points).
METRIC, UNIT, NAME, DEVICE_TEXT, REASON, NOTES = 64, 20, 200, 200, 1000, 2000
ALERTS = 10
WIDE = "\U0001F525"  # 4 bytes in UTF-8, 12 as a JSON \\u escape pair


class FieldBounds(AbuseTestCase):
    def post(self, path, body, method="POST"):
        return self.server.request(method, path, body, token_=self.admin)

    def assert_refused(self, reply_pair, field):
        status, reply = reply_pair
        self.assertEqual(status, 400, reply)
        self.assertEqual(reply["error"]["code"], "VALIDATION_ERROR", reply)
        self.assertIn(field, reply["error"]["details"]["field"], reply)

    def test_over_long_fields_are_400_naming_the_field_and_at_the_bound_accepted(self):
        ingest = "/api/v1/telemetry"
        # (method, path, body, the field the refusal must name)
        cases = [
            ("POST", ingest, {"device_id": 1, "metric_name": "t", "metric_value": 1,
                              "unit": "u" * 1_000_000}, "unit"),
            ("POST", ingest, {"device_id": 1, "metric_name": "t", "metric_value": 1,
                              "unit": WIDE * (UNIT + 1)}, "unit"),
            ("POST", ingest, {"device_id": 1, "metric_name": "m" * (METRIC + 1),
                              "metric_value": 1}, "metric_name"),
            ("POST", ingest, {"device_id": 1, "telemetry": {
                "t": {"value": 1, "unit": "u" * (UNIT + 1)}}}, "unit"),
            ("POST", "/api/v1/telemetry/batch", {"telemetry_data": [
                {"device_id": 1, "metric_name": "t", "metric_value": 1, "unit": "u" * 5000}]},
             "unit"),
            ("POST", "/api/v1/devices", {"name": "n" * (NAME + 1), "device_type": "sensor"},
             "name"),
            ("POST", "/api/v1/devices", {"name": "ok", "device_type": "sensor",
                                         "location": "l" * (DEVICE_TEXT + 1)}, "location"),
            ("POST", "/api/v1/devices", {"name": "ok", "device_type": "sensor",
                                         "metadata": {"k": "v" * 9000}}, "metadata"),
            ("POST", "/api/v1/alert-rules", {"name": "r" * (NAME + 1), "metric": "t",
                                             "condition": "gt", "threshold": 1,
                                             "severity": "warning"}, "name"),
            ("PUT", "/api/v1/devices/1/status", {"status": "offline",
                                                 "reason": "x" * (REASON + 1)}, "reason"),
        ]
        with self.bystander() as b:
            # Over and over for a while, so the bystander's readings run beside the refusals.
            t0, rounds = time.monotonic(), 0
            while time.monotonic() - t0 < 1.5:
                for method, path, body, field in cases:
                    self.assert_refused(self.post(path, body, method), field)
                rounds += 1
            # At the bound, in 4-byte characters: accepted.
            status, reply = self.post(ingest, {"device_id": 1, "metric_name": "m" * METRIC,
                                               "metric_value": 1, "unit": WIDE * UNIT})
            self.assertEqual(status, 202, reply)
            b.assert_on_time(self, "over-long fields")
        print(f"\n  [field bounds] {rounds * len(cases)} over-long requests refused",
              file=sys.stderr)


class LargestAlert(AbuseTestCase):
    def test_the_largest_alert_reaches_every_subscriber_and_every_resume(self):
        # A global rule whose name (the alert's title) is at its bound, in 4-byte characters.
        status, reply = self.server.request("POST", "/api/v1/alert-rules", {
            "name": WIDE * NAME, "metric": "m" * METRIC, "condition": "gt", "threshold": 0,
            "severity": "critical", "cooldown": "0s"}, token_=self.admin)
        self.assertEqual(status, 201, reply)

        async def main():
            subs = []
            for _ in range(3):
                ws = await harness.connect(self.server, token_=self.admin)
                r = await harness.subscribe(ws, "alerts")
                self.assertEqual(r["type"], "subscribed", r)
                subs.append(ws)
            device = self.mint("dev-9", role="device", device_id=9)
            # ALERTS of the largest alerts, one per episode (the condition ends between them),
            # over about 1.5 s so the bystander's readings run beside them.
            for i in range(ALERTS):
                for value in (10 + i, -1):
                    status, reply = await asyncio.to_thread(
                        self.server.request, "POST", "/api/v1/telemetry",
                        {"device_id": 9, "metric_name": "m" * METRIC, "metric_value": value,
                         "unit": WIDE * UNIT}, device)
                    self.assertEqual(status, 202, reply)
                await asyncio.sleep(0.15)
            sizes = []
            for ws in subs:
                for _ in range(ALERTS):
                    msg = await harness.recv_type(ws, "alert")
                    sizes.append(len(json.dumps(msg).encode()))
                    self.assertEqual(msg["device_id"], 9)
            for ws in subs:  # still open: answers a ping
                await ws.send(json.dumps({"type": "ping", "id": "alive"}))
                self.assertEqual((await harness.recv_type(ws, "pong"))["id"], "alive")
                await ws.close()
            # Resuming below them, twice: replayed whole, no 4009 loop.
            for attempt in range(2):
                ws = await harness.connect(self.server, token_=self.admin)
                r = await harness.subscribe(ws, "alerts", since_alert_id=0)
                self.assertIs(r.get("recovered"), True, r)
                for _ in range(ALERTS):
                    self.assertEqual((await harness.recv_type(ws, "alert"))["device_id"], 9)
                await ws.send(json.dumps({"type": "ping", "id": attempt}))
                self.assertEqual((await harness.recv_type(ws, "pong"))["id"], attempt)
                await ws.close()
            return max(sizes)

        with self.bystander() as b:
            largest = harness.run(main())
            b.assert_on_time(self, "largest alerts")
        print(f"\n  [largest alert] {ALERTS} alerts of {largest} bytes delivered to 3 subscribers and 2 resumes",
              file=sys.stderr)


def _refused_at_start():
    """Runs `serve` with a 4 KB budget; returns (exit code, stderr)."""
    cfg = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"vt-budget-{os.getpid()}.toml")
    with open(cfg, "w") as f:
        f.write("[limits]\nmax_outbound_bytes = 4096\n")
    try:
        p = subprocess.run([harness.BIN, "serve", "--config", cfg, "--listen",
                            "127.0.0.1:0", "--jwt-secret", "x" * 32, "--db", ":memory:"],
                           capture_output=True, text=True, timeout=20)
        return p.returncode, p.stderr + p.stdout
    finally:
        os.unlink(cfg)


class OutboundBudget(unittest.TestCase):
    def test_a_budget_below_the_largest_stored_message_is_refused_at_start(self):
        code, out = _refused_at_start()
        self.assertNotEqual(code, 0, out)
        self.assertIn("limits.max_outbound_bytes", out)
        self.assertIn("largest single stored message", out)


if __name__ == "__main__":
    unittest.main()
