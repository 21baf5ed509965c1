"""Helpers shared by the tests of issue 3 (devices, device status, rules, alerts, the SQLite store,
replay and snapshots): REST envelopes, rules, alert and status messages on a WebSocket."""
import asyncio
import json
import re
import time
from datetime import datetime, timezone

from harness import recv_json

ISO_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")

ALERT_FIELDS = {"type", "channel", "alert_id", "device_id", "severity", "alert_type", "title",
                "message", "status", "timestamp", "metadata", "seq"}
STATUS_FIELDS = {"type", "channel", "device_id", "old_status", "new_status", "timestamp",
                 "reason", "metadata", "seq"}
DEVICE_FIELDS = {"id", "name", "device_type", "location", "manufacturer", "model",
                 "firmware_version", "metadata", "status", "last_seen", "created_at", "updated_at"}
RULE_FIELDS = {"id", "name", "device_id", "device_type", "metric", "condition", "threshold",
               "severity", "alert_type", "duration", "cooldown", "enabled", "created_at",
               "updated_at"}
PAGINATION_FIELDS = {"page", "size", "total", "pages", "has_next", "has_prev"}


def ts(s):
    """Seconds since the epoch of an ISO-8601 UTC timestamp with milliseconds and Z."""
    assert isinstance(s, str) and ISO_Z.match(s), f"not ISO-8601 UTC with ms and Z: {s!r}"
    return datetime.fromisoformat(s[:-1]).replace(tzinfo=timezone.utc).timestamp()


