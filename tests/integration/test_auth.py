"""Authentication and authorization over the WebSocket (issue 2, "Authentication and
authorization"): the auth exchange and its failures, the auth timeout, the Bearer header on the
handshake, messages before auth, token refresh and expiry, per-role/per-device authorization, and
the per-user connection limit."""
import asyncio
import base64
import hashlib
import hmac
import json
import re
import time
import unittest
from datetime import datetime, timezone

import websockets

from harness import connect as harness_connect
from harness import (SECRET, Server, ServerTestCase, expect_close, expect_silence,
                     recv_json, recv_type, run, subscribe, token)

ISO_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")


async def connect(server, path="/ws", token_=None, **kwargs):
    """harness.connect with a short close timeout, so a failing test does not hang for 10 s
    closing a socket it left open."""
    kwargs.setdefault("close_timeout", 1)
    return await harness_connect(server, path, token_, **kwargs)


def parse_iso(s):
    assert ISO_Z.match(s), f"not an ISO-8601 UTC timestamp ending in Z: {s!r}"
    return datetime.fromisoformat(s[:-1]).replace(tzinfo=timezone.utc).timestamp()


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def make_jwt(payload, secret=SECRET, alg="HS256"):
    """Hand-built JWT: HS256/HS384/HS512 signed with `secret`, or alg none (empty signature)."""
    header = {"alg": alg, "typ": "JWT"}
    signing_input = (b64url(json.dumps(header, separators=(",", ":")).encode()) + "." +
                     b64url(json.dumps(payload, separators=(",", ":")).encode()))
    digests = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}
    if alg == "none":
        sig = ""
    else:
        sig = b64url(hmac.new(secret.encode(), signing_input.encode(), digests[alg]).digest())
    return signing_input + "." + sig


def claims(**extra):
    now = int(time.time())
    c = {"sub": "alice", "role": "admin", "devices": "*", "iat": now, "exp": now + 3600}
    c.update(extra)
    return c


async def send(ws, msg):
    await ws.send(json.dumps(msg))


async def auth(ws, tok, id_=None):
    msg = {"type": "auth", "token": tok}
    if id_ is not None:
        msg["id"] = id_
    await send(ws, msg)
    return await recv_json(ws, 3)


