"""MessagePack (issue 15, docs/protocol.md "MessagePack") through the SDK (encoding="msgpack",
Debian's python3-msgpack) against the real server: every frame the server sends is binary
MessagePack, a coalesced burst reaches the application message by message in seq order, the
messages are the same dicts a JSON client gets, acknowledged alerts are acknowledged (no
redelivery), subscriptions are restored (a MessagePack batch) after the server dies and another
starts on its port, and an unknown encoding is refused when the client is made."""
import asyncio
import unittest

from harness import Server, run, token
from sdk_support import TIMEOUT, RecordingClient, drain, in_thread, kill

BURST = 200


class MsgpackTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Server(config={"alerts": {"ack_timeout": "1s"}})
        cls.server.start()
        cls.admin = token("sdk-msgpack", "admin")
        status, reply = cls.server.request(
            "POST", "/api/v1/alert-rules",
            {"name": "Packed", "metric": "packed", "condition": "gt", "threshold": 10,
             "severity": "critical"}, cls.admin)
        assert status == 201, reply

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def test_a_burst_arrives_whole_and_in_order_as_messagepack(self):
        async def go():
            packed = RecordingClient(self.server.url, self.admin, encoding="msgpack")
            plain = RecordingClient(self.server.url, self.admin)
            await packed.connect()
            await plain.connect()
            try:
                self.assertEqual(packed.websocket.subprotocol, "valtronics.msgpack")
                for c in (packed, plain):
                    await c.subscribe("telemetry")
                frames_before = packed.frame_count
                items = [{"device_id": 7001 + d, "metric_name": "level", "metric_value": d / 4}
                         for d in range(BURST)]
                status, body = await in_thread(self.server.request, "POST",
                                               "/api/v1/telemetry/batch",
                                               {"telemetry_data": items}, self.admin)
                self.assertEqual(status, 202, body)
                got = {c: [await c.recv(TIMEOUT) for _ in range(BURST)] for c in (packed, plain)}
                return packed.frame_count - frames_before, packed.binary_frames, \
                    packed.array_frames, got[packed], got[plain], packed.events
            finally:
                await packed.disconnect()
                await plain.disconnect()

        frames, binary, arrays, got, twin, events = run(go())
        self.assertEqual(got, twin, "the same messages as the JSON client's")
        self.assertEqual([m["seq"] for m in got], list(range(1, BURST + 1)))
        self.assertEqual([m["telemetry"]["level"]["value"] for m in got],
                         [d / 4 for d in range(BURST)])
        self.assertEqual([e for e in events if e[0] == "gap"], [])
        self.assertGreater(arrays, 0)
        self.assertLess(frames, BURST // 4, f"{BURST} updates in {frames} frames")
        self.assertGreaterEqual(binary, frames, "every frame binary")

    def test_acknowledged_alerts_are_acknowledged_in_messagepack(self):
        async def go():
            c = RecordingClient(self.server.url, self.admin, encoding="msgpack")
            await c.connect()
            try:
                await c.subscribe("alerts", {"ack": True}, device_id=7301)
                await in_thread(self.server.ingest, 7301, {"packed": 30}, self.admin)
                alert = await c.recv(TIMEOUT)
                self.assertEqual((alert["type"], alert["delivery_id"]), ("alert", 1))
                # The next recv() acknowledges it; for > 2 * alerts.ack_timeout nothing comes
                # (an unacknowledged alert would be back, though as a duplicate not handed over).
                with self.assertRaises(asyncio.TimeoutError):
                    await c.recv(2.5)
                return [m for m in c.frames if m.get("type") == "alert"]
            finally:
                await c.disconnect()

        alerts = run(go())
        self.assertEqual(len(alerts), 1, alerts)

    def test_subscriptions_are_restored_after_the_server_dies(self):
        def started(port=0):
            server = Server(port=port)
            server.start()
            return server

        async def go():
            first = await in_thread(started)
            second = None
            try:
                c = RecordingClient(first.url, self.admin, encoding="msgpack")
                await c.connect()
                await c.subscribe("telemetry", {"device_id": 7401, "metrics": ["t"]})
                await c.subscribe("alerts", {"severity": ["critical"]})
                await in_thread(kill, first)
                _, code, _ = await c.wait_event("disconnected")
                self.assertEqual(code, 1006)
                second = await in_thread(started, first.port)
                await c.wait_event("reconnected")
                self.assertEqual(c.websocket.subprotocol, "valtronics.msgpack")
                await in_thread(second.ingest, 7401, {"t": 2.5, "u": 1}, self.admin)
                (m,) = await drain(c)
                self.assertEqual((m["device_id"], list(m["telemetry"]), m["seq"]),
                                 (7401, ["t"], 1), m)
                await c.disconnect()
            finally:
                for s in (first, second):
                    if s is not None:
                        await in_thread(s.stop)
        run(go())

    def test_an_unknown_encoding_is_refused(self):
        with self.assertRaisesRegex(ValueError, "encoding must be 'json' or 'msgpack'"):
            RecordingClient(self.server.url, self.admin, encoding="cbor")


if __name__ == "__main__":
    unittest.main()