class RestMixin:
    """For unittest.TestCase classes with `self.server`: REST calls and envelope checks."""

    def call(self, method, path, body=None, tok=None, raw=None):
        return self.server.request(method, path, body, tok if tok is not None else self.admin,
                                   raw=raw)

    def accepted(self, path, body, tok=None, timeout=30):
        """POSTs ingest the way a well-behaved publisher does: a 503 (the store's queue is full;
        nothing was accepted) is retried after its Retry-After until `timeout`. Slow builds
        (sanitizers) fill the write queue under bulk ingest; that is backpressure, not failure."""
        deadline = time.time() + timeout
        while True:
            status, reply = self.call("POST", path, body, tok)
            if status != 503 or time.time() > deadline:
                self.assertEqual(status, 202, (path, reply))
                return reply
            details = reply.get("error", {}).get("details", {}) if isinstance(reply, dict) else {}
            time.sleep(min(float(details.get("retry_after_seconds", 1)), 1.0))

    def ok(self, method, path, body=None, tok=None, status=200):
        """Asserts a success envelope with `status`; returns its data."""
        got, reply = self.call(method, path, body, tok)
        self.assertEqual(got, status, (method, path, body, reply))
        self.assertIsInstance(reply, dict, reply)
        self.assertIs(reply.get("success"), True, reply)
        self.assertIn("data", reply, reply)
        return reply["data"]

    def assert_error(self, status, reply, want_status, code, field=None, context=None):
        """The platform's error envelope; `field`: details.field must name it."""
        ctx = (context, status, reply)
        self.assertEqual(status, want_status, ctx)
        self.assertIsInstance(reply, dict, ctx)
        self.assertEqual(set(reply), {"success", "error"}, ctx)
        self.assertIs(reply["success"], False, ctx)
        err = reply["error"]
        self.assertEqual(set(err), {"code", "message", "details"}, ctx)
        self.assertEqual(err["code"], code, ctx)
        self.assertIsInstance(err["message"], str, ctx)
        self.assertTrue(err["message"], ctx)
        self.assertIsInstance(err["details"], dict, ctx)
        if field is not None:
            if isinstance(field, (tuple, set)):
                self.assertIn(err["details"].get("field"), field, ctx)
            else:
                self.assertEqual(err["details"].get("field"), field, ctx)
        return err

    def fails(self, method, path, body, want_status, code, field=None, tok=None, raw=None):
        status, reply = self.call(method, path, body, tok, raw=raw)
        return self.assert_error(status, reply, want_status, code, field,
                                 context=(method, path, body if raw is None else raw))

    def page(self, path, tok=None):
        """GET of a list: asserts the envelope; returns (data, pagination)."""
        status, reply = self.call("GET", path, None, tok)
        self.assertEqual(status, 200, (path, reply))
        self.assertEqual(set(reply), {"success", "data", "pagination"}, reply)
        self.assertIs(reply["success"], True)
        self.assertIsInstance(reply["data"], list, reply)
        p = reply["pagination"]
        self.assertEqual(set(p), PAGINATION_FIELDS, p)
        # The envelope is self-consistent.
        self.assertEqual(p["pages"], -(-p["total"] // p["size"]), p)
        self.assertEqual(p["has_next"], p["page"] < p["pages"], p)
        self.assertEqual(p["has_prev"], p["page"] > 1, p)
        return reply["data"], p

    def rule(self, tok=None, **fields):
        body = {"condition": "gt", "severity": "warning", **fields}
        return self.ok("POST", "/api/v1/alert-rules", body, tok, status=201)

    def ingest(self, device, metrics, tok=None):
        """One reading per metric ({name: value}); asserts 202."""
        self.server.ingest(device, metrics, tok if tok is not None else self.admin)

    async def aingest(self, device, metrics, tok=None):
        await asyncio.to_thread(self.ingest, device, metrics, tok)

    async def acall(self, method, path, body=None, tok=None):
        return await asyncio.to_thread(self.call, method, path, body, tok)

    async def aok(self, method, path, body=None, tok=None, status=200):
        return await asyncio.to_thread(self.ok, method, path, body, tok, status)

    # ---- messages ----
    def assert_alert(self, msg, **want):
        self.assertEqual(msg.get("type"), "alert", msg)
        self.assertEqual(set(msg), ALERT_FIELDS, msg)
        self.assertEqual(msg["channel"], "alerts", msg)
        self.assertIsInstance(msg["alert_id"], int, msg)
        self.assertIsInstance(msg["seq"], int, msg)
        self.assertIsInstance(msg["title"], str, msg)
        self.assertIsInstance(msg["message"], str, msg)
        self.assertTrue(msg["message"], msg)
        ts(msg["timestamp"])
        self.assertIsInstance(msg["metadata"], dict, msg)
        for k, v in want.items():
            if k == "metadata":
                for mk, mv in v.items():
                    self.assertEqual(msg["metadata"].get(mk), mv, (mk, msg))
            else:
                self.assertEqual(msg[k], v, (k, msg))
        return msg

    def assert_rule_alert(self, msg, rule, device, value, status="active", **want):
        """An alert of `rule` (the REST record) for `device` triggered by `value`."""
        return self.assert_alert(
            msg, device_id=device, severity=rule["severity"], alert_type=rule["alert_type"],
            title=rule["name"], status=status,
            metadata={"threshold_value": rule["threshold"], "actual_value": value,
                      "metric": rule["metric"], "rule_id": rule["id"]}, **want)

    def assert_status(self, msg, device, old, new, reason=None, seq=None):
        self.assertEqual(msg.get("type"), "device_status_update", msg)
        self.assertEqual(set(msg), STATUS_FIELDS, msg)
        self.assertEqual(msg["channel"], "devices", msg)
        self.assertEqual((msg["device_id"], msg["old_status"], msg["new_status"]),
                         (device, old, new), msg)
        if reason is not None:
            self.assertEqual(msg["reason"], reason, msg)
        if seq is not None:
            self.assertEqual(msg["seq"], seq, msg)
        ts(msg["timestamp"])
        self.assertIsInstance(msg["metadata"], dict, msg)
        return msg


async def next_of(ws, type_, timeout=5):
    """The next message of `type_`; any other message in between fails the test."""
    msg = await recv_json(ws, timeout)
    assert msg.get("type") == type_, f"expected {type_}, got {msg}"
    return msg


async def collect(ws, seconds):
    """Every message arriving within `seconds`."""
    out = []
    deadline = time.monotonic() + seconds
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return out
        try:
            out.append(await recv_json(ws, left))
        except asyncio.TimeoutError:
            return out


async def until_pong(ws, marker="barrier"):
    """Sends a ping and returns every message received before its pong."""
    await ws.send(json.dumps({"type": "ping", "id": marker}))
    out = []
    while True:
        msg = await recv_json(ws, 5)
        if msg.get("type") == "pong" and msg.get("id") == marker:
            return out
        out.append(msg)


async def sub(ws, channel, **fields):
    """Subscribes and returns the `subscribed` reply (asserting it is one)."""
    await ws.send(json.dumps({"type": "subscribe", "channel": channel, **fields}))
    reply = await recv_json(ws, 5)
    assert reply.get("type") == "subscribed", reply
    return reply