class AuthExchangeTest(ServerTestCase):
    """Success, failures and the auth timing rules, on one server with default settings."""
    admin_sub = "root"

    def test_auth_success_reply_fields_and_id_echo(self):
        async def go():
            ws = await connect(self.server)
            before = time.time()
            reply = await auth(ws, token("alice", "user", devices="1,2", ttl="1h"), id_="a-1")
            self.assertEqual(set(reply), {"type", "success", "message", "user", "role",
                                          "expires_at", "id"}, reply)
            self.assertEqual(reply["type"], "auth_response")
            self.assertIs(reply["success"], True)
            self.assertEqual(reply["message"], "Authentication successful")
            self.assertEqual(reply["user"], "alice")
            self.assertEqual(reply["role"], "user")
            self.assertEqual(reply["id"], "a-1")
            exp = parse_iso(reply["expires_at"])
            self.assertAlmostEqual(exp, before + 3600, delta=5)
            # A numeric id is echoed as a number (re-auth on the same connection).
            reply = await auth(ws, token("alice", "user", devices="1,2"), id_=42)
            self.assertTrue(reply["success"], reply)
            self.assertEqual(reply["id"], 42)
            self.assertIsInstance(reply["id"], int)
            # Without an id there is no id in the reply.
            reply = await auth(ws, token("alice", "user", devices="1,2"))
            self.assertTrue(reply["success"], reply)
            self.assertNotIn("id", reply)
            await ws.close()
        run(go())

    def test_hand_built_hs256_token_is_accepted(self):
        # Guards the failure tests below: the hand-built tokens differ only in what they test.
        async def go():
            ws = await connect(self.server)
            reply = await auth(ws, make_jwt(claims(sub="hand", role="operator")))
            self.assertTrue(reply["success"], reply)
            self.assertEqual(reply["user"], "hand")
            self.assertEqual(reply["role"], "operator")
            await ws.close()
        run(go())

    def test_nothing_is_sent_before_auth_response(self):
        async def go():
            ws = await connect(self.server)
            await expect_silence(ws, 0.5)
            reply = await auth(ws, self.admin)
            self.assertEqual(reply["type"], "auth_response")
            self.assertTrue(reply["success"])
            await ws.close()
        run(go())

    def _expect_failure(self, msg, error):
        async def go():
            ws = await connect(self.server)
            await send(ws, msg)
            reply = await recv_json(ws, 3)
            self.assertEqual(reply["type"], "auth_response", reply)
            self.assertIs(reply["success"], False, reply)
            self.assertEqual(reply["error"], error, reply)
            self.assertIsInstance(reply["message"], str)
            self.assertTrue(reply["message"])
            self.assertNotIn("user", reply)
            if "id" in msg:
                self.assertEqual(reply["id"], msg["id"])
            await expect_close(ws, 4001, timeout=3)
        run(go())

    def test_missing_token(self):
        self._expect_failure({"type": "auth", "id": "m1"}, "missing_token")

    def test_empty_token(self):
        self._expect_failure({"type": "auth", "token": ""}, "missing_token")

    def test_invalid_signature(self):
        self._expect_failure({"type": "auth", "token": token(secret="another-secret"), "id": 9},
                             "invalid_token")

    def test_tampered_payload(self):
        h, _, s = make_jwt(claims(role="user", devices=[1])).split(".")
        forged = h + "." + b64url(json.dumps(claims(role="admin")).encode()) + "." + s
        self._expect_failure({"type": "auth", "token": forged}, "invalid_token")

    def test_alg_none_refused(self):
        self._expect_failure({"type": "auth", "token": make_jwt(claims(), alg="none")},
                             "invalid_token")

    def test_hs512_refused(self):
        self._expect_failure({"type": "auth", "token": make_jwt(claims(), alg="HS512")},
                             "invalid_token")

    def test_garbage_token(self):
        self._expect_failure({"type": "auth", "token": "not.a.jwt"}, "invalid_token")

    def test_expired_token(self):
        now = int(time.time())
        tok = make_jwt(claims(iat=now - 3600, exp=now - 60))  # well past the 5 s default leeway
        self._expect_failure({"type": "auth", "token": tok, "id": "e"}, "token_expired")

    def test_nbf_in_future(self):
        now = int(time.time())
        tok = make_jwt(claims(nbf=now + 600, exp=now + 3600))
        self._expect_failure({"type": "auth", "token": tok}, "token_not_yet_valid")

    def test_non_string_token_is_a_failed_auth(self):
        # An auth whose token is not a string cannot authenticate: like any failed auth it gets
        # an auth_response with success false (what the spec's client reads after auth), then
        # close 4001.
        for bad in (123, ["x"], {"t": 1}):
            with self.subTest(token=bad):
                async def go():
                    ws = await connect(self.server)
                    await send(ws, {"type": "auth", "token": bad, "id": "nt"})
                    reply = await recv_json(ws, 2)
                    self.assertEqual(reply["type"], "auth_response", reply)
                    self.assertIs(reply["success"], False, reply)
                    self.assertIn(reply["error"], ("invalid_token", "invalid_message"), reply)
                    self.assertEqual(reply["id"], "nt")
                    await expect_close(ws, 4001, timeout=2)
                run(go())

    def test_bearer_header_authenticates_at_handshake(self):
        async def go():
            ws = await websockets.connect(
                self.ws_url("/ws"),
                close_timeout=1,
                extra_headers={"Authorization": "Bearer " + token("hdr", "operator")})
            # Nothing is sent: the auth_response comes on its own right after the handshake.
            reply = await recv_json(ws, 1)
            self.assertEqual(reply["type"], "auth_response", reply)
            self.assertIs(reply["success"], True, reply)
            self.assertEqual(reply["user"], "hdr")
            self.assertEqual(reply["role"], "operator")
            self.assertNotIn("id", reply)
            parse_iso(reply["expires_at"])
            # The connection is authenticated: subscribe works at once.
            r = await subscribe(ws, "telemetry", id_=1)
            self.assertEqual(r["type"], "subscribed", r)
            await ws.close()
        run(go())

    def test_bad_bearer_header_fails_auth(self):
        async def go():
            ws = await websockets.connect(
                self.ws_url("/ws"),
                close_timeout=1,
                extra_headers={"Authorization": "Bearer " + token(secret="wrong-secret")})
            reply = await recv_json(ws, 1)
            self.assertEqual(reply["type"], "auth_response", reply)
            self.assertIs(reply["success"], False, reply)
            self.assertEqual(reply["error"], "invalid_token")
            await expect_close(ws, 4001, timeout=3)
        run(go())

    def test_only_auth_and_ping_before_auth(self):
        async def go():
            ws = await connect(self.server)
            for i, msg in enumerate([
                {"type": "subscribe", "channel": "telemetry"},
                {"type": "unsubscribe", "channel": "telemetry"},
                {"type": "batch", "messages": [{"type": "ping"}]},
            ]):
                msg["id"] = f"pre-{i}"
                await send(ws, msg)
                reply = await recv_json(ws, 2)
                self.assertEqual(reply["type"], "error", reply)
                self.assertEqual(reply["error"], "not_authenticated", reply)
                self.assertEqual(reply["id"], f"pre-{i}")
                self.assertIsInstance(reply["message"], str)
            await send(ws, {"type": "ping", "timestamp": "2024-01-01T12:00:00Z", "id": 5})
            pong = await recv_json(ws, 2)
            self.assertEqual(pong["type"], "pong", pong)
            self.assertEqual(pong["timestamp"], "2024-01-01T12:00:00Z")
            self.assertEqual(pong["id"], 5)
            parse_iso(pong["server_time"])
            # Still open and still able to authenticate.
            reply = await auth(ws, self.admin)
            self.assertTrue(reply["success"], reply)
            r = await subscribe(ws, "telemetry", id_="after")
            self.assertEqual(r["type"], "subscribed", r)
            await ws.close()
        run(go())


