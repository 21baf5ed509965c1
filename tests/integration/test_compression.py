"""Issue 15, permessage-deflate (RFC 7692) against the real server: the negotiation (what is
accepted, declined, and what the server answers), the frames themselves read off a raw socket
and decompressed with Python's zlib (RSV1 set on updates of at least server.deflate_min_bytes,
not on short messages; each connection's own `seq` suffix decodes after the shared compressed
part), messages the client compresses, a compressed message that inflates past the limit
(1009), and the `websockets` library's own negotiation. (Every other Python test runs with
`websockets`' default, permessage-deflate on, so the whole suite exercises it too.)"""
import base64
import json
import os
import socket
import struct
import threading
import unittest
import zlib

import websockets

from cli_clients import Listen, Relay
from harness import ServerTestCase, connect, recv_type, run, subscribe


def mask(payload):
    key = os.urandom(4)
    return key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


def client_frame(payload, opcode=0x1, rsv1=False):
    head = bytes([0x80 | (0x40 if rsv1 else 0) | opcode])
    n = len(payload)
    if n < 126:
        head += bytes([0x80 | n])
    elif n < 65536:
        head += bytes([0x80 | 126]) + struct.pack(">H", n)
    else:
        head += bytes([0x80 | 127]) + struct.pack(">Q", n)
    return head + mask(payload)


def deflate(data):
    c = zlib.compressobj(wbits=-15)
    out = c.compress(data) + c.flush(zlib.Z_SYNC_FLUSH)
    assert out.endswith(b"\x00\x00\xff\xff")
    return out[:-4]


def inflate(data):
    return zlib.decompressobj(wbits=-15).decompress(data + b"\x00\x00\xff\xff")


