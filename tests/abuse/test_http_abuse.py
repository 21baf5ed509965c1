"""Abuse of the HTTP layer, from raw sockets: request smuggling shapes (RFC 9112 section 6.3),
`Expect: 100-continue`, the WebSocket key check (RFC 6455 section 4.2.1), the plain HTTP
connection cap (the per-phase slowloris timeouts are in test_timeouts.py). Each test also
checks that a well-behaved bystander keeps receiving its readings on time meanwhile."""

import json
import socket
import time
import unittest

from abuse_support import (AbuseTestCase, http_exchange, raw_connect, read_http_response,
                           upgrade_request)
import harness


def smuggle(token, te_lines, cl_lines=(), device_id=777):
    """A POST whose body is itself a complete telemetry request: read as bodyless, the body
    would run as the next request."""
    inner_body = json.dumps({"device_id": device_id, "telemetry": {"smuggled": {"value": 1}}})
    inner = (f"POST /api/v1/telemetry HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n"
             f"Content-Type: application/json\r\nContent-Length: {len(inner_body)}\r\n\r\n"
             f"{inner_body}")
    head = "POST /health HTTP/1.1\r\nHost: x\r\n"
    for line in te_lines:
        head += f"Transfer-Encoding: {line}\r\n"
    for line in cl_lines:
        head += f"Content-Length: {line}\r\n"
    return (head + "\r\n" + inner).encode()


class RequestSmuggling(AbuseTestCase):
    def device_has_metric(self, device_id, metric):
        status, body = self.server.request("GET", f"/api/v1/devices/{device_id}/telemetry/latest",
                                           token_=self.admin)
        return status == 200 and metric in json.dumps(body)

    def test_transfer_codings_other_than_chunked_are_refused(self):
        with self.bystander() as b:
            for i, te in enumerate(["xchunked", "identity", "gzip", "chunked, gzip",
                                    "chunked, identity", "gzip, chunked", " chunked2"]):
                device = 700 + i
                status, _, body, closed = http_exchange(self.server.port,
                                                        smuggle(self.admin, [te], device_id=device))
                self.assertEqual(status, 400, te)
                self.assertEqual(json.loads(body)["error"]["code"], "BAD_REQUEST", body)
                self.assertTrue(closed, f"{te}: connection left open")
                self.assertFalse(self.device_has_metric(device, "smuggled"), te)
            b.assert_on_time(self, "transfer-encoding smuggling")

    def test_both_lengths_duplicates_and_negative(self):
        cases = [(["chunked"], ["5"]), ([], ["5", "5"]), ([], ["5, 5"]), ([], ["-5"]),
                 ([], ["abc"]), (["chunked", "chunked"], [])]
        with self.bystander() as b:
            for i, (te, cl) in enumerate(cases):
                status, _, body, closed = http_exchange(self.server.port,
                                                        smuggle(self.admin, te, cl, 720 + i))
                self.assertEqual(status, 400, (te, cl, body))
                self.assertIn("error", json.loads(body))
                self.assertTrue(closed, (te, cl))
                self.assertFalse(self.device_has_metric(720 + i, "smuggled"), (te, cl))
            b.assert_on_time(self, "length smuggling")

    def test_plain_chunked_still_works(self):
        body = json.dumps({"device_id": 760, "telemetry": {"t": {"value": 2}}}).encode()
        raw = (f"POST /api/v1/telemetry HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {self.admin}"
               f"\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n"
               f"Connection: close\r\n\r\n{len(body):x}\r\n").encode() + body + b"\r\n0\r\n\r\n"
        status, _, reply, _ = http_exchange(self.server.port, raw)
        self.assertEqual(status, 202, reply)


class ExpectContinue(AbuseTestCase):
    def test_100_continue_is_answered_before_the_body(self):
        body = json.dumps({"device_id": 761, "telemetry": {"t": {"value": 3}}}).encode()
        s = raw_connect(self.server.port)
        try:
            s.sendall((f"POST /api/v1/telemetry HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
                       f"{self.admin}\r\nContent-Type: application/json\r\nContent-Length: "
                       f"{len(body)}\r\nExpect: 100-continue\r\n\r\n").encode())
            status, _, _ = read_http_response(s, timeout=3)
            self.assertEqual(status, 100)
            s.sendall(body)
            status, _, reply = read_http_response(s)
            self.assertEqual(status, 202, reply)
        finally:
            s.close()

    def test_100_continue_over_the_body_limit_is_413_at_once(self):
        s = raw_connect(self.server.port)
        try:
            s.sendall((f"POST /api/v1/telemetry HTTP/1.1\r\nHost: x\r\nContent-Length: "
                       f"{10 ** 9}\r\nExpect: 100-continue\r\n\r\n").encode())
            status, _, reply = read_http_response(s, timeout=3)
            self.assertEqual(status, 413, reply)
        finally:
            s.close()

    def test_unknown_expectation_is_417(self):
        status, _, body, _ = http_exchange(
            self.server.port,
            b"POST /api/v1/telemetry HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
            b"Expect: something-else\r\n\r\n{}")
        self.assertEqual(status, 417, body)
        self.assertIn("error", json.loads(body))


class WebSocketKey(AbuseTestCase):
    def test_key_must_be_base64_of_16_bytes(self):
        for key in ["x", "dGhlIHNhbXBsZSBub25jZQ", "dGhlIHNhbXBsZSBub25jZQ=!",
                    "AAAAAAAAAAAAAAAAAAAAAAAAAA==", "dGhlIHNhbXBsZSBub25j ZQ=="]:
            status, _, body, _ = http_exchange(self.server.port, upgrade_request(key=key))
            self.assertEqual(status, 400, key)
            self.assertIn("Sec-WebSocket-Key", json.loads(body)["error"]["message"])
        status, _, _, _ = http_exchange(self.server.port,
                                        upgrade_request(key="dGhlIHNhbXBsZSBub25jZQ=="))
        self.assertEqual(status, 101)


class HttpConnectionCap(AbuseTestCase):
    config = {"limits": {"max_http_connections": 8}}

    def test_idle_http_connections_are_capped(self):
        # The bystander's WebSocket left the HTTP count at its upgrade; its feeder's keep-alive
        # connection holds one of the 8 slots, the attacker takes the other 7.
        with self.bystander() as b:
            time.sleep(0.5)  # the feeder's connection is open
            held = [raw_connect(self.server.port) for _ in range(7)]
            try:
                time.sleep(0.3)
                status, _, body, closed = http_exchange(
                    self.server.port, b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
                self.assertEqual(status, 503, body)
                self.assertIn("max_http_connections", json.loads(body)["error"]["message"])
                self.assertTrue(closed)
                time.sleep(1)  # the bystander's readings keep coming through its own connection
            finally:
                for s in held:
                    s.close()
            b.assert_on_time(self, "HTTP connection cap")
        time.sleep(0.3)
        status, _ = self.server.request("GET", "/health")
        self.assertEqual(status, 200)


if __name__ == "__main__":
    unittest.main()
