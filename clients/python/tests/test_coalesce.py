"""Coalesced frames (issue 15, docs/protocol.md "Coalesced frames") through the SDK, against
the real server: the SDK asks for them by default, a burst of updates then arrives in fewer
frames than messages, and every message still reaches the application on its own, in seq
order, with no gap; coalesce=False asks for nothing and every frame holds one message."""
import asyncio
import unittest

from harness import Server, run, token
from sdk_support import TIMEOUT, RecordingClient, in_thread

BURST = 300


class CoalesceTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Server()
        cls.server.start()
        cls.admin = token("sdk-coalesce", "admin")

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def burst(self, **options):
        """(frames, array frames, the updates the application got) for BURST updates."""
        async def go():
            client = RecordingClient(self.server.url, self.admin, **options)
            await client.connect()
            try:
                await client.subscribe("telemetry")
                frames_before = client.frame_count
                items = [{"device_id": d, "metric_name": "level", "metric_value": d}
                         for d in range(1, BURST + 1)]
                status, body = await in_thread(self.server.request, "POST",
                                               "/api/v1/telemetry/batch",
                                               {"telemetry_data": items}, self.admin)
                self.assertEqual(status, 202, body)
                got = []
                while len(got) < BURST:
                    got.append(await client.recv(TIMEOUT))
                return client.frame_count - frames_before, client.array_frames, got, \
                    client.events
            finally:
                await client.disconnect()
        return run(go())

    def check(self, got, events):
        self.assertEqual([m["type"] for m in got], ["telemetry_update"] * BURST)
        self.assertEqual([m["device_id"] for m in got], list(range(1, BURST + 1)))
        self.assertEqual([m["seq"] for m in got], list(range(1, BURST + 1)))
        self.assertEqual([e for e in events if e[0] == "gap"], [])

    def test_by_default_a_burst_comes_in_fewer_frames(self):
        frames, arrays, got, events = self.burst()
        self.check(got, events)
        self.assertGreater(arrays, 0)
        self.assertLess(frames, BURST // 4, f"{BURST} updates in {frames} frames")
        print(f"coalesced: {BURST} updates in {frames} frames")

    def test_coalesce_false_gets_a_frame_per_message(self):
        frames, arrays, got, events = self.burst(coalesce=False)
        self.check(got, events)
        self.assertEqual((frames, arrays), (BURST, 0))


if __name__ == "__main__":
    unittest.main()
