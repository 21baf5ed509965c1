"""GET /health and the demo banner: the server starts, answers, and stops cleanly."""
import http.client
import unittest

from harness import Server, token


class HealthTest(unittest.TestCase):
    def test_health_answers_json(self):
        with Server() as s:
            status, body = s.request("GET", "/health")
            self.assertEqual(status, 200)
            self.assertEqual(body["status"], "ok")
            self.assertEqual(body["active_connections"], 0)

    def test_head_has_the_get_headers_and_no_body(self):
        # On one kept-alive connection: HEAD then GET. A HEAD answered with a body would be read
        # as the start of the GET's answer (http.client would then fail or mix them up).
        with Server() as s:
            conn = http.client.HTTPConnection("127.0.0.1", s.port, timeout=5)
            try:
                for path in ("/health", "/"):
                    conn.request("GET", path)
                    got = conn.getresponse()
                    body = got.read()
                    conn.request("HEAD", path)
                    head = conn.getresponse()
                    self.assertEqual(head.read(), b"", path)
                    self.assertEqual(head.status, got.status, path)
                    self.assertEqual(head.getheader("Content-Type"), got.getheader("Content-Type"))
                    # /health's figures (its time) may change its length by a byte or two; /
                    # (the dashboard, or the 404 saying it is not built) is the same bytes.
                    if path == "/":
                        self.assertEqual(int(head.getheader("Content-Length")), len(body), path)
                    else:
                        self.assertGreater(int(head.getheader("Content-Length")), 0)
                conn.request("GET", "/health")
                after = conn.getresponse()
                self.assertEqual(after.status, 200)
                self.assertIn(b'"status"', after.read())
            finally:
                conn.close()

    def test_unknown_route_is_404_with_envelope(self):
        with Server() as s:
            status, body = s.request("GET", "/nope")
            self.assertEqual(status, 404)
            self.assertFalse(body["success"])
            self.assertEqual(body["error"]["code"], "NOT_FOUND")

    def test_token_cli_produces_a_jwt(self):
        t = token("bob", "user", devices="1,2")
        self.assertEqual(t.count("."), 2)


if __name__ == "__main__":
    unittest.main()
