"""GET /health and the demo banner: the server starts, answers, and stops cleanly."""
import unittest

from harness import Server, token


class HealthTest(unittest.TestCase):
    def test_health_answers_json(self):
        with Server() as s:
            status, body = s.request("GET", "/health")
            self.assertEqual(status, 200)
            self.assertEqual(body["status"], "ok")
            self.assertEqual(body["active_connections"], 0)

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
