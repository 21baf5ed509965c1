"""Runs the C++ client SDK's API test (tests/client/client_api_test.cpp, GoogleTest) against
the real server: futures and callbacks, queues, batch, error replies, fatal auth failure,
giving up, close. The binary links only the SDK."""
import os
import subprocess
import unittest

from harness import Server, token

API_TEST = os.environ.get("VALTRONICS_CLIENT_API_TEST") or os.path.join(
    os.path.dirname(__file__), "..", "..", "build", "tests", "client_api_test")


class ClientApiTest(unittest.TestCase):
    def test_cpp_client_api(self):
        with Server() as s:
            env = dict(os.environ,
                       VALTRONICS_URL=s.url, VALTRONICS_HTTP=s.http,
                       VALTRONICS_ADMIN_TOKEN=token("api-admin", "admin"),
                       VALTRONICS_USER_TOKEN=token("api-user", "user", devices="1"))
            r = subprocess.run([API_TEST], capture_output=True, text=True, env=env, timeout=120)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            self.assertIn("[  PASSED  ]", r.stdout)
            self.assertNotIn("FAILED", r.stdout)


if __name__ == "__main__":
    unittest.main()
