"""The spec's own Python client example, copied from websocket-api.txt (its indentation restored;
the usage example's class name corrected to ValtronicsWebSocketClient and its URL and token made
parameters), receives telemetry from the demo simulator."""
import asyncio
import json
import unittest

import websockets
from datetime import datetime

from harness import SECRET, Server, token


# ---- copied from the spec ("Python Client"), unchanged except for indentation ----------------
class ValtronicsWebSocketClient:
    def __init__(self, url, token):
        self.url = url
        self.token = token
        self.websocket = None
        self.subscriptions = {}
        self.running = False

    async def connect(self):
        """Connect to WebSocket server"""
        try:
            self.websocket = await websockets.connect(self.url)
            await self.authenticate()
            self.running = True
            print("WebSocket connected successfully")
        except Exception as e:
            print(f"Failed to connect: {e}")
            raise

    async def authenticate(self):
        """Authenticate with JWT token"""
        auth_message = {
            "type": "auth",
            "token": self.token
        }
        await self.send_message(auth_message)

        # Wait for authentication response
        response = await self.websocket.recv()
        data = json.loads(response)

        if data.get("type") == "auth_response" and data.get("success"):
            print("Authentication successful")
        else:
            raise Exception("Authentication failed")

    async def subscribe(self, channel, filters=None):
        """Subscribe to a channel"""
        subscription = {
            "type": "subscribe",
            "channel": channel
        }
        if filters:
            subscription["filters"] = filters

        await self.send_message(subscription)
        self.subscriptions[channel] = filters
        print(f"Subscribed to {channel}")

    async def unsubscribe(self, channel):
        """Unsubscribe from a channel"""
        unsubscription = {
            "type": "unsubscribe",
            "channel": channel
        }
        await self.send_message(unsubscription)
        self.subscriptions.pop(channel, None)
        print(f"Unsubscribed from {channel}")

    async def send_message(self, message):
        """Send message to WebSocket"""
        if self.websocket:
            await self.websocket.send(json.dumps(message))

    async def listen(self):
        """Listen for incoming messages"""
        try:
            while self.running:
                message = await self.websocket.recv()
                data = json.loads(message)
                await self.handle_message(data)
        except websockets.exceptions.ConnectionClosed:
            print("WebSocket connection closed")
        except Exception as e:
            print(f"Error listening for messages: {e}")

    async def handle_message(self, data):
        """Handle incoming messages"""
        message_type = data.get("type")

        if message_type == "telemetry_update":
            await self.handle_telemetry_update(data)
        elif message_type == "alert":
            await self.handle_alert(data)
        elif message_type == "device_status_update":
            await self.handle_device_status_update(data)
        elif message_type == "system_status_update":
            await self.handle_system_status_update(data)
        elif message_type == "pong":
            # Handle keep-alive response
            pass
        else:
            print(f"Unknown message type: {message_type}")

    async def handle_telemetry_update(self, data):
        """Handle telemetry updates"""
        device_id = data.get("device_id")
        telemetry = data.get("telemetry")
        print(f"Telemetry update for device {device_id}: {telemetry}")

    async def handle_alert(self, data):
        """Handle alert notifications"""
        alert_id = data.get("alert_id")
        severity = data.get("severity")
        title = data.get("title")
        print(f"Alert [{severity}]: {title} (ID: {alert_id})")

    async def handle_device_status_update(self, data):
        """Handle device status updates"""
        device_id = data.get("device_id")
        old_status = data.get("old_status")
        new_status = data.get("new_status")
        print(f"Device {device_id} status changed: {old_status} -> {new_status}")

    async def handle_system_status_update(self, data):
        """Handle system status updates"""
        metrics = data.get("metrics")
        print(f"System status update: {metrics}")

    async def ping(self):
        """Send ping message (keep-alive)"""
        ping_message = {
            "type": "ping",
            "timestamp": datetime.utcnow().isoformat()
        }
        await self.send_message(ping_message)

    async def disconnect(self):
        """Disconnect from WebSocket"""
        self.running = False
        if self.websocket:
            await self.websocket.close()
        print("WebSocket disconnected")


# Usage example
async def main(url="ws://localhost:8000/ws", token="jwt-token"):
    client = ValtronicsWebSocketClient(url, token)

    try:
        await client.connect()

        # Subscribe to channels
        await client.subscribe("telemetry", {"device_id": 1})
        await client.subscribe("alerts", {"severity": ["critical", "warning"]})
        await client.subscribe("devices")

        # Listen for messages
        await client.listen()
    except KeyboardInterrupt:
        print("Interrupted by user")
    finally:
        await client.disconnect()
# ---- end of the spec's client (main() listens forever, so the test drives the client itself) --


class RecordingClient(ValtronicsWebSocketClient):
    """The spec client with its telemetry handler recording updates and stopping `listen`."""

    def __init__(self, url, token):
        super().__init__(url, token)
        self.telemetry = []
        self.other_types = []

    async def handle_message(self, data):
        if data.get("type") != "telemetry_update":
            self.other_types.append(data.get("type"))
        await super().handle_message(data)

    async def handle_telemetry_update(self, data):
        await super().handle_telemetry_update(data)
        self.telemetry.append(data)
        self.running = False  # listen() returns after this message


class SpecClientTest(unittest.TestCase):
    def test_spec_client_receives_demo_telemetry(self):
        with Server(demo=True) as s:
            admin = token("spec-client", "admin", secret=SECRET)

            async def go():
                client = RecordingClient(s.url + "/ws", admin)
                await client.connect()
                self.assertTrue(client.running)
                await client.subscribe("telemetry", {"device_id": 1})
                await client.ping()
                try:
                    await asyncio.wait_for(client.listen(), 5)
                finally:
                    await client.disconnect()
                return client

            client = asyncio.run(go())
            self.assertEqual(len(client.telemetry), 1, client.telemetry)
            upd = client.telemetry[0]
            self.assertEqual(upd["type"], "telemetry_update")
            self.assertEqual(upd["channel"], "telemetry")
            self.assertEqual(upd["device_id"], 1)
            self.assertIsInstance(upd["telemetry"], dict)
            self.assertTrue(upd["telemetry"], upd)
            for name, m in upd["telemetry"].items():
                self.assertIsInstance(m["value"], (int, float), (name, m))
                self.assertNotIsInstance(m["value"], bool)
                self.assertTrue(m["timestamp"].endswith("Z"), m)
            # The `subscribed` reply reached the spec's handler as an unknown type (the spec
            # client does not wait for it); pong may have come too. Nothing else.
            self.assertIn("subscribed", client.other_types)
            self.assertTrue(set(client.other_types) <= {"subscribed", "pong"},
                            client.other_types)


if __name__ == "__main__":
    unittest.main()
