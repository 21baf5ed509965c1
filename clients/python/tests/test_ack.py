"""Acknowledged alerts (issue 15, docs/protocol.md, "Acknowledged alerts: `ack`") through the SDK
and the real server, started with alerts.ack_timeout = 1s: an alert the SDK did not acknowledge
comes again (`redelivered: true`) about a second later, so ~2.5 s without another alert frame
shows that the ack went out. Alerts are raised by a rule (metric `acked` > 10) on readings
ingested over HTTP.

The SDK acknowledges an alert once the application has handled it: with listen(), after the
hooks returned (or raised); with recv() / `async for`, when the next message is asked for.
Duplicates (a redelivery is one) are acknowledged at once and never delivered."""
import asyncio
import json
import unittest

from harness import Server, run, token
from sdk_support import TIMEOUT, RecordingClient, in_thread

QUIET = 2.5  # > 2 * alerts.ack_timeout
RULE = {"name": "Acked", "metric": "acked", "condition": "gt", "threshold": 10,
        "severity": "critical"}


class AckClient(RecordingClient):
    """Records, per connection (numbered from 1), the alert messages received and the `ack`
    frames sent; handle_alert records the alerts the application got."""

    def __init__(self, url, token_=None, **kwargs):
        super().__init__(url, token_, **kwargs)
        self.connection = 0
        self.alert_frames = []  # (connection, alert frame)
        self.sent_acks = []     # (connection, delivery_id: int or list)
        self.handled = []
        self.alert_handled = asyncio.Event()
        self.fail_handler = False

    async def _open(self, token_):
        ws, auth = await super()._open(token_)
        self.connection += 1
        n, send = self.connection, ws.send

        async def recording_send(message):
            m = json.loads(message) if isinstance(message, str) else None
            if isinstance(m, dict) and m.get("type") == "ack":
                self.sent_acks.append((n, m["delivery_id"]))
            return await send(message)
        ws.send = recording_send
        return ws, auth

    async def _on_frame(self, raw):
        parsed = json.loads(raw)
        for m in parsed if isinstance(parsed, list) else [parsed]:  # coalesced: an array
            if m.get("type") == "alert":
                self.alert_frames.append((self.connection, m))
        await super()._on_frame(raw)

    async def handle_alert(self, data):
        self.handled.append(data)
        self.alert_handled.set()
        if self.fail_handler:
            raise RuntimeError("handler failed")

    def acked(self, connection=None):
        out = []
        for n, d in self.sent_acks:
            if connection is None or n == connection:
                out.extend(d if isinstance(d, list) else [d])
        return out


class AckTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.admin = token("sdk-ack", "admin")
        cls.server = Server({"alerts": {"ack_timeout": "1s"}})
        cls.server.start()
        status, reply = cls.server.request("POST", "/api/v1/alert-rules", RULE, cls.admin)
        assert status == 201, reply

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def raise_alert(self, device, value=20):
        return in_thread(self.server.ingest, device, {"acked": value}, self.admin)

    async def client(self, device, **filters):
        c = AckClient(self.server.url, self.admin)
        await c.connect()
        reply = await c.subscribe("alerts", {"device_id": device, "ack": True, **filters})
        self.assertIs(reply["filters"]["ack"], True, reply)
        return c

    def test_listen_acknowledges_after_the_hook(self):
        async def go():
            c = await self.client(501)
            listener = asyncio.create_task(c.listen())
            await self.raise_alert(501)
            await asyncio.wait_for(c.alert_handled.wait(), TIMEOUT)
            await asyncio.sleep(QUIET)
            self.assertEqual(len(c.alert_frames), 1, c.alert_frames)
            alert = c.alert_frames[0][1]
            self.assertEqual(alert["delivery_id"], 1)
            self.assertNotIn("redelivered", alert)
            self.assertEqual(c.sent_acks, [(1, 1)])
            self.assertEqual(len(c.handled), 1)
            self.assertEqual(c.last_alert_id, alert["alert_id"])
            self.assertEqual((c.duplicates_dropped, c.count("gap")), (0, 0))
            await c.disconnect()
            await listener
        run(go())

    def test_a_hook_that_raises_still_acknowledges(self):
        async def go():
            c = await self.client(502)
            c.fail_handler = True
            listener = asyncio.create_task(c.listen())
            await self.raise_alert(502)
            with self.assertRaisesRegex(RuntimeError, "handler failed"):
                await asyncio.wait_for(listener, TIMEOUT)  # hook exceptions propagate
            await asyncio.sleep(QUIET)
            self.assertEqual(len(c.alert_frames), 1, c.alert_frames)
            self.assertEqual(c.sent_acks, [(1, 1)])
            await c.disconnect()
        run(go())

    def test_recv_acknowledges_on_the_next_call_and_drops_the_redelivery(self):
        async def go():
            c = await self.client(503)
            await self.raise_alert(503)
            alert = await c.recv(TIMEOUT)
            self.assertEqual((alert["type"], alert["delivery_id"]), ("alert", 1))
            # Not asked for the next message: not handled yet, so not acknowledged; the server
            # redelivers it after ack_timeout (same delivery id, next seq): a duplicate, dropped
            # without a gap, and not acknowledged on its own either (its original is pending).
            await asyncio.sleep(1.6)
            self.assertEqual(c.sent_acks, [])
            self.assertGreaterEqual(len(c.alert_frames), 2)
            again = c.alert_frames[1][1]
            self.assertEqual((again["alert_id"], again["delivery_id"], again.get("redelivered")),
                             (alert["alert_id"], 1, True))
            self.assertEqual(again["seq"], alert["seq"] + 1)
            self.assertEqual(c.count("gap"), 0)
            self.assertGreaterEqual(c.duplicates_dropped, 1)
            # The next recv() means the alert was handled: acknowledged.
            with self.assertRaises(asyncio.TimeoutError):
                await c.recv(0.2)
            n = len(c.alert_frames)
            await asyncio.sleep(QUIET)
            self.assertEqual(c.acked(), [1])
            self.assertEqual(len(c.alert_frames), n, "acknowledged: not sent again")
            self.assertEqual(c.pending_messages, 0, "the redelivery never reached the app")
            await c.disconnect()
        run(go())

    def test_connection_cut_before_handling_replays_and_acknowledges_once(self):
        async def go():
            c = await self.client(504)
            await self.raise_alert(504)
            alert = await c.recv(TIMEOUT)  # handed out, not handled yet
            self.assertEqual(alert["delivery_id"], 1)
            resume_from = c.last_alert_id
            self.assertLess(resume_from, alert["alert_id"], "resumes before an unhandled alert")
            c.websocket.transport.abort()  # the connection dies before the ack
            await c.wait_event("reconnected")
            # The replay sends the alert again on the new connection (its own delivery id 1):
            # a duplicate, acknowledged at once, not delivered.
            for _ in range(100):
                if len(c.alert_frames) >= 2 and c.acked(2):
                    break
                await asyncio.sleep(0.05)
            conn, replayed = c.alert_frames[1]
            self.assertEqual((conn, replayed["alert_id"], replayed["delivery_id"]),
                             (2, alert["alert_id"], 1))
            self.assertEqual(c.acked(2), [1])
            # Now the application is done with the first copy: its ack (for the dead
            # connection's delivery id) is dropped; it becomes the resume point.
            with self.assertRaises(asyncio.TimeoutError):
                await c.recv(0.2)
            self.assertEqual(c.last_alert_id, alert["alert_id"])
            await asyncio.sleep(QUIET)
            self.assertEqual(len(c.alert_frames), 2, c.alert_frames)
            self.assertEqual(c.sent_acks, [(2, 1)])
            self.assertEqual(c.pending_messages, 0, "the app saw the alert once")
            # The new connection acknowledges live alerts as usual.
            await self.raise_alert(504, 5)
            await self.raise_alert(504, 30)
            msgs = [await c.recv(TIMEOUT)]
            while msgs[-1].get("status") != "active":
                msgs.append(await c.recv(TIMEOUT))
            with self.assertRaises(asyncio.TimeoutError):
                await c.recv(0.2)
            await asyncio.sleep(QUIET)
            live = [m for n, m in c.alert_frames if n == 2][1:]
            self.assertEqual([m.get("redelivered") for m in live], [None] * len(live))
            self.assertEqual(sorted(c.acked(2)), sorted([1] + [m["delivery_id"] for m in live]))
            await c.disconnect()
        run(go())

    def test_a_replay_burst_is_acknowledged_in_one_list(self):
        async def go():
            probe = AckClient(self.server.url, self.admin)
            await probe.connect()
            start = (await probe.subscribe("alerts", {"device_id": 505}))["last_alert_id"]
            for v in (20, 5, 30, 5, 40, 5, 50):
                await self.raise_alert(505, v)
            while True:
                m = await probe.recv(TIMEOUT)
                if m.get("metadata", {}).get("actual_value") == 50:
                    break
            await probe.disconnect()
            c = await self.client(505, since_alert_id=start)
            listener = asyncio.create_task(c.listen())
            await asyncio.sleep(QUIET)
            frames = [m for _, m in c.alert_frames]
            self.assertGreaterEqual(len(frames), 4)
            self.assertEqual([m.get("redelivered") for m in frames], [None] * len(frames))
            self.assertEqual(sorted(c.acked()), [m["delivery_id"] for m in frames])
            self.assertLess(len(c.sent_acks), len(frames), c.sent_acks)
            self.assertTrue(any(isinstance(d, list) for _, d in c.sent_acks), c.sent_acks)
            self.assertEqual(len(c.handled), len(frames))
            await c.disconnect()
            await listener
        run(go())


if __name__ == "__main__":
    unittest.main()
