"""subscribe() returns the server's `subscribed` (matched by id) and raises SubscriptionError
with the server's code on `error`; unsubscribe() and its effect on delivery; ping()."""
import asyncio
import unittest

from harness import Server, run, token
from sdk_support import RecordingClient, drain, in_thread, next_of
from valtronics_client import SubscriptionError


class SubscribeTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Server()
        cls.server.start()
        cls.admin = token("sdk-sub", "admin")

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def ingest(self, device, metrics):
        return in_thread(self.server.ingest, device, metrics, self.admin)

    def test_subscribe_returns_its_subscribed_with_normalized_filters(self):
        async def go():
            client = RecordingClient(self.server.url, self.admin)
            await client.connect()
            reply = await client.subscribe("telemetry", {"device_id": [12, 11],
                                                         "metrics": ["t2", "t1"]})
            self.assertEqual(reply["type"], "subscribed")
            self.assertEqual(reply["channel"], "telemetry")
            self.assertEqual(reply["filters"], {"device_id": [11, 12], "metrics": ["t1", "t2"],
                                                "frequency": "real-time"})
            self.assertIsInstance(reply["id"], int)
            # The device_id= shortcut, top-level style.
            reply2 = await client.subscribe("alerts", {"severity": "critical"}, device_id=11)
            self.assertEqual(reply2["filters"], {"device_id": [11], "severity": ["critical"]})
            self.assertNotEqual(reply2["id"], reply["id"])
            # One registry entry per (channel, device), as the server keys them.
            self.assertEqual(client.subscriptions, {
                ("telemetry", 11): {"metrics": ["t1", "t2"], "frequency": "real-time"},
                ("telemetry", 12): {"metrics": ["t1", "t2"], "frequency": "real-time"},
                ("alerts", 11): {"severity": ["critical"]},
            })
            # Subscribing to a key again replaces its filters.
            await client.subscribe("telemetry", {"device_id": 12})
            self.assertEqual(client.subscriptions[("telemetry", 12)], {"frequency": "real-time"})
            # The subscription is live when subscribe() returns: no wait needed.
            await self.ingest(11, {"t1": 1, "other": 2})
            upd = await next_of(client, "telemetry_update")
            self.assertEqual((upd["device_id"], set(upd["telemetry"]), upd["seq"]),
                             (11, {"t1"}, 1), upd)
            self.assertEqual(await drain(client), [])  # replies never reach the messages
            await client.disconnect()
        run(go())

    def test_error_reply_raises_subscription_error_with_code(self):
        user = token("sdk-sub-user", "user", devices="1")
        cases = [
            (self.admin, "/ws", ("nope", None), "unknown_channel"),
            (self.admin, "/ws", ("telemetry", {"colour": "red"}), "unknown_filter"),
            (self.admin, "/ws", ("telemetry", {"frequency": "fast"}), "invalid_filter"),
            (self.admin, "/ws", ("alerts", {"device_id": 0}), "invalid_filter"),
            (user, "/ws", ("telemetry", {"device_id": 2}), "forbidden"),
            (user, "/ws", ("system", None), "forbidden"),
            (self.admin, "/ws/telemetry", ("alerts", None), "channel_not_allowed"),
        ]

        async def go():
            for tok, path, (channel, filters), code in cases:
                with self.subTest(code=code, channel=channel, filters=filters):
                    client = RecordingClient(self.server.url + path, tok)
                    await client.connect()
                    before = client.subscriptions
                    with self.assertRaises(SubscriptionError) as cm:
                        await client.subscribe(channel, filters)
                    e = cm.exception
                    self.assertEqual(e.code, code, e.reply)
                    self.assertEqual(e.reply["type"], "error")
                    self.assertIsInstance(e.reply["id"], int)
                    self.assertTrue(e.message)
                    self.assertEqual(client.subscriptions, before)  # nothing recorded
                    self.assertEqual((await client.ping())["type"], "pong")  # still usable
                    await client.disconnect()
        run(go())

    def test_unsubscribe_stops_delivery(self):
        async def go():
            client = RecordingClient(self.server.url, self.admin)
            await client.connect()
            await client.subscribe("telemetry", {"device_id": [21, 22]})
            r = await client.unsubscribe("telemetry", 21)
            self.assertEqual((r["type"], r["channel"], r["device_id"], r["removed"]),
                             ("unsubscribed", "telemetry", 21, 1), r)
            self.assertEqual(set(client.subscriptions), {("telemetry", 22)})
            await self.ingest(21, {"x": 1})
            await self.ingest(22, {"x": 2})
            got = await drain(client)
            self.assertEqual([(m["device_id"], m["telemetry"]["x"]["value"]) for m in got],
                             [(22, 2)], got)
            r = await client.unsubscribe("telemetry")
            self.assertEqual(r["removed"], 1, r)
            self.assertEqual(client.subscriptions, {})
            await self.ingest(22, {"x": 3})
            self.assertEqual(await drain(client), [])
            # Idempotent, and errors carry the code.
            self.assertEqual((await client.unsubscribe("telemetry"))["removed"], 0)
            with self.assertRaises(SubscriptionError) as cm:
                await client.unsubscribe("nope")
            self.assertEqual(cm.exception.code, "unknown_channel")
            await client.disconnect()
        run(go())

    def test_ping_pong_matched_by_id(self):
        async def go():
            client = RecordingClient(self.server.url, self.admin)
            await client.connect()
            pong = await client.ping()
            self.assertEqual(pong["type"], "pong")
            self.assertRegex(pong["timestamp"], r"^\d{4}-\d\d-\d\dT.*Z$")
            self.assertRegex(pong["server_time"], r"Z$")
            # Concurrent pings each get their own pong, echoing their own timestamp.
            stamps = [f"2026-01-01T00:00:0{i}Z" for i in range(5)]
            pongs = await asyncio.gather(*(client.ping(s) for s in stamps))
            self.assertEqual([p["timestamp"] for p in pongs], stamps)
            self.assertEqual(len({p["id"] for p in pongs}), 5)
            self.assertEqual(client.pending_messages, 0)  # pongs are replies, not messages
            await client.disconnect()
        run(go())

    def test_raw_send_message_replies_arrive_as_messages(self):
        async def go():
            client = RecordingClient(self.server.url, self.admin)
            await client.connect()
            await client.send_message({"type": "ping", "timestamp": "raw", "id": "mine"})
            msg = await client.recv(5)
            self.assertEqual((msg["type"], msg["id"], msg["timestamp"]), ("pong", "mine", "raw"))
            await client.send_message({"type": "bogus"})
            msg = await client.recv(5)
            self.assertEqual((msg["type"], msg["error"]), ("error", "unknown_type"), msg)
            await client.disconnect()
        run(go())


if __name__ == "__main__":
    unittest.main()
