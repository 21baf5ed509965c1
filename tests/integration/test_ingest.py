"""The platform's Telemetry API (POST /api/v1/telemetry and /batch) and GET /api/v1/ws/stats:
envelopes, authorization, every validation error, all-or-nothing, and live delivery to /ws."""
import asyncio
import json
import time
import unittest
from datetime import datetime, timezone

from harness import (Server, ServerTestCase, connect, expect_silence, recv_json, recv_type,
                     run, subscribe, token)

SINGLE = "/api/v1/telemetry"
BATCH = "/api/v1/telemetry/batch"


def parse_ts(s):
    assert isinstance(s, str) and s.endswith("Z"), s
    return datetime.fromisoformat(s[:-1]).replace(tzinfo=timezone.utc)


def norm_update(msg):
    """The update with its timestamps parsed, for exact comparison whatever the precision."""
    out = dict(msg)
    out["telemetry"] = {
        name: {k: (parse_ts(v) if k == "timestamp" else v) for k, v in m.items()}
        for name, m in msg["telemetry"].items()}
    return out


def expected_update(device_id, metrics, seq=1):
    """`seq`: the update's number on its connection's telemetry channel (1 for the first)."""
    return {"type": "telemetry_update", "channel": "telemetry", "device_id": device_id,
            "telemetry": {n: {k: (parse_ts(v) if k == "timestamp" else v) for k, v in m.items()}
                          for n, m in metrics.items()}, "seq": seq}


