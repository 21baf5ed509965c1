"""Issue 3, "Alert rules and alerts": rule CRUD and validation (400 naming the field), evaluation
(once per episode, hysteresis, duration, cooldown, scope), alerts over REST (filters, pagination,
acknowledge/resolve recording who and when, 409 INVALID_STATE), their messages on the `alerts`
channel, and critical alerts turning a device `warning`."""
import asyncio
import time
import unittest

from domain_helpers import RULE_FIELDS, RestMixin, next_of, sub, ts
from harness import ServerTestCase, connect, expect_silence, recv_json, run, token

RULES = "/api/v1/alert-rules"
ALERTS = "/api/v1/alerts"


class AlertsTestBase(RestMixin, ServerTestCase):
    admin_sub = "ra-admin"

    async def alerts_ws(self, **filters):
        ws = await connect(self.server, token_=self.admin, close_timeout=1)
        await sub(ws, "alerts", **filters)
        return ws


class RuleCrudTest(AlertsTestBase):
    def test_create_get_list_update_delete(self):
        body = {"name": "Hot boiler", "device_id": 7, "metric": "temperature",
                "condition": "gte", "threshold": 80.5, "severity": "critical",
                "alert_type": "threshold", "duration": "30s", "cooldown": 90, "enabled": False}
        r = self.rule(**body)
        self.assertEqual(set(r), RULE_FIELDS, r)
        self.assertIsInstance(r["id"], int)
        want = dict(body, duration=30, cooldown=90, device_type=None)
        for k, v in want.items():
            self.assertEqual(r[k], v, (k, r))
        ts(r["created_at"])
        self.assertEqual(self.ok("GET", f"{RULES}/{r['id']}"), r)

        # Defaults: severity warning, alert_type threshold, duration/cooldown 0, enabled, all
        # devices.
        d = self.ok("POST", RULES, {"name": "Any", "metric": "m.1", "condition": "lt",
                                    "threshold": -3}, status=201)
        self.assertEqual((d["severity"], d["alert_type"], d["duration"], d["cooldown"],
                          d["enabled"], d["device_id"], d["device_type"]),
                         ("warning", "threshold", 0, 0, True, None, None), d)
        self.assertGreater(d["id"], r["id"])
        t = self.rule(name="Typed", device_type="gateway", metric="x", threshold=1,
                      duration="500ms", cooldown="2m")
        self.assertEqual((t["device_type"], t["device_id"], t["duration"], t["cooldown"]),
                         ("gateway", None, 0.5, 120), t)

        data, p = self.page(RULES)
        self.assertEqual([x["id"] for x in data], [r["id"], d["id"], t["id"]])
        self.assertEqual(p["total"], 3)
        data, p = self.page(f"{RULES}?size=2&page=2")
        self.assertEqual(([x["id"] for x in data], p["pages"], p["has_prev"]), ([t["id"]], 2, True))

        # Partial updates: only the given fields change.
        for method, patch in (("PATCH", {"threshold": 90}), ("PUT", {"name": "Renamed",
                                                                     "duration": 0})):
            u = self.ok(method, f"{RULES}/{r['id']}", patch)
            for k in RULE_FIELDS - set(patch) - {"updated_at"}:
                self.assertEqual(u[k], r[k], (method, k, u))
            for k, v in patch.items():
                self.assertEqual(u[k], v, (method, k, u))
            r = u
        self.assertEqual(self.ok("GET", f"{RULES}/{r['id']}"), r)
        # null widens the scope.
        u = self.ok("PATCH", f"{RULES}/{r['id']}", {"device_id": None})
        self.assertIsNone(u["device_id"])
        # An operator manages rules too.
        op = token("ra-op", "operator")
        self.ok("PATCH", f"{RULES}/{r['id']}", {"enabled": True}, op)

        self.assertEqual(self.ok("DELETE", f"{RULES}/{d['id']}"), d)
        for method, body in (("GET", None), ("DELETE", None), ("PATCH", {"threshold": 1}),
                             ("PUT", {"threshold": 1})):
            self.fails(method, f"{RULES}/{d['id']}", body, 404, "NOT_FOUND")
        self.assertEqual([x["id"] for x in self.page(RULES)[0]], [r["id"], t["id"]])

    def test_roles(self):
        r = self.rule(name="R", metric="roles", threshold=1)
        for role in ("user", "analyst"):
            tok = token(f"ra-{role}", role, devices="*")
            with self.subTest(role=role):
                self.fails("GET", RULES, None, 403, "FORBIDDEN", tok=tok)
                self.fails("GET", f"{RULES}/{r['id']}", None, 403, "FORBIDDEN", tok=tok)
                self.fails("POST", RULES, {"name": "x", "metric": "m", "condition": "gt",
                                           "threshold": 1}, 403, "FORBIDDEN", tok=tok)
                self.fails("PATCH", f"{RULES}/{r['id']}", {"threshold": 2}, 403, "FORBIDDEN",
                           tok=tok)
                self.fails("DELETE", f"{RULES}/{r['id']}", None, 403, "FORBIDDEN", tok=tok)
        self.fails("GET", RULES, None, 403, "FORBIDDEN", tok=token("d", "device", device_id=1))
        status, reply = self.server.request("GET", RULES)
        self.assert_error(status, reply, 401, "UNAUTHORIZED")
        self.assertEqual(self.ok("GET", f"{RULES}/{r['id']}"), r)

    def test_validation_names_the_field(self):
        base = {"name": "V", "metric": "temperature", "condition": "gt", "threshold": 1}

        def without(k):
            return {x: v for x, v in base.items() if x != k}

        cases = [
            (without("name"), "name"), (dict(base, name=""), "name"),
            (dict(base, name=5), "name"), (dict(base, name="n" * 201), "name"),
            (without("metric"), "metric"), (dict(base, metric="Temp!"), "metric"),
            (dict(base, metric=""), "metric"), (dict(base, metric="m" * 65), "metric"),
            (dict(base, metric=3), "metric"),
            (without("condition"), "condition"), (dict(base, condition="above"), "condition"),
            (dict(base, condition=1), "condition"),
            (without("threshold"), "threshold"), (dict(base, threshold="35"), "threshold"),
            (dict(base, threshold=None), "threshold"), (dict(base, threshold=[1]), "threshold"),
            (dict(base, severity="urgent"), "severity"), (dict(base, severity=2), "severity"),
            (dict(base, alert_type="anomaly"), "alert_type"),
            (dict(base, alert_type="bogus"), "alert_type"),
            (dict(base, duration="soon"), "duration"), (dict(base, duration=-1), "duration"),
            (dict(base, duration="10x"), "duration"), (dict(base, duration=True), "duration"),
            (dict(base, cooldown="x"), "cooldown"), (dict(base, cooldown=-5), "cooldown"),
            (dict(base, enabled="yes"), "enabled"), (dict(base, enabled=1), "enabled"),
            (dict(base, device_id=0), "device_id"), (dict(base, device_id="1"), "device_id"),
            (dict(base, device_id=1.5), "device_id"),
            (dict(base, device_type="robot"), "device_type"),
            (dict(base, device_id=1, device_type="sensor"), ("device_id", "device_type")),
            (dict(base, colour="red"), "colour"),
            (dict(base, id=5), "id"), (dict(base, created_at="2024-01-01T00:00:00Z"),
                                       "created_at"),
        ]
        count = self.page(RULES)[1]["total"]
        for body, field in cases:
            with self.subTest(body=body):
                self.fails("POST", RULES, body, 400, "VALIDATION_ERROR", field)
        for raw in (b"", b"{", b"[]", b"3"):
            self.fails("POST", RULES, None, 400, "VALIDATION_ERROR", "body", raw=raw)
        self.assertEqual(self.page(RULES)[1]["total"], count)  # nothing was created

        r = self.rule(name="Patched", metric="pv", threshold=5)
        for patch, field in (({}, "body"), ({"threshold": "x"}, "threshold"),
                             ({"condition": "between"}, "condition"), ({"name": None}, "name"),
                             ({"metric": None}, "metric"), ({"id": 9}, "id"),
                             ({"severity": "low"}, "severity"), ({"duration": "x"}, "duration"),
                             ({"device_id": 3, "device_type": "sensor"},
                              ("device_id", "device_type")),
                             ({"threshold": 9, "colour": 1}, "colour")):
            with self.subTest(patch=patch):
                self.fails("PATCH", f"{RULES}/{r['id']}", patch, 400, "VALIDATION_ERROR", field)
        self.assertEqual(self.ok("GET", f"{RULES}/{r['id']}"), r)  # unchanged
        # A rule for a device may not get a type too.
        d = self.rule(name="Dev", metric="pv", threshold=5, device_id=3)
        self.fails("PATCH", f"{RULES}/{d['id']}", {"device_type": "sensor"}, 400,
                   "VALIDATION_ERROR", ("device_id", "device_type"))
        self.fails("GET", f"{RULES}/abc", None, 400, "VALIDATION_ERROR", "id")


