"""`valtronics bench` against the real server: each scenario sets up its connections, drives the
server and accounts for everything it sent. Correctness checks of the tool, not speed tests."""
import json
import subprocess
import time
import unittest

from brokers import Mosquitto
from harness import BIN, Server, token

LIMITS = {"limits": {"connections_per_minute": 1000000, "max_connections": 20000,
                     "max_connections_per_user": 20000, "messages_per_second": 100000}}


def bench(server, scenario, *extra, timeout=90):
    args = [BIN, "bench", scenario, "--url", server.http, "--token", token("bench", "admin"),
            "--json", *extra]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise AssertionError(f"bench {scenario} exited {proc.returncode}: {proc.stderr}")
    report = json.loads(proc.stdout)
    assert report["scenario"] == scenario, report
    assert report["target"] == "valtronics", report
    return report["parameters"], report["results"]


def assert_latency(test, lat, context):
    test.assertGreater(lat["count"], 0, context)
    for key in ("p50", "p90", "p99", "p99.9", "max"):
        test.assertIn(key, lat)
    test.assertLessEqual(lat["p50"], lat["p99"], context)
    test.assertLessEqual(lat["p99"], lat["max"], context)


class BenchFanoutTest(unittest.TestCase):
    def test_fanout_delivers_everything_and_reports_latency(self):
        with Server(LIMITS) as s:
            p, r = bench(s, "fanout", "--subscribers", "20", "--devices", "4", "--rate", "500",
                         "--duration", "2s", "--warmup", "500ms", "--payload-bytes", "400",
                         "--server-pid", str(s.proc.pid))
        self.assertEqual(p["subscribers"], 20)
        self.assertEqual(r["http_errors"], 0, r)
        self.assertEqual(r["transport_errors"], 0, r)
        self.assertGreater(r["readings_accepted"], 0, r)
        # 20 subscribers over 4 devices: every accepted reading reaches the 5 subscribers of its
        # device, exactly once.
        self.assertEqual(r["expected"], r["readings_accepted"] * 5, r)
        self.assertEqual(r["loss"], 0, r)
        self.assertEqual(r["excess"], 0, r)
        self.assertEqual(r["received"], r["expected"], r)
        self.assertEqual(r["other_messages"], 0, r)
        self.assertGreater(r["delivered_per_s"], 0, r)
        # Updates are padded to about --payload-bytes.
        self.assertGreater(r["update_bytes"], 340, r)
        self.assertLess(r["update_bytes"], 420, r)
        assert_latency(self, r["latency_ms"], r)
        self.assertGreater(r["server"]["rss_kib"], 0, r)
        self.assertGreater(r["server"]["deliveries"], 0, r)

    def test_single_readings_pipelined_are_all_delivered_with_final_values(self):
        # One reading per POST /api/v1/telemetry, up to 8 outstanding on one connection (so the
        # final value check is exact): every reading once to each of its subscribers, and each
        # subscriber's last value is the device's last accepted reading.
        with Server(LIMITS) as s:
            p, r = bench(s, "fanout", "--subscribers", "10", "--devices", "2", "--rate", "400",
                         "--batch", "1", "--connections", "1", "--pipeline", "8",
                         "--duration", "2s", "--warmup", "300ms")
        self.assertEqual(r["http_errors"], 0, r)
        self.assertEqual(r["readings_accepted"], r["requests_ok"], r)
        self.assertEqual(r["expected"], r["readings_accepted"] * 5, r)
        self.assertEqual(r["loss"], 0, r)
        self.assertEqual(r["excess"], 0, r)
        self.assertEqual(r["final_value_mismatches"], 0, r)
        self.assertEqual(r["conflated_frames"], 0, r)
        self.assertEqual(r["age_p99_ms"], r["latency_ms"]["p99"], r)

    def test_readings_published_over_mqtt_are_all_delivered(self):
        # --ingest mqtt (issue 12): one reading per PUBLISH to a real Mosquitto, ingested by the
        # server through --mqtt-url; the same accounting as HTTP ingest.
        with Mosquitto() as broker, \
                Server(LIMITS, extra_args=("--mqtt-url", broker.url)) as s:
            status, h = s.request("GET", "/health")
            deadline = time.monotonic() + 15
            while h.get("mqtt", {}).get("state") != "connected":
                self.assertLess(time.monotonic(), deadline, h)
                time.sleep(0.05)
                status, h = s.request("GET", "/health")
            p, r = bench(s, "fanout", "--ingest", "mqtt", "--publish-url", broker.url,
                         "--subscribers", "10", "--devices", "2", "--rate", "400", "--batch",
                         "1", "--connections", "1", "--duration", "2s", "--warmup", "300ms")
        self.assertEqual(p["ingest"], "mqtt", p)
        self.assertEqual(p["publish_url"], broker.url, p)
        self.assertEqual(r["transport_errors"], 0, r)
        self.assertGreater(r["readings_accepted"], 0, r)
        self.assertEqual(r["expected"], r["readings_accepted"] * 5, r)
        self.assertEqual(r["loss"], 0, r)
        self.assertEqual(r["final_value_mismatches"], 0, r)

    def test_mqtt_ingest_is_refused_for_a_peer(self):
        proc = subprocess.run([BIN, "bench", "fanout", "--target", "mqtt", "--ingest", "mqtt",
                               "--duration", "1s"], capture_output=True, text=True, timeout=30)
        self.assertEqual(proc.returncode, 2, proc.stderr)
        self.assertIn("--ingest mqtt: only with --target valtronics", proc.stderr)

    def test_slow_consumers_are_left_out_of_the_figures(self):
        # 10% of 20 subscribers stop reading once subscribed: 2 of them, one on each device. The
        # 18 that read get everything; the server (which conflates telemetry for slow consumers)
        # neither disconnects them nor loses anything for the others.
        with Server(LIMITS) as s:
            p, r = bench(s, "fanout", "--subscribers", "20", "--devices", "2", "--rate", "500",
                         "--duration", "2s", "--warmup", "500ms", "--slow-fraction", "0.1",
                         "--server-pid", str(s.proc.pid))
        self.assertEqual(p["slow_fraction"], 0.1)
        self.assertEqual(r["slow_subscribers"], 2, r)
        self.assertEqual(r["slow_disconnected"], 0, r)
        self.assertEqual(r["http_errors"], 0, r)
        self.assertGreater(r["readings_accepted"], 0, r)
        # Each device has 10 subscribers, 9 of which read.
        self.assertEqual(r["expected"], r["readings_accepted"] * 9, r)
        self.assertEqual(r["loss"], 0, r)
        self.assertEqual(r["excess"], 0, r)
        self.assertEqual(r["received"], r["expected"], r)
        self.assertEqual(r["subscriber_errors"], 0, r)
        assert_latency(self, r["latency_ms"], r)
        srv = r["server"]
        self.assertGreater(srv["rss_start_bytes"], 0, r)
        self.assertGreater(srv["rss_end_bytes"], 0, r)

    def test_a_bad_token_fails_with_a_clear_message(self):
        with Server(LIMITS) as s:
            args = [BIN, "bench", "fanout", "--url", s.http, "--token", "not-a-token",
                    "--subscribers", "2", "--duration", "1s"]
            proc = subprocess.run(args, capture_output=True, text=True, timeout=60)
        self.assertEqual(proc.returncode, 2, proc.stdout)
        self.assertIn("subscribers subscribed", proc.stderr)
        self.assertIn("auth", proc.stderr)

    def test_peers_need_no_token_but_ours_does(self):
        proc = subprocess.run([BIN, "bench", "idle", "--url", "http://127.0.0.1:1",
                               "--connections", "1", "--duration", "1s"],
                              capture_output=True, text=True, timeout=30)
        self.assertEqual(proc.returncode, 2)
        self.assertIn("--token", proc.stderr)