class AuthTimeoutTest(unittest.TestCase):
    def test_no_auth_within_timeout_closes_4001(self):
        with Server({"auth": {"auth_timeout": "1s"}}) as s:
            async def go():
                ws = await websockets.connect(s.url + "/ws", close_timeout=1)
                start = time.monotonic()
                with self.assertRaises(websockets.exceptions.ConnectionClosed) as cm:
                    await asyncio.wait_for(ws.recv(), 4)  # no message at all, then the close
                elapsed = time.monotonic() - start
                self.assertIsNotNone(cm.exception.rcvd, "no close frame")
                self.assertEqual(cm.exception.rcvd.code, 4001)
                self.assertGreater(elapsed, 0.7)
                self.assertLess(elapsed, 2.5)

                # A ping does not count as authentication; a successful auth stops the timer.
                ws2 = await websockets.connect(s.url + "/ws", close_timeout=1)
                await send(ws2, {"type": "ping"})
                self.assertEqual((await recv_json(ws2, 1))["type"], "pong")
                await expect_close(ws2, 4001, timeout=3)
                ws3 = await connect(s, token_=token())
                await expect_silence(ws3, 1.5)
                await send(ws3, {"type": "ping"})
                self.assertEqual((await recv_json(ws3, 1))["type"], "pong")
                await ws3.close()
            run(go())


