"""Updates of the four channels reach the application through listen() and the spec's
handle_* hooks, through `async for`, and through recv()."""
import asyncio
import unittest

from harness import Server, run, token
from sdk_support import TIMEOUT, RecordingClient, in_thread
from valtronics_client import ValtronicsWebSocketClient

RULE = {"name": "Hot", "metric": "heat", "condition": "gt", "threshold": 50,
        "severity": "critical"}


class HookClient(ValtronicsWebSocketClient):
    """Spec style: a subclass overriding the handle_* hooks."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.got = {}
        self.seen = asyncio.Event()

    def _got(self, kind, data):
        self.got.setdefault(kind, []).append(data)
        self.seen.set()

    async def handle_telemetry_update(self, data):
        self._got("telemetry", data)

    async def handle_alert(self, data):
        self._got("alert", data)

    async def handle_device_status_update(self, data):
        self._got("device", data)

    async def handle_system_status_update(self, data):
        self._got("system", data)

    async def handle_other(self, data):
        self._got("other", data)

    async def wait_for(self, *kinds):
        async def wait():
            while not all(k in self.got for k in kinds):
                self.seen.clear()
                await self.seen.wait()
        await asyncio.wait_for(wait(), TIMEOUT)


class UpdatesTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Server()
        cls.server.start()
        cls.admin = token("sdk-upd", "admin")
        status, reply = cls.server.request("POST", "/api/v1/alert-rules", RULE, cls.admin)
        assert status == 201, reply

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def ingest(self, device, metrics):
        return in_thread(self.server.ingest, device, metrics, self.admin)

    def test_every_channel_through_listen_and_hooks(self):
        async def go():
            client = HookClient(self.server.url, self.admin)
            await client.connect()
            await client.subscribe("telemetry", {"device_id": 31})
            await client.subscribe("alerts", {"device_id": 31})
            await client.subscribe("devices", {"device_id": 31})
            await client.subscribe("system", {"metrics": ["cpu_usage"], "frequency": "1s"})
            listener = asyncio.create_task(client.listen())
            await self.ingest(31, {"heat": 60})  # new device (status) + reading + alert
            await client.wait_for("telemetry", "alert", "device", "system")
            t = client.got["telemetry"][0]
            self.assertEqual((t["device_id"], t["telemetry"]["heat"]["value"], t["seq"]),
                             (31, 60, 1), t)
            a = client.got["alert"][0]
            self.assertEqual((a["device_id"], a["severity"], a["title"], a["status"]),
                             (31, "critical", "Hot", "active"), a)
            self.assertEqual(client.last_alert_id, a["alert_id"])
            d = client.got["device"][0]
            self.assertEqual((d["device_id"], d["new_status"]), (31, "online"), d)
            s = client.got["system"][0]
            self.assertEqual(set(s["metrics"]), {"cpu_usage"}, s)
            self.assertNotIn("other", client.got)
            await client.disconnect()
            await asyncio.wait_for(listener, TIMEOUT)
        run(go())

    def test_async_for_yields_messages_and_ends_on_disconnect(self):
        async def go():
            client = RecordingClient(self.server.url, self.admin)
            await client.connect()
            await client.subscribe("telemetry", {"device_id": 32})
            await self.ingest(32, {"v": 1})
            await self.ingest(32, {"v": 2})
            got = []
            async for message in client:
                got.append(message)
                if len(got) == 2:
                    break
            self.assertEqual([(m["type"], m["telemetry"]["v"]["value"], m["seq"]) for m in got],
                             [("telemetry_update", 1, 1), ("telemetry_update", 2, 2)])

            async def consume():
                return [m async for m in client]
            consumer = asyncio.create_task(consume())
            await self.ingest(32, {"v": 3})
            await client.ping()
            await client.disconnect()
            # Ends without error; messages not consumed before disconnect() are dropped.
            rest = await asyncio.wait_for(consumer, TIMEOUT)
            self.assertLessEqual(len(rest), 1)
            for m in rest:
                self.assertEqual(m["telemetry"]["v"]["value"], 3)
        run(go())

    def test_spec_style_running_false_stops_listen_and_plain_function_hooks(self):
        async def go():
            client = ValtronicsWebSocketClient(self.server.url, self.admin)
            got = []

            def on_telemetry(data):  # a plain (not async) function assigned as a hook
                got.append(data["telemetry"]["w"]["value"])
                if len(got) == 2:
                    client.running = False  # as the spec's RecordingClient does

            client.handle_telemetry_update = on_telemetry
            await client.connect()
            await client.subscribe("telemetry", {"device_id": 33})
            for v in (1, 2, 3):
                await self.ingest(33, {"w": v})
            await asyncio.wait_for(client.listen(), TIMEOUT)  # returns after the 2nd
            self.assertEqual(got, [1, 2])
            # The connection is still open; the third update waits in the queue.
            self.assertEqual((await client.ping())["type"], "pong")
            m = await client.recv(TIMEOUT)
            self.assertEqual(m["telemetry"]["w"]["value"], 3)
            await client.disconnect()
        run(go())

    def test_channel_endpoint(self):
        # /ws/telemetry subscribes by itself after auth and says so with a `subscribed` that
        # answers no request: it reaches handle_other, then updates flow.
        async def go():
            client = HookClient(self.server.url + "/ws/telemetry", self.admin)
            await client.connect()
            listener = asyncio.create_task(client.listen())
            await self.ingest(34, {"e": 1})
            await client.wait_for("other", "telemetry")
            self.assertEqual([(m["type"], m["channel"]) for m in client.got["other"]],
                             [("subscribed", "telemetry")])
            self.assertEqual(client.got["telemetry"][0]["device_id"], 34)
            self.assertEqual(client.subscriptions, {})  # the endpoint restores it by itself
            await client.disconnect()
            await asyncio.wait_for(listener, TIMEOUT)
        run(go())


if __name__ == "__main__":
    unittest.main()