class BenchIdleTest(unittest.TestCase):
    def test_idle_holds_every_connection_and_reports_memory(self):
        with Server(LIMITS) as s:
            p, r = bench(s, "idle", "--connections", "300", "--devices", "7", "--duration", "1s",
                         "--client-threads", "2", "--server-pid", str(s.proc.pid))
        self.assertEqual(p["connections"], 300)
        self.assertEqual(r["connections_ready"], 300, r)
        self.assertEqual(r["connections_lost"], 0, r)
        self.assertEqual(r["messages_received"], 0, r)
        self.assertEqual(r["setup_ms"]["count"], 300, r)
        self.assertGreaterEqual(r["hold_s"], 1.0, r)
        srv = r["server"]
        self.assertGreater(srv["rss_before_kib"], 0, r)
        self.assertGreaterEqual(srv["rss_kib"], srv["rss_before_kib"], r)
        self.assertIn("bytes_per_connection", srv)
        self.assertGreaterEqual(srv["idle_cpu_percent"], 0, r)


class BenchConnectTest(unittest.TestCase):
    def test_connect_sets_up_and_closes_connections(self):
        with Server(LIMITS) as s:
            p, r = bench(s, "connect", "--concurrency", "8", "--duration", "1s",
                         "--server-pid", str(s.proc.pid))
        self.assertEqual(p["concurrency"], 8)
        self.assertEqual(p["source_addresses"], 49)
        self.assertEqual(r["failed"], 0, r)
        self.assertEqual(r["close_timeouts"], 0, r)
        self.assertGreater(r["connections"], 50, r)
        self.assertAlmostEqual(r["connections_per_s"], r["connections"] / p["duration_s"], places=3)
        # Every connection set up in the window was also closed by the server (a few more may
        # have finished just after it).
        self.assertGreaterEqual(r["clean_closes"], r["connections"], r)
        self.assertEqual(r["setup_ms"]["count"], r["connections"], r)
        assert_latency(self, r["setup_ms"], r)
        self.assertGreater(r["server"]["cpu_us_per_connection"], 0, r)

    def test_pipelined_set_up_still_waits_for_both_replies(self):
        # auth and subscribe leave together; a connection counts once `subscribed` is back, so a
        # refused subscribe (here: a token without device 1) fails it instead of counting it.
        with Server(LIMITS) as s:
            p, r = bench(s, "connect", "--concurrency", "4", "--duration", "1s", "--pipeline")
            self.assertTrue(p["pipeline"])
            self.assertEqual(r["failed"], 0, r)
            self.assertGreater(r["connections"], 50, r)
            self.assertGreaterEqual(r["clean_closes"], r["connections"], r)
            out = subprocess.run(
                [BIN, "bench", "connect", "--url", s.http, "--token",
                 token(role="user", devices="2"), "--concurrency", "1", "--devices", "1",
                 "--duration", "1s", "--pipeline"], capture_output=True, text=True, timeout=60)
            self.assertEqual(out.returncode, 2, out.stdout)
            self.assertIn("no connection was set up", out.stderr)
            self.assertIn("forbidden", out.stderr)


