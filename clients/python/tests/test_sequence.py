"""Duplicate suppression by per-channel `seq`, gap reports, and the reset of seq tracking on
each connection.

The real server never sends a duplicate seq, so these tests use the scripted fake server of
fake_server.py. The same behaviour against the real server (seq restarting at 1 after a
reconnect and being delivered) is covered by test_reconnect.py and test_alert_resume.py."""
import json
import unittest

from fake_server import FakeServer, alert, dev, emit, system, tel
from harness import run
from sdk_support import RecordingClient, drain


class SequenceTest(unittest.TestCase):
    def test_duplicates_dropped_gaps_reported(self):
        async def go():
            async with FakeServer() as fake:
                client = RecordingClient(fake.url, "tok")
                await client.connect()
                await emit(client,
                           tel(1), tel(2), tel(2), tel(1),       # two duplicates
                           alert(1, 10), tel(3),                  # channels are independent
                           tel(6),                                # 4 and 5 missing: a gap
                           tel(8, conflated=2),                   # 7 merged into 8: no gap
                           dev(1), dev(1), system(1), system(1),  # duplicates on two channels
                           alert(2, 10),                          # new seq, same alert event
                           alert(3, 10, "resolved"))              # the same alert's next state
                got = await drain(client)
                self.assertEqual([(m["channel"], m["seq"]) for m in got],
                                 [("telemetry", 1), ("telemetry", 2), ("alerts", 1),
                                  ("telemetry", 3), ("telemetry", 6), ("telemetry", 8),
                                  ("devices", 1), ("system", 1), ("alerts", 3)])
                self.assertEqual(got[-1]["status"], "resolved")
                self.assertEqual(client.duplicates_dropped, 5)
                self.assertEqual([e for e in client.events if e[0] == "gap"],
                                 [("gap", "telemetry", 4, 6)])
                await client.disconnect()
        run(go())

    def test_seq_restarts_per_connection_and_subscriptions_are_restored(self):
        async def go():
            async with FakeServer() as fake:
                client = RecordingClient(fake.url, "tok")
                await client.connect()
                await client.subscribe("telemetry", {"device_id": [1, 2], "metrics": ["t"]})
                await client.subscribe("telemetry", {"metrics": ["t"]})  # every device
                await client.subscribe("alerts", {"severity": ["critical"],
                                                  "since_alert_id": 3})
                await client.subscribe("devices", {"device_id": 9})
                await client.unsubscribe("devices", 9)
                await emit(client, tel(1), tel(2), alert(1, 5), alert(2, 7))
                self.assertEqual(len(await drain(client)), 4)

                await client.send_message({"type": "drop", "code": 1012})
                _, code, _ = await client.wait_event("disconnected")
                self.assertEqual(code, 1012)
                await client.wait_event("reconnected")
                # Connection 2 got: auth, then one batch restoring everything, with the same
                # filters, merged per identical filters, alerts resuming after alert 7.
                self.assertEqual(fake.received[1][0]["type"], "auth")
                self.assertEqual(json.loads(fake.frames[1][1])["type"], "batch")
                restored = sorted((json.dumps({k: v for k, v in m.items() if k != "id"},
                                              sort_keys=True) for m in fake.received[1][2:]))
                want = sorted(json.dumps(m, sort_keys=True) for m in [
                    {"type": "subscribe", "channel": "telemetry",
                     "filters": {"device_id": [1, 2], "metrics": ["t"]}},
                    {"type": "subscribe", "channel": "telemetry", "filters": {"metrics": ["t"]}},
                    {"type": "subscribe", "channel": "alerts",
                     "filters": {"severity": ["critical"], "since_alert_id": 7}},
                ])
                self.assertEqual(restored, want)

                # seq starts from 1 again and is not taken for a duplicate.
                await emit(client, tel(1), tel(2), alert(1, 8))
                got = await drain(client)
                self.assertEqual([(m["channel"], m["seq"]) for m in got],
                                 [("telemetry", 1), ("telemetry", 2), ("alerts", 1)])
                self.assertEqual(client.duplicates_dropped, 0)
                await client.disconnect()
        run(go())


if __name__ == "__main__":
    unittest.main()
