"""Issue 15, MessagePack, against the real server with Python's `websockets` and Debian's
`python3-msgpack` (clients we did not write): the subprotocol negotiation (the client's first
one the server speaks; none named: JSON as the spec has it; only unknown ones: 400 naming the
supported ones), every message the same as its JSON twin field for field (replies, updates with
their own seq, acknowledged alerts with delivery ids), with and without permessage-deflate,
coalesced bursts as MessagePack arrays, bad MessagePack answered with an error while the
connection stays, and `listen --msgpack` (the C++ SDK) printing the messages as JSON."""
import asyncio
import base64
import json
import os
import socket
import unittest
import unittest.mock

import msgpack
import websockets

from cli_clients import Listen, Relay
from domain_helpers import RestMixin
from harness import ServerTestCase, connect, expect_close, recv_json, run, subscribe

MSGPACK = "valtronics.msgpack"


async def recv_msgpack(ws, timeout=5):
    frame = await asyncio.wait_for(ws.recv(), timeout)
    assert isinstance(frame, bytes), f"a text frame on a MessagePack connection: {frame!r}"
    return msgpack.unpackb(frame)


async def send_msgpack(ws, message):
    await ws.send(msgpack.packb(message))


async def recv_until(ws, type_, recv, timeout=5):
    while True:
        m = await recv(ws, timeout)
        if m.get("type") == type_:
            return m


async def connect_msgpack(server, token_=None, **kwargs):
    ws = await websockets.connect(server.url + "/ws", subprotocols=[MSGPACK], max_size=2**22,
                                  **kwargs)
    assert ws.subprotocol == MSGPACK, ws.subprotocol
    if token_ is not None:
        await send_msgpack(ws, {"type": "auth", "token": token_})
        reply = await recv_msgpack(ws)
        assert reply["type"] == "auth_response" and reply["success"], reply
    return ws