class BenchIngestTest(unittest.TestCase):
    def test_ingest_accepts_batches_and_every_reading_is_delivered(self):
        with Server(LIMITS) as s:
            p, r = bench(s, "ingest", "--batch", "50", "--connections", "2", "--subscribers",
                         "12", "--devices", "6", "--duration", "1s", "--warmup", "200ms",
                         "--drain", "1s", "--server-pid", str(s.proc.pid))
        self.assertEqual(p["batch"], 50)
        self.assertEqual(r["http_errors"], 0, r)
        self.assertEqual(r["transport_errors"], 0, r)
        self.assertGreater(r["requests_ok"], 0, r)
        self.assertEqual(r["readings_accepted"], r["requests_ok"] * 50, r)
        self.assertEqual(r["readings_sent"], r["readings_accepted"], r)
        self.assertGreater(r["accepted_per_s"], 0, r)
        assert_latency(self, r["request_ms"], r)
        d = r["delivery"]
        # 12 subscribers over 6 devices: each reading reaches 2 of them.
        self.assertEqual(d["expected"], r["readings_accepted"] * 2, r)
        self.assertEqual(d["loss"], 0, r)
        self.assertEqual(d["excess"], 0, r)
        self.assertEqual(d["received"], d["expected"], r)
        self.assertEqual(d["subscriber_errors"], 0, r)
        assert_latency(self, d["latency_ms"], r)

    def test_ingest_without_subscribers(self):
        with Server(LIMITS) as s:
            _, r = bench(s, "ingest", "--batch", "1", "--connections", "1", "--duration", "500ms",
                         "--warmup", "0s")
        self.assertEqual(r["http_errors"], 0, r)
        self.assertEqual(r["readings_accepted"], r["requests_ok"], r)
        self.assertIsNone(r["delivery"])


class BenchFloorTest(unittest.TestCase):
    def test_floor_writes_one_frame_per_socket_per_round(self):
        # No server: the bench's own loopback sockets. Every write is whole (nothing short or
        # refused at this size), and the figures are per write and per round of N writes.
        proc = subprocess.run([BIN, "bench", "floor", "--subscribers", "50", "--payload-bytes",
                               "300", "--rounds", "20", "--json"],
                              capture_output=True, text=True, timeout=120)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        r = json.loads(proc.stdout)["results"]
        self.assertEqual(r["writes"], 50 * 20, r)
        self.assertEqual(r["frames"], r["writes"], r)
        self.assertEqual(r["short_writes"], 0, r)
        self.assertGreater(r["cpu_us_per_write"], 0, r)
        self.assertGreater(r["n_write_ms"]["p99"], 0, r)
        self.assertLessEqual(r["n_write_ms"]["p50"], r["n_write_ms"]["max"], r)

    def test_floor_refuses_bad_options(self):
        proc = subprocess.run([BIN, "bench", "floor", "--subscribers", "0"],
                              capture_output=True, text=True, timeout=30)
        self.assertEqual(proc.returncode, 2, proc.stderr)
        self.assertTrue(proc.stderr.strip())


if __name__ == "__main__":
    unittest.main()
