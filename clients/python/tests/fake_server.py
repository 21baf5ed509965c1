"""A scripted in-process stand-in for the server, for what the real one never does (send a
duplicate seq, refuse a restored subscription on demand, refuse a connection with
too_many_connections) and for checking the exact frames the client sends.

The test drives it through the client itself: `emit` makes it send msg["frames"], `drop`
makes it close the connection with msg["code"]. Everything received is recorded per
connection (`received`: messages, with the contents of batches appended after the batch;
`frames`: raw frames)."""
import json

import websockets


def tel(seq, device=1, **extra):
    return {"type": "telemetry_update", "channel": "telemetry", "device_id": device,
            "telemetry": {"t": {"value": seq, "timestamp": "2026-01-01T00:00:00.000Z"}},
            "seq": seq, **extra}


def alert(seq, alert_id, status="active"):
    return {"type": "alert", "channel": "alerts", "alert_id": alert_id, "device_id": 1,
            "severity": "critical", "status": status, "seq": seq}


def dev(seq):
    return {"type": "device_status_update", "channel": "devices", "device_id": 1,
            "old_status": "online", "new_status": "offline", "seq": seq}


def system(seq):
    return {"type": "system_status_update", "channel": "system", "metrics": {}, "seq": seq}


class FakeServer:
    """auth -> auth_response (or, per connection index, a refusal); subscribe (alone or in a
    batch) -> subscribed echoing the filters, or `error` for channels in refuse[conn];
    ping -> pong; emit -> sends msg["frames"]; drop -> closes with msg["code"]. A `hello` (the
    SDK asks for coalesced frames) is answered as a server without the extension answers it,
    unknown_type, and kept in `hellos`, apart from the spec's messages in `received`."""

    def __init__(self, auth_errors=None, refuse=None):
        self.received = []             # per connection: every message received
        self.frames = []               # per connection: raw frames received
        self.hellos = []               # every hello received
        self.auth_errors = auth_errors or {}
        self.refuse = refuse or {}
        self.server = None

    async def __aenter__(self):
        self.server = await websockets.serve(self.handler, "127.0.0.1", 0)
        self.url = f"ws://127.0.0.1:{self.server.sockets[0].getsockname()[1]}/ws"
        return self

    async def __aexit__(self, *exc):
        self.server.close()
        await self.server.wait_closed()

    def reply(self, n, msg):
        t = msg.get("type")
        if t == "subscribe":
            if msg["channel"] in self.refuse.get(n, ()):
                return {"type": "error", "error": "forbidden", "message": "no", "id": msg["id"]}
            return {"type": "subscribed", "channel": msg["channel"],
                    "filters": msg.get("filters", {}), "id": msg["id"]}
        if t == "unsubscribe":
            return {"type": "unsubscribed", "channel": msg["channel"], "removed": 1,
                    "id": msg["id"]}
        if t == "ping":
            return {"type": "pong", "timestamp": msg.get("timestamp"), "id": msg["id"]}
        return None

    async def handler(self, ws, path=None):
        n = len(self.received)
        received, frames = [], []
        self.received.append(received)
        self.frames.append(frames)
        async for raw in ws:
            msg = json.loads(raw)
            t = msg.get("type")
            if t == "hello":
                self.hellos.append(msg)
                await ws.send(json.dumps({"type": "error", "error": "unknown_type",
                                          "message": "unknown message type 'hello'",
                                          "id": msg.get("id")}))
                continue
            frames.append(raw)
            received.append(msg)
            if t == "auth":
                if n in self.auth_errors:
                    await ws.send(json.dumps({"type": "auth_response", "success": False,
                                              "error": self.auth_errors[n], "message": "no",
                                              "id": msg["id"]}))
                    await ws.close(4029 if self.auth_errors[n] == "too_many_connections"
                                   else 4001)
                    return
                await ws.send(json.dumps({"type": "auth_response", "success": True,
                                          "user": "fake", "role": "admin",
                                          "expires_at": "2099-01-01T00:00:00.000Z",
                                          "id": msg["id"]}))
            elif t == "emit":
                for f in msg["frames"]:
                    await ws.send(json.dumps(f))
            elif t == "drop":
                await ws.close(msg["code"])
                return
            elif t == "batch":
                received.extend(msg["messages"])
                for m in msg["messages"]:
                    await ws.send(json.dumps(self.reply(n, m)))
            else:
                r = self.reply(n, msg)
                if r is not None:
                    await ws.send(json.dumps(r))


async def emit(client, *frames):
    await client.send_message({"type": "emit", "frames": list(frames)})
