"""Issue 10, "Soak test": the real server under a mixed load for a bounded time (120 s by default;
env VALTRONICS_SOAK_SECONDS for longer), then checked:

- no crash: the process is alive throughout, /health answers, SIGTERM ends it with exit code 0;
- memory flat after warm-up: the median RSS of the last 15 s is within 10% of the median RSS of
  the 15 s that follow the warm-up (plateaus, not single samples);
- file descriptors back to baseline once every client has gone (/proc/PID/fd);
- no alert lost for a client that keeps dropping its connection and resuming with
  `since_alert_id`: it ends with every alert id the database holds.

Load, all at once: steady HTTP ingest (keep-alive, batches), alerts raised and resolved several
times a second, WebSocket connection churn (connect, auth, subscribe, a message, close), slow
clients (subscribed to everything, never reading: the server cuts them with 4009) and vanishing
clients (TCP gone without a close frame, some in the middle of the handshake).

Warm-up first fills what legitimately grows to a cap: the database gets more history than the
SQLite page caches hold (2 MiB per connection, SQLite's default, two connections), the
allocator's arenas see every thread, every kind of client has come and gone. See
docs/security.md "Soak test"."""
import asyncio
import base64
import http.client
import itertools
import json
import os
import random
import signal
import socket
import sqlite3
import statistics
import sys
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))

import websockets  # noqa: E402

from harness import Server, token  # noqa: E402

SECONDS = int(os.environ.get("VALTRONICS_SOAK_SECONDS", "120"))
WINDOW = 15                                # seconds per RSS plateau
WARMUP = max(45, int(SECONDS * 0.4))       # baseline plateau starts here
RSS_TOLERANCE = 0.10
DEVICES = 50
ALERT_DEVICES = range(900, 906)            # raise and resolve alerts on these


def proc_rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def proc_fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


class Sampler(threading.Thread):
    """RSS and open descriptors of the server, once a second, with the time since start."""

    def __init__(self, pid, t0):
        super().__init__(daemon=True)
        self.pid, self.t0 = pid, t0
        self.samples = []  # (t, rss_kib, fds)
        self.halt = threading.Event()

    def run(self):
        while not self.halt.wait(1.0):
            try:
                self.samples.append((time.monotonic() - self.t0, proc_rss_kib(self.pid),
                                     proc_fds(self.pid)))
            except (OSError, RuntimeError):
                return

    def plateau(self, start, end):
        values = [rss for t, rss, _ in self.samples if start <= t < end]
        return statistics.median(values) if values else None


class Stop:
    def __init__(self):
        self.event = threading.Event()

    def __bool__(self):
        return self.event.is_set()


def http_ingester(port, admin, stop, counters, rate, seed):
    """Steady ingest on one keep-alive connection: batches of 10 readings, `rate` a second."""
    rnd = random.Random(seed)
    conn = None
    headers = {"Authorization": "Bearer " + admin, "Content-Type": "application/json"}
    while not stop:
        started = time.monotonic()
        items = [{"device_id": rnd.randint(1, DEVICES), "metric_name": rnd.choice(["load", "rh"]),
                  "metric_value": rnd.uniform(0, 40)} for _ in range(10)]
        try:
            if conn is None:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            conn.request("POST", "/api/v1/telemetry/batch", json.dumps(items), headers)
            r = conn.getresponse()
            r.read()
            counters["ingest_" + str(r.status)] = counters.get("ingest_" + str(r.status), 0) + 1
        except (OSError, http.client.HTTPException):
            counters["ingest_errors"] = counters.get("ingest_errors", 0) + 1
            if conn is not None:
                conn.close()
            conn = None
        time.sleep(max(0.0, 1.0 / rate - (time.monotonic() - started)))
    if conn is not None:
        conn.close()


def alert_producer(server, admin, stop, counters):
    """Alternates each alert device above and below the rule's threshold: an alert raised and
    resolved per device per cycle, several a second in all."""
    for cycle in itertools.count():
        if stop:
            return
        value = 90.0 if cycle % 2 == 0 else 5.0
        for d in ALERT_DEVICES:
            status, _ = server.request("POST", "/api/v1/telemetry",
                                       {"device_id": d, "metric_name": "soak_temp",
                                        "metric_value": value}, admin)
            counters["alert_ingest_" + str(status)] = \
                counters.get("alert_ingest_" + str(status), 0) + 1
        time.sleep(1.0)


