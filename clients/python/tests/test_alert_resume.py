"""Alert resume across a reconnect: the alerts raised while the client was away are replayed
(`since_alert_id` = the last alert received), each delivered exactly once, then live alerts
follow. The server is restarted on the same port with the same database, so the missed alerts
are only in its store.

Alerts are published from the store's commit callback, after the ingest request has been
answered, so a ping round trip is no barrier for them. Instead, each check ends with a live
"sentinel" alert raised after the reconnect: alerts are published in commit order and a
subscription's replay comes before its live alerts, so once the sentinel is in, every replayed
alert (and any duplicate of one) has arrived before it."""
import asyncio
import os
import tempfile
import time
import unittest

from harness import Server, run, token
from valtronics_client.alerts import AlertTracker
from sdk_support import TIMEOUT, RecordingClient, drain, in_thread, next_of

RULE = {"name": "Boiler hot", "metric": "boiler", "condition": "gt", "threshold": 50,
        "severity": "critical"}


async def alerts_until(client, device):
    """Every message up to and including the alert of `device`; all must be alerts."""
    got = []
    while not got or got[-1]["device_id"] != device:
        got.append(await next_of(client, "alert"))
    return got


class AlertResumeTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.admin = token("sdk-resume", "admin")

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.db = os.path.join(self.tmp.name, "resume.db")
        self.servers = []

    def tearDown(self):
        for s in self.servers:
            s.stop()
        self.tmp.cleanup()

    def start(self, port=None, **sections):
        config = {"": {"db": self.db}, **sections}
        s = Server(config, port=port or 0)
        self.servers.append(s)
        s.start()
        return s

    def raise_alert(self, server, device):
        server.ingest(device, {"boiler": 60}, self.admin)

    def wait_stored(self, server, devices):
        """Waits until the store has committed an alert of each device (the replay reads the
        store); polls the REST API, there being no event for it."""
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            status, reply = server.request("GET", "/api/v1/alerts?size=100", None, self.admin)
            assert status == 200, reply
            if set(devices) <= {a["device_id"] for a in reply["data"]}:
                return
            time.sleep(0.02)
        raise AssertionError(f"alerts of {devices} not stored")

    async def first_server(self, client_subscriptions):
        s1 = await in_thread(self.start)
        status, rule = await in_thread(s1.request, "POST", "/api/v1/alert-rules", RULE,
                                       self.admin)
        self.assertEqual(status, 201, rule)
        client = RecordingClient(s1.url, self.admin)
        await client.connect()
        for filters in client_subscriptions:
            await client.subscribe("alerts", filters)
        return s1, client

    async def restart_while_away(self, client, s1, missed_devices, **config):
        """Stops s1, starts a server on its port with the same database, raises an alert for
        each of `missed_devices` there while the client is held off (its token provider, asked
        before every reconnect attempt, waits), then lets the client reconnect."""
        gate = asyncio.Event()

        async def provider():
            await gate.wait()
            return self.admin
        client.token_provider = provider
        await in_thread(s1.stop)
        await client.wait_event("disconnected")
        s2 = await in_thread(lambda: self.start(s1.port, **config))
        for d in missed_devices:
            await in_thread(self.raise_alert, s2, d)
        await in_thread(self.wait_stored, s2, missed_devices)
        self.assertFalse(client.connected)
        gate.set()
        await client.wait_event("reconnected", n=client.count("reconnected") + 1)
        return s2

    def test_missed_alerts_replayed_once_then_live(self):
        async def go():
            s1, client = await self.first_server([{"severity": "critical"}])
            self.assertNotIn("since_alert_id", client.subscriptions[("alerts", None)])
            await in_thread(self.raise_alert, s1, 51)
            a1 = await next_of(client, "alert")
            self.assertEqual(client.last_alert_id, a1["alert_id"])

            s2 = await self.restart_while_away(client, s1, [52])
            # The alert subscription was restored asking for what followed a1, and the server
            # answered that every missed alert is sent.
            self.assertEqual(client.subscriptions[("alerts", None)],
                             {"severity": ["critical"], "since_alert_id": a1["alert_id"]})
            (_, resume), = [e for e in client.events if e[0] == "alert_resume"]
            self.assertEqual((resume["recovered"], resume["filters"]["since_alert_id"]),
                             (True, a1["alert_id"]))
            await in_thread(self.raise_alert, s2, 53)  # live: the sentinel
            got = await alerts_until(client, 53)
            self.assertEqual([(m["device_id"], m["status"], m["seq"]) for m in got],
                             [(52, "active", 1), (53, "active", 2)], got)
            self.assertEqual(got[0]["alert_id"], a1["alert_id"] + 1)
            self.assertEqual(client.last_alert_id, got[1]["alert_id"])
            # Nothing was sent twice: the resume asked for exactly what was missing.
            self.assertEqual(client.duplicates_dropped, 0)
            self.assertEqual(await drain(client), [])

            # A second reconnect resumes from the last alert, not from a1.
            s3 = await self.restart_while_away(client, s2, [54])
            await in_thread(self.raise_alert, s3, 55)
            got = await alerts_until(client, 55)
            self.assertEqual([(m["device_id"], m["seq"]) for m in got], [(54, 1), (55, 2)], got)
            self.assertEqual(client.duplicates_dropped, 0)
            await client.disconnect()
        run(go())

    def test_overlapping_alert_subscriptions_deliver_each_replayed_alert_once(self):
        # Two alert subscriptions that both match device 62 (the device itself, and every
        # device) are restored by two subscribe messages, each with its own replay: the
        # connection gets the missed alert of device 62 once (the second replay skips what the
        # first sent; the client's own guard would drop a second copy).
        async def go():
            s1, client = await self.first_server([{"device_id": 62}, {}])
            await in_thread(self.raise_alert, s1, 61)
            a1 = await next_of(client, "alert")
            s2 = await self.restart_while_away(client, s1, [62, 63])
            await in_thread(self.raise_alert, s2, 64)
            got = await alerts_until(client, 64)
            self.assertEqual(sorted((m["device_id"], m["alert_id"] - a1["alert_id"])
                                    for m in got), [(62, 1), (63, 2), (64, 3)], got)
            self.assertEqual(client.duplicates_dropped, 0)
            await client.disconnect()
        run(go())

    def test_outage_before_the_first_alert(self):
        # The client has received no alert when the connection drops: it resumes from where
        # its subscription started (the reply's last_alert_id), so the alert raised while it
        # was away arrives, once, and the alert stored before it subscribed does not.
        async def go():
            s1 = await in_thread(self.start)
            status, rule = await in_thread(s1.request, "POST", "/api/v1/alert-rules", RULE,
                                           self.admin)
            self.assertEqual(status, 201, rule)
            await in_thread(self.raise_alert, s1, 80)  # before the subscription: history
            await in_thread(self.wait_stored, s1, [80])
            client = RecordingClient(s1.url, self.admin)
            await client.connect()
            self.assertIsNone(client.last_alert_id)
            reply = await client.subscribe("alerts", {"severity": "critical"})
            self.assertGreater(reply["last_alert_id"], 0, reply)
            self.assertEqual(client.last_alert_id, reply["last_alert_id"])
            self.assertEqual(await drain(client), [])

            s2 = await self.restart_while_away(client, s1, [81])
            self.assertEqual(client.subscriptions[("alerts", None)],
                             {"severity": ["critical"],
                              "since_alert_id": reply["last_alert_id"]})
            (_, resume), = [e for e in client.events if e[0] == "alert_resume"]
            self.assertIs(resume["recovered"], True, resume)
            await in_thread(self.raise_alert, s2, 82)  # live: the sentinel
            got = await alerts_until(client, 82)
            self.assertEqual([(m["device_id"], m["status"], m["seq"]) for m in got],
                             [(81, "active", 1), (82, "active", 2)], got)
            self.assertEqual(got[0]["alert_id"], reply["last_alert_id"] + 1)
            self.assertEqual(client.last_alert_id, got[1]["alert_id"])
            self.assertEqual(client.duplicates_dropped, 0)
            self.assertEqual(await drain(client), [])
            await client.disconnect()
        run(go())

    def test_incomplete_resume_is_reported(self):
        # The restarted server replays at most one alert: of the two missed, the newest comes,
        # and the client is told the resume was not complete (recovered false).
        async def go():
            s1, client = await self.first_server([{}])
            await in_thread(self.raise_alert, s1, 71)
            a1 = await next_of(client, "alert")
            s2 = await self.restart_while_away(client, s1, [72, 73],
                                               alerts={"replay_max_alerts": 1})
            (_, resume), = [e for e in client.events if e[0] == "alert_resume"]
            self.assertIs(resume["recovered"], False, resume)
            await in_thread(self.raise_alert, s2, 74)
            got = await alerts_until(client, 74)
            self.assertEqual([(m["device_id"], m["alert_id"] - a1["alert_id"]) for m in got],
                             [(73, 2), (74, 3)], got)
            await client.disconnect()
        run(go())


