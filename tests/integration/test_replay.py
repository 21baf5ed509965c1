"""Issue 3, "Nothing lost across reconnects": `since_alert_id` replay (in order, then live, no gap
and no duplicate under concurrent alerts, checked by a real client that keeps reconnecting), the
replay limit and `recovered`, the telemetry and devices snapshots, and `seq`."""
import asyncio
import contextlib
import json
import os
import tempfile
import threading
import time
import unittest

from domain_helpers import RestMixin, collect, next_of, sub, until_pong
from harness import (Server, ServerTestCase, connect, expect_silence, recv_json, run, seeded,
                     token)

ALERTS = "/api/v1/alerts"


class ReplayTestBase(RestMixin, ServerTestCase):
    admin_sub = "replay-admin"

    async def client(self, tok=None):
        return await connect(self.server, token_=tok or self.admin, close_timeout=1)

    async def request(self, ws, msg):
        await ws.send(json.dumps(msg))
        return await recv_json(ws, 5)

    @contextlib.contextmanager
    def in_background(self, step, per_second=None):
        """Runs step() `per_second` times a second on a thread for the block's duration; yields
        a one-item list counting the runs. Paced, not as fast as it can: the load stands for
        devices. As fast as it could, it overloaded the ASan build, whose writer is ~100 times
        slower per statement (each statement journal is a 16 MiB block, a fresh mapping with
        its shadow to poison under ASan, docs/telemetry.md): its queue grew without end and
        replies waiting for it (a replay's) took 30 s. 200 a second in a normal build, 20 under
        a sanitizer: alerts still keep coming during every replay."""
        if per_second is None:
            per_second = 20 if os.environ.get("VALTRONICS_SANITIZER") else 200
        stop = threading.Event()
        runs = [0]

        def loop():
            next_at = time.monotonic()
            while not stop.is_set():
                step()
                runs[0] += 1
                next_at += 1 / per_second
                stop.wait(max(0.0, next_at - time.monotonic()))

        thread = threading.Thread(target=loop, daemon=True)
        thread.start()
        try:
            yield runs
        finally:
            stop.set()
            thread.join(10)

    def raising_and_resolving(self, metric, devices):
        """Background load: readings of `metric` on `devices` alternate between 20 and 0, so
        that a rule with threshold 10 keeps raising and resolving alerts."""
        value = [20.0]

        def step():
            for device in devices:
                self.ingest(device, {metric: value[0]})
            value[0] = 0.0 if value[0] > 10 else 20.0

        return self.in_background(step)


