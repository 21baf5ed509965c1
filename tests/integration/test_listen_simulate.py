"""`valtronics listen` and `valtronics simulate` against the real server: simulated telemetry
arriving in batches at a listener, realistic readings, a refused token (exit 3), bad flags
(exit 2), reconnecting after a server restart on the same port with subscriptions restored and
alerts resumed exactly once, and a token refreshed from --token-file on token_expiring."""
import os
import pty
import socket
import subprocess
import tempfile
import threading
import time
import unittest

from cli_clients import Listen, run_cli
from harness import BIN, Server, ServerTestCase, token


class ListenSimulateTest(ServerTestCase):
    admin_sub = "ls-admin"

    def simulate(self, *args, timeout=60):
        return run_cli(["simulate", "--url", self.http_url(), "--token", self.admin, *args],
                       timeout=timeout)

    def test_listen_json_receives_simulated_batches(self):
        with Listen(self.ws_url(), "--token", self.admin, "--json",
                    "-s", "telemetry:device_id=101,102", "-s", "telemetry:device_id=104;metrics=aqi") as l:
            l.wait_for(lambda l: len(l.of_type("subscribed")) == 2, what="two subscribed")
            r = self.simulate("--devices", "5", "--first-id", "101", "--interval", "200ms",
                              "--count", "5", "--seed", "7")
            self.assertEqual(r.returncode, 0, (r.stdout, r.stderr))
            # 5 ticks of temperature (1), humidity (2), pressure (3), air quality (5), vibration (4)
            self.assertIn("75 readings sent in 5 batches", r.stdout)
            l.wait_for(lambda l: len(l.of_type("telemetry_update")) >= 15, what="15 updates")
            time.sleep(0.3)
            updates = l.of_type("telemetry_update")
        self.assertEqual(len(updates), 15, updates)
        by_device = {}
        for u in updates:
            by_device.setdefault(u["device_id"], []).append(u)
        self.assertEqual(sorted(by_device), [101, 102, 104])
        self.assertEqual({tuple(sorted(u["telemetry"])) for u in by_device[101]},
                         {("temperature",)})
        self.assertEqual({tuple(sorted(u["telemetry"])) for u in by_device[102]},
                         {("dew_point", "humidity")})
        self.assertEqual({tuple(sorted(u["telemetry"])) for u in by_device[104]}, {("aqi",)})
        # One batch per tick: every device of a tick carries the same timestamp, five ticks.
        stamps = {d: [next(iter(u["telemetry"].values()))["timestamp"] for u in us]
                  for d, us in by_device.items()}
        self.assertEqual(len(set(stamps[101])), 5)
        self.assertEqual(stamps[101], stamps[102])
        self.assertEqual(stamps[101], stamps[104])
        for u in by_device[102]:
            h = u["telemetry"]["humidity"]
            self.assertTrue(0 <= h["value"] <= 100, h)
            self.assertEqual(h["unit"], "%")
        for u in by_device[101]:
            t = u["telemetry"]["temperature"]
            self.assertTrue(-20 < t["value"] < 60, t)
            self.assertEqual(t["unit"], "°C")

    def test_simulated_readings_are_realistic(self):
        with Listen(self.ws_url(), "--token", self.admin, "--json",
                    "-s", "telemetry:device_id=201,202,203,204,205") as l:
            l.wait_for(lambda l: l.of_type("subscribed"), what="subscribed")
            r = self.simulate("--devices", "5", "--first-id", "201", "--interval", "100ms",
                              "--count", "20")
            self.assertEqual(r.returncode, 0, (r.stdout, r.stderr))
            l.wait_for(lambda l: len(l.of_type("telemetry_update")) >= 100, what="100 updates")
            updates = l.of_type("telemetry_update")
        values = {}
        for u in updates:
            for name, reading in u["telemetry"].items():
                values.setdefault(name, []).append(reading["value"])
        expected = {"temperature", "humidity", "dew_point", "pressure", "sea_level_pressure",
                    "pressure_trend", "pm25", "pm10", "co2", "voc", "aqi", "vibration_rms",
                    "vibration_peak", "dominant_frequency", "equipment_health_score"}
        self.assertEqual(set(values), expected)
        self.assertTrue(all(0 <= v <= 100 for v in values["humidity"]), values["humidity"])
        self.assertTrue(all(-20 < v < 60 for v in values["temperature"]))
        self.assertTrue(all(900 < v < 1100 for v in values["pressure"]))
        self.assertTrue(all(0 <= v <= 500 for v in values["aqi"]))
        self.assertTrue(all(v >= 350 for v in values["co2"]))
        self.assertTrue(all(v > 0 for v in values["vibration_rms"]))
        self.assertTrue(all(0 <= v <= 100 for v in values["equipment_health_score"]))
        # Noise: twenty samples of a sensor are not all equal.
        self.assertGreater(len(set(values["temperature"])), 1)
        self.assertGreater(len(set(values["humidity"])), 1)

    def test_listen_refused_token_exits_3(self):
        for bad in ("not-a-jwt", token("x", "admin", secret="another-secret")):
            with self.subTest(token=bad[:12]):
                start = time.monotonic()
                # Flags before the URL work too (-s takes one value).
                r = run_cli(["listen", "-s", "alerts", self.ws_url(), "--token", bad],
                            timeout=15)
                self.assertEqual(r.returncode, 3, (r.stdout, r.stderr))
                self.assertLess(time.monotonic() - start, 5, "a bad token must not be retried")
                lines = [x for x in r.stderr.splitlines() if x.strip()]
                self.assertEqual(len(lines), 1, r.stderr)
                self.assertIn("authentication failed: invalid_token", lines[0])

    def test_listen_refused_subscription_exits_4(self):
        user = token("ls-user", "user", devices="1")
        r = run_cli(["listen", self.ws_url(), "--token", user, "-s", "telemetry:device_id=1",
                     "-s", "telemetry:device_id=9"], timeout=15)
        self.assertEqual(r.returncode, 4, (r.stdout, r.stderr))
        self.assertIn("listen: subscription 'telemetry:device_id=9' refused: forbidden "
                      "(token does not cover device 9)", r.stderr)
        self.assertIn("error forbidden: token does not cover device 9", r.stdout)

    def test_simulate_rejected_batch_exits_1(self):
        with Server({"ingest": {"max_body_bytes": 200}}) as small:
            r = run_cli(["simulate", "--url", small.http, "--token", self.admin, "--count", "2"])
        self.assertEqual(r.returncode, 1, (r.stdout, r.stderr))
        self.assertIn("simulate: the server rejected a batch: 413 PAYLOAD_TOO_LARGE", r.stderr)

    def test_simulate_refused_token_exits_3(self):
        r = run_cli(["simulate", "--url", self.http_url(), "--token", "nope", "--count", "3"])
        self.assertEqual(r.returncode, 3, (r.stdout, r.stderr))
        self.assertIn("refused the token: 401 UNAUTHORIZED", r.stderr)
        # A user token may not ingest: 403 with the server's message.
        user = token("u", "user", devices="1")
        r = run_cli(["simulate", "--url", self.http_url(), "--token", user, "--count", "1"])
        self.assertEqual(r.returncode, 3, (r.stdout, r.stderr))
        self.assertIn("403 FORBIDDEN", r.stderr)

    def test_simulate_progress_line_on_a_terminal(self):
        master, slave = pty.openpty()
        proc = subprocess.Popen([BIN, "simulate", "--url", self.http_url(), "--token",
                                 self.admin, "--devices", "2", "--interval", "100ms",
                                 "--count", "3"], stdout=slave, stderr=subprocess.PIPE)
        os.close(slave)
        out = b""
        while True:
            try:
                chunk = os.read(master, 4096)
            except OSError:  # EIO: the terminal's other end closed
                break
            if not chunk:
                break
            out += chunk
        os.close(master)
        self.assertEqual(proc.wait(10), 0)
        proc.stderr.close()
        text = out.decode()
        # One line rewritten in place after every interval, finished by a newline.
        self.assertEqual(text.count("\rsimulate:"), 4, repr(text))
        self.assertIn("\rsimulate: 3 readings sent in 1 batches", text)
        self.assertRegex(text, r"\rsimulate: 9 readings sent in 3 batches, [0-9.]+/s, 0 errors +\r?\n$")

    def test_simulate_unreachable_server_retries_then_fails(self):
        # A port bound and held for the run but never listening: every connection is refused.
        with socket.socket() as held:
            held.bind(("127.0.0.1", 0))
            port = held.getsockname()[1]
            r = run_cli(["simulate", "--url", f"http://127.0.0.1:{port}", "--token", "t",
                         "--count", "2", "--interval", "100ms"])
        self.assertEqual(r.returncode, 1, (r.stdout, r.stderr))
        self.assertIn("Connection refused", r.stderr)
        self.assertIn("0 readings sent in 0 batches", r.stdout)
        self.assertIn("2 errors", r.stdout)

    def test_bad_flags_exit_2(self):
        url = self.ws_url()
        cases = [
            (["listen", url, "--token", "t", "-s", "telemetry:device_id=x"],
             "--subscribe 'telemetry:device_id=x': device_id: 'x' is not a positive device id"),
            (["listen", url, "--token", "t", "-s", "weather"], "unknown channel 'weather'"),
            (["listen", url, "--token", "t", "-s", "alerts:metrics=a"],
             "unknown filter 'metrics' for channel alerts"),
            (["listen", url, "-s", "alerts"], "--token"),
            (["listen", url, "--token", "t"], "--subscribe"),
            (["listen", "http://127.0.0.1:1", "--token", "t", "-s", "alerts"], "ws://"),
            (["listen", url, "--token", "t", "-s", "alerts", "--backoff-base", "soon"],
             "--backoff-base"),
            (["listen", url, "--token", "t", "-s", "alerts", "--token-file", "/nonexistent/tok"],
             "/nonexistent/tok"),
            (["listen", url, "--token", "t", "-s", "alerts", "--max-attempts", "x"],
             "--max-attempts"),
            (["simulate", "--url", self.http_url(), "--token", "t", "--interval", "often"],
             "--interval"),
            (["simulate", "--url", self.ws_url(), "--token", "t"], "http://"),
            (["simulate", "--url", self.http_url(), "--token", "t", "--devices", "0"],
             "--devices"),
            (["simulate", "--url", self.http_url()], "--token"),
            (["simulate", "--token", "t"], "--url"),
            (["simulate", "--url", self.http_url(), "--token", "t", "--no-such-flag"],
             "--no-such-flag"),
        ]
        for args, needle in cases:
            with self.subTest(args=args):
                r = run_cli(args, timeout=10)
                self.assertEqual(r.returncode, 2, (r.stdout, r.stderr))
                self.assertIn(needle, r.stdout + r.stderr)

    def test_listen_channel_endpoint_and_readable_lines(self):
        with Listen(self.ws_url("/ws/telemetry"), "--token", self.admin) as l:
            l.wait_for(lambda l: any("authenticated as ls-admin" in x for x in l.lines()),
                       what="auth line")
            time.sleep(0.2)
            self.server.ingest(301, {"temperature": 21.5}, self.admin)
            line = l.wait_for(lambda l: [x for x in l.lines() if "device 301" in x],
                              what="telemetry line")[0]
            self.assertRegex(line, r"^\d\d:\d\d:\d\d\.\d{3} telemetry device 301 temperature=21\.5$")
            self.assertEqual(l.stop(), 0)