class ResumePointTest(unittest.TestCase):
    """Which `subscribed` replies give the resume point (no server needed)."""

    def test_first_reply_without_replay_before_any_alert(self):
        t = AlertTracker()
        t.start_at({"type": "subscribed", "channel": "alerts", "filters": {},
                    "last_alert_id": 7})
        self.assertEqual(t.last_alert_id, 7)
        # A later subscription's start does not move it: alerts between the two may still be
        # on their way to the first one.
        t.start_at({"type": "subscribed", "channel": "alerts", "filters": {},
                    "last_alert_id": 9})
        self.assertEqual(t.last_alert_id, 7)
        self.assertTrue(t.accept({"alert_id": 8, "status": "active"}))
        self.assertEqual(t.last_alert_id, 8)

    def test_not_from_a_replay_or_an_older_server(self):
        t = AlertTracker()
        # With since_alert_id the reply's last_alert_id is where the replay ends: taking it
        # would skip replayed alerts still in flight when the connection drops.
        t.start_at({"type": "subscribed", "channel": "alerts",
                    "filters": {"since_alert_id": 3}, "recovered": True, "last_alert_id": 9})
        t.start_at({"type": "subscribed", "channel": "alerts", "filters": {}})  # older server
        t.start_at({"type": "subscribed", "channel": "alerts", "filters": {},
                    "last_alert_id": True})
        self.assertIsNone(t.last_alert_id)


if __name__ == "__main__":
    unittest.main()