class SinceAlertIdTest(ReplayTestBase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        s, adm = cls.server, cls.admin
        for body in ({"name": "Replay", "metric": "rp", "condition": "gt", "threshold": 10},
                     {"name": "Replay crit", "metric": "rpc", "condition": "gt", "threshold": 10,
                      "severity": "critical"}):
            status, reply = s.request("POST", "/api/v1/alert-rules", body, adm)
            assert status == 201, reply

        async def raise_all():
            ws = await connect(s, token_=adm)
            await sub(ws, "alerts")
            got = []
            for device, metrics in ((1, {"rp": 20}), (2, {"rp": 20}), (1, {"rpc": 20}),
                                    (2, {"rp": 0}), (3, {"rp": 20})):
                await asyncio.to_thread(s.ingest, device, metrics, adm)
                got.append(await next_of(ws, "alert"))
            await ws.close()
            return got
        msgs = run(raise_all())
        cls.a1, cls.a2, cls.a3, cls.a4 = (m["alert_id"] for m in (msgs[0], msgs[1], msgs[2],
                                                                    msgs[4]))
        assert (msgs[3]["alert_id"], msgs[3]["status"]) == (cls.a2, "resolved"), msgs

    def test_top_level_then_live(self):
        async def go():
            ws = await self.client()
            r = await self.request(ws, {"type": "subscribe", "channel": "alerts",
                                        "since_alert_id": self.a1, "id": "r1"})
            # last_alert_id: the newest stored alert, the last one the replay accounts for.
            self.assertEqual(r, {"type": "subscribed", "channel": "alerts",
                                 "filters": {"since_alert_id": self.a1}, "recovered": True,
                                 "last_alert_id": self.a4, "id": "r1"})
            replay = [await next_of(ws, "alert") for _ in range(3)]
            # In order, each with its current status, numbered from 1.
            self.assertEqual([(m["alert_id"], m["status"], m["seq"]) for m in replay],
                             [(self.a2, "resolved", 1), (self.a3, "active", 2),
                              (self.a4, "active", 3)])
            self.assert_alert(replay[1], device_id=1, severity="critical", title="Replay crit",
                              metadata={"metric": "rpc", "threshold_value": 10,
                                        "actual_value": 20})
            await expect_silence(ws, 0.4)
            # Then live alerts, numbered on.
            await self.aingest(4, {"rp": 30})
            live = self.assert_alert(await next_of(ws, "alert"), device_id=4, status="active",
                                     seq=4)
            self.assertGreater(live["alert_id"], self.a4)
            await self.aingest(4, {"rp": 0})
            self.assert_alert(await next_of(ws, "alert"), alert_id=live["alert_id"],
                              status="resolved", seq=5)
            await ws.close()
        run(go())

    def test_nested_with_filters_and_claims(self):
        async def go():
            ws = await self.client()
            r = await self.request(ws, {"type": "subscribe", "channel": "alerts",
                                        "filters": {"since_alert_id": self.a1, "device_id": 1}})
            self.assertEqual(r, {"type": "subscribed", "channel": "alerts",
                                 "filters": {"device_id": [1], "since_alert_id": self.a1},
                                 "recovered": True, "last_alert_id": self.a4})
            m = await next_of(ws, "alert")
            self.assertEqual((m["alert_id"], m["device_id"], m["seq"]), (self.a3, 1, 1))
            await expect_silence(ws, 0.4)
            await ws.close()

            ws = await self.client()
            r = await self.request(ws, {"type": "subscribe", "channel": "alerts",
                                        "since_alert_id": 0,
                                        "filters": {"severity": ["warning"]}})
            self.assertIs(r.get("recovered"), True, r)
            got = [(m["alert_id"], m["status"]) for m in [await next_of(ws, "alert")
                                                           for _ in range(3)]]
            self.assertEqual(got, [(self.a1, "active"), (self.a2, "resolved"),
                                   (self.a4, "active")])
            await expect_silence(ws, 0.4)
            await ws.close()

            # A user sees the replay of the devices the token covers only.
            ws = await self.client(token("replay-user", "user", devices="2,3"))
            r = await self.request(ws, {"type": "subscribe", "channel": "alerts",
                                        "since_alert_id": 0})
            self.assertIs(r.get("recovered"), True, r)
            got = [(m["alert_id"], m["device_id"]) for m in [await next_of(ws, "alert")
                                                              for _ in range(2)]]
            self.assertEqual(got, [(self.a2, 2), (self.a4, 3)])
            await expect_silence(ws, 0.4)
            await ws.close()
        run(go())

    def test_nothing_missed_and_errors(self):
        async def go():
            ws = await self.client()
            r = await self.request(ws, {"type": "subscribe", "channel": "alerts",
                                        "since_alert_id": self.a4 + 1000, "id": 1})
            self.assertEqual((r["type"], r.get("recovered")), ("subscribed", True), r)
            self.assertEqual(r["last_alert_id"], self.a4 + 1000, r)  # never below the request
            await expect_silence(ws, 0.4)
            for msg, code in (({"since_alert_id": -1}, "invalid_filter"),
                              ({"since_alert_id": "5"}, "invalid_filter"),
                              ({"since_alert_id": 1, "filters": {"since_alert_id": 2}},
                               "invalid_filter")):
                r = await self.request(ws, {"type": "subscribe", "channel": "alerts",
                                            "id": "e", **msg})
                self.assertEqual((r["type"], r["error"], r["id"]), ("error", code, "e"), r)
                self.assertIn("since_alert_id", r["message"], r)
            r = await self.request(ws, {"type": "subscribe", "channel": "telemetry",
                                        "since_alert_id": 1})
            self.assertEqual((r["type"], r["error"]), ("error", "unknown_filter"), r)
            # Without since_alert_id there is no replay and no `recovered`.
            r = await self.request(ws, {"type": "subscribe", "channel": "alerts", "id": 2})
            self.assertEqual(r, {"type": "subscribed", "channel": "alerts", "filters": {},
                                 "last_alert_id": self.a4, "id": 2})
            await expect_silence(ws, 0.4)
            await ws.close()
        run(go())


class ReplayLimitTest(ReplayTestBase):
    config = {"alerts": {"replay_max_alerts": 3}}

    def test_only_the_newest_and_recovered_false(self):
        self.rule(name="Lim", metric="lim", threshold=10)

        async def go():
            ws = await self.client()
            await sub(ws, "alerts")
            ids = []
            for device in range(1, 7):
                await self.aingest(device, {"lim": 20})
                ids.append((await next_of(ws, "alert"))["alert_id"])
            await ws.close()
            # 5 stored after ids[0], limit 3: the newest 3, and the reply says history is short.
            ws = await self.client()
            r = await self.request(ws, {"type": "subscribe", "channel": "alerts",
                                        "since_alert_id": ids[0]})
            self.assertIs(r.get("recovered"), False, r)
            got = [(await next_of(ws, "alert"))["alert_id"] for _ in range(3)]
            self.assertEqual(got, ids[3:])
            await expect_silence(ws, 0.4)
            await ws.close()
            # Exactly 3 missed: all of them, recovered.
            ws = await self.client()
            r = await self.request(ws, {"type": "subscribe", "channel": "alerts",
                                        "filters": {"since_alert_id": ids[2]}})
            self.assertIs(r.get("recovered"), True, r)
            got = [(await next_of(ws, "alert"))["alert_id"] for _ in range(3)]
            self.assertEqual(got, ids[3:])
            await expect_silence(ws, 0.3)
            await ws.close()
        run(go())


class ConcurrentReplayTest(ReplayTestBase):
    # Thousands of alerts a second: a reconnect's replay may be larger than the default 1 MiB
    # outbound queue takes at once (see ReplayVolumeTest); room for it here, so that this test
    # is about gaps and duplicates only.
    config = {"limits": {"max_outbound_bytes": 64 * 1024 * 1024}}

    @seeded
    def test_no_gap_no_duplicate_while_reconnecting(self):
        self.rule(name="Toggle", device_id=9, metric="tg", threshold=10)
        received = []           # (alert_id, status) over every connection
        per_connection = []

        async def session(since, seconds):
            ws = await self.client()
            r = await self.request(ws, {"type": "subscribe", "channel": "alerts",
                                        "since_alert_id": since})
            self.assertEqual(r["type"], "subscribed", r)
            self.assertIs(r.get("recovered"), True, r)
            msgs = await collect(ws, seconds)
            await ws.close()
            per_connection.append(msgs)
            return msgs

        async def go():
            since = 0
            for _ in range(20):
                msgs = await session(since, self.rng.uniform(0.1, 0.35))
                for m in msgs:
                    self.assertEqual(m["type"], "alert", m)
                    received.append((m["alert_id"], m["status"]))
                if msgs:
                    since = max(since, max(m["alert_id"] for m in msgs))
                await asyncio.sleep(self.rng.uniform(0.02, 0.15))  # alerts keep coming meanwhile
            return since

        with self.raising_and_resolving("tg", [9]) as toggles:
            since = run(go())
        time.sleep(0.3)
        # A last connection collects whatever came after.
        for m in run(session(since, 0.8)):
            received.append((m["alert_id"], m["status"]))

        self.assertGreater(toggles[0], 20, "the toggler hardly ran")
        for msgs in per_connection:
            self.assertEqual([m["seq"] for m in msgs], list(range(1, len(msgs) + 1)))
            # Alerts first appear in id order on every connection.
            first_seen = []
            for m in msgs:
                if m["alert_id"] not in first_seen:
                    first_seen.append(m["alert_id"])
            self.assertEqual(first_seen, sorted(first_seen), msgs)
        self.assertEqual(len(received), len(set(received)),
                         f"duplicate (alert_id, status): "
                         f"{sorted(x for x in set(received) if received.count(x) > 1)}")
        ids = sorted({i for i, _ in received})
        self.assertGreater(len(ids), 10, "too few alerts raised to test anything")
        # No gap: every alert the store has (this server's alerts are all of device 9) was
        # received, from the first.
        total = self.page(f"{ALERTS}?size=1")[1]["total"]
        self.assertEqual(ids, list(range(1, total + 1)), "gap in alert ids")


def batch(*messages):
    return json.dumps({"type": "batch", "messages": list(messages)})


def alerts_sub(id_, **fields):
    return {"type": "subscribe", "channel": "alerts", "id": id_, **fields}


def summary(msgs):
    """Messages as short tuples: ("subscribed", id) / ("alert", alert_id, status, seq)."""
    out = []
    for m in msgs:
        if m["type"] == "alert":
            out.append(("alert", m["alert_id"], m["status"], m["seq"]))
        else:
            out.append((m["type"], m.get("id")))
    return out


class OverlappingReplayReproTest(ReplayTestBase):
    def test_second_replay_skips_what_the_first_sent(self):
        # The report: an alert of device 2, then on one connection a replay for device 2 and a
        # replay for every device. The connection gets the alert once.
        self.rule(name="hot", metric="temp", threshold=50)
        self.ingest(2, {"temp": 60})
        deadline = time.time() + 5
        while self.page(f"{ALERTS}?size=1")[1]["total"] < 1 and time.time() < deadline:
            time.sleep(0.05)

        async def go():
            ws = await self.client()
            await ws.send(batch(alerts_sub(1, device_id=[2], since_alert_id=0),
                                alerts_sub(2, since_alert_id=0)))
            msgs = await until_pong(ws)
            await ws.close()
            return msgs
        msgs = run(go())
        self.assertEqual(summary(msgs), [("subscribed", 1), ("alert", 1, "active", 1),
                                         ("subscribed", 2)], msgs)


class OverlappingReplayTest(ReplayTestBase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        s, adm = cls.server, cls.admin
        for body in ({"name": "Warm", "metric": "ov", "condition": "gt", "threshold": 10},
                     {"name": "Crit", "metric": "ovc", "condition": "gt", "threshold": 10,
                      "severity": "critical"}):
            status, reply = s.request("POST", "/api/v1/alert-rules", body, adm)
            assert status == 201, reply

    def raise_alert(self, device, metric="ov"):
        """Raises an alert and brings the reading back to normal (so the alert is resolved and
        the rule may fire again); returns the alert's id once it is stored resolved."""
        known = {a["alert_id"] for a in self.page(f"{ALERTS}?device_id={device}&size=100")[0]}
        self.ingest(device, {metric: 20})
        self.ingest(device, {metric: 0})
        deadline = time.time() + 5
        while time.time() < deadline:
            new = [a for a in self.page(f"{ALERTS}?device_id={device}&size=100")[0]
                   if a["alert_id"] not in known]
            if new and new[0]["status"] == "resolved":
                return new[0]["alert_id"]
            time.sleep(0.05)
        self.fail(f"no resolved alert stored for device {device}")

    def test_each_replay_sends_only_what_the_connection_lacks(self):
        a = self.raise_alert(21)
        b = self.raise_alert(22, "ovc")   # critical
        c = self.raise_alert(23)
        d = self.raise_alert(21, "ovc")   # critical, device 21
        since = a - 1

        async def go():
            ws = await self.client()
            await ws.send(batch(alerts_sub("d21", device_id=21, since_alert_id=since),
                                alerts_sub("crit", severity="critical", since_alert_id=since),
                                alerts_sub("all", since_alert_id=since)))
            msgs = await until_pong(ws)
            await ws.close()
            return msgs
        msgs = run(go())
        # Device 21's replay: a and d (each resolved by now). The critical replay: b only (d was
        # sent). Every device: c only.
        self.assertEqual(summary(msgs), [
            ("subscribed", "d21"), ("alert", a, "resolved", 1), ("alert", d, "resolved", 2),
            ("subscribed", "crit"), ("alert", b, "resolved", 3),
            ("subscribed", "all"), ("alert", c, "resolved", 4)], msgs)

    def test_state_changes_delivered_live_are_not_replayed_again(self):
        self.ingest(31, {"ov": 20})  # stays active until below the threshold
        self.ingest(32, {"ov": 20})
        deadline = time.time() + 5
        while time.time() < deadline:
            got = {x["device_id"]: x for x in
                   self.page(f"{ALERTS}?status=active&size=100")[0]}
            if 31 in got and 32 in got:
                break
            time.sleep(0.05)
        x, y = got[31]["alert_id"], got[32]["alert_id"]

        async def go():
            ws = await self.client()
            # Device 31 from now on (x is older than the subscription: not sent); device 32
            # with a replay (y is sent, active).
            r = await self.request(ws, alerts_sub("n", device_id=31))
            self.assertGreaterEqual(r["last_alert_id"], max(x, y), r)
            r = await self.request(ws, alerts_sub("r", device_id=32, since_alert_id=y - 1))
            self.assertEqual(r["type"], "subscribed", r)
            self.assert_alert(await next_of(ws, "alert"), alert_id=y, status="active", seq=1)
            # Both acknowledged: live, once each.
            await self.aok("POST", f"{ALERTS}/{x}/acknowledge", {})
            await self.aok("POST", f"{ALERTS}/{y}/acknowledge", {})
            live = sorted([(m["alert_id"], m["status"]) for m in
                           [await next_of(ws, "alert") for _ in range(2)]])
            self.assertEqual(live, [(x, "acknowledged"), (y, "acknowledged")])
            # A replay of every device from before both: neither is sent again.
            r = await self.request(ws, alerts_sub("all", since_alert_id=min(x, y) - 1))
            self.assertEqual(r["type"], "subscribed", r)
            rest = await until_pong(ws)
            self.assertNotIn(x, [m["alert_id"] for m in rest], rest)
            self.assertNotIn(y, [m["alert_id"] for m in rest], rest)
            # A later state change still comes, once.
            await self.aok("POST", f"{ALERTS}/{x}/resolve", {})
            m = await next_of(ws, "alert")
            self.assertEqual((m["alert_id"], m["status"]), (x, "resolved"), m)
            await expect_silence(ws, 0.3)
            await ws.close()
        run(go())

    def test_after_unsubscribing_a_replay_starts_over(self):
        a = self.raise_alert(41)

        async def go():
            ws = await self.client()
            await self.request(ws, alerts_sub(1, device_id=41, since_alert_id=a - 1))
            self.assertEqual((await next_of(ws, "alert"))["alert_id"], a)
            r = await self.request(ws, {"type": "unsubscribe", "channel": "alerts", "id": 2})
            self.assertEqual(r["removed"], 1, r)
            # A new subscription after the old one was removed: its replay is whole again.
            await self.request(ws, alerts_sub(3, since_alert_id=a - 1))
            got = await until_pong(ws)
            self.assertIn(a, [m["alert_id"] for m in got], got)
            await ws.close()
        run(go())


class ConcurrentOverlappingReplayTest(ReplayTestBase):
    config = {"limits": {"max_outbound_bytes": 64 * 1024 * 1024}}

    @seeded
    def test_no_gap_no_duplicate_with_overlapping_replays(self):
        # Alerts keep being raised and resolved on devices 8 and 9 while each connection first
        # replays device 9, then (overlapping it) every device, from the same point.
        self.rule(name="Both", metric="ob", threshold=10)
        received = []

        async def session(since, final=False):
            ws = await self.client()
            msgs = []
            if not final:
                await ws.send(json.dumps(alerts_sub("nine", device_id=9, since_alert_id=since)))
                msgs += await collect(ws, self.rng.uniform(0.02, 0.2))
            await ws.send(json.dumps(alerts_sub("all", since_alert_id=since)))
            # The pong comes after the whole replay (requests wait for it): after it, every
            # alert above `since` has reached this connection or is live.
            msgs += await until_pong(ws)
            msgs += await collect(ws, self.rng.uniform(0.05, 0.3) if not final else 0.8)
            await ws.close()
            alerts = [m for m in msgs if m["type"] == "alert"]
            self.assertEqual([m["seq"] for m in alerts], list(range(1, len(alerts) + 1)))
            for m in msgs:
                if m["type"] == "subscribed":
                    self.assertIs(m.get("recovered"), True, m)
            pairs = [(m["alert_id"], m["status"]) for m in alerts]
            self.assertEqual(len(pairs), len(set(pairs)),
                             f"duplicate on one connection: "
                             f"{sorted(p for p in set(pairs) if pairs.count(p) > 1)}")
            received.extend(pairs)
            return max([since] + [i for i, _ in pairs])

        async def go():
            since = 0
            for _ in range(12):
                since = await session(since)
                await asyncio.sleep(self.rng.uniform(0.02, 0.1))
            return since

        with self.raising_and_resolving("ob", [8, 9]):
            since = run(go())
        time.sleep(0.3)
        run(session(since, final=True))
        self.assertEqual(len(received), len(set(received)), "duplicate across connections")
        ids = sorted({i for i, _ in received})
        self.assertGreater(len(ids), 10, "too few alerts raised to test anything")
        total = self.page(f"{ALERTS}?size=1")[1]["total"]
        self.assertEqual(ids, list(range(1, total + 1)), "gap in alert ids")


class LastAlertIdTest(ReplayTestBase):
    def test_last_alert_id_in_every_alerts_reply(self):
        async def go():
            # No alert stored yet: 0, on /ws and on /ws/alerts.
            ws = await self.client()
            r = await self.request(ws, alerts_sub("a"))
            self.assertEqual(r, {"type": "subscribed", "channel": "alerts", "filters": {},
                                 "last_alert_id": 0, "id": "a"})
            r = await self.request(ws, {"type": "subscribe", "channel": "telemetry", "id": "t"})
            self.assertNotIn("last_alert_id", r)
            await ws.close()
            ws = await connect(self.server, "/ws/alerts", token_=self.admin, close_timeout=1)
            self.assertEqual(await recv_json(ws), {"type": "subscribed", "channel": "alerts",
                                                   "filters": {}, "last_alert_id": 0})
            await ws.close()

            self.rule(name="Last", metric="la", threshold=10)
            ids = []
            for device in (1, 2):
                ws = await self.client()
                await self.request(ws, alerts_sub("w", device_id=device))
                await self.aingest(device, {"la": 20})
                ids.append((await next_of(ws, "alert"))["alert_id"])
                await ws.close()

            # Now the newest stored alert, whatever the filters; with a replay too.
            ws = await self.client()
            r = await self.request(ws, alerts_sub("b", device_id=1, severity="critical"))
            self.assertEqual(r["last_alert_id"], ids[1], r)
            r = await self.request(ws, alerts_sub("c", since_alert_id=0))
            self.assertEqual((r["recovered"], r["last_alert_id"]), (True, ids[1]), r)
            self.assertEqual([m["alert_id"] for m in await until_pong(ws)], ids)
            await ws.close()
        run(go())

    def test_resuming_from_last_alert_id(self):
        # A client that has received no alert resumes with since_alert_id = last_alert_id: it
        # gets exactly the alerts raised meanwhile.
        self.rule(name="Resume", metric="rs", threshold=10)

        def stored(device):
            deadline = time.time() + 5
            while time.time() < deadline:
                data = self.page(f"{ALERTS}?device_id={device}")[0]
                if data:
                    return data[0]["alert_id"]
                time.sleep(0.05)
            self.fail(f"no alert stored for device {device}")

        self.ingest(5, {"rs": 20})  # an older alert: not to be replayed
        stored(5)

        async def go():
            ws = await self.client()
            r = await self.request(ws, alerts_sub(1))
            last = r["last_alert_id"]
            self.assertGreater(last, 0, r)
            await expect_silence(ws, 0.2)
            await ws.close()
            await self.aingest(6, {"rs": 20})  # while away
            await asyncio.to_thread(stored, 6)
            ws = await self.client()
            r = await self.request(ws, alerts_sub(2, since_alert_id=last))
            self.assertIs(r["recovered"], True, r)
            m = await next_of(ws, "alert")
            self.assertEqual((m["device_id"], m["status"], m["seq"]), (6, "active", 1), m)
            self.assertEqual(r["last_alert_id"], m["alert_id"], r)
            await expect_silence(ws, 0.3)
            await ws.close()
        run(go())


class ConcurrentLastAlertIdTest(ReplayTestBase):
    config = {"limits": {"max_outbound_bytes": 64 * 1024 * 1024}}

    @seeded
    def test_no_gap_no_duplicate_resuming_from_last_alert_id(self):
        # Alerts keep coming; each first connection subscribes without since_alert_id and
        # resumes from its last_alert_id (or from the newest alert it received); nothing raised
        # after the first subscription is lost or received twice.
        self.rule(name="Flow", device_id=9, metric="fl", threshold=10)
        received = []
        starts = []

        async def session(resume, seconds):
            ws = await self.client()
            msg = alerts_sub("s") if resume is None else alerts_sub("s", since_alert_id=resume)
            r = await self.request(ws, msg)
            self.assertEqual(r["type"], "subscribed", r)
            msgs = await collect(ws, seconds)
            await ws.close()
            self.assertEqual([m["seq"] for m in msgs], list(range(1, len(msgs) + 1)))
            if resume is None:
                # After `subscribed` (no replay): alerts above last_alert_id, and state changes.
                starts.append(r["last_alert_id"])
                for m in msgs:
                    if m["status"] == "active":
                        self.assertGreater(m["alert_id"], r["last_alert_id"], (r, m))
                resume = r["last_alert_id"]
            pairs = [(m["alert_id"], m["status"]) for m in msgs]
            received.extend(pairs)
            return max([resume] + [i for i, _ in pairs])

        async def go():
            resume = None
            for _ in range(15):
                resume = await session(resume, self.rng.uniform(0.05, 0.3))
                await asyncio.sleep(self.rng.uniform(0.02, 0.15))
            return resume

        with self.raising_and_resolving("fl", [9]):
            resume = run(go())
        time.sleep(0.3)
        run(session(resume, 0.8))
        self.assertEqual(len(received), len(set(received)),
                         f"duplicate (alert_id, status): "
                         f"{sorted(x for x in set(received) if received.count(x) > 1)}")
        first = starts[0]
        ids = sorted({i for i, _ in received if i > first})
        self.assertGreater(len(ids), 10, "too few alerts raised to test anything")
        total = self.page(f"{ALERTS}?size=1")[1]["total"]
        self.assertEqual(ids, list(range(first + 1, total + 1)), "gap in alert ids")


class RestartTest(RestMixin, unittest.TestCase):
    # Not a ServerTestCase: the test stops its server and starts another on the same port.
    def test_replay_from_a_server_started_again_on_the_same_port(self):
        # harness.Server(port=...): a server started again where clients reconnect, on the same
        # database, replays what the first one stored. stop() releases the output pipe.
        tmp = tempfile.TemporaryDirectory()
        self.addCleanup(tmp.cleanup)
        config = {"": {"db": os.path.join(tmp.name, "restart.db")}}
        self.admin = token("restart-admin", "admin")
        self.server = first = Server(config)
        first.start()
        self.addCleanup(first.stop)
        self.rule(name="Restart", metric="rst", threshold=10)
        self.ingest(3, {"rst": 20})
        deadline = time.time() + 5
        while not self.page(f"{ALERTS}?size=1")[0] and time.time() < deadline:
            time.sleep(0.05)
        (alert,) = self.page(f"{ALERTS}?size=1")[0]
        first.stop()
        self.assertTrue(first.proc.stdout.closed)
        first.stop()  # idempotent

        self.server = second = Server(config, port=first.port)
        second.start()
        self.addCleanup(second.stop)
        self.assertEqual(second.port, first.port)
        with self.assertRaises(RuntimeError):  # the port is taken: a clear failure
            Server(port=first.port).start()

        async def go():
            ws = await connect(second, token_=self.admin, close_timeout=1)
            r = await self.request(ws, alerts_sub(1, since_alert_id=0))
            self.assertEqual((r["recovered"], r["last_alert_id"]), (True, alert["alert_id"]), r)
            m = await next_of(ws, "alert")
            self.assertEqual((m["alert_id"], m["device_id"]), (alert["alert_id"], 3), m)
            await ws.close()
        run(go())

    async def request(self, ws, msg):
        await ws.send(json.dumps(msg))
        return await recv_json(ws, 5)


class ReplayVolumeTest(ReplayTestBase):
    def test_a_replay_within_the_limit_is_delivered_whole(self):
        # 5 000 stored alerts, half the default replay limit (10 000): a client reading as fast
        # as it can gets all of them (recovered: true), not a 4009 half way through.
        self.rule(name="Bulk", device_id=9, metric="bulk", threshold=10)
        for _ in range(10):
            items = [{"device_id": 9, "metric_name": "bulk", "metric_value": 20 if i % 2 == 0
                      else 0} for i in range(1000)]
            self.accepted("/api/v1/telemetry/batch", items)
        deadline = time.time() + 180  # under ASan the rules and the writer are many times slower
        while self.page(f"{ALERTS}?size=1")[1]["total"] < 5000 and time.time() < deadline:
            time.sleep(0.1)
        self.assertEqual(self.page(f"{ALERTS}?size=1")[1]["total"], 5000)

        async def go():
            ws = await connect(self.server, token_=self.admin, close_timeout=1, max_queue=None)
            r = await self.request(ws, {"type": "subscribe", "channel": "alerts",
                                        "since_alert_id": 0})
            self.assertIs(r.get("recovered"), True, r)
            got = []
            try:
                while len(got) < 5000:
                    got.append(json.loads(await asyncio.wait_for(ws.recv(), 5)))
            except Exception as e:  # noqa: BLE001 - report how far it got
                self.fail(f"replay cut after {len(got)} of 5000 alerts: {e!r}")
            await expect_silence(ws, 0.3)
            await ws.close()
            return got
        got = run(go())
        self.assertEqual([m["alert_id"] for m in got], list(range(1, 5001)))
        self.assertEqual([m["seq"] for m in got], list(range(1, 5001)))
        self.assertEqual({m["status"] for m in got}, {"resolved"})


class TelemetrySnapshotTest(ReplayTestBase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        s, adm = cls.server, cls.admin
        status, reply = s.request("POST", "/api/v1/telemetry", {"device_id": 1, "telemetry": {
            "temperature": {"value": 20.0, "unit": "°C", "timestamp": "2024-01-01T12:00:00Z"},
            "humidity": {"value": 40, "unit": "%", "timestamp": "2024-01-01T12:00:00Z"}}}, adm)
        assert status == 202, reply
        s.ingest(1, {"temperature": 21.5}, adm)  # newer: the snapshot has this one
        s.ingest(2, {"temperature": 25.0}, adm)
        s.ingest(3, {"pressure": 1000}, adm)

    def snapshot_of(self, msgs):
        out = {}
        for m in msgs:
            self.assertEqual(m["type"], "telemetry_update", m)
            self.assertNotIn(m["device_id"], out, f"two snapshot updates for a device: {msgs}")
            out[m["device_id"]] = {k: v["value"] for k, v in m["telemetry"].items()}
        return out

    def test_snapshot_then_live(self):
        async def go():
            ws = await self.client()
            r = await self.request(ws, {"type": "subscribe", "channel": "telemetry",
                                        "snapshot": True, "id": "t"})
            self.assertEqual(r, {"type": "subscribed", "channel": "telemetry", "id": "t",
                                 "filters": {"frequency": "real-time", "snapshot": True}})
            msgs = await until_pong(ws)
            self.assertEqual(self.snapshot_of(msgs), {1: {"temperature": 21.5, "humidity": 40},
                                                      2: {"temperature": 25},
                                                      3: {"pressure": 1000}})
            self.assertEqual(sorted(m["seq"] for m in msgs), [1, 2, 3])
            self.assertEqual([m["seq"] for m in msgs], [1, 2, 3])
            d1 = [m for m in msgs if m["device_id"] == 1][0]
            self.assertEqual(d1["telemetry"]["humidity"].get("unit"), "%")
            # (The same value again, so that the other test's snapshot does not depend on
            # the order the tests run in.)
            await self.aingest(2, {"temperature": 25.0})
            live = await next_of(ws, "telemetry_update")
            self.assertEqual((live["device_id"], live["seq"],
                              live["telemetry"]["temperature"]["value"]), (2, 4, 25))
            await ws.close()

            # Without snapshot (the default), nothing comes first.
            ws = await self.client()
            r = await self.request(ws, {"type": "subscribe", "channel": "telemetry"})
            self.assertEqual(r["filters"], {"frequency": "real-time"}, r)
            self.assertEqual(await until_pong(ws), [])
            await ws.close()
        run(go())

    def test_snapshot_respects_metrics_devices_and_claims(self):
        async def go():
            ws = await self.client()
            await self.request(ws, {"type": "subscribe", "channel": "telemetry",
                                    "filters": {"snapshot": True, "metrics": ["temperature"]}})
            self.assertEqual(self.snapshot_of(await until_pong(ws)),
                             {1: {"temperature": 21.5}, 2: {"temperature": 25}})
            await ws.close()

            ws = await self.client()
            await self.request(ws, {"type": "subscribe", "channel": "telemetry",
                                    "device_id": [2, 3], "snapshot": True})
            self.assertEqual(self.snapshot_of(await until_pong(ws)),
                             {2: {"temperature": 25}, 3: {"pressure": 1000}})
            await ws.close()

            ws = await self.client(token("snap-user", "user", devices="1,3"))
            await self.request(ws, {"type": "subscribe", "channel": "telemetry",
                                    "snapshot": True})
            self.assertEqual(self.snapshot_of(await until_pong(ws)),
                             {1: {"temperature": 21.5, "humidity": 40}, 3: {"pressure": 1000}})
            await ws.close()
        run(go())


class DevicesSnapshotTest(ReplayTestBase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        s, adm = cls.server, cls.admin
        for i in (1, 2, 3):
            status, reply = s.request("POST", "/api/v1/devices", {"id": i, "name": f"S{i}"}, adm)
            assert status == 201, reply
        s.ingest(1, {"temperature": 1.0}, adm)
        s.request("PUT", "/api/v1/devices/2/status", {"status": "maintenance"}, adm)

    def statuses(self, msgs):
        out = {}
        for n, m in enumerate(msgs, 1):
            self.assert_status(m, m["device_id"], m["old_status"], m["old_status"], "snapshot",
                               seq=n)
            out[m["device_id"]] = m["new_status"]
        return out

    def test_snapshot_filters_and_claims(self):
        async def go():
            ws = await self.client()
            r = await self.request(ws, {"type": "subscribe", "channel": "devices", "id": 1})
            self.assertEqual(r, {"type": "subscribed", "channel": "devices", "filters": {},
                                 "id": 1})
            msgs = await until_pong(ws)
            self.assertEqual(self.statuses(msgs), {1: "online", 2: "maintenance", 3: "offline"})
            self.assertIn("last_seen", [m for m in msgs if m["device_id"] == 1][0]["metadata"])
            await ws.close()

            for filters, want in (({"status_types": ["maintenance", "offline"]},
                                   {2: "maintenance", 3: "offline"}),
                                  ({"device_id": [1, 3]}, {1: "online", 3: "offline"}),
                                  ({"device_id": 2, "status_types": ["online"]}, {})):
                ws = await self.client()
                await self.request(ws, {"type": "subscribe", "channel": "devices",
                                        "filters": filters})
                self.assertEqual(self.statuses(await until_pong(ws)), want, filters)
                await ws.close()

            ws = await self.client(token("dsnap-user", "user", devices="2"))
            await self.request(ws, {"type": "subscribe", "channel": "devices"})
            self.assertEqual(self.statuses(await until_pong(ws)), {2: "maintenance"})
            await ws.close()

            # snapshot: false skips it; live changes are numbered from 1.
            ws = await self.client()
            r = await self.request(ws, {"type": "subscribe", "channel": "devices",
                                        "device_id": 3, "snapshot": False})
            self.assertEqual(r["filters"], {"device_id": [3], "snapshot": False}, r)
            self.assertEqual(await until_pong(ws), [])
            await self.aok("PUT", "/api/v1/devices/3/status", {"status": "error",
                                                                "reason": "x"})
            self.assert_status(await next_of(ws, "device_status_update"), 3, "offline",
                               "error", "x", seq=1)
            await self.aok("PUT", "/api/v1/devices/3/status", {"status": "offline"})
            await next_of(ws, "device_status_update")
            await ws.close()
        run(go())

    def test_two_subscriptions_in_a_row_each_get_their_snapshot(self):
        # Two devices subscriptions sent back to back (one batch, "executed in order, each
        # replied to as if sent alone"): each gets its `subscribed`, in order, and the snapshot
        # of its own devices.
        async def go():
            ws = await self.client()
            await ws.send(json.dumps({"type": "batch", "messages": [
                {"type": "subscribe", "channel": "devices", "device_id": 1, "id": "a"},
                {"type": "subscribe", "channel": "devices", "device_id": 2, "id": "b"}]}))
            msgs = await collect(ws, 1.0)
            await ws.close()
            return msgs
        msgs = run(go())
        snap = [(m["device_id"], m["new_status"]) for m in msgs
                if m["type"] == "device_status_update"]
        replies = [m["id"] for m in msgs if m["type"] == "subscribed"]
        self.assertEqual(sorted(snap), [(1, "online"), (2, "maintenance")],
                         f"a snapshot is missing: {msgs}")
        self.assertEqual(replies, ["a", "b"], f"replies out of order: {msgs}")

class SnapshotConsistencyTest(ReplayTestBase):
    def test_snapshot_agrees_with_the_transitions_that_follow(self):
        # While a device's status keeps changing, a client that subscribes sees a snapshot and
        # then only transitions starting from the status it last saw.
        self.ok("POST", "/api/v1/devices", {"id": 50, "name": "Flapper"}, status=201)
        statuses = ["error", "maintenance"]
        flips = [0]

        def flip():
            self.call("PUT", "/api/v1/devices/50/status", {"status": statuses[flips[0] % 2]})
            flips[0] += 1

        problems = []

        async def go():
            for _ in range(25):
                ws = await self.client()
                await self.request(ws, {"type": "subscribe", "channel": "devices",
                                        "device_id": 50})
                msgs = await collect(ws, 0.08)
                await ws.close()
                self.assertTrue(msgs and msgs[0]["reason"] == "snapshot", msgs)
                seen = msgs[0]["new_status"]
                for m in msgs[1:]:
                    if m["old_status"] != seen:
                        problems.append((seen, m))
                    seen = m["new_status"]
                self.assertEqual([m["seq"] for m in msgs], list(range(1, len(msgs) + 1)))
        with self.in_background(flip):
            run(go())
        self.assertEqual(problems, [], "after a snapshot with status S, a transition whose "
                                       "old_status is not S arrived")


class SeqTest(ReplayTestBase):
    def test_seq_counts_per_channel(self):
        self.rule(name="Seq", device_id=5, metric="sq", threshold=10)
        self.ok("POST", "/api/v1/devices", {"id": 5, "name": "Seq"}, status=201)

        async def go():
            ws = await self.client()
            await sub(ws, "telemetry", device_id=5)
            await sub(ws, "alerts", device_id=5)
            await sub(ws, "devices", device_id=5)
            snapshot = await next_of(ws, "device_status_update")
            self.assert_status(snapshot, 5, "offline", "offline", "snapshot", seq=1)
            await sub(ws, "system", frequency="1s")
            for v in (20, 0, 20, 0, 5):
                await self.aingest(5, {"sq": v})
            await self.aok("PUT", "/api/v1/devices/5/status", {"status": "maintenance"})
            msgs = await collect(ws, 1.5)
            await ws.close()
            return [snapshot] + msgs
        msgs = run(go())
        by_type = {}
        for m in msgs:
            by_type.setdefault(m["type"], []).append(m["seq"])
        self.assertEqual(by_type.get("telemetry_update"), [1, 2, 3, 4, 5], msgs)
        self.assertEqual(by_type.get("alert"), [1, 2, 3, 4], msgs)
        # snapshot, offline -> online, online -> maintenance
        self.assertEqual(by_type.get("device_status_update"), [1, 2, 3], msgs)
        sys_seq = by_type.get("system_status_update", [])
        self.assertGreaterEqual(len(sys_seq), 1, msgs)
        self.assertEqual(sys_seq, list(range(1, len(sys_seq) + 1)), msgs)


if __name__ == "__main__":
    unittest.main()
