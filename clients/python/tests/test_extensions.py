"""The SDK with the server's protocol extensions (issue 15,
docs/protocol.md#extensions-of-the-spec), against the real server: `telemetry_stale` runs
through the seq bookkeeping (the reading after it is not a gap) and reaches
handle_telemetry_stale; a subscribe the token covers in part keeps the covered devices in the
registry, reports the others to handle_subscription_removed ("forbidden"), and the restore
after a reconnect still delivers; a restore the new token covers in part keeps the covered
devices of its merged subscribe; a deadband passes through as a filter."""
import asyncio
import unittest

from harness import Server, run, token
from sdk_support import TIMEOUT, RecordingClient, drain, in_thread


class ExtensionClient(RecordingClient):
    """Records the updates listen() hands to the hooks: ("stale", data), ("update", data)."""

    async def handle_telemetry_stale(self, data):
        self._record("stale", data)

    async def handle_telemetry_update(self, data):
        self._record("update", data)


async def force_reconnect(client):
    """A frame over the server's 1 KB limit: it closes with 1009 and the client reconnects."""
    n = client.count("reconnected")
    await client.send_message({"type": "ping", "padding": "x" * 2048})
    return await client.wait_event("reconnected", n + 1)


class ExtensionsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Server()
        cls.server.start()
        cls.admin = token("sdk-ext", "admin")

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def test_stale_is_delivered_and_the_next_reading_is_no_gap(self):
        async def go():
            client = ExtensionClient(self.server.url, self.admin)
            await client.connect()
            reply = await client.subscribe("telemetry", {"device_id": 231, "stale_after": "1s"})
            self.assertEqual(reply["filters"]["stale_after"], "1s")
            self.assertNotIn("forbidden", reply)
            listener = asyncio.create_task(client.listen())

            # The device never reported: its clock started with the subscription.
            _, stale = await client.wait_event("stale", timeout=5)
            self.assertEqual((stale["type"], stale["channel"], stale["device_id"],
                              stale["stale_after"], stale["last_seen"], stale["seq"]),
                             ("telemetry_stale", "telemetry", 231, "1s", None, 1), stale)
            self.assertNotIn("metric", stale)  # a clock per device

            await in_thread(self.server.ingest, 231, {"temperature": 20}, self.admin)
            _, update = await client.wait_event("update")
            self.assertEqual((update["device_id"], update["seq"]), (231, stale["seq"] + 1))
            self.assertEqual(client.count("gap"), 0, client.events)
            self.assertEqual(client.duplicates_dropped, 0)
            self.assertEqual(client.count("stale"), 1)
            await client.disconnect()
            await asyncio.wait_for(listener, TIMEOUT)
        run(go())

    def test_partial_subscribe_keeps_the_covered_devices_across_a_reconnect(self):
        async def go():
            a, b, c = 241, 242, 243
            tok = await in_thread(token, "sdk-ext-p", "user", f"{a},{b}")
            client = ExtensionClient(self.server.url, tok)
            await client.connect()
            reply = await client.subscribe("telemetry", {"device_id": [a, b, c],
                                                         "metrics": ["temperature"]})
            self.assertEqual(reply["forbidden"], [c])
            self.assertEqual(reply["filters"]["device_id"], [a, b])
            self.assertEqual(set(client.subscriptions), {("telemetry", a), ("telemetry", b)})
            removed = [e for e in client.events if e[0] == "removed"]
            self.assertEqual([e[1:4] for e in removed], [("telemetry", c, "forbidden")])
            err = removed[0][4]
            self.assertEqual((err["error"], err["device_id"], err["reply"]["id"]),
                             ("forbidden", c, reply["id"]))
            self.assertEqual(await drain(client), [], "a subscribe granted in part is no error")

            await force_reconnect(client)
            # One subscribe restored both keys (identical filters), and the server granted it.
            restored = [f for f in client.frames if f.get("type") == "subscribed"][1:]
            self.assertEqual([(m["filters"]["device_id"], m.get("forbidden")) for m in restored],
                             [([a, b], None)])
            self.assertEqual(set(client.subscriptions), {("telemetry", a), ("telemetry", b)})
            self.assertEqual(client.count("removed"), 1, client.events)

            await in_thread(self.server.ingest, a, {"temperature": 7, "humidity": 50},
                            self.admin)
            got = await drain(client)
            self.assertEqual([(m["type"], m.get("device_id"), list(m.get("telemetry", {})),
                               m.get("seq")) for m in got],
                             [("telemetry_update", a, ["temperature"], 1)], got)
            self.assertEqual(client.count("gap"), 0)
            await client.disconnect()
        run(go())

    def test_restore_covered_in_part_keeps_the_covered_devices_of_the_group(self):
        tokens = {}

        def provider():
            return tokens["now"]

        async def go():
            tokens["now"] = await in_thread(token, "sdk-ext-r", "user", "251,252,253")
            client = ExtensionClient(self.server.url, tokens["now"], token_provider=provider)
            await client.connect()
            await client.subscribe("telemetry", {"device_id": [251, 252, 253]})
            # From now on the token no longer covers 252.
            tokens["now"] = await in_thread(token, "sdk-ext-r", "user", "251,253")
            await force_reconnect(client)
            # Before partial subscribes, the merged restore of [251, 252, 253] was refused
            # whole and lost all three.
            self.assertEqual(set(client.subscriptions), {("telemetry", 251), ("telemetry", 253)})
            removed = [e for e in client.events if e[0] == "removed"]
            self.assertEqual([e[1:4] for e in removed], [("telemetry", 252, "restore")])
            (err,) = await drain(client)  # handle_error hears of it too
            self.assertEqual((err["type"], err["error"], err["device_id"],
                              err["request"]["filters"]["device_id"]),
                             ("error", "forbidden", 252, [251, 252, 253]), err)

            await in_thread(self.server.ingest, 253, {"temperature": 1}, self.admin)
            got = await drain(client)
            self.assertEqual([(m["type"], m.get("device_id")) for m in got],
                             [("telemetry_update", 253)], got)
            await client.disconnect()
        run(go())

    def test_deadband_delivers_only_values_that_moved_more_than_it(self):
        async def go():
            client = ExtensionClient(self.server.url, self.admin)
            await client.connect()
            reply = await client.subscribe("telemetry", {"device_id": 261, "deadband": 1})
            self.assertEqual(reply["filters"]["deadband"], 1)
            for value in (20, 20.5, 21.2):
                await in_thread(self.server.ingest, 261, {"temperature": value}, self.admin)
            got = []
            while not got or got[-1]["telemetry"]["temperature"]["value"] != 21.2:
                got.append(await client.recv(TIMEOUT))
            got += await drain(client)
            self.assertEqual([(m["type"], m["telemetry"]["temperature"]["value"], m["seq"])
                              for m in got],
                             [("telemetry_update", 20, 1), ("telemetry_update", 21.2, 2)], got)
            self.assertEqual(client.count("gap"), 0)
            await client.disconnect()
        run(go())


if __name__ == "__main__":
    unittest.main()
