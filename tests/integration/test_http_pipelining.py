"""Pipelined HTTP/1.1 requests (issue 11, docs/protocol.md "Pipelined ingest"): ingest requests
are dispatched before the ones ahead of them are answered, answers keep the request order, and
every other request waits for the answers before it. Raw sockets (no Python HTTP client
pipelines); undici drives the same over its own pipelining in http_pipelining.test.mjs."""
import json
import socket
import time
import unittest

from harness import (ServerTestCase, http_request_bytes, metric_value, parse_metrics,
                     read_http_responses)

INGEST = "/api/v1/telemetry"


def reading(device, value):
    return {"device_id": device, "telemetry": {"level": {"value": value}}}


class PipeliningTest(ServerTestCase):
    config = {"": {"threads": 1}}

    def connect(self):
        s = socket.create_connection(("127.0.0.1", self.server.port), timeout=20)
        self.addCleanup(s.close)
        return s

    def post(self, device, value, **kw):
        return http_request_bytes("POST", INGEST, reading(device, value), self.admin, **kw)

    def latest(self, device):
        status, body = self.server.request("GET", f"/api/v1/devices/{device}/telemetry/latest",
                                           None, self.admin)
        self.assertEqual(status, 200, body)
        return body["data"]["telemetry"]["level"]["value"]

    def pipelined_total(self):
        status, text = self.server.request("GET", "/metrics", None, self.admin)
        self.assertEqual(status, 200)
        return metric_value(parse_metrics(text), "valtronics_http_requests_pipelined_total")

    def test_many_more_than_in_flight_bound_in_one_write(self):
        # 200 requests in one write (the server dispatches at most 64 ahead, then reads on as
        # answers go out): every one answered 202, in order, ids conn.1 .. conn.200.
        before = self.pipelined_total()
        s = self.connect()
        s.sendall(b"".join(self.post(51, v) for v in range(200)))
        answers = read_http_responses(s, 200)
        self.assertEqual([a[0] for a in answers], [202] * 200)
        conn = answers[0][1]["x-request-id"].split(".")[0]
        self.assertEqual([a[1]["x-request-id"] for a in answers],
                         [f"{conn}.{i}" for i in range(1, 201)])
        self.assertTrue(all(json.loads(a[2])["data"] == {"accepted": 1} for a in answers))
        self.assertEqual(self.latest(51), 199)
        self.assertGreater(self.pipelined_total() - before, 0)

    def test_errors_and_other_routes_keep_their_place(self):
        # A bad body, an unknown device id type, a HEAD and a GET between ingests: each answer
        # in its request's place; the GET (not pipelined) sees the ingest before it.
        s = self.connect()
        s.sendall(self.post(52, 1) +
                  http_request_bytes("POST", INGEST, '{"device_id": 52, "telemetry": ',
                                     self.admin) +
                  http_request_bytes("POST", INGEST, reading(52, 2)) +  # no token: 401
                  self.post(52, 3) +
                  http_request_bytes("HEAD", "/health") +
                  http_request_bytes("GET", "/api/v1/devices/52/telemetry/latest", None,
                                     self.admin) +
                  self.post(52, 4))
        answers = read_http_responses(s, 7, head_only=(4,))
        self.assertEqual([a[0] for a in answers], [202, 400, 401, 202, 200, 200, 202])
        self.assertIn("not valid JSON", json.loads(answers[1][2])["error"]["message"])
        self.assertEqual(answers[4][2], b"")
        self.assertEqual(json.loads(answers[5][2])["data"]["telemetry"]["level"]["value"], 3)
        self.assertEqual(self.latest(52), 4)

    def test_connection_close_ends_the_pipeline(self):
        # The request saying Connection: close is the last one answered and applied.
        s = self.connect()
        s.sendall(self.post(53, 1) + self.post(53, 2, headers=[("Connection", "close")]) +
                  self.post(53, 3))
        answers = read_http_responses(s, 3)
        self.assertEqual([a[0] for a in answers], [202, 202])
        self.assertEqual(answers[1][1].get("connection"), "close")
        self.assertEqual(s.recv(1), b"")  # closed after it
        self.assertEqual(self.latest(53), 2)

    def test_half_closed_client_gets_every_answer(self):
        # A client that sends its requests and shuts its side down still gets all the answers.
        s = self.connect()
        s.sendall(b"".join(self.post(54, v) for v in range(100)))
        s.shutdown(socket.SHUT_WR)
        answers = read_http_responses(s, 101)
        self.assertEqual([a[0] for a in answers], [202] * 100)
        self.assertEqual(self.latest(54), 99)

    def test_body_arriving_later_waits_its_turn(self):
        # The second request's body comes 300 ms after its head: it is read once the first is
        # answered, and answered in order.
        s = self.connect()
        second = self.post(55, 2)
        cut = second.index(b"\r\n\r\n") + 4 + 5
        s.sendall(self.post(55, 1) + second[:cut])
        time.sleep(0.3)
        s.sendall(second[cut:] + self.post(55, 3))
        answers = read_http_responses(s, 3)
        self.assertEqual([a[0] for a in answers], [202, 202, 202])
        self.assertEqual(self.latest(55), 3)

    def test_expect_continue_behind_ingest(self):
        # A request with Expect: 100-continue behind pipelined ingest: its 100 comes after the
        # answers before it, then its own answer.
        s = self.connect()
        body = json.dumps(reading(56, 2)).encode()
        head = http_request_bytes("POST", INGEST, body, self.admin,
                                  headers=[("Expect", "100-continue")])[:-len(body)]
        s.sendall(self.post(56, 1) + head)
        answers = read_http_responses(s, 2)
        self.assertEqual([a[0] for a in answers], [202, 100])
        s.sendall(body)
        answers = read_http_responses(s, 1)
        self.assertEqual(answers[0][0], 202)
        self.assertEqual(self.latest(56), 2)


if __name__ == "__main__":
    unittest.main()
