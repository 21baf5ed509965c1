"""Runs the C++ client SDK's API test (tests/client/client_api_test.cpp, GoogleTest) against
the real server: futures and callbacks, queues, batch, error replies, fatal auth failure,
giving up, close; a subscription removed by a token refresh and not restored after the server
restarts on the same port. Then the documented example program (examples/client_example.cpp)
with `valtronics simulate` feeding it. Both binaries link only the SDK."""
import os
import subprocess
import threading
import unittest

from cli_clients import run_cli
from harness import Server, token

BUILD = os.path.dirname(os.environ.get("VALTRONICS_BIN") or os.path.join(
    os.path.dirname(__file__), "..", "..", "build", "valtronics"))
API_TEST = os.environ.get("VALTRONICS_CLIENT_API_TEST") or os.path.join(
    BUILD, "tests", "client_api_test")
EXAMPLE = os.path.join(BUILD, "valtronics_client_example")


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

    def test_cpp_subscription_removed_by_a_refresh(self):
        # token_expiring 3 s before expiry: the short admin token gets it about 3 s after it is
        # minted, by when the test has subscribed; the refresh presents the user token.
        cfg = {"auth": {"expiry_warning": "3s", "leeway": "0s"}}
        servers = [Server(cfg)]
        servers[0].start()
        port = servers[0].port  # bound by the first server itself; its successor reuses it
        try:
            env = dict(os.environ,
                       VALTRONICS_URL=servers[0].url, VALTRONICS_HTTP=servers[0].http,
                       VALTRONICS_ADMIN_TOKEN=token("api-admin", "admin"),
                       VALTRONICS_USER_TOKEN=token("api-user", "user", devices="1"),
                       VALTRONICS_SHORT_ADMIN_TOKEN=token("api-admin", "admin", ttl="6s"))
            proc = subprocess.Popen(
                [API_TEST, "--gtest_filter=ClientApi.SubscriptionRemovedByARefreshIsNotRestored"],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                text=True, env=env)
            watchdog = threading.Timer(90, proc.kill)
            watchdog.start()
            out = []
            try:
                for line in proc.stdout:
                    out.append(line)
                    if line.strip() == "RESTART_SERVER":
                        servers[0].stop()
                        servers.append(Server(cfg, port=port))
                        servers[-1].start()
                        proc.stdin.write("go\n")
                        proc.stdin.flush()
                proc.wait(10)
            finally:
                watchdog.cancel()
                proc.stdout.close()
                proc.stdin.close()
        finally:
            for s in servers:
                s.stop()
        text = "".join(out)
        self.assertEqual(proc.returncode, 0, text)
        self.assertIn("RESTART_SERVER", text)
        self.assertIn("[  PASSED  ] 1 test", text)

    def test_documented_example(self):
        with Server() as s:
            admin = token("example", "admin")
            feeder = threading.Thread(target=run_cli, args=(
                ["simulate", "--url", s.http, "--token", admin, "--devices", "3",
                 "--interval", "200ms", "--duration", "4s", "--quiet"],), daemon=True)
            proc = subprocess.Popen([EXAMPLE, s.url + "/ws", admin, "2", "3"],
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            feeder.start()
            out, err = proc.communicate(timeout=30)
            feeder.join(10)
        self.assertEqual(proc.returncode, 0, out + err)
        lines = out.splitlines()
        self.assertEqual(lines[0], "connected as example (admin)")
        self.assertTrue(lines[1].startswith("subscribed to telemetry, filters {\"device_id\":[2]"),
                        lines[1])
        updates = [l for l in lines if "telemetry device 2 humidity=" in l]
        self.assertEqual(len(updates), 3, out)


if __name__ == "__main__":
    unittest.main()
