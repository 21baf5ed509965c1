"""Issue 10, "Faults" and defect 6: what an answer to a reading promises, proven by killing and
stopping the real server under load and by taking its storage away.

- `?sync=true` answers only after the commit: every reading answered 200 survives SIGKILL.
- SIGTERM drains: every reading answered 202 is in the database after the restart, every
  WebSocket client gets close 1001, the exit code is 0; `server.shutdown_timeout` bounds it
  (exit code 3 when hit).
- A database locked by another process, and a full disk (a real tmpfs in a user+mount namespace
  of the server's own): ingest answers 503 STORAGE_UNAVAILABLE with Retry-After, /health says
  degraded, the server stays up and recovers by itself, and no reading answered 202 is lost.

Readings are counted in `telemetry_history` (telemetry.retention is on in these tests) with
sqlite3, each identified by its value."""
import asyncio
import itertools
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.error
import urllib.request

import websockets

from harness import Server, connect, recv_json, run, token

INGEST = "/api/v1/telemetry"
HISTORY_ON = {"telemetry": {"retention": "1d"}}


def reading(device_id, value, metric="level"):
    return {"device_id": device_id, "telemetry": {metric: {"value": value}}}


def stored_values(db_path, device_ids):
    """Values in telemetry_history for `device_ids` (a read-only look; the server may run)."""
    con = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=10)
    try:
        marks = ",".join("?" * len(device_ids))
        rows = con.execute(f"SELECT value FROM telemetry_history WHERE device_id IN ({marks})",
                           list(device_ids)).fetchall()
    finally:
        con.close()
    return {r[0] for r in rows}


def stored_values_in_namespace(pid, db_path, device_ids):
    """stored_values() run inside the mount namespace of process `pid` (SQLite resolves the
    /proc/PID/root link, so the database cannot be opened through it from outside)."""
    code = ("import json, sqlite3, sys\n"
            "sys.path.insert(0, sys.argv[1])\n"
            "from test_durability import stored_values\n"
            "print(json.dumps(sorted(stored_values(sys.argv[2], json.loads(sys.argv[3])))))\n")
    out = subprocess.run(["nsenter", "-t", str(pid), "-U", "-m", "--preserve-credentials",
                          sys.executable, "-c", code, os.path.dirname(os.path.abspath(__file__)),
                          db_path, json.dumps(list(device_ids))],
                         capture_output=True, text=True, timeout=60)
    if out.returncode != 0:
        raise RuntimeError(f"reading the database in the server's namespace: {out.stderr}")
    return set(json.loads(out.stdout))


class Ingester(threading.Thread):
    """Posts one reading at a time for its own device until stopped (or until the server is
    gone); records the values answered with `expect` status, and every other answer."""

    def __init__(self, server, device_id, admin, sync, base):
        super().__init__(daemon=True)
        self.server, self.device_id, self.admin = server, device_id, admin
        self.path = INGEST + ("?sync=true" if sync else "")
        self.expect = 200 if sync else 202
        self.values = itertools.count(base)
        self.acknowledged, self.refused = [], []
        self.halt = threading.Event()

    def run(self):
        while not self.halt.is_set():
            v = float(next(self.values))
            try:
                status, body = self.server.request("POST", self.path,
                                                   reading(self.device_id, v), self.admin)
            except OSError:  # the server is gone (killed or stopped): nothing was answered
                return
            if status == self.expect:
                self.acknowledged.append(v)
            else:
                self.refused.append((status, body))