class EvaluationTest(AlertsTestBase):
    def test_fires_once_and_resolves_with_hysteresis(self):
        rule = self.rule(name="High temp", device_id=11, metric="temp_h", threshold=35,
                         severity="warning")

        async def go():
            ws = await self.alerts_ws(device_id=11)
            await self.aingest(11, {"temp_h": 30.0})
            await expect_silence(ws, 0.3)
            before = time.time()
            await self.aingest(11, {"temp_h": 36.0})
            a = self.assert_rule_alert(await next_of(ws, "alert"), rule, 11, 36, seq=1)
            self.assertAlmostEqual(ts(a["timestamp"]), before, delta=5)
            self.assertIn("temp_h", a["message"])
            # Further readings above the threshold: no new alert.
            for v in (37.0, 40.0, 36.0, 35.5):
                await self.aingest(11, {"temp_h": v})
            await expect_silence(ws, 0.5)
            # Just under the threshold (within the 1% margin): still active.
            await self.aingest(11, {"temp_h": 34.8})
            await expect_silence(ws, 0.5)
            await self.aingest(11, {"temp_h": 34.6})
            r = self.assert_rule_alert(await next_of(ws, "alert"), rule, 11, 36,
                                       status="resolved", alert_id=a["alert_id"], seq=2)
            self.assertEqual(r["metadata"].get("resolved_value"), 34.6, r)
            await self.aingest(11, {"temp_h": 30.0})
            await expect_silence(ws, 0.3)
            # A new episode is a new alert with a larger id.
            await self.aingest(11, {"temp_h": 50.0})
            b = self.assert_rule_alert(await next_of(ws, "alert"), rule, 11, 50, seq=3)
            self.assertGreater(b["alert_id"], a["alert_id"])
            await ws.close()
            return a, b
        a, b = run(go())
        stored = self.ok("GET", f"{ALERTS}/{a['alert_id']}")
        self.assertEqual((stored["status"], stored["resolved_by"] is not None),
                         ("resolved", True), stored)
        ts(stored["resolved_at"])
        self.assertEqual(self.ok("GET", f"{ALERTS}/{b['alert_id']}")["status"], "active")

    def test_lt_rule_hysteresis_mirrors(self):
        rule = self.rule(name="Cold", device_id=12, metric="temp_l", condition="lt",
                         threshold=10, severity="info")

        async def go():
            ws = await self.alerts_ws(device_id=12)
            await self.aingest(12, {"temp_l": 9.0})
            a = self.assert_rule_alert(await next_of(ws, "alert"), rule, 12, 9)
            await self.aingest(12, {"temp_l": 10.05})  # within the margin (0.1)
            await expect_silence(ws, 0.4)
            await self.aingest(12, {"temp_l": 10.2})
            self.assert_rule_alert(await next_of(ws, "alert"), rule, 12, 9, status="resolved",
                                   alert_id=a["alert_id"])
            await ws.close()
        run(go())

    def test_duration_must_hold(self):
        r1 = self.rule(name="Sustained 1s", device_id=13, metric="dur1", threshold=10,
                       duration="1s")
        r2 = self.rule(name="Sustained 2s", device_id=13, metric="dur2", threshold=10,
                       duration="2s")

        async def go():
            ws = await self.alerts_ws(device_id=13)
            # 1s: one reading above, then nothing: the clock fires it about 1 s later.
            t0 = time.monotonic()
            await self.aingest(13, {"dur1": 20.0})
            await expect_silence(ws, 0.7)
            a = await next_of(ws, "alert", timeout=2.5)
            elapsed = time.monotonic() - t0
            self.assertGreaterEqual(elapsed, 0.9, "fired before its duration")
            self.assert_rule_alert(a, r1, 13, 20)

            # 2s: a dip below the threshold restarts the wait.
            await self.aingest(13, {"dur2": 20.0})
            await asyncio.sleep(1.0)
            await self.aingest(13, {"dur2": 5.0})
            await asyncio.sleep(0.3)
            t1 = time.monotonic()
            await self.aingest(13, {"dur2": 21.0})
            await expect_silence(ws, 1.6)  # 2.9 s after the first reading: still nothing
            b = await next_of(ws, "alert", timeout=2.5)
            self.assertGreaterEqual(time.monotonic() - t1, 1.9, "the dip did not restart it")
            self.assert_rule_alert(b, r2, 13, 21)
            await ws.close()
        run(go())

    def test_cooldown(self):
        rule = self.rule(name="Cooling", device_id=14, metric="cool", threshold=10,
                         cooldown="2s")

        async def go():
            ws = await self.alerts_ws(device_id=14)
            t0 = time.monotonic()
            await self.aingest(14, {"cool": 20.0})
            a = self.assert_rule_alert(await next_of(ws, "alert"), rule, 14, 20)
            await self.aingest(14, {"cool": 0.0})
            self.assert_rule_alert(await next_of(ws, "alert"), rule, 14, 20, status="resolved",
                                   alert_id=a["alert_id"])
            # Holds again within the cooldown: no alert until it is over, then one.
            await self.aingest(14, {"cool": 25.0})
            await self.aingest(14, {"cool": 26.0})
            await expect_silence(ws, max(0.1, 1.6 - (time.monotonic() - t0)))
            b = await next_of(ws, "alert", timeout=2.5)
            self.assertGreaterEqual(time.monotonic() - t0, 1.9, "fired within the cooldown")
            self.assert_alert(b, device_id=14, status="active", title=rule["name"])
            self.assertGreater(b["alert_id"], a["alert_id"])
            await self.aingest(14, {"cool": 0.0})
            await next_of(ws, "alert")  # resolved
            # An episode that ends within the cooldown never fires.
            await self.aingest(14, {"cool": 30.0})
            await self.aingest(14, {"cool": 0.0})
            await expect_silence(ws, 2.4)
            await ws.close()
        run(go())

    def test_scope_device_type_and_all_devices(self):
        self.ok("POST", "/api/v1/devices", {"id": 21, "name": "Act", "device_type": "actuator"},
                status=201)
        self.ok("POST", "/api/v1/devices", {"id": 22, "name": "Sen", "device_type": "sensor"},
                status=201)
        typed = self.rule(name="Actuator load", device_type="actuator", metric="load",
                          threshold=5)
        every = self.rule(name="Any vib", metric="vib_all", threshold=1, severity="info")
        one = self.rule(name="Only 22", device_id=22, metric="load", threshold=5)

        async def go():
            ws = await self.alerts_ws(device_id=[21, 22, 23])
            await self.aingest(22, {"load": 3.0})
            await self.aingest(21, {"load": 3.0})
            await expect_silence(ws, 0.3)
            await self.aingest(22, {"load": 10.0})
            self.assert_rule_alert(await next_of(ws, "alert"), one, 22, 10)
            await expect_silence(ws, 0.3)  # the actuator rule does not apply to a sensor
            await self.aingest(21, {"load": 10.0})
            self.assert_rule_alert(await next_of(ws, "alert"), typed, 21, 10)
            await expect_silence(ws, 0.3)  # nor the device-22 rule to device 21
            await self.aingest(23, {"vib_all": 2.0})
            await self.aingest(21, {"vib_all": 2.0})
            got = [await next_of(ws, "alert"), await next_of(ws, "alert")]
            self.assertEqual(sorted(m["device_id"] for m in got), [21, 23], got)
            for m in got:
                self.assert_rule_alert(m, every, m["device_id"], 2)
            await ws.close()
        run(go())

    def test_rule_edits_disabling_and_device_deletion_resolve_open_alerts(self):
        rule = self.rule(name="Editable", device_id=15, metric="edit", threshold=10)

        async def go():
            ws = await self.alerts_ws(device_id=[15, 16])
            await self.aingest(15, {"edit": 20.0})
            a = await next_of(ws, "alert")
            # Renaming keeps the alert open.
            await self.aok("PATCH", f"{RULES}/{rule['id']}", {"name": "Edited"})
            await expect_silence(ws, 0.4)
            # Changing the threshold resolves it.
            await self.aok("PATCH", f"{RULES}/{rule['id']}", {"threshold": 30})
            self.assert_alert(await next_of(ws, "alert"), alert_id=a["alert_id"],
                              status="resolved")
            await self.aingest(15, {"edit": 40.0})
            b = self.assert_alert(await next_of(ws, "alert"), status="active", title="Edited")
            # Disabling resolves it too.
            await self.aok("PATCH", f"{RULES}/{rule['id']}", {"enabled": False})
            self.assert_alert(await next_of(ws, "alert"), alert_id=b["alert_id"],
                              status="resolved")
            await self.aingest(15, {"edit": 50.0})
            await expect_silence(ws, 0.4)
            # Deleting a device resolves its open alerts; its history stays.
            r16 = self.rule(name="Dev16", device_id=16, metric="edit", threshold=10)
            await self.aingest(16, {"edit": 20.0})
            c = self.assert_rule_alert(await next_of(ws, "alert"), r16, 16, 20)
            await self.aok("DELETE", "/api/v1/devices/16")
            self.assert_alert(await next_of(ws, "alert"), alert_id=c["alert_id"],
                              status="resolved")
            stored = await self.aok("GET", f"{ALERTS}/{c['alert_id']}")
            self.assertEqual(stored["status"], "resolved")
            await ws.close()
        run(go())