class RawClient:
    """A WebSocket client on a plain socket: the handshake's headers and each frame's bits."""

    def __init__(self, port, extensions=None):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        key = base64.b64encode(os.urandom(16)).decode()
        lines = ["GET /ws HTTP/1.1", f"Host: 127.0.0.1:{port}", "Upgrade: websocket",
                 "Connection: Upgrade", f"Sec-WebSocket-Key: {key}", "Sec-WebSocket-Version: 13"]
        if extensions:
            lines.append(f"Sec-WebSocket-Extensions: {extensions}")
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        self.buf = b""
        while b"\r\n\r\n" not in self.buf:
            self.buf += self.sock.recv(4096)
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        self.status = head.split(b"\r\n")[0].decode()
        self.headers = {}
        for line in head.split(b"\r\n")[1:]:
            k, v = line.decode().split(":", 1)
            self.headers[k.strip().lower()] = v.strip()

    def send(self, obj, compressed=False):
        data = json.dumps(obj).encode()
        self.sock.sendall(client_frame(deflate(data) if compressed else data, rsv1=compressed))

    def _need(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed")
            self.buf += chunk

    def frame(self):
        """(rsv1, opcode, payload as sent)."""
        self._need(2)
        b0, b1 = self.buf[0], self.buf[1]
        n, at = b1 & 0x7F, 2
        if n == 126:
            self._need(4)
            n, at = struct.unpack(">H", self.buf[2:4])[0], 4
        elif n == 127:
            self._need(10)
            n, at = struct.unpack(">Q", self.buf[2:10])[0], 10
        self._need(at + n)
        payload, self.buf = self.buf[at:at + n], self.buf[at + n:]
        return bool(b0 & 0x40), b0 & 0x0F, payload

    def message(self):
        """(was it compressed, the JSON message)."""
        rsv1, op, payload = self.frame()
        assert op == 0x1, (op, payload)
        return rsv1, json.loads(inflate(payload) if rsv1 else payload)

    def close(self):
        self.sock.close()


class CompressionTest(ServerTestCase):
    config = {"server": {"deflate_min_bytes": 100}}

    def raw(self, extensions=None):
        c = RawClient(self.server.port, extensions)
        self.addCleanup(c.close)
        return c

    def test_the_answer_to_each_offer(self):
        full = "permessage-deflate; server_no_context_takeover; client_no_context_takeover"
        cases = [
            ("permessage-deflate", full),
            ("permessage-deflate; client_max_window_bits", full),
            ("permessage-deflate; server_max_window_bits=10", full + "; server_max_window_bits=10"),
            ("permessage-deflate; server_max_window_bits=8", None),  # zlib cannot: declined
            ("permessage-deflate; server_max_window_bits=8, permessage-deflate", full),
            ("permessage-deflate; unknown_param", None),
            ("permessage-deflate; server_no_context_takeover; server_no_context_takeover", None),
            ("x-webkit-deflate-frame", None),
            (None, None),
        ]
        for offer, answer in cases:
            c = self.raw(offer)
            self.assertEqual(c.status, "HTTP/1.1 101 Switching Protocols", offer)
            self.assertEqual(c.headers.get("sec-websocket-extensions"), answer, offer)

    def test_frames_are_compressed_shared_part_then_own_suffix(self):
        c = self.raw("permessage-deflate; server_max_window_bits=10")
        c.send({"type": "auth", "token": self.admin})  # short: sent as is by us
        rsv1, reply = c.message()
        self.assertEqual(reply["type"], "auth_response")
        # A compressed request: the server inflates it.
        c.send({"type": "subscribe", "channel": "telemetry", "device_id": 501,
                "id": "z" * 150}, compressed=True)
        rsv1, reply = c.message()
        self.assertEqual((reply["type"], reply["id"]), ("subscribed", "z" * 150))
        self.assertTrue(rsv1, "a reply over deflate_min_bytes is compressed")
        for i in range(3):
            self.server.ingest(501, {"temperature": 20 + i, "humidity": 40}, self.admin)
        for i in range(3):
            rsv1, update = c.message()
            self.assertTrue(rsv1)
            self.assertEqual(update["telemetry"]["temperature"]["value"], 20 + i)
            self.assertEqual(update["seq"], i + 1)
        # Short messages go as they are.
        c.send({"type": "ping", "id": 1})
        rsv1, pong = c.message()
        self.assertEqual(pong["type"], "pong")
        self.assertFalse(rsv1, "under deflate_min_bytes: uncompressed")

    def test_a_compressed_message_past_the_limit_closes_1009(self):
        c = self.raw("permessage-deflate")
        bomb = json.dumps({"type": "ping", "pad": "a" * 200_000}).encode()
        c.sock.sendall(client_frame(deflate(bomb), rsv1=True))  # ~1 KB on the wire
        rsv1, op, payload = c.frame()
        self.assertEqual(op, 0x8)
        self.assertEqual(struct.unpack(">H", payload[:2])[0], 1009)

    def test_rsv1_without_the_extension_is_a_protocol_error(self):
        c = self.raw(None)
        c.sock.sendall(client_frame(deflate(b'{"type":"ping"}'), rsv1=True))
        rsv1, op, payload = c.frame()
        self.assertEqual((op, struct.unpack(">H", payload[:2])[0]), (0x8, 1002))

    def test_the_websockets_library_negotiates_it(self):
        async def go():
            ws = await connect(self.server, token_=self.admin)
            self.assertIn("permessage-deflate",
                          ws.response_headers.get("Sec-WebSocket-Extensions", ""))
            await subscribe(ws, "telemetry", id_=1, device_id=502)
            self.server.ingest(502, {"t": 1.5}, self.admin)
            msg = await recv_type(ws, "telemetry_update")
            self.assertEqual(msg["telemetry"]["t"]["value"], 1.5)
            await ws.close()
            plain = await websockets.connect(self.server.url + "/ws", compression=None)
            self.assertIsNone(plain.response_headers.get("Sec-WebSocket-Extensions"))
            await plain.close()
        run(go())

    def test_listen_negotiates_it_through_the_cpp_sdk(self):
        # A loopback relay between `listen` (the C++ SDK, Beast's permessage-deflate) and the
        # server records the handshake's answer; then an update still arrives whole.
        for flag, want in (((), True), (("--no-compression",), False)):
            relay = Relay(self.server.port)
            self.addCleanup(relay.close)
            with Listen(f"ws://127.0.0.1:{relay.port}", "--token", self.admin, "--json", "-q",
                        *flag, "-s", "telemetry:device_id=503") as listen:
                listen.wait_for(lambda l: l.of_type("subscribed"), what="subscribed")
                self.server.ingest(503, {"t": 7.25, "pad": 1}, self.admin)
                update = listen.wait_for(lambda l: l.of_type("telemetry_update"),
                                         what="an update")[0]
                self.assertEqual(update["telemetry"]["t"]["value"], 7.25)
            self.assertEqual(b"permessage-deflate" in relay.first_answer(), want, flag)


if __name__ == "__main__":
    unittest.main()
