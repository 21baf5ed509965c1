"""Shared tools of the abuse suite (tests/abuse/): raw sockets that speak HTTP and WebSocket
frames by hand (an attacker's view: nothing a client library would refuse to send), and a
well-behaved bystander that must keep receiving its readings on time while the abuse runs.

The bystander subscribes to one device's telemetry over a real `websockets` client; a feeder
posts a reading for that device every `period` seconds over HTTP and notes when; the bystander
notes when each arrives. `report()` gives the readings' delivery latencies; tests assert that
every reading arrived, each within a generous bound (the suite runs on a loaded 2-core machine),
and print the measured numbers."""

import asyncio
import base64
import http.client
import json
import os
import socket
import struct
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration"))
import harness  # noqa: E402
import websockets  # noqa: E402

# A reading is "on time" within this (measured and printed; asserted only this loosely).
ON_TIME = 2.0

# Under a sanitizer (tests/sanitizers/run-ctest sets VALTRONICS_SANITIZER) the server's RSS also
# holds shadow memory and ASan's quarantine of freed blocks: memory bounds are printed, not
# asserted, and everything else is checked as usual.
RSS_CHECKED = not os.environ.get("VALTRONICS_SANITIZER")


def ws_key():
    return base64.b64encode(os.urandom(16)).decode()


def raw_connect(port, timeout=5):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def read_http_response(s, timeout=5):
    """Reads one HTTP response (head and Content-Length body); returns (status, headers, body).
    Status None when the server closed without answering."""
    s.settimeout(timeout)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(65536)
        if not chunk:
            return None, {}, data
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    length = int(headers.get("content-length", "0"))
    while len(rest) < length:
        chunk = s.recv(65536)
        if not chunk:
            break
        rest += chunk
    return status, headers, rest[:length]


def http_exchange(port, raw, timeout=5):
    """Sends raw request bytes on a fresh connection; returns (status, headers, body bytes,
    closed) where `closed` says whether the server closed the connection after its answer."""
    s = raw_connect(port, timeout)
    try:
        s.sendall(raw)
        status, headers, body = read_http_response(s, timeout)
        s.settimeout(1.0)
        try:
            closed = s.recv(65536) == b""
        except socket.timeout:
            closed = False
        except ConnectionResetError:
            closed = True
        return status, headers, body, closed
    finally:
        s.close()


def upgrade_request(path="/ws", key=None, extra=""):
    key = ws_key() if key is None else key
    return (f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            f"Sec-WebSocket-Version: 13\r\n{extra}\r\n").encode()


def ws_open(port, path="/ws", timeout=5):
    """A raw WebSocket after a 101 (asserted); returns the socket."""
    s = raw_connect(port, timeout)
    s.sendall(upgrade_request(path))
    status, _, _ = read_http_response(s, timeout)
    assert status == 101, status
    return s


def frame(opcode, payload=b"", fin=True, mask=True):
    """One client frame (masked, as RFC 6455 requires of clients)."""
    if isinstance(payload, str):
        payload = payload.encode()
    b0 = (0x80 if fin else 0) | opcode
    n = len(payload)
    if n < 126:
        head = struct.pack("!BB", b0, (0x80 if mask else 0) | n)
    elif n < 65536:
        head = struct.pack("!BBH", b0, (0x80 if mask else 0) | 126, n)
    else:
        head = struct.pack("!BBQ", b0, (0x80 if mask else 0) | 127, n)
    if not mask:
        return head + payload
    key = os.urandom(4)
    masked = bytes(c ^ key[i % 4] for i, c in enumerate(payload))
    return head + key + masked


def read_frames(s, timeout=5, until_close=True):
    """Reads server frames until a close frame (or EOF / timeout); returns [(opcode, payload)]."""
    s.settimeout(timeout)
    buf = b""
    out = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        while len(buf) >= 2:
            n = buf[1] & 0x7F
            off = 2
            if n == 126:
                if len(buf) < 4:
                    break
                n, off = struct.unpack("!H", buf[2:4])[0], 4
            elif n == 127:
                if len(buf) < 10:
                    break
                n, off = struct.unpack("!Q", buf[2:10])[0], 10
            if len(buf) < off + n:
                break
            out.append((buf[0] & 0x0F, buf[off:off + n]))
            buf = buf[off + n:]
            if out[-1][0] == 8 and until_close:
                return out
        try:
            chunk = s.recv(65536)
        except (socket.timeout, ConnectionResetError):
            break
        if not chunk:
            break
        buf += chunk
    return out


def close_code_of(frames):
    for op, payload in frames:
        if op == 8 and len(payload) >= 2:
            return struct.unpack("!H", payload[:2])[0], payload[2:].decode("utf-8", "replace")
    return None, None