class AlertListTest(AlertsTestBase):
    """A server of its own, so the alert table holds exactly what this class raises."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        s, adm = cls.server, cls.admin
        for body in ({"name": "Warn m1", "metric": "m1", "condition": "gt", "threshold": 10,
                      "severity": "warning"},
                     {"name": "Crit m2", "metric": "m2", "condition": "gt", "threshold": 10,
                      "severity": "critical"}):
            status, reply = s.request("POST", RULES, body, adm)
            assert status == 201, reply

        async def raise_all():
            ws = await connect(s, token_=adm)
            await sub(ws, "alerts")
            got = []
            for device, metrics in ((31, {"m1": 20}), (32, {"m2": 20}), (31, {"m2": 20}),
                                    (33, {"m1": 20}), (31, {"m1": 0})):
                await asyncio.to_thread(s.ingest, device, metrics, adm)
                got.append(await next_of(ws, "alert"))
            await ws.close()
            return got
        cls.messages = run(raise_all())
        cls.a1, cls.a2, cls.a3, cls.a4 = (m["alert_id"] for m in cls.messages[:4])

    def ids(self, path, tok=None):
        data, p = self.page(path, tok)
        return [a["alert_id"] for a in data], p

    def test_ids_strictly_increasing_and_seq(self):
        raised = [m["alert_id"] for m in self.messages[:4]]
        self.assertEqual(raised, sorted(set(raised)), self.messages)
        self.assertEqual([m["seq"] for m in self.messages], [1, 2, 3, 4, 5])
        self.assertEqual((self.messages[4]["alert_id"], self.messages[4]["status"]),
                         (self.a1, "resolved"))

    def test_list_and_filters(self):
        data, p = self.page(ALERTS)
        self.assertEqual([a["alert_id"] for a in data], [self.a1, self.a2, self.a3, self.a4])
        self.assertEqual(p, {"page": 1, "size": 20, "total": 4, "pages": 1, "has_next": False,
                             "has_prev": False})
        first = data[0]
        for k in ("alert_id", "device_id", "severity", "alert_type", "title", "message",
                  "status", "timestamp", "metadata"):
            self.assertIn(k, first)
        self.assertEqual((first["device_id"], first["severity"], first["status"],
                          first["metadata"]["metric"]), (31, "warning", "resolved", "m1"))
        checks = [
            ("status=resolved", [self.a1]),
            ("status=active", [self.a2, self.a3, self.a4]),
            ("status=active,resolved", [self.a1, self.a2, self.a3, self.a4]),
            ("status=acknowledged", []),
            ("severity=critical", [self.a2, self.a3]),
            ("severity=warning&status=active", [self.a4]),
            ("severity=info,critical", [self.a2, self.a3]),
            ("device_id=31", [self.a1, self.a3]),
            ("device_id=31,33", [self.a1, self.a3, self.a4]),
            (f"since_id={self.a1}", [self.a2, self.a3, self.a4]),
            (f"since_id={self.a3}&severity=warning", [self.a4]),
            (f"since_id={self.a4}", []),
            ("since_id=0", [self.a1, self.a2, self.a3, self.a4]),
        ]
        for query, want in checks:
            with self.subTest(query=query):
                got, p = self.ids(f"{ALERTS}?{query}")
                self.assertEqual((got, p["total"]), (want, len(want)))
        got, p = self.ids(f"{ALERTS}?size=3")
        self.assertEqual((got, p), ([self.a1, self.a2, self.a3],
                                    {"page": 1, "size": 3, "total": 4, "pages": 2,
                                     "has_next": True, "has_prev": False}))
        got, p = self.ids(f"{ALERTS}?size=3&page=2")
        self.assertEqual((got, p["has_next"], p["has_prev"]), ([self.a4], False, True))
        got, p = self.ids(f"{ALERTS}?status=active&size=2&page=2")
        self.assertEqual((got, p["total"], p["pages"]), ([self.a4], 3, 2))
        a = self.ok("GET", f"{ALERTS}/{self.a2}")
        self.assertEqual((a["alert_id"], a["device_id"], a["status"]), (self.a2, 32, "active"))

    def test_query_errors_and_404(self):
        for query, field in (("status=open", "status"), ("severity=urgent", "severity"),
                             ("device_id=x", "device_id"), ("device_id=0", "device_id"),
                             ("since_id=-1", "since_id"), ("since_id=abc", "since_id"),
                             ("size=0", "size"), ("size=101", "size"), ("page=0", "page")):
            with self.subTest(query=query):
                self.fails("GET", f"{ALERTS}?{query}", None, 400, "VALIDATION_ERROR", field)
        self.fails("GET", f"{ALERTS}/999999", None, 404, "NOT_FOUND")
        self.fails("POST", f"{ALERTS}/999999/acknowledge", {}, 404, "NOT_FOUND")
        self.fails("POST", f"{ALERTS}/999999/resolve", {}, 404, "NOT_FOUND")
        self.fails("GET", f"{ALERTS}/x", None, 400, "VALIDATION_ERROR", "id")
        self.fails("POST", ALERTS, {}, 405, "METHOD_NOT_ALLOWED")

    def test_claims(self):
        user = token("al-user", "user", devices="31")
        got, p = self.ids(ALERTS, user)
        self.assertEqual((got, p["total"]), ([self.a1, self.a3], 2))
        got, _ = self.ids(f"{ALERTS}?device_id=32", user)
        self.assertEqual(got, [])
        self.assertEqual(self.ok("GET", f"{ALERTS}/{self.a3}", tok=user)["alert_id"], self.a3)
        self.fails("GET", f"{ALERTS}/{self.a2}", None, 404, "NOT_FOUND", tok=user)
        # Users may not acknowledge or resolve; analysts only within their devices.
        self.fails("POST", f"{ALERTS}/{self.a3}/acknowledge", {}, 403, "FORBIDDEN", tok=user)
        analyst = token("al-analyst", "analyst", devices="31")
        self.fails("POST", f"{ALERTS}/{self.a2}/acknowledge", {}, 404, "NOT_FOUND", tok=analyst)
        self.assertEqual(self.ok("GET", f"{ALERTS}/{self.a2}")["status"], "active")
        dev = token("al-dev", "device", device_id=31)
        self.fails("GET", ALERTS, None, 403, "FORBIDDEN", tok=dev)
        self.fails("GET", f"{ALERTS}/{self.a3}", None, 403, "FORBIDDEN", tok=dev)


class AcknowledgeResolveTest(AlertsTestBase):
    def test_acknowledge_then_resolve_records_who_and_when(self):
        rule = self.rule(name="Ack me", device_id=51, metric="ack", threshold=10)
        olga = token("olga", "operator")
        ana = token("ana", "analyst", devices="51")

        async def go():
            ws = await self.alerts_ws(device_id=51)
            await self.aingest(51, {"ack": 20.0})
            a = self.assert_rule_alert(await next_of(ws, "alert"), rule, 51, 20, seq=1)
            aid = a["alert_id"]
            before = time.time()
            acked = await self.aok("POST", f"{ALERTS}/{aid}/acknowledge", {"notes": "on it"},
                                   olga)
            self.assertEqual((acked["alert_id"], acked["status"], acked["acknowledged_by"],
                              acked["notes"]), (aid, "acknowledged", "olga", "on it"), acked)
            self.assertAlmostEqual(ts(acked["acknowledged_at"]), before, delta=5)
            self.assertIsNone(acked["resolved_at"])
            self.assert_rule_alert(await next_of(ws, "alert"), rule, 51, 20,
                                   status="acknowledged", alert_id=aid, seq=2)
            # Acknowledging twice: 409, nothing sent.
            status, reply = await self.acall("POST", f"{ALERTS}/{aid}/acknowledge", {}, olga)
            err = self.assert_error(status, reply, 409, "INVALID_STATE")
            await expect_silence(ws, 0.3)

            resolved = await self.aok("POST", f"{ALERTS}/{aid}/resolve", {"notes": "fixed"},
                                      ana)
            self.assertEqual((resolved["status"], resolved["resolved_by"], resolved["notes"],
                              resolved["acknowledged_by"]), ("resolved", "ana", "fixed", "olga"),
                             resolved)
            self.assertAlmostEqual(ts(resolved["resolved_at"]), time.time(), delta=5)
            self.assert_alert(await next_of(ws, "alert"), status="resolved", alert_id=aid, seq=3)
            for action in ("resolve", "acknowledge"):
                status, reply = await self.acall("POST", f"{ALERTS}/{aid}/{action}", {}, olga)
                self.assert_error(status, reply, 409, "INVALID_STATE", context=action)
            await expect_silence(ws, 0.3)
            stored = await self.aok("GET", f"{ALERTS}/{aid}")
            for k in ("status", "acknowledged_by", "acknowledged_at", "resolved_by",
                      "resolved_at", "notes"):
                self.assertEqual(stored[k], resolved[k], k)

            # A manually resolved alert closes its episode: still above, no new alert...
            await self.aingest(51, {"ack": 21.0})
            await expect_silence(ws, 0.4)
            # ...until the condition clears and holds anew; the clearing sends nothing.
            await self.aingest(51, {"ack": 0.0})
            await expect_silence(ws, 0.4)
            await self.aingest(51, {"ack": 22.0})
            b = self.assert_rule_alert(await next_of(ws, "alert"), rule, 51, 22, seq=4)
            self.assertGreater(b["alert_id"], aid)
            # Resolving an active alert directly (no notes, empty body) is fine.
            status, reply = await self.acall("POST", f"{ALERTS}/{b['alert_id']}/resolve")
            self.assertEqual(status, 200, reply)
            self.assertEqual((reply["data"]["resolved_by"], reply["data"]["notes"]),
                             ("ra-admin", None))
            self.assert_alert(await next_of(ws, "alert"), alert_id=b["alert_id"],
                              status="resolved", seq=5)
            await ws.close()
            return err
        run(go())

    def test_body_validation(self):
        self.rule(name="Notes", device_id=52, metric="notes", threshold=10)
        self.ingest(52, {"notes": 20.0})
        time.sleep(0.3)
        data, _ = self.page(f"{ALERTS}?device_id=52")
        aid = data[0]["alert_id"]
        for body, field in (({"notes": 5}, "notes"), ({"notes": ["a"]}, "notes"),
                            ({"note": "x"}, "note")):
            with self.subTest(body=body):
                self.fails("POST", f"{ALERTS}/{aid}/acknowledge", body, 400, "VALIDATION_ERROR",
                           field)
        self.fails("POST", f"{ALERTS}/{aid}/resolve", None, 400, "VALIDATION_ERROR", "body",
                   raw=b"[1]")
        self.assertEqual(self.ok("GET", f"{ALERTS}/{aid}")["status"], "active")


class CriticalWarningTest(AlertsTestBase):
    def test_critical_alert_sets_warning_until_resolved(self):
        rule = self.rule(name="Very hot", device_id=61, metric="crit", threshold=40,
                         severity="critical")
        warn = self.rule(name="Warm", device_id=61, metric="warm", threshold=40)

        async def go():
            ws = await connect(self.server, token_=self.admin, close_timeout=1)
            await sub(ws, "alerts", device_id=61)
            await sub(ws, "devices", device_id=61, snapshot=False)
            await self.aingest(61, {"crit": 20.0})
            self.assert_status(await next_of(ws, "device_status_update"), 61, "offline",
                               "online", "Telemetry received", seq=1)
            # A warning alert leaves the status alone.
            await self.aingest(61, {"warm": 50.0})
            self.assert_rule_alert(await next_of(ws, "alert"), warn, 61, 50)
            await expect_silence(ws, 0.4)
            await self.aingest(61, {"crit": 45.0})
            msgs = [await self.next_any(ws), await self.next_any(ws)]
            alert = [m for m in msgs if m["type"] == "alert"]
            status = [m for m in msgs if m["type"] == "device_status_update"]
            self.assertEqual((len(alert), len(status)), (1, 1), msgs)
            self.assert_rule_alert(alert[0], rule, 61, 45)
            self.assert_status(status[0], 61, "online", "warning", seq=2)
            self.assertEqual((await self.aok("GET", "/api/v1/devices/61"))["status"], "warning")
            await self.aingest(61, {"crit": 10.0})
            msgs = [await self.next_any(ws), await self.next_any(ws)]
            self.assertEqual(sorted(m["type"] for m in msgs), ["alert", "device_status_update"],
                             msgs)
            for m in msgs:
                if m["type"] == "alert":
                    self.assert_alert(m, alert_id=alert[0]["alert_id"], status="resolved")
                else:
                    self.assert_status(m, 61, "warning", "online", seq=3)
            await expect_silence(ws, 0.4)
            await ws.close()
        run(go())
        self.assertEqual(self.ok("GET", "/api/v1/devices/61")["status"], "online")

    async def next_any(self, ws):
        return await recv_json(ws, 5)


class CriticalWarningOffTest(AlertsTestBase):
    config = {"devices": {"critical_sets_warning": False}}

    def test_critical_alert_leaves_status(self):
        self.rule(name="Very hot", device_id=62, metric="crit", threshold=40,
                  severity="critical")

        async def go():
            ws = await connect(self.server, token_=self.admin, close_timeout=1)
            await sub(ws, "alerts", device_id=62)
            await sub(ws, "devices", device_id=62, snapshot=False)
            await self.aingest(62, {"crit": 20.0})
            await next_of(ws, "device_status_update")  # offline -> online
            await self.aingest(62, {"crit": 45.0})
            self.assert_alert(await next_of(ws, "alert"), severity="critical", status="active")
            await expect_silence(ws, 0.5)
            await ws.close()
        run(go())
        self.assertEqual(self.ok("GET", "/api/v1/devices/62")["status"], "online")


if __name__ == "__main__":
    unittest.main()