class TokenLifecycleTest(ServerTestCase):
    """Refresh and expiry; one server, warnings 2 s before expiry, no leeway."""
    config = {"auth": {"expiry_warning": "2s", "leeway": "0s"}}
    admin_sub = "ingester"

    def ingest(self, device, metrics):
        return asyncio.to_thread(self.server.ingest, device, metrics, self.admin)

    def test_refresh_keeps_subscriptions_and_sets_new_expiry(self):
        async def go():
            ws = await connect(self.server)
            first = await auth(ws, token("carol", "user", devices="1,2", ttl="1h"))
            self.assertTrue(first["success"])
            r = await subscribe(ws, "telemetry", id_=1, device_id=1)
            self.assertEqual(r["type"], "subscribed", r)
            r = await subscribe(ws, "alerts", id_=2, device_id=2)
            self.assertEqual(r["type"], "subscribed", r)
            second = await auth(ws, token("carol", "user", devices="1,2", ttl="2h"), id_="re")
            self.assertTrue(second["success"], second)
            self.assertEqual(second["id"], "re")
            self.assertAlmostEqual(parse_iso(second["expires_at"]) - parse_iso(first["expires_at"]),
                                   3600, delta=5)
            await expect_silence(ws, 0.3)  # nothing dropped: no forbidden error
            await self.ingest(1, {"temperature": 21.5})
            upd = await recv_json(ws, 3)
            self.assertEqual(upd["type"], "telemetry_update", upd)
            self.assertEqual(upd["device_id"], 1)
            self.assertEqual(upd["telemetry"]["temperature"]["value"], 21.5)
            await ws.close()
        run(go())

    def test_refresh_with_narrower_claims_drops_forbidden_subscriptions(self):
        async def go():
            ws = await connect(self.server)
            self.assertTrue((await auth(ws, token("dave", "user", devices="1,2")))["success"])
            for id_, dev in (("s1", 1), ("s2", 2)):
                r = await subscribe(ws, "telemetry", id_=id_, device_id=dev)
                self.assertEqual(r["type"], "subscribed", r)
            reply = await auth(ws, token("dave", "user", devices="1"))
            self.assertTrue(reply["success"], reply)
            err = await recv_json(ws, 2)
            self.assertEqual(err["type"], "error", err)
            self.assertEqual(err["error"], "forbidden", err)
            self.assertIn("2", err["message"])
            # Which subscription went, machine-readable.
            self.assertEqual((err["channel"], err["device_id"]), ("telemetry", 2), err)
            await expect_silence(ws, 0.3)  # device 1's subscription stays
            await self.ingest(2, {"temperature": 2.0})
            await expect_silence(ws, 0.5)
            await self.ingest(1, {"temperature": 1.0})
            upd = await recv_json(ws, 3)
            self.assertEqual((upd["type"], upd["device_id"]), ("telemetry_update", 1), upd)
            # The remaining subscription is device 1 only: unsubscribing the channel removes 1.
            await send(ws, {"type": "unsubscribe", "channel": "telemetry", "id": "u"})
            r = await recv_json(ws, 2)
            self.assertEqual((r["type"], r["removed"]), ("unsubscribed", 1), r)
            await ws.close()
        run(go())

    def test_refresh_dropping_subscriptions_names_each_one(self):
        # An admin's subscriptions, then a user token covering device 1 only: one `forbidden`
        # error per removed (channel, device) key, with `channel` and `device_id` (null for a
        # subscription to every device of a channel the role may no longer use), in key order.
        async def go():
            ws = await connect(self.server, token_=token("walt", "admin"))
            for id_, channel, fields in ((1, "telemetry", {"device_id": 5}),
                                         (2, "telemetry", {"device_id": 1}),
                                         (3, "alerts", {"device_id": [1, 7]}),
                                         (4, "alerts", {}),
                                         (5, "system", {})):
                r = await subscribe(ws, channel, id_=id_, **fields)
                self.assertEqual(r["type"], "subscribed", r)
            reply = await auth(ws, token("walt", "user", devices="1"), id_="re")
            while reply["type"] == "system_status_update":
                reply = await recv_json(ws, 2)
            self.assertTrue(reply["success"], reply)
            errors = []
            deadline = time.monotonic() + 1
            while time.monotonic() < deadline:
                try:
                    msg = await recv_json(ws, deadline - time.monotonic())
                except asyncio.TimeoutError:
                    break
                if msg["type"] != "system_status_update":
                    errors.append(msg)
            self.assertEqual(errors, [
                {"type": "error", "error": "forbidden", "channel": "telemetry", "device_id": 5,
                 "message": "the new token does not cover the telemetry subscription of "
                            "device 5: it was removed"},
                {"type": "error", "error": "forbidden", "channel": "alerts", "device_id": 7,
                 "message": "the new token does not cover the alerts subscription of "
                            "device 7: it was removed"},
                {"type": "error", "error": "forbidden", "channel": "system", "device_id": None,
                 "message": "the new token does not cover the system subscription: "
                            "it was removed"}])
            # What stays: telemetry 1, alerts 1, alerts of every (covered) device.
            for channel, removed in (("telemetry", 1), ("alerts", 2), ("system", 0)):
                await send(ws, {"type": "unsubscribe", "channel": channel, "id": channel})
                r = await recv_type(ws, "unsubscribed", 2)
                self.assertEqual((r["id"], r["removed"]), (channel, removed), r)
            await ws.close()
        run(go())

    def test_refresh_narrowing_discards_pending_throttled_update(self):
        # A throttled (frequency 1s) subscription to every device holds back device 2's second
        # reading; the refreshed token no longer covers device 2, so it must never arrive.
        async def go():
            ws = await connect(self.server, token_=token("quinn", "user", devices="1,2"))
            r = await subscribe(ws, "telemetry", frequency="1s")
            self.assertEqual(r["type"], "subscribed", r)
            await self.ingest(2, {"temperature": 1.0})
            upd = await recv_json(ws, 2)
            self.assertEqual((upd["type"], upd["device_id"]), ("telemetry_update", 2), upd)
            await self.ingest(2, {"temperature": 2.0})  # held back until the next slot
            reply = await auth(ws, token("quinn", "user", devices="1"))
            self.assertTrue(reply["success"], reply)
            leaked = []
            deadline = time.monotonic() + 1.5
            while time.monotonic() < deadline:
                try:
                    msg = await recv_json(ws, deadline - time.monotonic())
                except asyncio.TimeoutError:
                    break
                leaked.append(msg)
            self.assertEqual(leaked, [], "device 2 delivered after the token stopped covering it")
            await ws.close()
        run(go())

    def test_refresh_to_user_drops_system_subscription(self):
        async def go():
            ws = await connect(self.server, token_=token("erin", "admin"))
            r = await subscribe(ws, "system", id_=1, frequency="1s")
            self.assertEqual(r["type"], "subscribed", r)
            r = await subscribe(ws, "telemetry", id_=2)
            # A system sample (one a second) may come before the reply; skip it.
            while r["type"] == "system_status_update":
                r = await recv_json(ws, 2)
            self.assertEqual(r["type"], "subscribed", r)
            reply = await auth(ws, token("erin", "user", devices="1"))
            # System samples may be in flight before the auth reply; skip them.
            while reply["type"] == "system_status_update":
                reply = await recv_json(ws, 2)
            self.assertEqual(reply["type"], "auth_response")
            self.assertTrue(reply["success"], reply)
            err = await recv_type(ws, "error", 2)
            self.assertEqual(err["error"], "forbidden", err)
            # The subscription that went is system's (which has no device: null).
            self.assertEqual((err["channel"], err["device_id"]), ("system", None), err)
            self.assertNotIn("id", err)
            # No system update after the drop (the server samples every second).
            deadline = time.monotonic() + 1.5
            while time.monotonic() < deadline:
                try:
                    msg = await recv_json(ws, deadline - time.monotonic())
                except asyncio.TimeoutError:
                    break
                self.fail(f"unexpected message after the system subscription was dropped: {msg}")
            await ws.close()
        run(go())

    def test_token_expiring_then_close_4003(self):
        async def go():
            ws = await connect(self.server)
            reply = await auth(ws, token("frank", "admin", ttl="3s"))
            self.assertTrue(reply["success"], reply)
            exp = parse_iso(reply["expires_at"])
            # Less than expiry_warning (2 s) remains within at most 1 s of auth (exp is whole
            # seconds, 2-3 s ahead).
            warn = await recv_json(ws, 2)
            warned_at = time.time()
            self.assertEqual(set(warn), {"type", "expires_at"}, warn)
            self.assertEqual(warn["type"], "token_expiring")
            self.assertEqual(warn["expires_at"], reply["expires_at"])
            self.assertLessEqual(exp - warned_at, 2.3)
            await expect_close(ws, 4003, timeout=4)
            closed_at = time.time()
            self.assertGreater(closed_at, exp - 0.5, "closed well before expiry")
            self.assertLess(closed_at, exp + 1.5)
        run(go())

    def test_refresh_before_expiry_prevents_close(self):
        async def go():
            ws = await connect(self.server)
            reply = await auth(ws, token("gina", "admin", ttl="3s"))
            self.assertTrue(reply["success"], reply)
            exp = parse_iso(reply["expires_at"])
            warn = await recv_json(ws, 2)
            self.assertEqual(warn["type"], "token_expiring", warn)
            reply = await auth(ws, token("gina", "admin", ttl="1h"))
            self.assertTrue(reply["success"], reply)
            # Past the old expiry: no token_expiring, no close.
            await expect_silence(ws, max(0.5, exp - time.time() + 1.0))
            await send(ws, {"type": "ping"})
            self.assertEqual((await recv_json(ws, 1))["type"], "pong")
            await ws.close()
        run(go())


