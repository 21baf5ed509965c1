"""Fan-out under load (issue 11): one-reading requests share socket writes (the cork), with
io_uring batches and with sendmsg (server.io_uring = false), and a
thread behind its publishers conflates telemetry while alerts are never conflated or lost.

Counts come from the server (/api/v1/ws/stats: messagesSent, socketWrites, conflatedUpdates);
nothing here is timed. Readings are posted as pipelined HTTP/1.1 requests over raw sockets, one
reading per request, as devices that post single readings do."""
import asyncio
import json
import os
import time
import unittest

from harness import ServerTestCase, connect, recv_json, run, subscribe

SINGLE = "/api/v1/telemetry"
SANITIZED = bool(os.environ.get("VALTRONICS_SANITIZER"))


def one_reading_request(port, tok, device_id, value):
    body = json.dumps({"device_id": device_id, "telemetry": {"level": {"value": value}}})
    return (f"POST {SINGLE} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            f"Authorization: Bearer {tok}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n{body}").encode()


async def post_pipelined(port, tok, device_id, values):
    """Sends one request per value back to back on one keep-alive connection, then reads every
    answer; returns their status codes in order."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"".join(one_reading_request(port, tok, device_id, v) for v in values))
    await writer.drain()
    statuses = []
    while len(statuses) < len(values):
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 20)
        lines = head.decode().split("\r\n")
        statuses.append(int(lines[0].split()[1]))
        length = next(int(l.split(":")[1]) for l in lines if l.lower().startswith("content-length"))
        await reader.readexactly(length)
    writer.close()
    return statuses


async def stats(server, tok):
    status, body = await asyncio.to_thread(server.request, "GET", "/api/v1/ws/stats", None, tok)
    assert status == 200, body
    return body["data"]


async def all_alerts(server, tok):
    """Every stored alert, through the REST API's pages."""
    alerts, page = [], 1
    while True:
        status, body = await asyncio.to_thread(
            server.request, "GET", f"/api/v1/alerts?size=100&page={page}", None, tok)
        assert status == 200, body
        alerts += body["data"]
        if not body["pagination"]["has_next"]:
            return alerts
        page += 1


async def collect_until(ws, device_id, last_value, timeout=30):
    """Telemetry updates of `device_id` until one carries `last_value`; returns them."""
    updates = []
    while True:
        msg = await recv_json(ws, timeout)
        if msg.get("type") != "telemetry_update" or msg["device_id"] != device_id:
            continue
        updates.append(msg)
        if msg["telemetry"]["level"]["value"] == last_value:
            return updates


def one_thread_config(conflate_after):
    """One I/O thread, room for a few hundred connections, and `limits.conflate_after`."""
    return {"": {"threads": 1}, "limits": {"conflate_after": conflate_after,
                                           "max_connections": 1000,
                                           "max_connections_per_user": 1000,
                                           "messages_per_second": 100000}}


def socket_writes_line(server, timeout=5):
    """The server's start-up line saying how its flush writes (it follows "listening on")."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in list(server.output):
            if "socket writes: " in line:
                return line.split("socket writes: ", 1)[1].strip()
        time.sleep(0.05)
    raise AssertionError("no 'socket writes:' line in the server's log:\n" + "".join(server.output))


class CorkedWritesTest(ServerTestCase):
    """With the default `server.io_uring = true`: a round's writes go out in io_uring batches
    (or, where the kernel refuses a ring, with sendmsg, and the log says why)."""
    # Conflation off: every reading must reach every subscriber, so the counts are exact.
    config = one_thread_config("0s")

    def test_log_says_how_sockets_are_written(self):
        method = socket_writes_line(self.server)
        self.assertTrue(method.startswith("io_uring, 64 sockets per submission") or
                        method.startswith("sendmsg per connection (io_uring unavailable: "),
                        method)

    def test_pipelined_single_readings_share_socket_writes(self):
        subscribers, connections, per_connection = 20, 2, 150
        requests = connections * per_connection

        async def scenario():
            sockets = [await connect(self.server, token_=self.admin) for _ in range(subscribers)]
            for ws in sockets:
                ack = await subscribe(ws, "telemetry", device_id=1)
                self.assertEqual(ack["type"], "subscribed", ack)
            before = await stats(self.server, self.admin)
            # Connection c posts c*1000 + 0..per_connection-1: each sequence must arrive in order.
            sequences = [[c * 1000 + i for i in range(per_connection)] for c in range(connections)]
            results = await asyncio.gather(*(post_pipelined(self.server.port, self.admin, 1, seq)
                                             for seq in sequences))
            for statuses in results:
                self.assertEqual(statuses, [202] * per_connection)
            for ws in sockets:
                got = []
                while len(got) < requests:
                    msg = await recv_json(ws, 20)
                    self.assertEqual(msg["type"], "telemetry_update", msg)
                    self.assertNotIn("conflated", msg)
                    got.append(msg["telemetry"]["level"]["value"])
                for seq in sequences:
                    self.assertEqual([v for v in got if v in seq], seq)
            after = await stats(self.server, self.admin)
            for ws in sockets:
                await ws.close()
            return before, after

        before, after = run(scenario())
        sent = after["messagesSent"] - before["messagesSent"]
        writes = after["socketWrites"] - before["socketWrites"]
        self.assertGreaterEqual(sent, subscribers * requests)
        # Without the cork every request costs each subscriber a write of its own (300 writes
        # each). Corked, a write carries the updates of every request handled since the last
        # one: measured 60-64 writes each on an idle machine, 75 in a CI run sharing its cores
        # with another test. The cork's bound is a fixed 1 ms, so how many requests one write
        # covers depends on how fast the machine handles them; what must hold on any machine is
        # that writes are shared: at most half a write per request (two thirds under a
        # sanitizer, tests/sanitizers/run-ctest, where a request takes several times longer).
        per_subscriber = writes / subscribers
        print(f"{requests} one-reading requests: {per_subscriber:.1f} socket writes per "
              f"subscriber ({sent / max(writes, 1):.1f} messages per write)")
        self.assertLess(per_subscriber, requests * (2 / 3 if SANITIZED else 1 / 2))


class SendmsgCorkedWritesTest(CorkedWritesTest):
    """The same with `server.io_uring = false`: one sendmsg per connection, corked alike."""
    config = {**one_thread_config("0s"), "server": {"io_uring": False}}

    def test_log_says_how_sockets_are_written(self):
        self.assertEqual(socket_writes_line(self.server),
                         "sendmsg per connection (server.io_uring = false)")


class ConflationUnderOverloadTest(ServerTestCase):
    # Conflate as soon as an event waited 1 ms: a burst of pipelined readings to a hundred
    # subscribers keeps the one I/O thread that far behind.
    config = one_thread_config("1ms")

    def test_latest_value_arrives_and_alerts_are_never_conflated(self):
        subscribers, connections, per_connection = 100, 4, 250

        async def scenario():
            # Every reading at or above 50 after one below raises an alert (no cooldown).
            status, rule = await asyncio.to_thread(
                self.server.request, "POST", "/api/v1/alert-rules",
                {"name": "High level", "metric": "level", "condition": "gte", "threshold": 50,
                 "severity": "warning"}, self.admin)
            self.assertEqual(status, 201, rule)
            sockets = [await connect(self.server, token_=self.admin) for _ in range(subscribers)]
            for ws in sockets:
                ack = await subscribe(ws, "telemetry", device_id=7)
                self.assertEqual(ack["type"], "subscribed", ack)
            watcher = await connect(self.server, token_=self.admin)
            ack = await subscribe(watcher, "alerts")
            self.assertEqual(ack["type"], "subscribed", ack)
            before = await stats(self.server, self.admin)
            # Values alternate below and above the threshold; each connection's last is 10 000.
            sequences = [[(i % 2) * 100 + c for i in range(per_connection - 1)] + [10000 + c]
                         for c in range(connections)]
            # The connections' last readings race: the device's last accepted value is the one
            # applied last, which the final check below learns from the REST API.
            results = await asyncio.gather(*(post_pipelined(self.server.port, self.admin, 7, seq)
                                             for seq in sequences))
            for statuses in results:
                self.assertEqual(statuses, [202] * per_connection)
            status, latest = await asyncio.to_thread(
                self.server.request, "GET", "/api/v1/devices/7/telemetry/latest", None, self.admin)
            self.assertEqual(status, 200, latest)
            final = latest["data"]["telemetry"]["level"]["value"]
            self.assertGreaterEqual(final, 10000)
            readings = connections * per_connection
            absorbed = []
            for ws in sockets:
                updates = await collect_until(ws, 7, final)
                # seq numbers every update; a conflated one stands for `conflated` of them and
                # seq jumps by as many. The final value is the last reading applied, so every
                # reading is accounted for, delivered or merged into a later update.
                covered = sum(u.get("conflated", 1) for u in updates)
                self.assertEqual(updates[-1]["seq"], covered)
                self.assertEqual(covered, readings)
                absorbed.append(readings - len(updates))
                for u in updates:
                    self.assertEqual(set(u["telemetry"]), {"level"})
            after = await stats(self.server, self.admin)
            # One I/O thread: what its shard merged is what each subscriber of the device saw.
            self.assertEqual(set(absorbed), {after["conflatedUpdates"] - before["conflatedUpdates"]})
            # Alerts are stored by the writer thread, behind the burst's readings. One reading
            # of another metric with ?sync=true is answered after its commit, and the writer
            # commits in submission order: every alert the burst raised is stored by then.
            status, body = await asyncio.to_thread(
                self.server.request, "POST", SINGLE + "?sync=true",
                {"device_id": 7, "telemetry": {"marker": {"value": 1}}}, self.admin)
            self.assertEqual(status, 200, body)
            # Every alert raised, and every resolution (a reading back below), reaches the alerts
            # subscriber once, raised in id order, each resolution after its raise.
            stored = await all_alerts(self.server, self.admin)
            self.assertGreater(len(stored), 10)
            want = {a["alert_id"]: a["status"] for a in stored}
            raised, resolved = [], set()
            while len(raised) < len(want) or len(resolved) < list(want.values()).count("resolved"):
                msg = await recv_json(watcher, 20)
                if msg.get("type") != "alert":
                    continue
                self.assertNotIn("conflated", msg)
                if msg["status"] == "active":
                    raised.append(msg["alert_id"])
                else:
                    self.assertEqual(msg["status"], "resolved", msg)
                    self.assertIn(msg["alert_id"], raised)  # never before its raise
                    self.assertNotIn(msg["alert_id"], resolved)
                    resolved.add(msg["alert_id"])
            self.assertEqual(raised, sorted(want))
            self.assertEqual(resolved, {i for i, st in want.items() if st == "resolved"})
            for ws in sockets + [watcher]:
                await ws.close()
            return before, after

        before, after = run(scenario())
        conflated = after["conflatedUpdates"] - before["conflatedUpdates"]
        print(f"conflated updates under the burst: {conflated}")


if __name__ == "__main__":
    unittest.main()