def masked_frame(text):
    payload = text.encode()
    mask = os.urandom(4)
    header = bytes([0x81])
    n = len(payload)
    if n < 126:
        header += bytes([0x80 | n])
    else:
        header += bytes([0x80 | 126]) + n.to_bytes(2, "big")
    return header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def raw_ws(port, auth_token=None, rcvbuf=None):
    """A WebSocket opened by hand on a plain socket (so it can stop reading, or vanish)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.settimeout(10)
    s.connect(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall((f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
               f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
               "Sec-WebSocket-Version: 13\r\n\r\n").encode())
    got = b""
    while b"\r\n\r\n" not in got:
        chunk = s.recv(4096)
        if not chunk:
            raise OSError("closed during the handshake")
        got += chunk
    if not got.startswith(b"HTTP/1.1 101"):
        raise OSError(got.split(b"\r\n")[0].decode())
    if auth_token:
        s.sendall(masked_frame(json.dumps({"type": "auth", "token": auth_token})))
    return s


def slow_and_vanishing(port, tokens, stop, counters, seed):
    """Every second or so: a slow client (subscribed to all telemetry, never reads; left for
    the server to cut, then dropped), or a vanishing one (gone without a close frame: after
    auth, or halfway through the handshake)."""
    rnd = random.Random(seed)
    slow = []  # (socket, opened at)
    n = 0
    while not stop:
        n += 1
        kind = rnd.choice(["slow", "vanish_after_auth", "vanish_in_handshake"])
        try:
            if kind == "slow" and len(slow) < 2:
                s = raw_ws(port, tokens[n % len(tokens)], rcvbuf=4096)
                s.sendall(masked_frame('{"type":"subscribe","channel":"telemetry"}'))
                slow.append((s, time.monotonic()))
            elif kind == "vanish_after_auth":
                s = raw_ws(port, tokens[n % len(tokens)])
                s.sendall(masked_frame('{"type":"subscribe","channel":"alerts"}'))
                s.close()
            else:
                s = socket.create_connection(("127.0.0.1", port), timeout=5)
                s.sendall(b"GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: webso")
                s.close()
            counters[kind] = counters.get(kind, 0) + 1
        except OSError:
            counters[kind + "_errors"] = counters.get(kind + "_errors", 0) + 1
        # A slow client is dropped 8 s after it opened (the server cuts it after
        # limits.write_timeout once its socket is full).
        now = time.monotonic()
        for s, at in [x for x in slow if now - x[1] > 8]:
            s.close()
            slow.remove((s, at))
        time.sleep(0.5 + rnd.random())
    for s, _ in slow:
        s.close()


async def churn(url, tokens, stop, counters, worker):
    """Connect, authenticate, subscribe to one device's telemetry, take one message, close."""
    for n in itertools.count():
        if stop:
            return
        try:
            async with websockets.connect(url + "/ws", open_timeout=10, close_timeout=2) as ws:
                await ws.send(json.dumps({"type": "auth",
                                          "token": tokens[(worker + n) % len(tokens)]}))
                await asyncio.wait_for(ws.recv(), 10)
                await ws.send(json.dumps({"type": "subscribe", "channel": "telemetry",
                                          "device_id": 1 + n % DEVICES}))
                await asyncio.wait_for(ws.recv(), 10)
            counters["churned"] = counters.get("churned", 0) + 1
        except (OSError, asyncio.TimeoutError, websockets.exceptions.WebSocketException):
            counters["churn_errors"] = counters.get("churn_errors", 0) + 1
        await asyncio.sleep(0.05)


class ResumingAlertClient:
    """Subscribes to alerts, keeps every alert id it gets, and every few seconds drops its
    connection abruptly (no close frame) and resumes with since_alert_id = the last id seen."""

    def __init__(self, url, admin):
        self.url, self.admin = url, admin
        self.ids = set()
        self.last = 0
        self.resumes = 0
        self.unrecovered = 0

    async def session(self, stop, hold):
        ws = await websockets.connect(self.url + "/ws", open_timeout=10, close_timeout=2)
        try:
            await ws.send(json.dumps({"type": "auth", "token": self.admin}))
            await asyncio.wait_for(ws.recv(), 10)
            await ws.send(json.dumps({"type": "subscribe", "channel": "alerts",
                                      "since_alert_id": self.last}))
            deadline = time.monotonic() + hold
            while time.monotonic() < deadline and not (stop and hold > 5):
                try:
                    msg = json.loads(await asyncio.wait_for(ws.recv(), 0.5))
                except asyncio.TimeoutError:
                    continue
                if msg.get("type") == "subscribed" and msg.get("recovered") is False:
                    self.unrecovered += 1
                if msg.get("type") == "alert":
                    self.ids.add(msg["alert_id"])
                    self.last = max(self.last, msg["alert_id"])
        finally:
            ws.transport.abort()  # vanish: no close frame, the server sees the TCP end

    async def run(self, stop, rnd):
        while not stop:
            try:
                await self.session(stop, hold=2 + rnd.random() * 6)
                self.resumes += 1
            except (OSError, asyncio.TimeoutError, websockets.exceptions.WebSocketException):
                await asyncio.sleep(0.5)


def stored_alert_ids(db):
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    try:
        return {r[0] for r in con.execute("SELECT id FROM alerts")}
    finally:
        con.close()