class IngestTest(ServerTestCase):
    config = {"ingest": {"max_items": 5, "max_body_bytes": 1000}}
    admin_sub = "alice"

    def post(self, path, body, tok=None, raw=None):
        return self.server.request("POST", path, body, tok, raw=raw)

    def assert_envelope_error(self, status, body, want_status, want_code):
        self.assertEqual(status, want_status, body)
        self.assertIsInstance(body, dict, body)
        self.assertIs(body.get("success"), False, body)
        err = body["error"]
        self.assertEqual(set(err), {"code", "message", "details"}, err)
        self.assertEqual(err["code"], want_code, err)
        self.assertIsInstance(err["message"], str)
        self.assertTrue(err["message"])
        self.assertIsInstance(err["details"], dict)
        return err

    def assert_accepted(self, status, body, n):
        self.assertEqual(status, 202, body)
        self.assertEqual(body, {"success": True, "data": {"accepted": n}})

    # --------------------------------------------------------------- accepted and delivered
    def test_single_flat_form_reaches_subscriber(self):
        async def main():
            ws = await connect(self.server, token_=self.admin)
            self.assertEqual((await subscribe(ws, "telemetry", device_id=101))["type"],
                             "subscribed")
            status, body = self.post(SINGLE, {
                "device_id": 101, "metric_name": "temperature", "metric_value": 23.5,
                "unit": "°C", "timestamp": "2024-01-01T12:00:00Z",
                "metadata": {"source": "test"}}, self.admin)
            self.assert_accepted(status, body, 1)
            msg = await recv_json(ws, timeout=1)
            self.assertEqual(norm_update(msg), expected_update(101, {
                "temperature": {"value": 23.5, "unit": "°C",
                                "timestamp": "2024-01-01T12:00:00Z"}}))
            await ws.close()
        run(main())

    def test_single_nested_form_reaches_subscriber(self):
        async def main():
            ws = await connect(self.server, token_=self.admin)
            await subscribe(ws, "telemetry", device_id=102)
            status, body = self.post(SINGLE, {"device_id": 102, "telemetry": {
                "temperature": {"value": 21, "unit": "°C", "timestamp": "2024-01-01T12:00:00Z"},
                "humidity": {"value": 45.2, "unit": "%", "timestamp": "2024-01-01T12:00:01Z"},
            }}, self.admin)
            self.assert_accepted(status, body, 2)
            msg = await recv_json(ws, timeout=1)
            self.assertEqual(norm_update(msg), expected_update(102, {
                "temperature": {"value": 21, "unit": "°C", "timestamp": "2024-01-01T12:00:00Z"},
                "humidity": {"value": 45.2, "unit": "%", "timestamp": "2024-01-01T12:00:01Z"}}))
            await ws.close()
        run(main())

    def test_timestamp_defaults_to_now_and_unit_is_optional(self):
        async def main():
            ws = await connect(self.server, token_=self.admin)
            await subscribe(ws, "telemetry", device_id=103)
            before = datetime.now(timezone.utc)
            status, body = self.post(SINGLE, {"device_id": 103, "metric_name": "rpm",
                                              "metric_value": 1200}, self.admin)
            self.assert_accepted(status, body, 1)
            msg = await recv_json(ws, timeout=1)
            reading = msg["telemetry"]["rpm"]
            self.assertEqual(reading["value"], 1200)
            self.assertNotIn("unit", reading)
            ts = parse_ts(reading["timestamp"])
            self.assertLess(abs((ts - before).total_seconds()), 5)
            await ws.close()
        run(main())

    def test_batch_object_and_bare_array(self):
        async def main():
            ws = await connect(self.server, token_=self.admin)
            await subscribe(ws, "telemetry", device_id=[104, 105])
            items = [
                {"device_id": 104, "metric_name": "temperature", "metric_value": 1.5,
                 "timestamp": "2024-01-01T12:00:00Z"},
                {"device_id": 105, "telemetry": {"pressure": {"value": 1013,
                                                              "timestamp": "2024-01-01T12:00:00Z"},
                                                 "humidity": {"value": 40}}},
            ]
            status, body = self.post(BATCH, {"telemetry_data": items}, self.admin)
            self.assert_accepted(status, body, 3)
            got = {}
            for _ in range(2):
                m = await recv_type(ws, "telemetry_update", timeout=1)
                got[m["device_id"]] = m
            self.assertEqual(set(got), {104, 105})
            self.assertEqual(got[104]["telemetry"]["temperature"]["value"], 1.5)
            self.assertEqual(set(got[105]["telemetry"]), {"pressure", "humidity"})
            self.assertEqual(got[105]["telemetry"]["pressure"]["value"], 1013)

            status, body = self.post(BATCH, [{"device_id": 104, "metric_name": "temperature",
                                              "metric_value": 2.5}], self.admin)
            self.assert_accepted(status, body, 1)
            m = await recv_type(ws, "telemetry_update", timeout=1)
            self.assertEqual((m["device_id"], m["telemetry"]["temperature"]["value"]), (104, 2.5))
            await ws.close()
        run(main())

    def test_max_items(self):
        item = {"device_id": 1, "metric_name": "m", "metric_value": 1}
        status, body = self.post(BATCH, [dict(item, metric_value=i) for i in range(5)],
                                 self.admin)
        self.assert_accepted(status, body, 5)
        status, body = self.post(BATCH, {"telemetry_data": [dict(item) for _ in range(6)]},
                                 self.admin)
        self.assert_envelope_error(status, body, 400, "VALIDATION_ERROR")

    def test_body_over_max_body_bytes_is_413(self):
        body = json.dumps({"device_id": 1, "metric_name": "m", "metric_value": 1,
                           "metadata": {"pad": "x" * 1200}}).encode()
        self.assertGreater(len(body), 1000)
        status, reply = self.post(SINGLE, None, self.admin, raw=body)
        self.assert_envelope_error(status, reply, 413, "PAYLOAD_TOO_LARGE")
        status, reply = self.post(BATCH, None, self.admin, raw=b"[" + body + b"]")
        self.assert_envelope_error(status, reply, 413, "PAYLOAD_TOO_LARGE")

    def test_get_on_ingest_paths_is_405(self):
        # GET /api/v1/telemetry is the raw history list (docs/telemetry.md); the batch path
        # takes POST only.
        status, body = self.server.request("GET", BATCH, token_=self.admin)
        self.assertEqual(status, 405, body)
        self.assertIs(body["success"], False)
        self.assertEqual(body["error"]["details"]["allow"], "POST", body)
        status, body = self.server.request("PUT", SINGLE, token_=self.admin)
        self.assertEqual(status, 405, body)
        self.assertEqual(body["error"]["details"]["allow"], "POST, GET", body)

    # ------------------------------------------------------------------------ authorization
    def test_authorization(self):
        reading = {"device_id": 7, "metric_name": "m", "metric_value": 1}
        status, body = self.post(SINGLE, reading)
        self.assert_envelope_error(status, body, 401, "UNAUTHORIZED")
        status, body = self.post(SINGLE, reading, "not.a.token")
        self.assert_envelope_error(status, body, 401, "UNAUTHORIZED")
        status, body = self.post(SINGLE, reading, token(secret="some-other-secret"))
        self.assert_envelope_error(status, body, 401, "UNAUTHORIZED")
        status, body = self.post(SINGLE, reading, token(role="user", devices="*"))
        self.assert_envelope_error(status, body, 403, "FORBIDDEN")
        status, body = self.post(BATCH, [reading], token(role="user", devices="7"))
        self.assert_envelope_error(status, body, 403, "FORBIDDEN")
        status, body = self.post(SINGLE, reading, token(role="analyst", devices="*"))
        self.assert_envelope_error(status, body, 403, "FORBIDDEN")
        status, body = self.post(SINGLE, reading, token(role="operator"))
        self.assert_accepted(status, body, 1)
        dev = token(sub="sensor-7", role="device", device_id=7)
        self.assert_accepted(*self.post(SINGLE, reading, dev), 1)
        self.assert_accepted(*self.post(BATCH, [reading], dev), 1)
        status, body = self.post(SINGLE, dict(reading, device_id=8), dev)
        self.assert_envelope_error(status, body, 403, "FORBIDDEN")
        # A batch with one foreign device is refused whole.
        status, body = self.post(BATCH, [reading, dict(reading, device_id=8)], dev)
        self.assert_envelope_error(status, body, 403, "FORBIDDEN")

    def test_forbidden_device_batch_applies_nothing(self):
        async def main():
            ws = await connect(self.server, token_=self.admin)
            await subscribe(ws, "telemetry", device_id=[7, 8])
            dev = token(sub="sensor-7", role="device", device_id=7)
            status, body = self.post(BATCH, [
                {"device_id": 7, "metric_name": "m", "metric_value": 1},
                {"device_id": 8, "metric_name": "m", "metric_value": 1}], dev)
            self.assertEqual(status, 403, body)
            await expect_silence(ws, 0.5)
            await ws.close()
        run(main())

    # --------------------------------------------------------------------------- validation
    FLAT = {"device_id": 1, "metric_name": "temperature", "metric_value": 20.5,
            "unit": "C", "timestamp": "2024-01-01T12:00:00Z"}
    BAD_FLAT = [
        ("device_id", {"device_id": 0}),
        ("device_id", {"device_id": -1}),
        ("device_id", {"device_id": 1.5}),
        ("device_id", {"device_id": "1"}),
        ("metric_name", {"metric_name": "Bad Name"}),
        ("metric_name", {"metric_name": "a" * 65}),
        ("metric_value", {"metric_value": "x"}),
        ("metric_value", {"metric_value": None, "__drop__": "metric_value"}),
        ("timestamp", {"timestamp": "yesterday"}),
        ("unit", {"unit": 5}),
    ]

    @classmethod
    def bad_item(cls, patch):
        item = dict(cls.FLAT)
        patch = dict(patch)
        drop = patch.pop("__drop__", None)
        item.update(patch)
        if drop:
            del item[drop]
        return item

    def test_validation_errors_single(self):
        # The limits themselves are accepted: a 64-character name.
        status, body = self.post(SINGLE, dict(self.FLAT, metric_name="a" * 64), self.admin)
        self.assert_accepted(status, body, 1)
        for field, patch in self.BAD_FLAT:
            with self.subTest(field=field, patch=patch):
                status, body = self.post(SINGLE, self.bad_item(patch), self.admin)
                err = self.assert_envelope_error(status, body, 400, "VALIDATION_ERROR")
                self.assertEqual(err["details"].get("field"), field, err)
                self.assertIn(field, err["message"])

    def test_validation_errors_nested_form(self):
        base = {"device_id": 1, "telemetry": {"temperature": {"value": 1.5}}}
        cases = [
            ("value", {"device_id": 1, "telemetry": {"temperature": {"value": "x"}}}),
            ("value", {"device_id": 1, "telemetry": {"temperature": {"unit": "C"}}}),
            ("unit", {"device_id": 1, "telemetry": {"temperature": {"value": 1, "unit": 5}}}),
            ("timestamp", {"device_id": 1, "telemetry": {"temperature": {
                "value": 1, "timestamp": "yesterday"}}}),
            ("telemetry", {"device_id": 1, "telemetry": {"Bad Name": {"value": 1}}}),
            ("device_id", dict(base, device_id="1")),
        ]
        self.assert_accepted(*self.post(SINGLE, base, self.admin), 1)
        for field, body in cases:
            with self.subTest(body=body):
                status, reply = self.post(SINGLE, body, self.admin)
                err = self.assert_envelope_error(status, reply, 400, "VALIDATION_ERROR")
                self.assertIn(field, err["details"].get("field", ""), err)

    def test_validation_errors_batch_name_index_and_field(self):
        good = dict(self.FLAT)
        for field, patch in self.BAD_FLAT:
            with self.subTest(field=field, patch=patch):
                status, body = self.post(BATCH, {"telemetry_data": [good, good,
                                                                    self.bad_item(patch)]},
                                         self.admin)
                err = self.assert_envelope_error(status, body, 400, "VALIDATION_ERROR")
                self.assertEqual(err["details"].get("index"), 2, err)
                self.assertEqual(err["details"].get("field"), field, err)

    def test_invalid_bodies(self):
        for path, raw in ((SINGLE, b"{not json"), (BATCH, b"{not json"), (BATCH, b"[]"),
                          (BATCH, b'{"telemetry_data": 5}'), (SINGLE, b"[1]"),
                          (BATCH, b"[1]"), (SINGLE, b'"x"')):
            with self.subTest(path=path, raw=raw):
                status, body = self.post(path, None, self.admin, raw=raw)
                self.assert_envelope_error(status, body, 400, "VALIDATION_ERROR")

    def test_batch_with_one_bad_item_applies_nothing(self):
        async def main():
            ws = await connect(self.server, token_=self.admin)
            await subscribe(ws, "telemetry", device_id=[110, 111])
            status, body = self.post(BATCH, {"telemetry_data": [
                {"device_id": 110, "metric_name": "ok", "metric_value": 1},
                {"device_id": 111, "telemetry": {"ok": {"value": 2}}},
                {"device_id": 110, "metric_name": "ok", "metric_value": "bad"},
            ]}, self.admin)
            err = self.assert_envelope_error(status, body, 400, "VALIDATION_ERROR")
            self.assertEqual(err["details"].get("index"), 2)
            await expect_silence(ws, 0.5)
            # The subscription itself works: a valid reading arrives.
            self.assert_accepted(*self.post(SINGLE, {"device_id": 111, "metric_name": "ok",
                                                     "metric_value": 3}, self.admin), 1)
            m = await recv_json(ws, timeout=1)
            self.assertEqual((m["device_id"], m["telemetry"]["ok"]["value"]), (111, 3))
            await ws.close()
        run(main())


