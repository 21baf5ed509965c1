"""What the client sends to restore its subscriptions after a reconnect (checked frame by
frame on the scripted fake server of fake_server.py), and how it handles a restore the server
refuses, a connection limit at reconnect, and asyncio.run() ending while it reconnects."""
import asyncio
import json
import os
import subprocess
import sys
import unittest

from fake_server import FakeServer
from harness import run
from sdk_support import RecordingClient, drain


class RestoreTest(unittest.TestCase):
    def test_since_alert_id_never_goes_below_what_was_asked(self):
        async def go():
            async with FakeServer() as fake:
                client = RecordingClient(fake.url, "tok")
                await client.connect()
                await client.subscribe("alerts", {"since_alert_id": 40})
                await client.subscribe("telemetry")
                await client.send_message({"type": "drop", "code": 1012})
                await client.wait_event("reconnected")
                subs = {m["channel"]: m.get("filters") for m in fake.received[1][2:]}
                self.assertEqual(subs["alerts"], {"since_alert_id": 40})
                self.assertEqual(subs["telemetry"], None)
                await client.disconnect()
        run(go())

    def test_many_subscriptions_restored_in_batches_of_50(self):
        async def go():
            async with FakeServer() as fake:
                client = RecordingClient(fake.url, "tok")
                await client.connect()
                await asyncio.gather(*(client.subscribe("telemetry", {"device_id": i,
                                                                      "metrics": [f"m{i}"]})
                                       for i in range(1, 121)))
                await client.send_message({"type": "drop", "code": 1012})
                await client.wait_event("reconnected")
                sizes = [len(json.loads(f)["messages"]) for f in fake.frames[1][1:]]
                self.assertEqual(sizes, [50, 50, 20])
                self.assertEqual(len(client.subscriptions), 120)
                await client.disconnect()
        run(go())

    def test_refused_restore_is_reported_and_forgotten(self):
        async def go():
            async with FakeServer(refuse={1: {"alerts"}}) as fake:
                client = RecordingClient(fake.url, "tok")
                await client.connect()
                await client.subscribe("alerts")
                await client.subscribe("telemetry")
                await client.send_message({"type": "drop", "code": 1012})
                await client.wait_event("reconnected")
                (err,) = await drain(client)
                self.assertEqual((err["type"], err["error"], err["request"]["channel"]),
                                 ("error", "forbidden", "alerts"), err)
                self.assertEqual(set(client.subscriptions), {("telemetry", None)})
                removed = [e for e in client.events if e[0] == "removed"]
                self.assertEqual([e[1:4] for e in removed], [("alerts", None, "restore")])
                self.assertEqual(removed[0][4]["request"]["channel"], "alerts")
                await client.disconnect()
        run(go())

    def test_connection_limit_at_reconnect_is_retried(self):
        # too_many_connections can clear by itself (another connection of the user closes),
        # unlike a refused token: the client keeps trying.
        async def go():
            async with FakeServer(auth_errors={1: "too_many_connections",
                                               2: "too_many_connections"}) as fake:
                client = RecordingClient(fake.url, "tok")
                await client.connect()
                await client.send_message({"type": "drop", "code": 1012})
                await client.wait_event("reconnected")
                self.assertEqual(client.count("reconnecting"), 3)
                errors = [e[3] for e in client.events if e[0] == "reconnecting"]
                self.assertIsNone(errors[0])
                self.assertEqual([e.code for e in errors[1:]], ["too_many_connections"] * 2)
                self.assertEqual((await client.ping())["type"], "pong")
                await client.disconnect()
        run(go())

    def test_asyncio_run_ends_while_the_client_reconnects(self):
        # A program that returns without disconnect() while the client is retrying a refused
        # port: asyncio.run() cancels the client's task and must return. On Python 3.11 a
        # connection refused in the same loop iteration as the cancellation used to swallow
        # it (asyncio.wait_for) and the retry loop went on for ever, so asyncio.run() never
        # returned (about one run in five; 30 runs here). Run in a child process so that a hang
        # fails the test instead of stalling the suite.
        script = """
import asyncio
from fake_server import FakeServer
from valtronics_client import ValtronicsWebSocketClient

async def main():
    async with FakeServer() as fake:
        client = ValtronicsWebSocketClient(fake.url, "tok", backoff_base=0.001,
                                           backoff_cap=0.002)
        await client.connect()
    await asyncio.sleep(0.05)  # the server is gone: refused attempts, one after the other

for _ in range(30):
    asyncio.run(main())
print("ended")
"""
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join([os.path.dirname(os.path.abspath(__file__)),
                                             env.get("PYTHONPATH", "")])
        proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                              timeout=30, env=env)
        self.assertEqual((proc.returncode, proc.stdout.strip()), (0, "ended"), proc.stderr)


if __name__ == "__main__":
    unittest.main()