class SoakTest(unittest.TestCase):
    def test_soak(self):
        import tempfile
        tmp = tempfile.TemporaryDirectory()
        self.addCleanup(tmp.cleanup)
        db = os.path.join(tmp.name, "soak.db")
        server = Server({"": {"db": db, "threads": 2},
                         "telemetry": {"retention": "1d"},
                         # Slow clients are cut after 3 s of a full socket, and each holds at
                         # most 256 KiB queued: the test looks for leaks, not for buffers.
                         "limits": {"write_timeout": "3s", "max_outbound_bytes": 262144,
                                    "max_connections_per_user": 100}})
        server.start()
        self.addCleanup(server.stop)
        pid = server.proc.pid
        admin = token("soak-admin", "admin")
        status, _ = server.request("POST", "/api/v1/alert-rules",
                                   {"name": "soak", "metric": "soak_temp", "condition": "gt",
                                    "threshold": 50, "severity": "warning"}, admin)
        self.assertEqual(status, 201)
        # Minted once (each is a `valtronics token` process); spread over a few users so no
        # per-user cap is reached.
        tokens = [token(f"soak-{i}", "admin") for i in range(8)]
        fds_at_start = proc_fds(pid)

        t0 = time.monotonic()
        sampler = Sampler(pid, t0)
        sampler.start()
        # Warm-up, part 1: more history than the page caches hold (2 x 2 MiB).
        for i in range(60):
            items = [{"device_id": 1 + (i * 1000 + j) % DEVICES, "metric_name": "prefill",
                      "metric_value": float(j)} for j in range(1000)]
            status, body = server.request("POST", "/api/v1/telemetry/batch", items, admin)
            self.assertEqual(status, 202, body)

        stop = Stop()
        counters = {}
        threads = [threading.Thread(target=http_ingester,
                                    args=(server.port, admin, stop, counters, 20, 10 + i),
                                    daemon=True) for i in range(3)]
        threads.append(threading.Thread(target=alert_producer,
                                        args=(server, admin, stop, counters), daemon=True))
        threads.append(threading.Thread(target=slow_and_vanishing,
                                        args=(server.port, tokens, stop, counters, 99),
                                        daemon=True))
        for t in threads:
            t.start()

        alerts_client = ResumingAlertClient(server.url, admin)

        async def clients():
            rnd = random.Random(7)
            tasks = [asyncio.ensure_future(churn(server.url, tokens, stop, counters, w))
                     for w in range(3)]
            tasks.append(asyncio.ensure_future(alerts_client.run(stop, rnd)))
            while time.monotonic() - t0 < SECONDS:
                await asyncio.sleep(1)
                self.assertIsNone(server.proc.poll(), "the server died:\n" +
                                  "".join(server.output[-50:]))
            stop.event.set()
            await asyncio.gather(*tasks)
            for t in threads:  # no alert is raised after this
                await asyncio.to_thread(t.join, 20)
            # Last resume: everything raised until now.
            await asyncio.sleep(1.5)
            await alerts_client.session(stop, hold=3)

        asyncio.run(clients())
        sampler.halt.set()
        sampler.join(5)

        # No crash, still answering.
        self.assertIsNone(server.proc.poll())
        status, health = server.request("GET", "/health")
        self.assertEqual((status, health["status"]), (200, "ok"), health)

        # Memory: plateau after warm-up vs plateau at the end.
        baseline = sampler.plateau(WARMUP, WARMUP + WINDOW)
        final = sampler.plateau(SECONDS - WINDOW, SECONDS)
        peak = max(rss for _, rss, _ in sampler.samples)
        self.assertIsNotNone(baseline)
        self.assertIsNotNone(final)
        growth = final / baseline - 1

        # Descriptors: back to where they were once every client is gone.
        deadline = time.monotonic() + 20
        fds = proc_fds(pid)
        while fds > fds_at_start and time.monotonic() < deadline:
            time.sleep(0.5)
            fds = proc_fds(pid)
        fds_peak = max(f for _, _, f in sampler.samples)

        # Alerts: every stored alert reached the resuming client.
        stored = stored_alert_ids(db)
        missing = sorted(stored - alerts_client.ids)

        report = (f"\nsoak {SECONDS} s (warm-up {WARMUP} s): RSS baseline {baseline / 1024:.1f} "
                  f"MiB, final {final / 1024:.1f} MiB ({growth * 100:+.1f}%), peak "
                  f"{peak / 1024:.1f} MiB; fds start {fds_at_start}, peak {fds_peak}, end {fds}; "
                  f"alerts stored {len(stored)}, received {len(alerts_client.ids)}, resumes "
                  f"{alerts_client.resumes}; load {json.dumps(counters, sort_keys=True)}")
        print(report)
        self.assertLessEqual(growth, RSS_TOLERANCE, report)
        self.assertLessEqual(fds, fds_at_start, report)
        self.assertEqual(missing, [], report)
        self.assertEqual(alerts_client.unrecovered, 0, report)
        self.assertGreater(len(stored), 20, report)
        self.assertGreater(counters.get("churned", 0), 100, report)
        self.assertGreater(counters.get("ingest_202", 0), 1000, report)
        self.assertGreater(counters.get("slow", 0), 3, report)

        os.kill(pid, signal.SIGTERM)
        self.assertEqual(server.proc.wait(timeout=15), 0, "".join(server.output[-30:]))


if __name__ == "__main__":
    unittest.main()