def handshake(port, protocols):
    """A raw upgrade request offering `protocols`: (status line, headers, body)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall((f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                  f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                  f"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: {protocols}\r\n\r\n")
                 .encode())
    data = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
        if b"\r\n\r\n" in data and b" 101 " in data.split(b"\r\n", 1)[0]:
            break
    sock.close()
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    headers = {k.lower(): v.strip() for k, v in (l.split(":", 1) for l in lines[1:])}
    return lines[0], headers, body


class MsgpackTest(RestMixin, ServerTestCase):
    config = {"alerts": {"ack_timeout": "1s"}}
    admin_sub = "msgpack-admin"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        status, reply = cls.server.request(
            "POST", "/api/v1/alert-rules",
            {"name": "Packed", "metric": "packed", "condition": "gt", "threshold": 10,
             "severity": "warning"}, cls.admin)
        assert status == 201, reply

    def test_the_handshake_takes_the_first_offered_subprotocol_it_speaks(self):
        status, headers, _ = handshake(self.server.port, "x-other, valtronics.msgpack")
        self.assertIn(" 101 ", status)
        self.assertEqual(headers["sec-websocket-protocol"], MSGPACK)
        status, headers, _ = handshake(self.server.port,
                                       "valtronics.json, valtronics.msgpack")
        self.assertEqual(headers["sec-websocket-protocol"], "valtronics.json")

        async def json_when_asked():
            ws = await websockets.connect(self.server.url + "/ws",
                                          subprotocols=["valtronics.json"])
            self.assertEqual(ws.subprotocol, "valtronics.json")
            await ws.send(json.dumps({"type": "ping", "id": 1}))
            self.assertEqual((await recv_json(ws))["type"], "pong")  # a text frame
            await ws.close()
        run(json_when_asked())

    def test_only_unknown_subprotocols_are_refused_with_the_supported_ones(self):
        status, headers, body = handshake(self.server.port, "mqtt, graphql-ws")
        self.assertIn(" 400 ", status)
        self.assertNotIn("sec-websocket-protocol", headers)
        error = json.loads(body)["error"]
        self.assertIn("mqtt, graphql-ws", error["message"])
        self.assertEqual(error["details"]["supported"], ["valtronics.json", MSGPACK])

    def check_same_messages(self, compression, device):
        """A JSON client and a MessagePack client subscribe alike; every message they get is
        the same, field for field. (A device per test: its rule's alert stays active.)"""
        async def scenario():
            kwargs = {} if compression else {"compression": None}
            plain = await connect(self.server, token_=self.admin, **kwargs)
            packed = await connect_msgpack(self.server, token_=self.admin, **kwargs)
            received = []
            for ws, send, recv in ((plain, lambda ws, m: ws.send(json.dumps(m)), recv_json),
                                   (packed, send_msgpack, recv_msgpack)):
                got = []
                for m in ({"type": "subscribe", "channel": "telemetry", "device_id": device,
                           "id": "t"},
                          {"type": "subscribe", "channel": "alerts", "device_id": device,
                           "id": "a"},
                          {"type": "ping", "timestamp": 12.5, "id": "p"}):
                    await send(ws, m)
                    reply = await recv(ws)
                    if reply["type"] == "pong":
                        reply.pop("server_time")
                    got.append(reply)
                received.append((ws, recv, got))
            # Long enough to be compressed (server.deflate_min_bytes), the readings' values of
            # every JSON number type.
            await self.aingest(device, {"packed": 25, "level": -3, "ratio": 0.125,
                                    "a_long_metric_name_to_pass_the_compression_threshold": 1e21})
            for ws, recv, got in received:
                # The update and the alert, whichever comes first (the alert is published
                # once stored), kept in that order.
                seen = {}
                while len(seen) < 2:
                    m = await recv(ws)
                    if m["type"] in ("telemetry_update", "alert"):
                        seen[m["type"]] = m
                got += [seen["telemetry_update"], seen["alert"]]
            self.assertEqual(received[0][2], received[1][2])
            update = received[1][2][3]
            self.assertEqual(update["seq"], 1)
            self.assertEqual(update["telemetry"]["level"]["value"], -3)
            self.assertEqual(update["telemetry"]["ratio"]["value"], 0.125)
            for ws, _, _ in received:
                await ws.close()
        run(scenario())

    def test_every_message_is_its_json_twin_compressed(self):
        self.check_same_messages(compression=True, device=71)

    def test_every_message_is_its_json_twin_uncompressed(self):
        self.check_same_messages(compression=False, device=74)

    def test_acknowledged_alerts_carry_delivery_ids_and_take_packed_acks(self):
        async def scenario():
            ws = await connect_msgpack(self.server, token_=self.admin)
            await send_msgpack(ws, {"type": "subscribe", "channel": "alerts", "device_id": 72,
                                    "ack": True, "id": "s"})
            self.assertEqual((await recv_msgpack(ws))["type"], "subscribed")
            await self.aingest(72, {"packed": 40})
            first = await recv_until(ws, "alert", recv_msgpack)
            self.assertEqual(first["delivery_id"], 1)
            again = await recv_until(ws, "alert", recv_msgpack, timeout=4)
            self.assertEqual((again["delivery_id"], again["redelivered"], again["seq"]),
                             (1, True, first["seq"] + 1))
            await send_msgpack(ws, {"type": "ack", "delivery_id": 1, "id": "k"})
            await send_msgpack(ws, {"type": "ping", "id": "after"})
            # Acknowledged: nothing more comes than the pong (ack has no reply on success).
            self.assertEqual(await recv_msgpack(ws, 3), {"type": "pong", "timestamp": None,
                                                         "server_time": unittest.mock.ANY,
                                                         "id": "after"})
            with self.assertRaises(asyncio.TimeoutError):
                await recv_msgpack(ws, 1.5)
            await ws.close()
        run(scenario())

    def test_a_burst_comes_as_messagepack_arrays_after_hello(self):
        burst = 200

        async def scenario():
            ws = await connect_msgpack(self.server)
            await send_msgpack(ws, {"type": "hello", "features": ["coalesce"], "id": "h"})
            self.assertEqual(await recv_msgpack(ws),
                             {"type": "hello", "features": ["coalesce"], "id": "h"})
            await send_msgpack(ws, {"type": "auth", "token": self.admin})
            self.assertTrue((await recv_msgpack(ws))["success"])
            await send_msgpack(ws, {"type": "subscribe", "channel": "telemetry", "id": 1})
            self.assertEqual((await recv_msgpack(ws))["type"], "subscribed")
            items = [{"device_id": 1000 + d, "metric_name": "level", "metric_value": d}
                     for d in range(burst)]
            status, body = await asyncio.to_thread(
                self.server.request, "POST", "/api/v1/telemetry/batch",
                {"telemetry_data": items}, self.admin)
            self.assertEqual(status, 202, body)
            frames, messages = 0, []
            while len(messages) < burst:
                got = await recv_msgpack(ws)
                frames += 1
                messages += got if isinstance(got, list) else [got]
            await ws.close()
            return frames, messages

        frames, messages = run(scenario())
        self.assertEqual([m["device_id"] for m in messages], [1000 + d for d in range(burst)])
        self.assertEqual([m["seq"] for m in messages], list(range(1, burst + 1)))
        self.assertLess(frames, burst // 4, f"{burst} updates in {frames} frames")

    def test_bad_messagepack_is_answered_and_the_connection_stays(self):
        async def scenario():
            ws = await connect_msgpack(self.server)
            await ws.send(b"\xc1")
            err = await recv_msgpack(ws)
            self.assertEqual((err["type"], err["error"]), ("error", "invalid_json"))
            self.assertIn("not valid MessagePack", err["message"])
            await ws.send(msgpack.packb({"type": "ping"}) + b"\x00")
            self.assertIn("more than one value", (await recv_msgpack(ws))["message"])
            await ws.send(msgpack.packb({"type": "ping", "id": b"raw"}, use_bin_type=True))
            self.assertIn("binary values", (await recv_msgpack(ws))["message"])
            await send_msgpack(ws, [1, 2])
            self.assertEqual((await recv_msgpack(ws))["error"], "invalid_json")
            await send_msgpack(ws, {"type": "subscribe", "channel": "weather"})
            self.assertEqual((await recv_msgpack(ws))["error"], "unknown_channel")
            # A JSON text frame is read too; the answer is MessagePack like every other.
            await ws.send(json.dumps({"type": "ping", "id": "text"}))
            self.assertEqual((await recv_msgpack(ws))["id"], "text")
            # A batch is one MessagePack map holding the messages (the SDKs restore
            # subscriptions this way); each is answered in order.
            await send_msgpack(ws, {"type": "auth", "token": self.admin})
            self.assertTrue((await recv_msgpack(ws))["success"])
            await send_msgpack(ws, {"type": "batch", "messages": [
                {"type": "ping", "id": "b1"}, {"type": "subscribe", "channel": "x", "id": "b2"}]})
            first, second = await recv_msgpack(ws), await recv_msgpack(ws)
            self.assertEqual((first["type"], first["id"]), ("pong", "b1"))
            self.assertEqual((second["error"], second["id"]), ("unknown_channel", "b2"))
            await ws.close()
        run(scenario())

    def test_the_size_limits_count_messagepack_bytes(self):
        # limits.max_message_bytes (1 KB) for a message, max_batch_bytes (50 KB) for a batch,
        # both counted in MessagePack bytes.
        async def scenario():
            ws = await connect_msgpack(self.server, token_=self.admin)
            pings = [{"type": "ping", "id": f"p{i}", "timestamp": "x" * 60} for i in range(40)]
            batch = msgpack.packb({"type": "batch", "messages": pings})
            self.assertGreater(len(batch), 1024)
            await ws.send(batch)
            ids = [(await recv_msgpack(ws))["id"] for _ in pings]
            self.assertEqual(ids, [p["id"] for p in pings])
            await send_msgpack(ws, {"type": "ping", "timestamp": "x" * 1100})
            await expect_close(ws, 1009)
        run(scenario())

    def test_binary_frames_still_close_a_json_connection_with_1003(self):
        async def scenario():
            ws = await connect(self.server)
            await ws.send(msgpack.packb({"type": "ping"}))
            with self.assertRaises(websockets.exceptions.ConnectionClosed) as closed:
                await asyncio.wait_for(ws.recv(), 5)
            self.assertEqual(closed.exception.rcvd.code, 1003)
            self.assertIn("valtronics.msgpack", closed.exception.rcvd.reason)
        run(scenario())

    def test_listen_exchanges_messagepack_and_prints_json(self):
        # Through a relay that keeps the server's bytes (uncompressed: --no-compression), so
        # that the frames `listen` received can be read here.
        relay = Relay(self.server.port)
        self.addCleanup(relay.close)
        with Listen(f"ws://127.0.0.1:{relay.port}", "--token", self.admin, "--json", "-q",
                    "--no-compression", "--msgpack", "-s", "telemetry:device_id=73") as listen:
            listen.wait_for(lambda l: l.of_type("subscribed"), what="subscribed")
            self.ingest(73, {"level": 4.25})
            update = listen.wait_for(lambda l: l.of_type("telemetry_update"),
                                     what="the update")[0]
        self.assertEqual((update["device_id"], update["telemetry"]["level"]["value"],
                          update["seq"]), (73, 4.25, 1))
        self.assertIn(b"Sec-WebSocket-Protocol: valtronics.msgpack", relay.first_answer())
        frames = relay.frames()
        self.assertEqual([op for op, _ in frames if op == 1], [], "no text frame")
        received = []
        for opcode, payload in frames:
            if opcode == 2:
                value = msgpack.unpackb(payload)
                received += value if isinstance(value, list) else [value]
        self.assertIn(update, received, "printed as the server sent it")


if __name__ == "__main__":
    unittest.main()