class ReconnectResumeTest(unittest.TestCase):
    """The server stops; meanwhile another server on the same database raises alerts; a new
    server comes back on the original port. `listen` reconnects, restores its subscriptions
    with their filters and receives the missed alerts by replay, each alert exactly once."""

    def test_restart_on_same_port(self):
        tmp = tempfile.TemporaryDirectory()
        self.addCleanup(tmp.cleanup)
        db = os.path.join(tmp.name, "shared.db")
        cfg = {"": {"db": db}}
        admin = token("rr-admin", "admin")

        def alerts_total(server):
            status, reply = server.request("GET", "/api/v1/alerts?size=1", token_=admin)
            return reply["pagination"]["total"] if status == 200 else -1

        def wait_total(server, n):
            deadline = time.monotonic() + 10
            while alerts_total(server) != n:
                self.assertLess(time.monotonic(), deadline, "alerts not stored")
                time.sleep(0.05)

        a = Server(cfg)
        a.start()
        port = a.port  # bound by the server itself; c starts again on it
        status, reply = a.request("POST", "/api/v1/alert-rules",
                                  {"name": "Level", "metric": "lvl", "condition": "gt",
                                   "threshold": 10}, admin)
        self.assertEqual(status, 201, reply)
        l = Listen(f"ws://127.0.0.1:{port}", "--token", admin, "--json",
                   "--backoff-base", "100ms", "--backoff-cap", "500ms",
                   "-s", "alerts", "-s", "telemetry:device_id=1;metrics=temperature")
        try:
            l.wait_for(lambda l: len(l.of_type("subscribed")) == 2, what="subscribed")
            a.ingest(1, {"lvl": 20}, admin)
            l.wait_for(lambda l: l.of_type("alert"), what="first alert")
            a.stop()
            l.wait_for(lambda l: any("connection lost" in x for x in l.errors()),
                       what="connection lost note")

            # Alerts raised while the listener cannot connect (another port, same database).
            b = Server(cfg)
            b.start()
            b.ingest(2, {"lvl": 30}, admin)
            b.ingest(3, {"lvl": 40}, admin)
            wait_total(b, 3)
            b.stop()
            time.sleep(0.3)
            self.assertEqual(len(l.of_type("alert")), 1)

            c = Server(cfg, port=port)
            c.start()
            try:
                l.wait_for(lambda l: len(l.of_type("alert")) >= 3, timeout=15,
                           what="replayed alerts")
                c.ingest(4, {"lvl": 50}, admin)
                c.ingest(1, {"temperature": 5, "humidity": 50}, admin)
                c.ingest(2, {"temperature": 6}, admin)
                l.wait_for(lambda l: len(l.of_type("alert")) >= 4, what="live alert")
                l.wait_for(lambda l: l.of_type("telemetry_update"), what="telemetry")
                time.sleep(0.5)
            finally:
                c.stop()
        finally:
            l.stop()

        alerts = l.of_type("alert")
        self.assertEqual([(m["alert_id"], m["device_id"], m["status"]) for m in alerts],
                         [(1, 1, "active"), (2, 2, "active"), (3, 3, "active"),
                          (4, 4, "active")])
        subscribed = l.of_type("subscribed")
        self.assertEqual(len(subscribed), 4, subscribed)
        restored = {m["channel"]: m for m in subscribed[2:]}
        self.assertEqual(restored["alerts"]["filters"].get("since_alert_id"), 1, restored)
        self.assertIs(restored["alerts"].get("recovered"), True, restored)
        self.assertEqual(restored["telemetry"]["filters"]["device_id"], [1])
        self.assertEqual(restored["telemetry"]["filters"]["metrics"], ["temperature"])
        # The filters survived the reconnect: device 1 only, temperature only.
        tel = l.of_type("telemetry_update")
        self.assertEqual([(m["device_id"], sorted(m["telemetry"])) for m in tel],
                         [(1, ["temperature"])])
        self.assertEqual(len(l.of_type("auth_response")), 2)
        self.assertTrue(any("reconnected to" in x for x in l.errors()), l.errors())


    def test_outage_before_the_first_alert(self):
        # No alert seen yet: the resume point is the `last_alert_id` of the alerts `subscribed`
        # reply, so an alert raised during the first outage is still replayed, exactly once.
        tmp = tempfile.TemporaryDirectory()
        self.addCleanup(tmp.cleanup)
        cfg = {"": {"db": os.path.join(tmp.name, "shared.db")}}
        admin = token("rr-admin", "admin")
        a = Server(cfg)
        a.start()
        status, reply = a.request("POST", "/api/v1/alert-rules",
                                  {"name": "Level", "metric": "lvl", "condition": "gt",
                                   "threshold": 10}, admin)
        self.assertEqual(status, 201, reply)
        a.ingest(1, {"lvl": 20}, admin)  # alert 1, stored before the listener starts
        l = Listen(f"ws://127.0.0.1:{a.port}", "--token", admin, "--json",
                   "--backoff-base", "100ms", "--backoff-cap", "500ms", "-s", "alerts")
        try:
            l.wait_for(lambda l: l.of_type("subscribed"), what="subscribed")
            self.assertEqual(l.of_type("subscribed")[0].get("last_alert_id"), 1)
            port = a.port
            a.stop()
            l.wait_for(lambda l: any("connection lost" in x for x in l.errors()),
                       what="connection lost note")
            b = Server(cfg)  # another port, same database: the listener cannot reach it
            b.start()
            b.ingest(2, {"lvl": 30}, admin)  # alert 2, raised during the outage
            deadline = time.monotonic() + 10
            while b.request("GET", "/api/v1/alerts?size=1", token_=admin)[1][
                    "pagination"]["total"] != 2:
                self.assertLess(time.monotonic(), deadline, "alert 2 not stored")
                time.sleep(0.05)
            b.stop()
            c = Server(cfg, port=port)
            c.start()
            try:
                l.wait_for(lambda l: l.of_type("alert"), timeout=15, what="replayed alert")
                time.sleep(0.5)
            finally:
                c.stop()
        finally:
            l.stop()
        self.assertEqual([(m["alert_id"], m["status"]) for m in l.of_type("alert")],
                         [(2, "active")])
        restored = l.of_type("subscribed")[1]
        self.assertEqual(restored["filters"].get("since_alert_id"), 1, restored)
        self.assertIs(restored.get("recovered"), True, restored)


