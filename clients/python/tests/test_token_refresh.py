"""Token refresh: on `token_expiring` the client asks its token_provider and sends `auth`
again on the open connection, which then outlives the first token; without a provider the
server closes with 4003 and the client stops with AuthenticationError instead of
reconnecting in a loop with the expired token. A provider returning a bad token stops the
client too (on refresh and on reconnect), after exactly one try."""
import asyncio
import unittest

from harness import Server, run, token
from sdk_support import TIMEOUT, RecordingClient, drain, in_thread
from valtronics_client import AuthenticationError

# auth.expiry_warning is 60 s by default, so a 3 s token gets `token_expiring` right after
# auth; leeway 0 makes the server close at expiry (exp has a one-second resolution).
CONFIG = {"auth": {"leeway": "0s"}}
SHORT = "3s"


class TokenRefreshTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Server(CONFIG)
        cls.server.start()
        cls.admin = token("sdk-refresh", "admin")

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def test_refresh_on_token_expiring_keeps_the_connection(self):
        calls = []

        async def provider():
            calls.append(1)
            return await in_thread(token, "sdk-refresh", "admin", None, "1h")

        async def go():
            short = await in_thread(token, "sdk-refresh", "admin", None, SHORT)
            refreshed = RecordingClient(self.server.url, short, token_provider=provider)
            first = await refreshed.connect()
            await refreshed.subscribe("telemetry", {"device_id": 71})
            # The control: the same short token, no provider.
            control = RecordingClient(self.server.url, short)
            await control.connect()
            control_listener = asyncio.create_task(control.listen())

            _, auth = await refreshed.wait_event("refreshed")
            self.assertEqual(len(calls), 1)
            self.assertTrue(auth["success"])
            self.assertGreater(auth["expires_at"], first["expires_at"])
            self.assertEqual(refreshed.auth, auth)
            self.assertNotEqual(refreshed.token, short)
            msg = await refreshed.recv(TIMEOUT)  # the warning is delivered too
            self.assertEqual((msg["type"], msg["expires_at"]),
                             ("token_expiring", first["expires_at"]))

            # At expiry the control is closed with 4003, retries once with its expired token
            # and stops: no reconnect loop.
            _, code, _ = await control.wait_event("disconnected", timeout=TIMEOUT)
            self.assertEqual(code, 4003)
            with self.assertRaises(AuthenticationError) as cm:
                await asyncio.wait_for(control_listener, TIMEOUT)
            self.assertEqual(cm.exception.code, "token_expired")
            self.assertEqual(control.count("reconnecting"), 1)
            self.assertFalse(control.running)

            # The refreshed client, past the first token's expiry, is still on its connection
            # with its subscription.
            self.assertEqual(refreshed.count("disconnected"), 0)
            await in_thread(self.server.ingest, 71, {"r": 1}, self.admin)
            got = await drain(refreshed)
            self.assertEqual([(m["device_id"], m["seq"]) for m in got], [(71, 1)], got)
            await refreshed.disconnect()
        run(go())

    def test_bad_token_from_provider_on_refresh_stops_the_client(self):
        calls = []

        def provider():
            calls.append(1)
            return token("sdk-refresh", "admin", secret="wrong-secret")

        async def go():
            short = await in_thread(token, "sdk-refresh", "admin", None, "30s")
            client = RecordingClient(self.server.url, short, token_provider=provider)
            await client.connect()
            with self.assertRaises(AuthenticationError) as cm:
                await asyncio.wait_for(client.listen(), TIMEOUT)
            self.assertEqual(cm.exception.code, "invalid_token")
            self.assertEqual(len(calls), 1)
            self.assertEqual(client.count("reconnecting"), 0)
            self.assertEqual(client.count("refreshed"), 0)
            _, code, _ = client.events[0]
            self.assertEqual(code, 4001)
        run(go())

    def test_bad_token_from_provider_on_reconnect_stops_the_client(self):
        calls = []

        def provider():
            calls.append(1)
            return "not.a.jwt"

        async def go():
            s1 = Server()
            await in_thread(s1.start)
            s2 = Server(port=s1.port)
            try:
                client = RecordingClient(s1.url, self.admin, token_provider=provider)
                await client.connect()
                await in_thread(s1.stop)
                await client.wait_event("disconnected")
                await in_thread(s2.start)
                with self.assertRaises(AuthenticationError) as cm:
                    await asyncio.wait_for(client.listen(), TIMEOUT)
                self.assertEqual(cm.exception.code, "invalid_token")
                # Every attempt asks the provider; only the attempt that reached the server
                # was refused, and it was the last.
                self.assertEqual(len(calls), client.count("reconnecting"))
                self.assertEqual(client.count("reconnected"), 0)
                self.assertFalse(client.running)
            finally:
                await in_thread(s2.stop)
        run(go())


if __name__ == "__main__":
    unittest.main()
