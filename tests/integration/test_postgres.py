"""PostgreSQL storage (issue 12) with the real server: `serve --db postgresql://...` against a
real PostgreSQL started here keeps devices, readings, rules and alerts across a restart, as a
SQLite file does; a server that cannot reach the database says so and exits 2."""
import subprocess
import time
import unittest

from brokers import Postgres
from harness import BIN, Server, token


class PostgresStorageTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.pg = Postgres().start()
        cls.addClassCleanup(cls.pg.stop)

    def test_everything_survives_a_restart(self):
        db = self.pg.new_database()
        admin = token("admin", "admin")
        with Server({"": {"db": db}}) as s:
            status, body = s.request("POST", "/api/v1/alert-rules",
                                     {"name": "Hot", "metric": "temperature",
                                      "condition": "gt", "threshold": 30,
                                      "severity": "critical"}, admin)
            self.assertEqual(status, 201, body)
            s.ingest(4, {"temperature": 35}, admin)
            deadline = time.monotonic() + 10
            while s.request("GET", "/api/v1/alerts", token_=admin)[1]["pagination"]["total"] < 1:
                self.assertLess(time.monotonic(), deadline, "no alert stored")
                time.sleep(0.05)
            log = "".join(s.output)
            self.assertIn("migrating schema", log)
        with Server({"": {"db": db}}) as s:
            status, body = s.request("GET", "/api/v1/devices/4", token_=admin)
            self.assertEqual(status, 200, body)
            status, body = s.request("GET", "/api/v1/devices/4/telemetry/latest", token_=admin)
            self.assertEqual(body["data"]["telemetry"]["temperature"]["value"], 35, body)
            status, body = s.request("GET", "/api/v1/alerts", token_=admin)
            self.assertEqual([(a["device_id"], a["severity"], a["status"]) for a in body["data"]],
                             [(4, "critical", "active")], body)
            alert_id = body["data"][0]["alert_id"]
            status, body = s.request("GET", "/api/v1/alert-rules", token_=admin)
            self.assertEqual([r["name"] for r in body["data"]], ["Hot"], body)
            # New alerts keep counting up from the stored ones.
            s.ingest(5, {"temperature": 40}, admin)
            deadline = time.monotonic() + 10
            while True:
                status, body = s.request("GET", "/api/v1/alerts?device_id=5", token_=admin)
                if body["data"]:
                    break
                self.assertLess(time.monotonic(), deadline, "no second alert")
                time.sleep(0.05)
            self.assertGreater(body["data"][0]["alert_id"], alert_id)

    def test_an_unreachable_database_stops_start_up_naming_it_without_the_password(self):
        proc = subprocess.run(
            [BIN, "serve", "--listen", "127.0.0.1:0", "--jwt-secret", "x", "--db",
             "postgresql://app:s3cret@127.0.0.1:1/valtronics?connect_timeout=2"],
            capture_output=True, text=True, timeout=30)
        self.assertEqual(proc.returncode, 2, proc.stdout + proc.stderr)
        out = proc.stdout + proc.stderr
        self.assertIn("postgresql://app:***@127.0.0.1:1/valtronics", out)
        self.assertNotIn("s3cret", out)


if __name__ == "__main__":
    unittest.main()
