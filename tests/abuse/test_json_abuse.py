"""JSON abuse over WebSocket and over REST ingest: deeply nested, huge, unknown fields, wrong
types. Each gets its documented answer (docs/protocol.md "Error codes" and "Close codes",
docs/rest.md), the server stays up, and a bystander keeps receiving its readings on time."""

import asyncio
import json
import sys
import time
import unittest

from abuse_support import AbuseTestCase, http_exchange
import harness


class JsonOverWebSocket(AbuseTestCase):
    def exchange(self, frames):
        """Sends each frame on one authenticated connection; returns the reply to each (a dict),
        or ("closed", code) when the server closed instead."""
        async def main():
            ws = await harness.connect(self.server, token_=self.admin)
            out = []
            for f in frames:
                await ws.send(f)
                try:
                    out.append(json.loads(await asyncio.wait_for(ws.recv(), 5)))
                except harness.websockets.exceptions.ConnectionClosed as e:
                    out.append(("closed", e.rcvd.code if e.rcvd else None))
                    break
            await ws.close()
            return out
        return asyncio.run(main())

    def test_deeply_nested_json_is_invalid_json(self):
        with self.bystander() as b:
            replies = self.exchange(["[" * 400 + "]" * 400,
                                     '{"type":"ping","x":' + "[" * 200 + "]" * 200 + "}",
                                     '{"type":"ping","id":1}'])
            time.sleep(1)  # the bystander runs on a while after the abuse
            b.assert_on_time(self, "nested JSON over WebSocket")
        self.assertEqual(replies[0]["error"], "invalid_json", replies)
        self.assertEqual(replies[1]["error"], "invalid_json", replies)
        self.assertEqual(replies[2]["type"], "pong", "the connection stays usable")

    def test_huge_json_closes_1009(self):
        with self.bystander() as b:
            replies = self.exchange([json.dumps({"type": "ping", "pad": "x" * 200_000})])
            big_batch = self.exchange([json.dumps({"type": "batch", "messages": [
                {"type": "ping", "pad": "x" * 900}] * 60})])
            time.sleep(1)  # the bystander runs on a while after the abuse
            b.assert_on_time(self, "huge JSON over WebSocket")
        self.assertEqual(replies, [("closed", 1009)])
        self.assertEqual(big_batch, [("closed", 1009)], "a batch over max_batch_bytes")

    def test_unknown_fields(self):
        with self.bystander() as b:
            replies = self.exchange([
                '{"type":"subscribe","channel":"telemetry","colour":"blue","id":1}',
                '{"type":"subscribe","channel":"telemetry","filters":{"x":1},"id":2}',
                '{"type":"frobnicate","id":3}'])
            time.sleep(1)  # the bystander runs on a while after the abuse
            b.assert_on_time(self, "unknown fields over WebSocket")
        self.assertEqual([(r["error"], r["id"]) for r in replies],
                         [("unknown_filter", 1), ("unknown_filter", 2), ("unknown_type", 3)])

    def test_wrong_types(self):
        with self.bystander() as b:
            replies = self.exchange([
                '{"type":7}', '{"type":"subscribe","channel":5,"id":1}',
                '{"type":"subscribe","channel":"telemetry","device_id":"x","id":2}',
                '"just a string"', '{"type":"ping","id":{"an":"object"}}'])
            time.sleep(1)  # the bystander runs on a while after the abuse
            b.assert_on_time(self, "wrong types over WebSocket")
        self.assertEqual([r["error"] for r in replies],
                         ["invalid_message", "invalid_message", "invalid_filter", "invalid_json",
                          "invalid_message"])


class JsonOverRestIngest(AbuseTestCase):
    def post(self, raw):
        return self.server.request("POST", "/api/v1/telemetry", raw=raw, token_=self.admin)

    def test_deeply_nested_body_is_400(self):
        with self.bystander() as b:
            status, body = self.post(b"[" * 100_000)
            status2, body2 = self.post(json.dumps(
                {"device_id": 1, "metric_name": "t", "metric_value": 1,
                 "metadata": json.loads('{"a":' * 30 + "1" + "}" * 30)}).encode())
            time.sleep(1)  # the bystander runs on a while after the abuse
            b.assert_on_time(self, "nested JSON over REST")
        self.assertEqual((status, body["error"]["code"]), (400, "VALIDATION_ERROR"), body)
        self.assertIn("nested deeper than 20", body["error"]["message"])
        self.assertEqual((status2, body2["error"]["code"]), (400, "VALIDATION_ERROR"), body2)

    def test_huge_body_is_413(self):
        with self.bystander() as b:
            # Answered from the announced length, before the body is read (raw socket: a
            # client library would break on the early answer).
            raw = (f"POST /api/v1/telemetry HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
                   f"{self.admin}\r\nContent-Type: application/json\r\n"
                   f"Content-Length: {2 << 20}\r\n\r\n").encode() + b'{"device_id":1,"pad":"xx'
            status, _, body, _ = http_exchange(self.server.port, raw)
            time.sleep(1)  # the bystander runs on a while after the abuse
            b.assert_on_time(self, "huge JSON over REST")
        self.assertEqual((status, json.loads(body)["error"]["code"]), (413, "PAYLOAD_TOO_LARGE"),
                         body)

    def test_unknown_fields_are_ignored_as_the_platform_does(self):
        status, body = self.post(b'{"device_id":1,"metric_name":"t","metric_value":1,"bogus":[1]}')
        self.assertEqual(status, 202, body)

    def test_wrong_types_are_400_naming_the_field(self):
        cases = {b'{"device_id":"1","metric_name":"t","metric_value":1}': "device_id",
                 b'{"device_id":1,"metric_name":"t","metric_value":"1"}': "metric_value",
                 b'{"device_id":1,"metric_name":7,"metric_value":1}': "metric_name",
                 b'{"device_id":1,"metric_name":"t","metric_value":1,"unit":5}': "unit",
                 b'{"device_id":1,"telemetry":[1,2]}': "telemetry"}
        with self.bystander() as b:
            for raw, field in cases.items():
                status, body = self.post(raw)
                self.assertEqual(status, 400, (raw, body))
                self.assertEqual(body["error"]["code"], "VALIDATION_ERROR", body)
                self.assertIn(field, body["error"]["details"]["field"], body)
            time.sleep(1)  # the bystander runs on a while after the abuse
            b.assert_on_time(self, "wrong types over REST")
        self.assertEqual(self.server.request("GET", "/health")[0], 200, "the server stays up")


if __name__ == "__main__":
    unittest.main()