class TokenRefreshTest(unittest.TestCase):
    """token_expiring: listen reads --token-file again and re-authenticates on the open
    connection, which then outlives the first token."""

    def test_refresh_from_token_file(self):
        with Server({"auth": {"expiry_warning": "3s", "leeway": "0s"}}) as s, \
                tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "token")
            with open(path, "w") as f:
                f.write(token("refresher", "admin", ttl="5s") + "\n")
            with Listen(s.url, "--token-file", path, "--json", "-s", "telemetry") as l:
                l.wait_for(lambda l: l.of_type("subscribed"), what="subscribed")
                with open(path, "w") as f:
                    f.write(token("refresher", "admin", ttl="1h"))
                l.wait_for(lambda l: len(l.of_type("auth_response")) == 2, timeout=10,
                           what="second auth_response")
                self.assertTrue(l.of_type("token_expiring"))
                time.sleep(4)  # past the first token's expiry
                s.ingest(1, {"temperature": 20}, token("w", "admin"))
                l.wait_for(lambda l: l.of_type("telemetry_update"), what="telemetry after expiry")
                errors = l.errors()
            self.assertTrue(all(m["success"] for m in l.of_type("auth_response")))
            self.assertFalse([e for e in errors if "connection lost" in e], errors)

    def test_file_empty_for_a_moment_is_waited_for(self):
        """A rotator that rewrites the file in place leaves it empty between the truncate and
        the write; listen reads it again for up to half a second instead of giving up."""
        with Server() as s, tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "token")
            open(path, "w").close()
            writer = threading.Timer(0.2, lambda: open(path, "w").write(
                token("late", "admin") + "\n"))
            writer.start()
            try:
                with Listen(s.url, "--token-file", path, "--json", "-s", "telemetry") as l:
                    l.wait_for(lambda l: l.of_type("subscribed"), what="subscribed")
                    self.assertEqual(l.of_type("auth_response")[0]["user"], "late")
            finally:
                writer.join()

    def test_file_that_stays_empty_at_start_exits_2(self):
        """Unreadable at start is a bad argument (exit 2, docs/cli.md); on a refresh it would
        be an authentication failure (exit 3)."""
        with Server() as s, tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "token")
            open(path, "w").close()
            l = Listen(s.url, "--token-file", path, "-s", "telemetry")
            try:
                self.assertEqual(l.proc.wait(timeout=10), 2)
            finally:
                l.stop()
            self.assertTrue(any(f"token file {path} is empty" in e for e in l.errors()),
                            l.errors())


if __name__ == "__main__":
    unittest.main()