def post(server, path, body, token_, headers=None):
    return server.request("POST", path, body, token_, headers=headers)


class Bystander:
    """A well-behaved dashboard and a device: readings of `device_id` posted every `period`
    seconds, received over a WebSocket subscription. Runs on a thread of its own."""

    def __init__(self, server, token_, device_id=900, period=0.2):
        self.server, self.token, self.device_id, self.period = server, token_, device_id, period
        self.sent = {}      # value -> monotonic time posted
        self.received = {}  # value -> monotonic time received
        self.errors = []
        self._stop = threading.Event()
        self._stopped_at = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("bystander did not subscribe: " + repr(self.errors))
        return self

    def __exit__(self, *exc):
        self.stop()

    def stop(self):
        """Stops feeding and waits for the readings still on their way (ON_TIME each).
        Idempotent: a second call returns at once."""
        if self._stop.is_set():
            return
        self._stopped_at = time.monotonic()
        self._stop.set()
        self._thread.join(15)

    def _run(self):
        try:
            asyncio.run(self._main())
        except Exception as e:  # reported by report()
            self.errors.append(repr(e))
            self._ready.set()

    async def _main(self):
        ws = await harness.connect(self.server, token_=self.token)
        reply = await harness.subscribe(ws, "telemetry", device_id=self.device_id)
        assert reply["type"] == "subscribed", reply
        self._ready.set()
        loop = asyncio.get_running_loop()
        feeder = loop.run_in_executor(None, self._feed)
        try:
            while not (self._stop.is_set() and len(self.received) >= len(self.sent)):
                try:
                    msg = json.loads(await asyncio.wait_for(ws.recv(), 0.5))
                except asyncio.TimeoutError:
                    # After stop, readings still on their way get ON_TIME to arrive (one
                    # posted just before stop is not "never delivered" for 0.5 s of silence).
                    if self._stop.is_set() and time.monotonic() - self._stopped_at > ON_TIME:
                        break
                    continue
                if msg.get("type") != "telemetry_update":
                    continue
                v = msg["telemetry"]["seq_value"]["value"]
                self.received.setdefault(int(v), time.monotonic())
        finally:
            await feeder
            await ws.close()

    def _feed(self):
        # One keep-alive connection, as a device posting readings would hold: opened before
        # the abuse starts, it is not refused by caps the abuse fills (max_http_connections).
        # Reopened once if the server closed it between two readings.
        conn = None
        headers = {"Content-Type": "application/json", "Authorization": "Bearer " + self.token}
        n = 0
        while not self._stop.is_set():
            n += 1
            body = json.dumps({"device_id": self.device_id,
                               "telemetry": {"seq_value": {"value": n}}}).encode()
            self.sent[n] = time.monotonic()
            for attempt in (1, 2):
                try:
                    if conn is None:
                        conn = http.client.HTTPConnection("127.0.0.1", self.server.port,
                                                          timeout=10)
                    conn.request("POST", "/api/v1/telemetry", body=body, headers=headers)
                    r = conn.getresponse()
                    reply = r.read()
                    if r.status != 202:
                        self.errors.append(f"post {n}: {r.status} {reply[:200]!r}")
                    break
                except (http.client.HTTPException, OSError) as e:
                    conn.close()
                    conn = None
                    if attempt == 2:
                        self.errors.append(f"post {n}: {e!r}")
            self._stop.wait(self.period)
        if conn is not None:
            conn.close()

    def report(self):
        """(count sent, count received, max latency s, missing values)."""
        lat = [self.received[v] - t for v, t in self.sent.items() if v in self.received]
        missing = sorted(set(self.sent) - set(self.received))
        return len(self.sent), len(self.received), (max(lat) if lat else None), missing

    def assert_on_time(self, test, label):
        # Stopped first: a reading posted a moment ago is on its way, not missing.
        self.stop()
        sent, got, worst, missing = self.report()
        print(f"\n  [{label}] bystander: {got}/{sent} readings, worst latency "
              f"{worst if worst is None else round(worst * 1000)} ms", file=sys.stderr)
        test.assertFalse(self.errors, self.errors)
        test.assertGreater(sent, 0)
        test.assertEqual(missing, [], f"{label}: readings never delivered")
        test.assertLess(worst, ON_TIME, f"{label}: a reading took {worst:.2f}s")


class AbuseTestCase(harness.ServerTestCase):
    """A server for one abuse test class; `bystander()` gives the well-behaved client."""

    def bystander(self, device_id=900):
        return Bystander(self.server, self.admin, device_id=device_id)