class DurabilityBase(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.db = os.path.join(self.tmp.name, "valtronics.db")
        self.admin = token("durability-admin", "admin")
        self.servers = []

    def tearDown(self):
        for s in self.servers:
            s.stop()
        self.tmp.cleanup()

    def start(self, config=None, **kwargs):
        conf = {"": {"db": self.db}, **HISTORY_ON}
        for k, v in (config or {}).items():
            conf.setdefault(k, {}).update(v)
        s = Server(conf, **kwargs)
        s.start()
        self.servers.append(s)
        return s

    def ingesters(self, server, n, sync):
        out = [Ingester(server, 100 + i, self.admin, sync, base=(i + 1) * 1_000_000)
               for i in range(n)]
        for t in out:
            t.start()
        return out

    def wait_exit(self, server, timeout):
        try:
            return server.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.fail(f"server still running {timeout}s after the signal:\n" +
                      "".join(server.output))


class SyncIngestTest(DurabilityBase):
    def test_sync_answers_after_the_commit_with_what_was_stored(self):
        s = self.start()
        status, body = s.request("POST", INGEST + "?sync=true", reading(7, 41.5), self.admin)
        self.assertEqual(status, 200, body)
        self.assertEqual(body["data"], {"accepted": 1, "stored": 1})
        # Committed before the answer: another connection sees it at once.
        self.assertEqual(stored_values(self.db, [7]), {41.5})
        status, body = s.request("POST", INGEST + "/batch?sync=1",
                                 {"telemetry_data": [reading(7, 1.0), reading(8, 2.0, "other")]},
                                 self.admin)
        self.assertEqual(status, 200, body)
        self.assertEqual(body["data"], {"accepted": 2, "stored": 2})
        self.assertEqual(stored_values(self.db, [7, 8]), {41.5, 1.0, 2.0})
        # The default stays 202 at once; sync=false says so explicitly.
        status, body = s.request("POST", INGEST + "?sync=false", reading(7, 3.0), self.admin)
        self.assertEqual((status, body["data"]), (202, {"accepted": 1}))

    def test_a_bad_sync_value_is_refused_naming_the_parameter(self):
        s = self.start()
        status, body = s.request("POST", INGEST + "?sync=yes", reading(7, 1.0), self.admin)
        self.assertEqual(status, 400, body)
        self.assertEqual(body["error"]["code"], "VALIDATION_ERROR")
        self.assertEqual(body["error"]["details"]["field"], "sync")
        self.assertEqual(stored_values(self.db, [7]), set())

    def test_every_reading_answered_in_sync_mode_survives_sigkill(self):
        s = self.start()
        clients = self.ingesters(s, 4, sync=True)
        time.sleep(2.5)
        os.kill(s.proc.pid, signal.SIGKILL)
        s.proc.wait(timeout=10)
        for c in clients:
            c.join(15)
        answered = [v for c in clients for v in c.acknowledged]
        self.assertGreater(len(answered), 50, "too few readings answered to prove anything")
        self.assertEqual([r for c in clients for r in c.refused], [])
        # After a restart (which recovers the WAL) every answered reading is there.
        self.start()
        stored = stored_values(self.db, [c.device_id for c in clients])
        missing = sorted(set(answered) - stored)
        self.assertEqual(missing, [], f"{len(missing)} of {len(answered)} answered readings lost")
        print(f"\nsync ingest under SIGKILL: {len(answered)} readings answered 200, all "
              f"{len(answered)} stored after the restart ({len(stored)} rows, the rest "
              f"committed but not yet answered)")


class DrainTest(DurabilityBase):
    def test_sigterm_keeps_every_accepted_reading_and_closes_clients_with_1001(self):
        s = self.start()

        async def scenario():
            sockets = []
            for _ in range(3):
                ws = await connect(s, token_=self.admin)
                await ws.send('{"type":"subscribe","channel":"telemetry"}')
                self.assertEqual((await recv_json(ws))["type"], "subscribed")
                sockets.append(ws)

            async def close_code(ws):
                try:
                    while True:
                        await ws.recv()
                except websockets.exceptions.ConnectionClosed as e:
                    return e.rcvd.code if e.rcvd else None

            readers = [asyncio.ensure_future(close_code(ws)) for ws in sockets]
            clients = self.ingesters(s, 4, sync=False)
            await asyncio.sleep(2.0)
            started = time.monotonic()
            os.kill(s.proc.pid, signal.SIGTERM)
            codes = await asyncio.wait_for(asyncio.gather(*readers), 10)
            code = await asyncio.get_running_loop().run_in_executor(
                None, self.wait_exit, s, 10)
            elapsed = time.monotonic() - started
            for c in clients:
                c.halt.set()
                c.join(15)
            return codes, code, elapsed, clients

        codes, code, elapsed, clients = run(scenario())
        self.assertEqual(codes, [1001, 1001, 1001])
        self.assertEqual(code, 0, "".join(s.output))
        self.assertLess(elapsed, 5.0)
        accepted = [v for c in clients for v in c.acknowledged]
        self.assertGreater(len(accepted), 100, "too few readings accepted to prove anything")
        self.start()
        stored = stored_values(self.db, [c.device_id for c in clients])
        missing = sorted(set(accepted) - stored)
        self.assertEqual(missing, [], f"{len(missing)} of {len(accepted)} accepted readings lost")
        print(f"\nSIGTERM drain: {len(accepted)} readings answered 202, all stored; exit 0 "
              f"after {elapsed:.2f} s")

    def test_a_drain_past_shutdown_timeout_logs_and_exits_with_code_3(self):
        s = self.start({"server": {"shutdown_timeout": "1s"}})
        s.ingest(9, {"before": 1.0}, self.admin)
        # Another process holds the write lock: the last commits cannot happen.
        lock = sqlite3.connect(self.db, isolation_level=None, timeout=10)
        lock.execute("BEGIN EXCLUSIVE")
        try:
            for i in range(20):
                s.ingest(9, {"stuck": float(i)}, self.admin)
            started = time.monotonic()
            os.kill(s.proc.pid, signal.SIGTERM)
            code = self.wait_exit(s, 10)
            elapsed = time.monotonic() - started
        finally:
            lock.close()  # rolls back
        out = "".join(s.output)
        self.assertEqual(code, 3, out)
        self.assertGreaterEqual(elapsed, 0.9)
        self.assertLess(elapsed, 4.0)
        self.assertIn("shutdown did not finish within server.shutdown_timeout (1000 ms)", out)
        self.assertIn("database write(s) not committed", out)


class StorageFaultTest(DurabilityBase):
    """503 while the storage refuses writes, degraded health, recovery by itself."""

    def check_outage(self, s, device_id, take_away, give_back, stored):
        admin = self.admin
        accepted = []
        values = itertools.count(1)
        s.ingest(device_id, {"level": 0.5}, admin)
        accepted.append(0.5)
        take_away()
        # Readings keep coming; those answered 202 are queued and kept. Once the writer finds
        # the storage refusing, ingest answers 503 with a clear error.
        refusal = None
        deadline = time.monotonic() + 30
        while refusal is None and time.monotonic() < deadline:
            batch_values = [float(next(values)) for _ in range(50)]
            batch = [reading(device_id, v, f"m{i}") for i, v in enumerate(batch_values)]
            status, body = s.request("POST", INGEST + "/batch", {"telemetry_data": batch}, admin)
            if status == 202:
                accepted.extend(batch_values)
            else:
                refusal = (status, body)
                break
            time.sleep(0.02)
        self.assertIsNotNone(refusal, "ingest never refused while the storage was unavailable")
        status, body = refusal
        self.assertEqual(status, 503, body)
        self.assertEqual(body["error"]["code"], "STORAGE_UNAVAILABLE")
        self.assertEqual(body["error"]["details"]["retry_after_seconds"], 5)
        self.assertTrue(body["error"]["details"]["reason"], body)
        # Retry-After on the wire, and sync mode refused the same way.
        req = urllib.request.Request(s.http + INGEST + "?sync=true",
                                     data=b'{"device_id":1,"metric_name":"x","metric_value":1}',
                                     method="POST",
                                     headers={"Authorization": "Bearer " + admin,
                                              "Content-Type": "application/json"})
        try:
            urllib.request.urlopen(req, timeout=10)
            self.fail("sync ingest accepted while the storage is unavailable")
        except urllib.error.HTTPError as e:
            self.assertEqual(e.code, 503)
            self.assertEqual(e.headers["Retry-After"], "5")
        status, health = s.request("GET", "/health")
        self.assertEqual(status, 200)
        self.assertEqual(health["status"], "degraded", health)
        self.assertFalse(health["storage"]["writable"])
        self.assertTrue(health["storage"]["error"])
        # Still up: reads and WebSockets are served.
        self.assertEqual(s.request("GET", "/api/v1/devices", token_=admin)[0], 200)
        self.assertIsNone(s.proc.poll())

        give_back()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            status, health = s.request("GET", "/health")
            if health["status"] == "ok":
                break
            time.sleep(0.2)
        self.assertEqual(health["status"], "ok", health)
        self.assertTrue(health["storage"]["writable"])
        status, body = s.request("POST", INGEST + "?sync=true", reading(device_id, -1.0), admin)
        self.assertEqual(status, 200, body)
        accepted.append(-1.0)
        # The sync answer came after everything queued before it: all accepted readings are in.
        missing = sorted(set(accepted) - stored([device_id]))
        self.assertEqual(missing, [], f"{len(missing)} of {len(accepted)} accepted readings lost")
        self.assertIn("storage unavailable", "".join(s.output))
        self.assertIn("storage available again", "".join(s.output))
        return f"{len(accepted)} (refused with: {refusal[1]['error']['details']['reason']})"

    def test_a_database_locked_by_another_process(self):
        s = self.start()
        lock = sqlite3.connect(self.db, isolation_level=None, timeout=10)

        def take_away():
            lock.execute("BEGIN EXCLUSIVE")

        def give_back():
            lock.execute("COMMIT")

        try:
            n = self.check_outage(s, 21, take_away, give_back,
                                  lambda ids: stored_values(self.db, ids))
        finally:
            lock.close()
        print(f"\nlocked database: {n} readings answered 202 or 200, all stored after the lock")

    def test_a_full_disk(self):
        if shutil.which("unshare") is None:
            self.skipTest("unshare (util-linux) is not installed: cannot make a tmpfs")
        probe = subprocess.run(["unshare", "-rm", "sh", "-c",
                                "mount -t tmpfs -o size=1m tmpfs /mnt 2>&1 || exit 1"],
                               capture_output=True, text=True)
        if probe.returncode != 0 or shutil.which("nsenter") is None:
            self.skipTest("user namespaces are unavailable here, so no tmpfs can be mounted "
                          f"without privileges: {probe.stdout.strip() or probe.stderr.strip()}")
        disk = os.path.join(self.tmp.name, "disk")
        os.mkdir(disk)
        db = os.path.join(disk, "valtronics.db")
        # The server in a user+mount namespace of its own with a 2 MiB tmpfs at `disk`; the
        # test reaches that mount through /proc/PID/root (the namespace's owner may).
        wrapper = ["unshare", "-rm", "sh", "-c",
                   f"mount -t tmpfs -o size=2m tmpfs {disk} && exec \"$0\" \"$@\""]
        s = self.start({"": {"db": db}}, wrapper=wrapper)
        inside = f"/proc/{s.proc.pid}/root{disk}"
        self.assertTrue(os.path.exists(os.path.join(inside, "valtronics.db")))
        filler = os.path.join(inside, "filler")

        def take_away():
            fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
            try:
                while True:
                    os.write(fd, b"\0" * 65536)
            except OSError:  # ENOSPC: the disk is full
                pass
            finally:
                os.close(fd)

        def give_back():
            os.remove(filler)

        n = self.check_outage(s, 22, take_away, give_back,
                              lambda ids: stored_values_in_namespace(s.proc.pid, db, ids))
        print(f"\nfull disk (2 MiB tmpfs): {n} readings answered 202 or 200, all stored once "
              "room was made")


if __name__ == "__main__":
    unittest.main()
