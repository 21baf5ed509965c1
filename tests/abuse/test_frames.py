"""Frame-level abuse from raw sockets (RFC 6455 broken on purpose): a ping flood from a client
that reads (the control frame rate, close 4008), oversized messages (1009), fragmented messages
(assembled; oversized when their fragments add up, 1009; a continuation with no first fragment,
1002), invalid UTF-8 (1007) and binary frames (1003). Each case also checks that a well-behaved
bystander keeps receiving its readings on time meanwhile."""

import json
import socket
import threading
import time
import unittest

from abuse_support import AbuseTestCase, close_code_of, frame, read_frames, ws_open

TEXT, BINARY, CONT, PING, PONG = 0x1, 0x2, 0x0, 0x9, 0xA


class ControlFrameFlood(AbuseTestCase):
    # A short flood_close_after keeps the test fast; the rate is the default (20 a second).
    config = {"limits": {"flood_close_after": "1s"}}

    def test_read_side_ping_flood_closes_4008(self):
        with self.bystander() as b:
            s = ws_open(self.server.port)
            stop = threading.Event()
            sent = [0]

            def flood():
                batch = frame(PING, b"x") * 200
                s.settimeout(0.2)
                while not stop.is_set():
                    try:
                        s.sendall(batch)
                        sent[0] += 200
                    except (socket.timeout, OSError):
                        # Closed for abuse: the server reads no more, its buffers fill.
                        time.sleep(0.05)

            t0 = time.monotonic()
            flooder = threading.Thread(target=flood, daemon=True)
            flooder.start()
            frames = read_frames(s, timeout=8)  # reads everything, as a well-behaved peer would
            took = time.monotonic() - t0
            time.sleep(1.5)  # the bystander keeps going during the close linger
            stop.set()
            flooder.join(5)
            s.close()
            b.assert_on_time(self, "read-side ping flood")
        code, reason = close_code_of(frames)
        pongs = sum(1 for op, _ in frames if op == PONG)
        print(f"\n  [ping flood] {sent[0]} pings sent, {pongs} pongs, close {code} after "
              f"{took:.1f}s ({reason})")
        self.assertEqual(code, 4008, f"no 4008 after {sent[0]} pings: {frames[-3:]}")
        self.assertIn("control frame", reason)
        self.assertLess(pongs, 200, "pings beyond the rate must not be answered")

    def test_pings_within_the_rate_are_answered(self):
        s = ws_open(self.server.port)
        try:
            for i in range(10):
                s.sendall(frame(PING, f"k{i}".encode()))
                s.settimeout(2)
                data = s.recv(64)
                self.assertEqual(data[0] & 0x0F, PONG, data)
                self.assertEqual(data[2:], f"k{i}".encode())
                time.sleep(0.1)
        finally:
            s.close()


class MalformedFrames(AbuseTestCase):
    # The documented defaults: max_message_bytes 1024, max_batch_bytes 51200.

    def expect_close(self, chunks, code, label):
        with self.bystander() as b:
            s = ws_open(self.server.port)
            try:
                for c in chunks:
                    s.sendall(c)
                frames = read_frames(s, timeout=5)
                time.sleep(1)  # the bystander keeps going during the close linger
            finally:
                s.close()
            b.assert_on_time(self, label)
        got, reason = close_code_of(frames)
        self.assertEqual(got, code, f"{label}: {frames}")
        return reason, frames

    def test_oversized_frame_1009(self):
        # The header alone announces too much: refused before the payload is read.
        self.expect_close([frame(TEXT, b'{"type":"ping","pad":"' + b"x" * 2000 + b'"}')],
                          1009, "oversized frame")

    def test_oversized_announced_length_1009(self):
        head = bytes([0x81, 0x80 | 127]) + (10 ** 12).to_bytes(8, "big") + b"\0\0\0\0"
        self.expect_close([head], 1009, "frame announcing 1 TB")

    def test_fragmented_message_is_assembled(self):
        msg = json.dumps({"type": "ping", "id": "frag"}).encode()
        with self.bystander() as b:
            s = ws_open(self.server.port)
            try:
                s.sendall(frame(TEXT, msg[:5], fin=False))
                s.sendall(frame(PING, b"between"))  # control frames may interleave
                s.sendall(frame(CONT, msg[5:12], fin=False))
                s.sendall(frame(CONT, msg[12:], fin=True))
                frames = read_frames(s, timeout=1, until_close=False)
            finally:
                s.close()
            b.assert_on_time(self, "fragmented message")
        self.assertIn((PONG, b"between"), frames)
        texts = [json.loads(p) for op, p in frames if op == TEXT]
        self.assertEqual([(t["type"], t.get("id")) for t in texts], [("pong", "frag")])

    def test_oversized_fragmented_message_1009(self):
        chunks = [frame(TEXT, b'{"type":"ping","pad":"', fin=False)]
        chunks += [frame(CONT, b"x" * 400, fin=False) for _ in range(3)]
        chunks += [frame(CONT, b'"}', fin=True)]
        self.expect_close(chunks, 1009, "oversized fragmented message")

    def test_continuation_without_a_start_1002(self):
        self.expect_close([frame(CONT, b'{"type":"ping"}', fin=True)], 1002,
                          "continuation without a start")

    def test_invalid_utf8_1007(self):
        self.expect_close([frame(TEXT, b'{"type":"ping","id":"\xc3\x28"}')], 1007, "invalid UTF-8")

    def test_invalid_utf8_split_across_fragments_1007(self):
        self.expect_close([frame(TEXT, b'{"type":"ping","id":"\xe2\x82', fin=False),
                           frame(CONT, b'x"}', fin=True)], 1007, "invalid UTF-8 in fragments")

    def test_binary_frame_1003(self):
        reason, _ = self.expect_close([frame(BINARY, b'{"type":"ping"}')], 1003, "binary frame")
        self.assertIn("text frames", reason)


if __name__ == "__main__":
    unittest.main()
