"""Several I/O threads: connections spread over the threads' shards all receive every update,
and a burst of concurrent handshakes (the acceptor hands sockets to other threads) is safe."""
import asyncio
import json
import unittest

from harness import Server, connect, recv_type, run, subscribe, token


class ThreadsTest(unittest.TestCase):
    def test_burst_of_connections_over_two_threads_all_receive(self):
        with Server(config={"": {"threads": 2},
                            "limits": {"max_connections_per_user": 1000}}) as s:
            admin = token("admin", "admin", devices="*")

            async def main():
                async def one(i):
                    ws = await connect(s, token_=admin)
                    reply = await subscribe(ws, "telemetry", device_id=(i % 4) + 1, snapshot=False)
                    self.assertEqual(reply["type"], "subscribed", reply)
                    return ws

                # Several rounds, so that sessions of one burst close while the next connects.
                for _ in range(6):
                    sockets = await asyncio.gather(*(one(i) for i in range(400)))
                    for device in range(1, 5):
                        s.ingest(device, {"temperature": float(device)}, admin)
                    for i, ws in enumerate(sockets):
                        update = await recv_type(ws, "telemetry_update", timeout=10)
                        self.assertEqual(update["device_id"], (i % 4) + 1)
                        self.assertEqual(update["telemetry"]["temperature"]["value"],
                                         float((i % 4) + 1))
                    await asyncio.gather(*(ws.close() for ws in sockets))

            run(main())
            status, health = s.request("GET", "/health")
            self.assertEqual(status, 200)
            self.assertIsNone(s.proc.poll(), "server died")


if __name__ == "__main__":
    unittest.main()


class ConnectionStormTest(unittest.TestCase):
    def test_thousands_of_concurrent_handshakes_over_two_threads(self):
        # The bench opens connections far faster than a Python client can: thousands of
        # handshakes in flight while earlier ones upgrade, spread over both I/O threads. (A race
        # between the acceptor's thread and a worker's once crashed the server under such a
        # storm; it showed only pinned, at 12 000 connections, so this checks the behaviour, not
        # that race. bench/compare's 2-thread runs are where it would show again.)
        import subprocess
        from harness import BIN
        with Server(config={"": {"threads": 2},
                            "limits": {"max_connections_per_user": 20000,
                                       "max_connections": 20000}}) as s:
            admin = token("admin", "admin", devices="*")
            out = subprocess.run(
                [BIN, "bench", "fanout", "--url", s.http, "--token", admin, "--subscribers",
                 "6000", "--devices", "2", "--rate", "20", "--batch", "1", "--duration", "1s",
                 "--warmup", "0s", "--drain", "1s", "--json"],
                capture_output=True, text=True, timeout=120)
            self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
            results = json.loads(out.stdout)["results"]
            self.assertEqual(results["loss"], 0, results)
            self.assertGreater(results["received"], 0, results)
            self.assertIsNone(s.proc.poll(), "server died")
