"""Issue 15, "Subscriptions that send less" and "Partial subscribe results", through a real client
(Python websockets) against the real server, readings ingested over HTTP: deadband (absolute, in
percent, per metric, with "*"), max_silence, crossing and direction, stale_after (per device,
per metric, resuming), windowed aggregates, a partial subscribe's `forbidden`, and the
invalid_filter answers. Expected deliveries are computed here from the values sent."""
import asyncio
import json
import time
import unittest

from harness import (ServerTestCase, connect, expect_silence, recv_json, recv_type, run,
                     subscribe)


class DeliveryExtensionsTest(ServerTestCase):
    def post(self, device, **metrics):
        self.server.ingest(device, metrics, self.admin)

    async def updates(self, ws, n, timeout=5):
        """The next `n` telemetry_update messages (anything else fails the test)."""
        out = []
        for _ in range(n):
            msg = await recv_json(ws, timeout)
            self.assertEqual(msg["type"], "telemetry_update", msg)
            out.append(msg)
        return out

    async def sync(self, ws, device, marker):
        """Sends a marker reading on `marker`'s device and returns the messages before it: the
        updates of one device reach a connection in order, so what was due came first."""
        self.post(device, marker=marker)
        got = []
        while True:
            msg = await recv_json(ws)
            if msg.get("type") == "telemetry_update" and \
                    msg["telemetry"].get("marker", {}).get("value") == marker:
                return got
            got.append(msg)

    @staticmethod
    def values(msgs, metric):
        return [m["telemetry"][metric]["value"] for m in msgs if metric in m["telemetry"]]

    def test_a_deadband_sends_only_values_that_moved_more_than_it(self):
        async def go():
            ws = await connect(self.server, token_=self.admin)
            reply = await subscribe(ws, "telemetry", id_=1, device_id=101,
                                    deadband={"t": 1.0, "*": 0}, deadband_pct={"h": 10})
            self.assertEqual(reply["type"], "subscribed", reply)
            self.assertEqual(reply["filters"]["deadband"], {"t": 1.0, "*": 0})
            self.assertEqual(reply["filters"]["deadband_pct"], {"h": 10})
            self.assertNotIn("forbidden", reply)
            for v in [20, 20.5, 21.2, 21.0, 19.9, 20.8, 21.1]:
                self.post(101, t=v)
            # h: 10% of the last value sent (5, then 5.6, then 5), the "*" band of 0 below it.
            for v in [50, 54, 56, 50.5, 50, 50, 44]:
                self.post(101, h=v)
            got = await self.sync(ws, 101, 1)
            self.assertEqual(self.values(got, "t"), [20, 21.2, 19.9, 21.1])
            self.assertEqual(self.values(got, "h"), [50, 56, 50, 44])
            # The "*" band (0) passes every change of another metric, never a repeat.
            for v in [5, 5, 6, 6]:
                self.post(101, other=v)
            got = await self.sync(ws, 101, 2)
            self.assertEqual(self.values(got, "other"), [5, 6])
            for m in got:
                self.assertEqual(set(m), {"type", "channel", "device_id", "telemetry", "seq"})
            await ws.close()
        run(go())

    def test_max_silence_sends_the_held_back_value_after_that_long(self):
        async def go():
            ws = await connect(self.server, token_=self.admin)
            reply = await subscribe(ws, "telemetry", id_=1, device_id=102, deadband=10,
                                    max_silence="400ms")
            self.assertEqual(reply["filters"]["max_silence"], "400ms")
            self.post(102, t=20)
            first = await self.updates(ws, 1)
            sent_at = time.monotonic()
            self.post(102, t=21)
            self.post(102, t=22)  # held back too: the latest one goes out
            msg = await recv_type(ws, "telemetry_update", timeout=3)
            waited = time.monotonic() - sent_at
            self.assertEqual(self.values(first, "t"), [20])
            self.assertEqual(msg["telemetry"]["t"]["value"], 22)
            self.assertGreater(waited, 0.3, "sent before max_silence")
            self.assertEqual(msg["seq"], first[0]["seq"] + 1, "nothing held back counts as lost")
            await expect_silence(ws, 0.6)  # nothing held any more: nothing more to send
            await ws.close()
        run(go())

    def test_crossings_in_both_directions_or_one(self):
        async def go():
            both = await connect(self.server, token_=self.admin)
            up = await connect(self.server, token_=self.admin)
            r1 = await subscribe(both, "telemetry", id_=1, device_id=103, crossing={"t": 30})
            # A bare level applies to every metric, so `up` waits for the marker the other way:
            # its own markers would need to cross 30.
            r2 = await subscribe(up, "telemetry", id_=1, device_id=103, crossing=30,
                                 direction="up")
            self.assertEqual((r1["type"], r2["type"]), ("subscribed", "subscribed"), (r1, r2))
            self.assertEqual(r2["filters"]["direction"], "up")
            for v in [25, 29, 31, 32, 28, 30, 29.99, 29]:
                self.post(103, t=v)
            got_both = await self.sync(both, 103, 1)
            self.assertEqual(self.values(got_both, "t"), [31, 28, 30, 29.99])
            self.assertEqual([m["crossed"] for m in got_both],
                             [{"t": "up"}, {"t": "down"}, {"t": "up"}, {"t": "down"}])
            self.post(103, marker=0)
            self.post(103, marker=40)  # crosses 30 upwards: `up` gets it, after every t
            got_up = []
            while True:
                msg = await recv_json(up)
                if "marker" in msg["telemetry"]:
                    self.assertEqual(msg["crossed"], {"marker": "up"})
                    break
                got_up.append(msg)
            self.assertEqual(self.values(got_up, "t"), [31, 30])
            self.assertTrue(all(m["crossed"] == {"t": "up"} for m in got_up))
            seqs = [m["seq"] for m in got_both]
            self.assertEqual(seqs, list(range(seqs[0], seqs[0] + len(seqs))))
            await both.close()
            await up.close()
        run(go())

    def test_stale_after_per_device_then_resumed(self):
        async def go():
            ws = await connect(self.server, token_=self.admin)
            self.post(104, t=1)  # registered before the subscription
            started = time.monotonic()
            reply = await subscribe(ws, "telemetry", id_=1, device_id=104, stale_after="1s",
                                    deadband=100)
            self.assertEqual(reply["filters"]["stale_after"], "1s")
            stale = await recv_json(ws, timeout=4)
            self.assertEqual(stale["type"], "telemetry_stale", stale)
            self.assertGreater(time.monotonic() - started, 0.9)
            self.assertEqual((stale["device_id"], stale["stale_after"], stale["last_seen"]),
                             (104, "1s", None))
            self.assertNotIn("metric", stale)
            await expect_silence(ws, 1.3)  # once per silence
            # Data resumes: its first reading goes out even within the deadband.
            self.post(104, t=2)
            (msg,) = await self.updates(ws, 1)
            self.assertEqual(msg["telemetry"]["t"]["value"], 2)
            self.assertEqual(msg["seq"], stale["seq"] + 1)
            again = await recv_json(ws, timeout=4)
            self.assertEqual(again["type"], "telemetry_stale", again)
            self.assertEqual(again["last_seen"], msg["telemetry"]["t"]["timestamp"])
            await ws.close()
        run(go())

    def test_stale_after_per_metric(self):
        async def go():
            ws = await connect(self.server, token_=self.admin)
            await subscribe(ws, "telemetry", id_=1, device_id=105, metrics=["a", "b"],
                            stale_after="1s")
            deadline = time.monotonic() + 1.6
            while time.monotonic() < deadline:  # b keeps reporting, a does not
                self.post(105, b=1)
                await asyncio.sleep(0.2)
            seen = []
            while True:
                msg = await recv_json(ws, timeout=2)
                if msg["type"] == "telemetry_stale":
                    seen.append(msg)
                    break
            self.assertEqual((seen[0]["device_id"], seen[0]["metric"]), (105, "a"))
            await ws.close()
        run(go())

    def test_stale_after_on_every_device_starts_at_a_device_s_first_reading(self):
        async def go():
            ws = await connect(self.server, token_=self.admin)
            await subscribe(ws, "telemetry", id_=1, metrics=["z"], stale_after="1s")
            await expect_silence(ws, 1.3)  # no device reported z yet: no clock
            self.post(106, z=3)
            (msg,) = await self.updates(ws, 1)
            stale = await recv_json(ws, timeout=3)
            self.assertEqual(stale["type"], "telemetry_stale", stale)
            self.assertEqual((stale["device_id"], stale["metric"]), (106, "z"))
            self.assertEqual(stale["last_seen"], msg["telemetry"]["z"]["timestamp"])
            # Unsubscribing stops the clocks.
            await ws.send(json.dumps({"type": "unsubscribe", "channel": "telemetry", "id": 2}))
            self.assertEqual((await recv_json(ws))["type"], "unsubscribed")
            self.post(106, z=4)
            await expect_silence(ws, 1.5)
            await ws.close()
        run(go())

    def test_windowed_aggregates(self):
        async def go():
            conns = {}
            for agg in ["avg", "min", "max", "count"]:
                ws = await connect(self.server, token_=self.admin)
                reply = await subscribe(ws, "telemetry", id_=1, device_id=107, frequency="1s",
                                        aggregate=agg)
                self.assertEqual(reply["filters"]["aggregate"], agg, reply)
                conns[agg] = ws
            self.post(107, t=10)  # the first reading finds its slot open: a window of one
            first = {agg: (await self.updates(ws, 1))[0] for agg, ws in conns.items()}
            for v in [1, 2, 6]:
                self.post(107, t=v)
            later = {agg: (await self.updates(ws, 1, timeout=3))[0] for agg, ws in conns.items()}
            want_first = {"avg": 10, "min": 10, "max": 10, "count": 1}
            want_later = {"avg": 3, "min": 1, "max": 6, "count": 3}
            for agg in conns:
                self.assertEqual(first[agg]["telemetry"]["t"]["value"], want_first[agg])
                self.assertEqual(first[agg]["count"], {"t": 1})
                self.assertEqual(later[agg]["telemetry"]["t"]["value"], want_later[agg], agg)
                self.assertEqual(later[agg]["count"], {"t": 3})
                self.assertEqual((later[agg]["aggregate"], later[agg]["window"]), (agg, "1s"))
            for ws in conns.values():
                await ws.close()
        run(go())

    def test_a_partial_subscribe_subscribes_what_the_token_covers(self):
        async def go():
            tok = self.mint("pat", "user", devices="108,109")
            ws = await connect(self.server, token_=tok)
            reply = await subscribe(ws, "telemetry", id_=1, device_id=[110, 108, 109, 111])
            self.assertEqual(reply["type"], "subscribed", reply)
            self.assertEqual(reply["filters"]["device_id"], [108, 109])
            self.assertEqual(reply["forbidden"], [110, 111])
            reply = await subscribe(ws, "alerts", id_=2, device_id=[110, 111])
            self.assertEqual((reply["type"], reply["error"]), ("error", "forbidden"), reply)
            self.assertIn("devices 110, 111", reply["message"])
            self.post(111, t=1)
            self.post(109, t=2)
            (msg,) = await self.updates(ws, 1)
            self.assertEqual(msg["device_id"], 109)
            await ws.close()
        run(go())

    def test_bad_extension_filters_are_refused_naming_the_key(self):
        cases = [
            ({"deadband": -1}, "invalid_filter", "deadband"),
            ({"deadband": {"Bad Name": 1}}, "invalid_filter", "deadband"),
            ({"deadband": {}}, "invalid_filter", "deadband"),
            ({"deadband_pct": "5"}, "invalid_filter", "deadband_pct"),
            ({"deadband": 1, "frequency": "1s"}, "invalid_filter", "real-time"),
            ({"crossing": {"t": 1}, "frequency": "1s"}, "invalid_filter", "real-time"),
            ({"max_silence": "1s"}, "invalid_filter", "max_silence"),
            ({"deadband": 1, "max_silence": "10ms"}, "invalid_filter", "max_silence"),
            ({"direction": "up"}, "invalid_filter", "direction"),
            ({"crossing": 1, "direction": "sideways"}, "invalid_filter", "direction"),
            ({"stale_after": "500ms"}, "invalid_filter", "stale_after"),
            ({"stale_after": "8d"}, "invalid_filter", "stale_after"),
            ({"aggregate": "avg"}, "invalid_filter", "aggregate"),
            ({"aggregate": "median", "frequency": "1s"}, "invalid_filter", "aggregate"),
            ({"deadband": 1, "filters": {"deadband": 2}}, "invalid_filter", "deadband"),
        ]

        async def go():
            ws = await connect(self.server, token_=self.admin)
            for i, (fields, code, word) in enumerate(cases):
                reply = await subscribe(ws, "telemetry", id_=i, device_id=1, **fields)
                self.assertEqual((reply["type"], reply.get("error")), ("error", code),
                                 (fields, reply))
                self.assertIn(word, reply["message"], fields)
            reply = await subscribe(ws, "alerts", id_=99, deadband=1)
            self.assertEqual(reply.get("error"), "unknown_filter", reply)
            await ws.close()
        run(go())


if __name__ == "__main__":
    unittest.main()
