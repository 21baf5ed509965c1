"""Issue 15, coalesced frames, against the real server with Python's `websockets` (a client we
did not write): `hello` names the features the server applies (unknown ones are left out, a bad
list is invalid_message); after it a burst of updates arrives as JSON array frames, compressed
(permessage-deflate, websockets' default) or not, every message whole, in seq order, none lost;
without hello every frame is one object, as the spec has it; `listen` (the C++ SDK) prints each
message of an array on its own line."""
import asyncio
import json
import unittest

from cli_clients import Listen, Relay
from harness import ServerTestCase, connect, recv_json, run, subscribe

BURST = 300


async def frames_of_burst(server, admin, hello, **connect_args):
    """Connects, optionally says hello, subscribes to telemetry, publishes BURST updates in one
    request and returns the frames (parsed JSON) that carried them."""
    ws = await connect(server, **connect_args)
    try:
        if hello:
            await ws.send(json.dumps({"type": "hello", "features": ["coalesce"], "id": "h"}))
            reply = await recv_json(ws)
            assert reply == {"type": "hello", "features": ["coalesce"], "id": "h"}, reply
        await ws.send(json.dumps({"type": "auth", "token": admin}))
        reply = await recv_json(ws)
        assert reply["type"] == "auth_response" and reply["success"], reply
        r = await subscribe(ws, "telemetry", id_=1)
        assert r["type"] == "subscribed", r
        items = [{"device_id": d, "metric_name": "level", "metric_value": d}
                 for d in range(1, BURST + 1)]
        status, body = await asyncio.to_thread(
            server.request, "POST", "/api/v1/telemetry/batch", {"telemetry_data": items}, admin)
        assert status == 202, body
        frames, count = [], 0
        while count < BURST:
            frame = json.loads(await asyncio.wait_for(ws.recv(), 10))
            frames.append(frame)
            count += len(frame) if isinstance(frame, list) else 1
        return frames
    finally:
        await ws.close()


class CoalescingTest(ServerTestCase):
    def check_burst(self, frames):
        messages = [m for f in frames for m in (f if isinstance(f, list) else [f])]
        self.assertEqual([m["type"] for m in messages], ["telemetry_update"] * BURST)
        self.assertEqual([m["device_id"] for m in messages], list(range(1, BURST + 1)))
        self.assertEqual([m["seq"] for m in messages], list(range(1, BURST + 1)))
        for f in frames:
            if isinstance(f, list):
                self.assertGreaterEqual(len(f), 2, "an array holds two messages at least")
                self.assertLessEqual(len(f), 64)

    def test_a_burst_comes_as_arrays_compressed(self):
        frames = run(frames_of_burst(self.server, self.admin, hello=True))
        self.check_burst(frames)
        self.assertLess(len(frames), BURST // 4, f"{BURST} updates in {len(frames)} frames")
        print(f"compressed: {BURST} updates in {len(frames)} frames")

    def test_a_burst_comes_as_arrays_uncompressed(self):
        frames = run(frames_of_burst(self.server, self.admin, hello=True, compression=None))
        self.check_burst(frames)
        self.assertLess(len(frames), BURST // 4, f"{BURST} updates in {len(frames)} frames")

    def test_without_hello_every_frame_is_one_message(self):
        frames = run(frames_of_burst(self.server, self.admin, hello=False))
        self.check_burst(frames)
        self.assertEqual(len(frames), BURST)
        self.assertTrue(all(isinstance(f, dict) for f in frames))

    def test_hello_answers_what_it_applies_and_refuses_a_bad_list(self):
        async def go():
            ws = await connect(self.server)
            try:
                await ws.send(json.dumps({"type": "hello", "features": ["msgpack", "later"]}))
                self.assertEqual(await recv_json(ws), {"type": "hello", "features": []})
                await ws.send(json.dumps({"type": "hello"}))
                self.assertEqual(await recv_json(ws), {"type": "hello", "features": []})
                for bad in ("coalesce", [1], [None], ["x" * 65], ["f"] * 17):
                    await ws.send(json.dumps({"type": "hello", "features": bad, "id": 5}))
                    reply = await recv_json(ws)
                    self.assertEqual(reply["type"], "error", (bad, reply))
                    self.assertEqual(reply["error"], "invalid_message", (bad, reply))
                    self.assertEqual(reply["id"], 5)
                    self.assertIn("features", reply["message"])
                # Still unauthenticated and still served: a ping answers as a single object.
                await ws.send(json.dumps({"type": "ping", "id": 6}))
                reply = await recv_json(ws)
                self.assertEqual((reply["type"], reply["id"]), ("pong", 6))
            finally:
                await ws.close()
        run(go())

    def test_listen_asks_for_arrays_and_prints_each_message(self):
        # Through a relay that keeps the server's bytes (uncompressed: --no-compression), so
        # that the frames `listen` (the C++ SDK) received can be read here.
        for flag, arrays_wanted in (((), True), (("--no-coalesce",), False)):
            relay = Relay(self.server.port)
            self.addCleanup(relay.close)
            with Listen(f"ws://127.0.0.1:{relay.port}", "--token", self.admin, "--json", "-q",
                        "--no-compression", *flag, "-s", "telemetry") as listen:
                listen.wait_for(lambda l: l.of_type("subscribed"), what="subscribed")
                items = [{"device_id": d, "metric_name": "level", "metric_value": d}
                         for d in range(1, 101)]
                status, body = self.server.request("POST", "/api/v1/telemetry/batch",
                                                   {"telemetry_data": items}, self.admin)
                self.assertEqual(status, 202, body)
                updates = listen.wait_for(
                    lambda l: len(l.of_type("telemetry_update")) >= 100 and
                    l.of_type("telemetry_update"), what="100 updates")
            self.assertEqual([u["device_id"] for u in updates], list(range(1, 101)), flag)
            self.assertEqual([u["seq"] for u in updates], list(range(1, 101)), flag)
            arrays = [p for op, p in relay.frames() if op == 1 and p.startswith(b"[")]
            self.assertEqual(bool(arrays), arrays_wanted, flag)

if __name__ == "__main__":
    unittest.main()
