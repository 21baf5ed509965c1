"""Prints live telemetry, alerts and device status changes from a Valtronics server, and keeps
doing so across server restarts (reconnect, re-subscribe, alert resume).

    VALTRONICS_URL=ws://127.0.0.1:8000/ws VALTRONICS_TOKEN=$(valtronics token --secret S \\
        --sub me --role admin) python3 monitor.py [--count N]

--count N: exit after N update messages (default: run until Ctrl-C)."""
import argparse
import asyncio
import os

from valtronics_client import AuthenticationError, ValtronicsWebSocketClient


class Monitor(ValtronicsWebSocketClient):
    def __init__(self, url, token, count):
        super().__init__(url, token)
        self.left = count

    def _seen(self):
        if self.left is not None:
            self.left -= 1
            if self.left == 0:
                self.running = False  # listen() returns after this message

    async def handle_telemetry_update(self, data):
        values = {k: v["value"] for k, v in data["telemetry"].items()}
        print(f"telemetry device={data['device_id']} {values}", flush=True)
        self._seen()

    async def handle_alert(self, data):
        print(f"alert #{data['alert_id']} [{data['severity']}] {data['title']} "
              f"({data['status']})", flush=True)
        self._seen()

    async def handle_device_status_update(self, data):
        print(f"device {data['device_id']}: {data['old_status']} -> {data['new_status']}",
              flush=True)
        self._seen()

    async def handle_reconnected(self, auth_response):
        print("reconnected; subscriptions restored", flush=True)


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=None)
    args = parser.parse_args()
    client = Monitor(os.environ.get("VALTRONICS_URL", "ws://127.0.0.1:8000/ws"),
                     os.environ["VALTRONICS_TOKEN"], args.count)
    try:
        auth = await client.connect()
    except AuthenticationError as e:
        raise SystemExit(f"authentication failed: {e.code}")
    print(f"connected as {auth['user']} ({auth['role']})", flush=True)
    try:
        await client.subscribe("telemetry", {"metrics": ["temperature", "humidity"]})
        await client.subscribe("alerts", {"severity": ["critical", "warning"]})
        await client.subscribe("devices", {"snapshot": False})
        print("listening", flush=True)
        await client.listen()
    finally:
        await client.disconnect()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