class AuthorizationTest(ServerTestCase):
    admin_sub = "ingester"

    def ingest(self, device, metrics):
        return asyncio.to_thread(self.server.ingest, device, metrics, self.admin)

    def test_user_subscribing_uncovered_device_is_forbidden(self):
        async def go():
            ws = await connect(self.server, token_=token("hank", "user", devices="1,2"))
            for channel in ("telemetry", "alerts", "devices"):
                for dev in (3, [3, 4]):
                    r = await subscribe(ws, channel, id_=f"{channel}-{dev}", device_id=dev)
                    self.assertEqual(r["type"], "error", r)
                    self.assertEqual(r["error"], "forbidden", r)
                    self.assertEqual(r["id"], f"{channel}-{dev}")
                    self.assertIn("3", r["message"])
            # Nothing of the refused subscriptions was applied.
            await self.ingest(1, {"temperature": 1.0})
            await self.ingest(3, {"temperature": 1.0})
            await expect_silence(ws, 0.5)
            # Partly covered (an extension, docs/protocol.md): the covered device only, the
            # other named in `forbidden`.
            r = await subscribe(ws, "telemetry", id_="part", device_id=[1, 3])
            self.assertEqual((r["type"], r["filters"]["device_id"], r["forbidden"]),
                             ("subscribed", [1], [3]), r)
            await self.ingest(3, {"temperature": 2.0})
            await self.ingest(1, {"temperature": 3.0})
            msg = await recv_type(ws, "telemetry_update")
            self.assertEqual(msg["device_id"], 1)
            r = await subscribe(ws, "telemetry", id_="ok", device_id=[1, 2])
            self.assertEqual(r["type"], "subscribed", r)
            await ws.close()
        run(go())

    def test_subscription_to_everything_delivers_only_covered_devices(self):
        async def go():
            user = await connect(self.server, token_=token("ivy", "user", devices="1,2"))
            analyst = await connect(self.server, token_=token("jack", "analyst", devices="2"))
            admin = await connect(self.server, token_=token("kate", "admin"))
            for ws in (user, analyst, admin):
                r = await subscribe(ws, "telemetry", id_=1)
                self.assertEqual(r["type"], "subscribed", r)
            for dev in (1, 3, 2):
                await self.ingest(dev, {"temperature": float(dev)})
            got = {}
            for name, ws, expected in (("user", user, [1, 2]), ("analyst", analyst, [2]),
                                       ("admin", admin, [1, 3, 2])):
                got[name] = []
                for _ in expected:
                    upd = await recv_json(ws, 3)
                    self.assertEqual(upd["type"], "telemetry_update", upd)
                    got[name].append(upd["device_id"])
                await expect_silence(ws, 0.4)
                self.assertEqual(got[name], expected, name)
                await ws.close()
        run(go())

    def test_wildcard_devices_claim_covers_every_device(self):
        async def go():
            ws = await connect(self.server, token_=token("lena", "user", devices="*"))
            r = await subscribe(ws, "telemetry", id_=1, device_id=77)
            self.assertEqual(r["type"], "subscribed", r)
            await self.ingest(77, {"temperature": 7.0})
            upd = await recv_json(ws, 3)
            self.assertEqual(upd["device_id"], 77)
            await ws.close()
        run(go())

    def test_system_channel_needs_admin_or_operator(self):
        async def go():
            for role, allowed in (("admin", True), ("operator", True), ("analyst", False),
                                  ("user", False)):
                ws = await connect(self.server, token_=token(f"sys-{role}", role, devices="*"))
                r = await subscribe(ws, "system", id_=role)
                self.assertEqual(r["id"], role)
                if allowed:
                    self.assertEqual(r["type"], "subscribed", r)
                else:
                    self.assertEqual(r["type"], "error", r)
                    self.assertEqual(r["error"], "forbidden", r)
                    # ... and no system update arrives (samples are taken every second).
                    await expect_silence(ws, 1.3)
                await ws.close()
        run(go())

    def test_device_token_cannot_subscribe(self):
        async def go():
            ws = await connect(self.server)
            reply = await auth(ws, token("sensor-5", "device", device_id=5))
            self.assertTrue(reply["success"], reply)
            self.assertEqual(reply["role"], "device")
            for channel, extra in (("telemetry", {"device_id": 5}), ("telemetry", {}),
                                   ("alerts", {}), ("devices", {}), ("system", {})):
                r = await subscribe(ws, channel, id_=channel, **extra)
                self.assertEqual(r["type"], "error", r)
                self.assertEqual(r["error"], "forbidden", r)
                self.assertEqual(r["id"], channel)
            await ws.close()
        run(go())

    def test_per_channel_endpoint_refuses_role_without_access_visibly(self):
        # /ws/system for a user and /ws/telemetry for a device token: the endpoint's automatic
        # subscription is not allowed. The client must be told (an `error` `forbidden` after the
        # auth_response, or a failed auth_response with `forbidden`), not left silently
        # authenticated on a connection that will never deliver anything.
        async def go():
            for path, tok in (("/ws/system", token("ep-user", "user", devices="*")),
                              ("/ws/telemetry", token("ep-dev", "device", device_id=1))):
                ws = await connect(self.server, path)
                try:
                    reply = await auth(ws, tok, id_="ep")
                    self.assertEqual(reply["type"], "auth_response", reply)
                    if reply["success"]:
                        try:
                            msg = await recv_json(ws, 1.5)
                        except asyncio.TimeoutError:
                            msg = None
                        self.assertIsNotNone(
                            msg, f"{path}: authenticated but neither subscribed nor told why")
                        self.assertEqual(msg["type"], "error", (path, msg))
                        self.assertEqual(msg["error"], "forbidden", (path, msg))
                    else:
                        self.assertEqual(reply["error"], "forbidden", (path, reply))
                finally:
                    ws.transport.abort()
        run(go())

    def test_failed_refresh_closes_4001(self):
        async def go():
            ws = await connect(self.server, token_=token("olga", "admin"))
            reply = await auth(ws, token("olga", "admin", secret="not-the-secret"), id_="r")
            self.assertEqual(reply["type"], "auth_response", reply)
            self.assertIs(reply["success"], False, reply)
            self.assertEqual(reply["error"], "invalid_token", reply)
            self.assertEqual(reply["id"], "r")
            await expect_close(ws, 4001, timeout=3)
        run(go())

    def test_bearer_header_on_channel_endpoint(self):
        async def go():
            ws = await websockets.connect(
                self.ws_url("/ws/telemetry"),
                close_timeout=1,
                extra_headers={"Authorization": "Bearer " + token("pat", "user", devices="6")})
            reply = await recv_json(ws, 1)
            self.assertEqual((reply["type"], reply["success"]), ("auth_response", True), reply)
            sub = await recv_json(ws, 1)
            self.assertEqual(sub, {"type": "subscribed", "channel": "telemetry",
                                   "filters": {"frequency": "real-time"}})
            await self.ingest(5, {"temperature": 5.0})
            await self.ingest(6, {"temperature": 6.0})
            upd = await recv_json(ws, 3)
            self.assertEqual((upd["type"], upd["device_id"]), ("telemetry_update", 6), upd)
            await ws.close()
        run(go())


