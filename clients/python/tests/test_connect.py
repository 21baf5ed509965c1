"""connect() and authentication: success, refusal with the server's code, the lifecycle
(disconnect ends listen(), `async with`), and requests made at the wrong time."""
import asyncio
import unittest

from harness import Server, run, token
from sdk_support import TIMEOUT, RecordingClient
from valtronics_client import (AuthenticationError, ClientClosedError, NotConnectedError,
                               ValtronicsError, ValtronicsWebSocketClient)


class ConnectTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Server()
        cls.server.start()
        cls.admin = token("sdk-connect", "admin")

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def test_connect_authenticates_and_disconnect_ends_listen(self):
        async def go():
            # The harness URL has no path: the client adds /ws.
            client = RecordingClient(self.server.url, self.admin)
            self.assertEqual(client.url, self.server.url + "/ws")
            self.assertFalse(client.connected)
            auth = await client.connect()
            self.assertEqual((auth["type"], auth["success"], auth["user"], auth["role"]),
                             ("auth_response", True, "sdk-connect", "admin"), auth)
            self.assertRegex(auth["expires_at"], r"Z$")
            self.assertIs(client.auth, auth)
            self.assertTrue(client.running)
            self.assertIsNotNone(client.websocket)
            listener = asyncio.create_task(client.listen())
            await client.ping()  # the connection is ready for requests
            self.assertTrue(client.connected)
            self.assertFalse(listener.done())
            await client.disconnect()
            self.assertIsNone(await asyncio.wait_for(listener, TIMEOUT))
            self.assertFalse(client.connected)
            self.assertFalse(client.running)
            self.assertIsNone(client.websocket)
            self.assertEqual(client.count("disconnected"), 0)  # our own close is no event
            with self.assertRaises(ClientClosedError):
                await client.subscribe("alerts")
            with self.assertRaises(ClientClosedError):
                await client.recv(1)
            # The same client can connect again.
            await client.connect()
            await client.ping()
            await client.disconnect()
        run(go())

    def test_refused_token_raises_authentication_error_with_server_code(self):
        cases = [
            (token("sdk-bad", "admin", secret="another-secret"), "invalid_token"),
            ("not.a.jwt", "invalid_token"),
        ]

        async def go():
            for tok, code in cases:
                client = ValtronicsWebSocketClient(self.server.url, tok)
                with self.assertRaises(AuthenticationError) as cm:
                    await client.connect()
                self.assertEqual(cm.exception.code, code)
                self.assertEqual(cm.exception.reply["type"], "auth_response")
                self.assertIs(cm.exception.reply["success"], False)
                self.assertTrue(cm.exception.message)
                self.assertIn(code, str(cm.exception))
                self.assertFalse(client.running)
                self.assertFalse(client.connected)
                with self.assertRaises(NotConnectedError):
                    await client.subscribe("alerts")
        run(go())

    def test_device_token_connects_but_may_not_subscribe(self):
        # Authentication succeeds (a device may connect); its subscription is `forbidden`:
        # an auth success does not mean every request is allowed.
        async def go():
            client = ValtronicsWebSocketClient(self.server.url,
                                               token("sdk-dev", "device", device_id=3))
            auth = await client.connect()
            self.assertEqual(auth["role"], "device")
            with self.assertRaises(ValtronicsError) as cm:
                await client.subscribe("telemetry", device_id=3)
            self.assertEqual(cm.exception.code, "forbidden")
            await client.disconnect()
        run(go())

    def test_async_with_and_requests_before_connect(self):
        async def go():
            client = ValtronicsWebSocketClient(self.server.url + "/ws", self.admin)
            for call in (client.subscribe("alerts"), client.unsubscribe("alerts"),
                         client.ping(), client.authenticate(), client.recv(1),
                         client.send_message({"type": "ping"})):
                with self.assertRaises(NotConnectedError):
                    await call
            async with client:
                self.assertTrue(client.running)
                self.assertEqual((await client.ping())["type"], "pong")
                with self.assertRaises(ValtronicsError):
                    await client.connect()  # already connected
            self.assertFalse(client.running)
            await client.disconnect()  # idempotent
        run(go())

    def test_token_from_provider_only(self):
        calls = []

        async def provider():
            calls.append(1)
            return self.admin

        async def go():
            client = ValtronicsWebSocketClient(self.server.url, token_provider=provider)
            auth = await client.connect()
            self.assertEqual(auth["user"], "sdk-connect")
            self.assertEqual(client.token, self.admin)
            self.assertEqual(len(calls), 1)
            await client.disconnect()
        run(go())
        with self.assertRaises(ValueError):
            ValtronicsWebSocketClient(self.server.url)


if __name__ == "__main__":
    unittest.main()
