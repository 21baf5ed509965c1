"""Automatic reconnect: the server stops and a new one starts on the same port; the client
reconnects with backoff (asking the token provider first), re-subscribes everything with the
same filters, and updates flow again, their seq restarting at 1 without being taken for
duplicates. Also: a subscription a token refresh removed is not restored, reconnect disabled,
and giving up after max_reconnect_attempts."""
import asyncio
import unittest

from harness import Server, run, token
from sdk_support import TIMEOUT, RecordingClient, drain, in_thread, kill
from valtronics_client import ConnectionClosedError, ReconnectFailedError


class ReconnectTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.admin = token("sdk-rec", "admin")

    def setUp(self):
        self.servers = []

    def tearDown(self):
        for s in self.servers:
            s.stop()

    def start(self, port=None):
        s = Server(port=port or 0)
        self.servers.append(s)
        s.start()
        return s

    def test_reconnects_resubscribes_and_updates_flow_again(self):
        calls = []

        def provider():
            calls.append(1)
            return self.admin

        async def go():
            s1 = await in_thread(self.start)
            client = RecordingClient(s1.url, self.admin, token_provider=provider)
            await client.connect()
            self.assertEqual(calls, [])  # the first connection uses the given token
            await client.subscribe("telemetry", {"device_id": 41, "metrics": ["t"]})
            await client.subscribe("alerts", {"severity": ["critical"]})
            before = client.subscriptions
            await in_thread(s1.ingest, 41, {"t": 1, "u": 1}, self.admin)
            (m,) = await drain(client)
            self.assertEqual((m["telemetry"]["t"]["value"], m["seq"]), (1, 1), m)

            await in_thread(s1.stop)
            _, code, reason = await client.wait_event("disconnected")
            self.assertEqual(code, 1001, reason)  # the server said it is going away
            self.assertFalse(client.connected)
            # A request made while away waits for the next connection.
            late = asyncio.create_task(client.subscribe("telemetry", {"device_id": 42}))
            await client.wait_event("reconnecting", 2)  # the first attempt failed: no server
            self.assertFalse(late.done())

            s2 = await in_thread(self.start, s1.port)
            _, auth = await client.wait_event("reconnected")
            self.assertTrue(auth["success"])
            self.assertEqual((await asyncio.wait_for(late, TIMEOUT))["filters"]["device_id"],
                             [42])
            self.assertTrue(client.connected)
            # The token provider is asked before every attempt.
            self.assertEqual(len(calls), client.count("reconnecting"))
            for _, attempt, delay, _ in [e for e in client.events if e[0] == "reconnecting"]:
                self.assertLessEqual(delay, min(0.4, 0.05 * 2 ** (attempt - 1)))
            # The alerts subscription was restored from where it started (the first server
            # had no alert: last_alert_id 0), so that nothing raised meanwhile is lost.
            self.assertEqual(client.subscriptions,
                             {**before, ("telemetry", 42): {"frequency": "real-time"},
                              ("alerts", None): {"severity": ["critical"], "since_alert_id": 0}})

            # The restored subscriptions have their filters: device 41 only metric t; 43 is
            # not subscribed. seq starts again at 1 on this connection and is delivered.
            await in_thread(s2.ingest, 41, {"t": 2, "u": 2}, self.admin)
            await in_thread(s2.ingest, 43, {"t": 9}, self.admin)
            await in_thread(s2.ingest, 42, {"z": 5}, self.admin)
            got = await drain(client)
            self.assertEqual([(m["device_id"], m["telemetry"], m["seq"]) for m in got],
                             [(41, {"t": got[0]["telemetry"]["t"]}, 1),
                              (42, {"z": got[1]["telemetry"]["z"]}, 2)], got)
            self.assertEqual((got[0]["telemetry"]["t"]["value"], got[1]["telemetry"]["z"]["value"]),
                             (2, 5))
            self.assertEqual(client.duplicates_dropped, 0)
            await client.disconnect()
        run(go())

    def test_subscription_removed_by_a_refresh_is_not_restored(self):
        async def go():
            s1 = await in_thread(self.start)
            user = await in_thread(token, "sdk-rec", "user", "1")
            client = RecordingClient(s1.url, self.admin)
            await client.connect()
            await client.subscribe("telemetry", {"device_id": [1, 5]})
            self.assertEqual(set(client.subscriptions), {("telemetry", 1), ("telemetry", 5)})

            # A refresh with a token covering device 1 only: the server drops device 5 and
            # says so after the auth_response.
            auth = await client.authenticate(user)
            self.assertEqual((auth["success"], auth["role"]), (True, "user"))
            got = await drain(client)
            self.assertEqual([(m["type"], m["error"], m["channel"], m["device_id"])
                              for m in got], [("error", "forbidden", "telemetry", 5)], got)
            removed = [e for e in client.events if e[0] == "removed"]
            self.assertEqual([e[1:4] for e in removed], [("telemetry", 5, "token_refresh")])
            self.assertEqual(removed[0][4]["error"], "forbidden")
            self.assertEqual(set(client.subscriptions), {("telemetry", 1)})

            # Reconnect (a new server on the same port): device 1 alone is asked for and
            # granted, and nothing is refused.
            await in_thread(s1.stop)
            await client.wait_event("disconnected")
            client.frames.clear()
            s2 = await in_thread(self.start, s1.port)
            await client.wait_event("reconnected")
            subscribed = [f for f in client.frames if f.get("type") == "subscribed"]
            self.assertEqual([(f["channel"], f["filters"]["device_id"]) for f in subscribed],
                             [("telemetry", [1])], client.frames)
            await in_thread(s2.ingest, 5, {"t": 5}, self.admin)
            await in_thread(s2.ingest, 1, {"t": 1}, self.admin)
            got = await drain(client)
            self.assertEqual([(m["type"], m.get("device_id")) for m in got],
                             [("telemetry_update", 1)], got)
            self.assertFalse([f for f in client.frames if f.get("type") == "error"],
                             client.frames)
            self.assertEqual(client.count("removed"), 1)
            self.assertEqual(set(client.subscriptions), {("telemetry", 1)})
            await client.disconnect()
        run(go())

    def test_reconnects_after_the_server_dies_without_a_close_frame(self):
        async def go():
            s1 = await in_thread(self.start)
            client = RecordingClient(s1.url, self.admin)
            await client.connect()
            await client.subscribe("telemetry", {"device_id": 44})
            await in_thread(kill, s1)
            _, code, _ = await client.wait_event("disconnected")
            self.assertEqual(code, 1006)
            s2 = await in_thread(self.start, s1.port)
            await client.wait_event("reconnected")
            await in_thread(s2.ingest, 44, {"k": 1}, self.admin)
            (m,) = await drain(client)
            self.assertEqual((m["device_id"], m["seq"]), (44, 1), m)
            await client.disconnect()
        run(go())

    def test_no_reconnect_when_disabled(self):
        async def go():
            s1 = await in_thread(self.start)
            client = RecordingClient(s1.url, self.admin, reconnect=False)
            await client.connect()
            await client.subscribe("alerts")
            listener = asyncio.create_task(client.listen())
            await in_thread(s1.stop)
            with self.assertRaises(ConnectionClosedError) as cm:
                await asyncio.wait_for(listener, TIMEOUT)
            self.assertEqual(cm.exception.code, 1001)
            self.assertEqual(client.count("reconnecting"), 0)
            self.assertFalse(client.running)
            with self.assertRaises(ConnectionClosedError):
                await client.subscribe("alerts")
            await client.disconnect()
        run(go())

    def test_gives_up_after_max_reconnect_attempts(self):
        async def go():
            s1 = await in_thread(self.start)
            client = RecordingClient(s1.url, self.admin, max_reconnect_attempts=3)
            await client.connect()
            await in_thread(s1.stop)
            with self.assertRaises(ReconnectFailedError) as cm:
                await asyncio.wait_for(client.listen(), TIMEOUT)
            e = cm.exception
            self.assertEqual(e.attempts, 3)
            self.assertIsInstance(e.last_error, OSError)  # connection refused
            self.assertEqual(e.code, 1001)  # why the last connection ended
            self.assertEqual([ev[1] for ev in client.events if ev[0] == "reconnecting"],
                             [1, 2, 3])
            with self.assertRaises(ReconnectFailedError):
                await client.ping()
        run(go())


if __name__ == "__main__":
    unittest.main()