class PerUserLimitTest(unittest.TestCase):
    def test_third_connection_of_same_user_closed_4029(self):
        with Server({"limits": {"max_connections_per_user": 2}}) as s:
            async def go():
                tok = token("mike", "user", devices="1")
                a = await connect(s, token_=tok)
                b = await connect(s, token_=tok)
                c = await connect(s)
                reply = await auth(c, tok, id_="third")
                self.assertEqual(reply["type"], "auth_response", reply)
                self.assertIs(reply["success"], False, reply)
                self.assertEqual(reply["error"], "too_many_connections", reply)
                self.assertEqual(reply["id"], "third")
                await expect_close(c, 4029, timeout=3)
                # The limit is per user: another user still connects.
                other = await connect(s, token_=token("nina", "user", devices="1"))
                # The first two are untouched.
                for ws in (a, b):
                    await send(ws, {"type": "ping"})
                    self.assertEqual((await recv_json(ws, 1))["type"], "pong")
                # After one closes, a new connection of the same user works.
                await a.close()
                deadline = time.monotonic() + 2
                while True:
                    d = await connect(s)
                    reply = await auth(d, tok)
                    if reply["success"] or time.monotonic() > deadline:
                        break
                    await asyncio.sleep(0.1)
                self.assertTrue(reply["success"], reply)
                for ws in (b, d, other):
                    await ws.close()
            run(go())


if __name__ == "__main__":
    unittest.main()
