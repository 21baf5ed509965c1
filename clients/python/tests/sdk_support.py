"""Helpers shared by the SDK tests: a client subclass that records its connection events so
tests can await them instead of sleeping, and message-collection helpers.

The real server comes from tests/integration/harness.py (on PYTHONPATH): harness.Server, with
port= to start a server again on the port its clients reconnect to."""

import asyncio
import os
import signal

from valtronics_client import ValtronicsWebSocketClient

TIMEOUT = 10


class RecordingClient(ValtronicsWebSocketClient):
    """The SDK client with fast reconnects and its connection events recorded:
    events is a list of tuples ("disconnected", code, reason), ("reconnecting", attempt,
    delay, error), ("reconnected", auth_response), ("refreshed", auth_response),
    ("gap", channel, expected, received), ("alert_resume", subscribed reply),
    ("removed", channel, device_id, reason, error). frames: every server message received,
    parsed (replies matched to requests included, which never reach recv()), each message of a
    coalesced array on its own; frame_count and array_frames count the frames themselves."""

    def __init__(self, url, token=None, **kwargs):
        kwargs.setdefault("backoff_base", 0.05)
        kwargs.setdefault("backoff_cap", 0.4)
        kwargs.setdefault("close_timeout", 1)
        kwargs.setdefault("request_timeout", TIMEOUT)
        super().__init__(url, token, **kwargs)
        self.events = []
        self.frames = []
        self.frame_count = 0
        self.array_frames = 0
        self.binary_frames = 0
        self._event_added = asyncio.Event()

    async def _on_frame(self, raw):
        parsed = self._decode(raw)
        if parsed is not None:
            self.frame_count += 1
            if isinstance(raw, bytes):
                self.binary_frames += 1
            if isinstance(parsed, list):
                self.array_frames += 1
                self.frames.extend(parsed)
            else:
                self.frames.append(parsed)
        await super()._on_frame(raw)

    def _record(self, *event):
        self.events.append(event)
        self._event_added.set()

    def count(self, kind):
        return sum(1 for e in self.events if e[0] == kind)

    async def wait_event(self, kind, n=1, timeout=TIMEOUT):
        """Waits until `n` events of `kind` were recorded; returns the n-th."""
        async def wait():
            while self.count(kind) < n:
                self._event_added.clear()
                await self._event_added.wait()
            return [e for e in self.events if e[0] == kind][n - 1]
        return await asyncio.wait_for(wait(), timeout)

    async def handle_disconnected(self, code, reason):
        self._record("disconnected", code, reason)

    async def handle_reconnecting(self, attempt, delay, error):
        self._record("reconnecting", attempt, delay, error)

    async def handle_reconnected(self, auth_response):
        self._record("reconnected", auth_response)

    async def handle_token_refreshed(self, auth_response):
        self._record("refreshed", auth_response)

    async def handle_gap(self, channel, expected, received, data):
        self._record("gap", channel, expected, received)

    async def handle_alert_resume(self, reply):
        self._record("alert_resume", reply)

    async def handle_subscription_removed(self, channel, device_id, reason, error):
        self._record("removed", channel, device_id, reason, error)


async def drain(client):
    """Every message received before the pong of a new ping: the reader queues messages in
    arrival order, so once the pong is matched, everything sent before it is queued."""
    await client.ping()
    out = []
    while client.pending_messages:
        out.append(await client.recv(1))
    return out


async def next_of(client, type_, timeout=TIMEOUT):
    """The next message of `type_`; fails on any other message type in between."""
    msg = await client.recv(timeout)
    assert msg.get("type") == type_, f"expected {type_}, got {msg}"
    return msg


def in_thread(fn, *args):
    """Blocking harness calls (REST, server start/stop) off the event loop, so the client's
    background task keeps running meanwhile."""
    return asyncio.to_thread(fn, *args)


def kill(server):
    """Stops a server at once (SIGKILL): no close frame reaches the clients (code 1006)."""
    os.kill(server.proc.pid, signal.SIGKILL)
    server.proc.wait()
