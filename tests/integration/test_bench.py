"""`valtronics bench fanout` against the real server: the tool sets up its subscribers, ingests
on schedule and accounts for every delivery. A correctness check of the tool, not a speed test."""
import json
import subprocess
import unittest

from harness import BIN, Server, token

LIMITS = {"limits": {"connections_per_minute": 100000, "max_connections": 20000,
                     "max_connections_per_user": 20000, "messages_per_second": 100000}}


class BenchFanoutTest(unittest.TestCase):
    def run_bench(self, server, *extra):
        args = [BIN, "bench", "fanout", "--url", server.http, "--token", token("bench", "admin"),
                "--subscribers", "20", "--devices", "4", "--rate", "500", "--duration", "2s",
                "--warmup", "500ms", "--json", *extra]
        proc = subprocess.run(args, capture_output=True, text=True, timeout=60)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        return json.loads(proc.stdout)

    def test_fanout_delivers_everything_and_reports_latency(self):
        with Server(LIMITS) as s:
            r = self.run_bench(s, "--server-pid", str(s.proc.pid))
        self.assertEqual(r["scenario"], "fanout")
        self.assertEqual(r["http_errors"], 0, r)
        self.assertEqual(r["transport_errors"], 0, r)
        self.assertGreater(r["readings_accepted"], 0, r)
        # 20 subscribers over 4 devices: every accepted reading reaches the 5 subscribers of its
        # device, exactly once.
        self.assertEqual(r["expected"], r["readings_accepted"] * 5, r)
        self.assertEqual(r["loss"], 0, r)
        self.assertEqual(r["excess"], 0, r)
        self.assertEqual(r["received"], r["expected"], r)
        self.assertGreater(r["delivered_per_s"], 0, r)
        lat = r["latency_ms"]
        self.assertGreater(lat["count"], 0, r)
        for key in ("p50", "p90", "p99", "p99.9", "max"):
            self.assertIn(key, lat)
        self.assertLessEqual(lat["p50"], lat["p99"])
        self.assertLessEqual(lat["p99"], lat["max"])
        self.assertGreater(r["server"]["rss_kib"], 0, r)
        self.assertGreater(r["server"]["deliveries"], 0, r)

    def test_a_bad_token_fails_with_a_clear_message(self):
        with Server(LIMITS) as s:
            args = [BIN, "bench", "fanout", "--url", s.http, "--token", "not-a-token",
                    "--subscribers", "2", "--duration", "1s"]
            proc = subprocess.run(args, capture_output=True, text=True, timeout=60)
        self.assertEqual(proc.returncode, 2, proc.stdout)
        self.assertIn("subscribers subscribed", proc.stderr)
        self.assertIn("auth", proc.stderr)


if __name__ == "__main__":
    unittest.main()