class WsStatsTest(unittest.TestCase):
    def test_stats_figures_and_access(self):
        with Server() as s:
            admin = token()
            path = "/api/v1/ws/stats"
            status, body = s.request("GET", path)
            self.assertEqual(status, 401, body)
            self.assertEqual(body["error"]["code"], "UNAUTHORIZED")
            status, body = s.request("GET", path, token_=token(role="user", devices="*"))
            self.assertEqual(status, 403, body)
            self.assertEqual(body["error"]["code"], "FORBIDDEN")
            status, body = s.request("GET", path, token_=token(role="operator"))
            self.assertEqual(status, 403, body)

            status, body = s.request("GET", path, token_=admin)
            self.assertEqual(status, 200, body)
            self.assertIs(body["success"], True)
            d = body["data"]
            for k in ("totalConnections", "activeConnections", "messagesReceived",
                      "messagesSent", "averageConnectionDuration", "messagesPerConnection"):
                self.assertIn(k, d)
                self.assertEqual(d[k], 0, (k, d))

            started = time.monotonic()

            async def main():
                a = await connect(s, token_=admin)          # 1 in, 1 out
                b = await connect(s, token_=admin)          # 1 in, 1 out
                for i in range(3):                          # 3 in, 3 out
                    await b.send(json.dumps({"type": "ping", "id": i}))
                    self.assertEqual((await recv_json(b))["type"], "pong")
                await asyncio.sleep(0.3)
                await a.close()
                deadline = time.monotonic() + 3
                while True:
                    _, body = s.request("GET", path, token_=admin)
                    if body["data"]["activeConnections"] == 1 or time.monotonic() > deadline:
                        break
                    await asyncio.sleep(0.05)
                await b.close()
                return body["data"]

            d = run(main())
            elapsed = time.monotonic() - started
            self.assertEqual(d["totalConnections"], 2, d)
            self.assertEqual(d["activeConnections"], 1, d)
            self.assertEqual(d["messagesReceived"], 5, d)
            self.assertEqual(d["messagesSent"], 5, d)
            # (received + sent) / connections, or received / connections: both fit the spec.
            self.assertIn(round(d["messagesPerConnection"], 6), (5.0, 2.5), d)
            self.assertGreater(d["averageConnectionDuration"], 0.2, d)
            self.assertLess(d["averageConnectionDuration"], elapsed, d)


if __name__ == "__main__":
    unittest.main()
