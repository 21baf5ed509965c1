"""Issue 3, "Devices": every /api/v1/devices route, its validation errors (400 naming the field),
its roles and claims, the 404 envelope, the status report published on the `devices` channel,
the latest values, and telemetry auto-registration (on by default, off: DEVICE_NOT_FOUND)."""
import time
import unittest

from domain_helpers import DEVICE_FIELDS, RestMixin, next_of, sub, ts
from harness import ServerTestCase, connect, expect_silence, run, token

DEVICES = "/api/v1/devices"


class DevicesTestBase(RestMixin, ServerTestCase):
    admin_sub = "dev-admin"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.operator = cls.mint("dev-operator", "operator")

    def create(self, **fields):
        return self.ok("POST", DEVICES, fields, status=201)

    def assert_device(self, d, **want):
        self.assertEqual(set(d), DEVICE_FIELDS, d)
        ts(d["created_at"])
        ts(d["updated_at"])
        if d["last_seen"] is not None:
            ts(d["last_seen"])
        for k, v in want.items():
            self.assertEqual(d[k], v, (k, d))
        return d


class DeviceCrudTest(DevicesTestBase):
    def test_create_with_id_get_and_conflict(self):
        before = time.time()
        body = {"id": 100, "name": "Boiler room", "device_type": "actuator", "location": "B1",
                "manufacturer": "Acme", "model": "X-1", "firmware_version": "2.0.1",
                "metadata": {"floor": -1, "tags": ["heat"]}}
        d = self.create(**body)
        self.assert_device(d, **body, status="offline", last_seen=None)
        self.assertEqual(d["created_at"], d["updated_at"])
        self.assertAlmostEqual(ts(d["created_at"]), before, delta=5)
        self.assertEqual(self.ok("GET", f"{DEVICES}/100"), d)
        # The same id again: 409 CONFLICT, and the first record is unchanged.
        self.fails("POST", DEVICES, {"id": 100, "name": "Other"}, 409, "CONFLICT")
        self.assertEqual(self.ok("GET", f"{DEVICES}/100"), d)

    def test_create_without_id_assigns_one_with_defaults(self):
        self.create(id=150, name="High id")
        d = self.create(name="No id")
        self.assertIsInstance(d["id"], int)
        self.assertGreater(d["id"], 150, d)  # never an id in use
        self.assert_device(d, name="No id", device_type="sensor", location="", manufacturer="",
                           model="", firmware_version="", metadata={}, status="offline",
                           last_seen=None)
        self.assertEqual(self.ok("GET", f"{DEVICES}/{d['id']}"), d)
        # An operator may create too.
        d2 = self.ok("POST", DEVICES, {"name": "By operator"}, self.operator, status=201)
        self.assertNotEqual(d2["id"], d["id"])

    def test_create_validation_names_the_field(self):
        long_name = "n" * 201
        cases = [
            ({}, "name"),
            ({"device_type": "sensor"}, "name"),
            ({"name": ""}, "name"),
            ({"name": "   "}, "name"),
            ({"name": 5}, "name"),
            ({"name": long_name}, "name"),
            ({"name": "x", "id": 0}, "id"),
            ({"name": "x", "id": -3}, "id"),
            ({"name": "x", "id": "7"}, "id"),
            ({"name": "x", "id": 1.5}, "id"),
            ({"name": "x", "device_type": "robot"}, "device_type"),
            ({"name": "x", "device_type": 1}, "device_type"),
            ({"name": "x", "status": "asleep"}, "status"),
            ({"name": "x", "location": 5}, "location"),
            ({"name": "x", "manufacturer": ["a"]}, "manufacturer"),
            ({"name": "x", "model": {}}, "model"),
            ({"name": "x", "firmware_version": 2}, "firmware_version"),
            ({"name": "x", "metadata": "x"}, "metadata"),
            ({"name": "x", "metadata": [1]}, "metadata"),
            ({"name": "x", "colour": "red"}, "colour"),
            ({"name": "x", "created_at": "2024-01-01T00:00:00Z"}, "created_at"),
            ({"name": "x", "updated_at": "2024-01-01T00:00:00Z"}, "updated_at"),
            ({"name": "x", "last_seen": "2024-01-01T00:00:00Z"}, "last_seen"),
        ]
        total_before = self.page(DEVICES)[1]["total"]
        for body, field in cases:
            with self.subTest(body=body):
                self.fails("POST", DEVICES, body, 400, "VALIDATION_ERROR", field)
        for raw in (b"", b"{not json", b"[1, 2]", b"\"device\""):
            with self.subTest(raw=raw):
                self.fails("POST", DEVICES, None, 400, "VALIDATION_ERROR", "body", raw=raw)
        # None of them created anything.
        self.assertEqual(self.page(DEVICES)[1]["total"], total_before)

    def test_put_and_patch_are_partial_updates(self):
        d = self.create(id=200, name="Pump", device_type="actuator", location="Yard",
                        manufacturer="Acme", metadata={"a": 1})
        time.sleep(0.01)
        for method in ("PATCH", "PUT"):
            with self.subTest(method=method):
                loc = f"Roof {method}"
                u = self.ok(method, f"{DEVICES}/200", {"location": loc})
                self.assert_device(u, id=200, name="Pump", device_type="actuator", location=loc,
                                   manufacturer="Acme", metadata={"a": 1}, status="offline",
                                   created_at=d["created_at"])
                self.assertGreaterEqual(ts(u["updated_at"]), ts(d["updated_at"]))
                self.assertEqual(self.ok("GET", f"{DEVICES}/200"), u)
        u = self.ok("PUT", f"{DEVICES}/200", {"name": "Pump 2", "device_type": "controller",
                                              "model": "P", "firmware_version": "9",
                                              "metadata": {"b": 2}}, self.operator)
        self.assert_device(u, name="Pump 2", device_type="controller", model="P",
                           firmware_version="9", metadata={"b": 2}, location="Roof PUT",
                           manufacturer="Acme")
        # null clears a clearable field.
        u = self.ok("PATCH", f"{DEVICES}/200", {"location": None})
        self.assertEqual(u["location"], "", u)

    def test_update_refuses_forbidden_and_invalid_fields(self):
        self.create(id=210, name="Fixed")
        before = self.ok("GET", f"{DEVICES}/210")
        cases = [
            ({"id": 5}, "id"),
            ({"status": "online"}, "status"),
            ({"last_seen": "2024-01-01T00:00:00Z"}, "last_seen"),
            ({"created_at": "2024-01-01T00:00:00Z"}, "created_at"),
            ({"updated_at": "2024-01-01T00:00:00Z"}, "updated_at"),
            ({"name": "ok", "status": "online"}, "status"),
            ({"colour": "red"}, "colour"),
            ({"name": ""}, "name"),
            ({"name": None}, "name"),
            ({"name": 3}, "name"),
            ({"device_type": "robot"}, "device_type"),
            ({"device_type": None}, "device_type"),
            ({"location": 5}, "location"),
            ({"metadata": "x"}, "metadata"),
            ({}, "body"),
            ({"location": "somewhere", "metadata": 1}, "metadata"),
        ]
        for method in ("PUT", "PATCH"):
            for body, field in cases:
                with self.subTest(method=method, body=body):
                    self.fails(method, f"{DEVICES}/210", body, 400, "VALIDATION_ERROR", field)
            self.fails(method, f"{DEVICES}/210", None, 400, "VALIDATION_ERROR", "body",
                       raw=b"[]")
        # A refused patch changes nothing (not even the valid part of it).
        self.assertEqual(self.ok("GET", f"{DEVICES}/210"), before)

    def test_delete(self):
        d = self.create(id=220, name="Doomed")
        self.assertEqual(self.ok("DELETE", f"{DEVICES}/220"), d)
        self.fails("GET", f"{DEVICES}/220", None, 404, "NOT_FOUND")
        self.fails("DELETE", f"{DEVICES}/220", None, 404, "NOT_FOUND")
        self.fails("PATCH", f"{DEVICES}/220", {"name": "x"}, 404, "NOT_FOUND")
        self.assertNotIn(220, [x["id"] for x in self.page(f"{DEVICES}?size=100")[0]])

    def test_unknown_device_is_404_in_the_envelope(self):
        for method, path, body in (("GET", f"{DEVICES}/98765", None),
                                   ("PUT", f"{DEVICES}/98765", {"name": "x"}),
                                   ("PATCH", f"{DEVICES}/98765", {"name": "x"}),
                                   ("DELETE", f"{DEVICES}/98765", None),
                                   ("PUT", f"{DEVICES}/98765/status", {"status": "online"}),
                                   ("GET", f"{DEVICES}/98765/telemetry/latest", None),
                                   ("GET", f"{DEVICES}/0", None)):
            with self.subTest(method=method, path=path):
                self.fails(method, path, body, 404, "NOT_FOUND")
        # Not an id at all: 400 naming the id.
        self.fails("GET", f"{DEVICES}/abc", None, 400, "VALIDATION_ERROR", "id")
        self.fails("GET", f"{DEVICES}/-1", None, 400, "VALIDATION_ERROR", "id")
        # Methods a route does not have.
        self.fails("DELETE", DEVICES, None, 405, "METHOD_NOT_ALLOWED")
        self.fails("POST", f"{DEVICES}/1", {"name": "x"}, 405, "METHOD_NOT_ALLOWED")


class DeviceListTest(DevicesTestBase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        for i, t in ((1, "gateway"), (2, "gateway"), (3, "controller"), (4, "gateway"),
                     (5, "controller")):
            cls.server.request("POST", DEVICES, {"id": i, "name": f"D{i}", "device_type": t},
                               cls.admin)
        cls.server.request("PUT", f"{DEVICES}/2/status", {"status": "maintenance"}, cls.admin)
        cls.server.ingest(5, {"temperature": 1.0}, cls.admin)  # online

    def ids(self, data):
        return [d["id"] for d in data]

    def test_list_everything_default_page(self):
        data, p = self.page(DEVICES)
        self.assertEqual(p, {"page": 1, "size": 20, "total": 5, "pages": 1, "has_next": False,
                             "has_prev": False})
        self.assertEqual(sorted(self.ids(data)), [1, 2, 3, 4, 5])
        for d in data:
            self.assert_device(d)
        by_id = {d["id"]: d for d in data}
        self.assertEqual(by_id[2]["status"], "maintenance")
        self.assertEqual(by_id[5]["status"], "online")
        self.assertIsNotNone(by_id[5]["last_seen"])
        self.assertEqual(by_id[1]["status"], "offline")

    def test_filters(self):
        data, p = self.page(f"{DEVICES}?device_type=gateway")
        self.assertEqual((sorted(self.ids(data)), p["total"]), ([1, 2, 4], 3))
        data, p = self.page(f"{DEVICES}?status=maintenance")
        self.assertEqual((self.ids(data), p["total"]), ([2], 1))
        data, p = self.page(f"{DEVICES}?status=online&device_type=controller")
        self.assertEqual((self.ids(data), p["total"]), ([5], 1))
        data, p = self.page(f"{DEVICES}?status=offline&device_type=gateway")
        self.assertEqual((sorted(self.ids(data)), p["total"]), ([1, 4], 2))
        data, p = self.page(f"{DEVICES}?status=error")
        self.assertEqual((data, p["total"], p["pages"], p["has_next"]), ([], 0, 0, False))

    def test_pagination_envelope(self):
        seen = []
        for page, n, has_next in ((1, 2, True), (2, 1, False)):
            data, p = self.page(f"{DEVICES}?device_type=gateway&size=2&page={page}")
            self.assertEqual(p, {"page": page, "size": 2, "total": 3, "pages": 2,
                                 "has_next": has_next, "has_prev": page > 1})
            self.assertEqual(len(data), n, data)
            seen += self.ids(data)
        self.assertEqual(sorted(seen), [1, 2, 4])  # every device once across the pages
        data, p = self.page(f"{DEVICES}?size=2&page=3")
        self.assertEqual(p, {"page": 3, "size": 2, "total": 5, "pages": 3, "has_next": False,
                             "has_prev": True})
        self.assertEqual(len(data), 1)
        data, p = self.page(f"{DEVICES}?size=2&page=4")  # past the end: empty, not an error
        self.assertEqual((data, p["has_next"], p["has_prev"]), ([], False, True))
        data, p = self.page(f"{DEVICES}?size=100")
        self.assertEqual((len(data), p["size"]), (5, 100))

    def test_list_query_errors_name_the_parameter(self):
        for query, field in (("status=asleep", "status"), ("device_type=robot", "device_type"),
                             ("page=0", "page"), ("page=abc", "page"), ("page=-1", "page"),
                             ("size=0", "size"), ("size=101", "size"), ("size=x", "size")):
            with self.subTest(query=query):
                self.fails("GET", f"{DEVICES}?{query}", None, 400, "VALIDATION_ERROR", field)


class DeviceRolesTest(DevicesTestBase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        for i in (300, 301, 302):
            cls.server.request("POST", DEVICES, {"id": i, "name": f"R{i}"}, cls.admin)
        cls.server.ingest(300, {"temperature": 20.0}, cls.admin)
        cls.server.ingest(301, {"temperature": 21.0}, cls.admin)

    def test_user_and_analyst_read_only_their_devices(self):
        for role in ("user", "analyst"):
            tok = token(f"r-{role}", role, devices="300,302")
            with self.subTest(role=role):
                data, p = self.page(DEVICES, tok)
                self.assertEqual(sorted(d["id"] for d in data), [300, 302])
                self.assertEqual(p["total"], 2)
                self.assertEqual(self.ok("GET", f"{DEVICES}/300", tok=tok)["id"], 300)
                latest = self.ok("GET", f"{DEVICES}/300/telemetry/latest", tok=tok)
                self.assertEqual(latest["telemetry"]["temperature"]["value"], 20)
                # Another device is absent, not forbidden.
                self.fails("GET", f"{DEVICES}/301", None, 404, "NOT_FOUND", tok=tok)
                self.fails("GET", f"{DEVICES}/301/telemetry/latest", None, 404, "NOT_FOUND",
                           tok=tok)
                # Writes: 403, and nothing changes.
                self.fails("POST", DEVICES, {"name": "x"}, 403, "FORBIDDEN", tok=tok)
                self.fails("PATCH", f"{DEVICES}/300", {"name": "x"}, 403, "FORBIDDEN", tok=tok)
                self.fails("PUT", f"{DEVICES}/300", {"name": "x"}, 403, "FORBIDDEN", tok=tok)
                self.fails("DELETE", f"{DEVICES}/300", None, 403, "FORBIDDEN", tok=tok)
                self.fails("PUT", f"{DEVICES}/300/status", {"status": "error"}, 403,
                           "FORBIDDEN", tok=tok)
        d = self.ok("GET", f"{DEVICES}/300")
        self.assertEqual((d["name"], d["status"]), ("R300", "online"))
        self.assertEqual(self.page(DEVICES)[1]["total"], 3)

    def test_wildcard_claim_sees_everything(self):
        tok = token("r-all", "user", devices="*")
        self.assertEqual(self.page(DEVICES, tok)[1]["total"], 3)
        self.assertEqual(self.ok("GET", f"{DEVICES}/301", tok=tok)["id"], 301)

    def test_device_token_and_no_token(self):
        dev = token("dev-300", "device", device_id=300)
        for method, path, body in (("GET", DEVICES, None), ("GET", f"{DEVICES}/300", None),
                                   ("GET", f"{DEVICES}/300/telemetry/latest", None),
                                   ("POST", DEVICES, {"name": "x"}),
                                   ("PATCH", f"{DEVICES}/300", {"name": "x"})):
            with self.subTest(method=method, path=path):
                self.fails(method, path, body, 403, "FORBIDDEN", tok=dev)
                status, reply = self.server.request(method, path, body, None)
                self.assert_error(status, reply, 401, "UNAUTHORIZED")


class StatusAndLatestTest(DevicesTestBase):
    def test_status_report_is_published_once_with_old_new_reason(self):
        self.create(id=400, name="Reporter")
        self.ingest(400, {"temperature": 20.0})  # online, last_seen set
        last_seen = self.ok("GET", f"{DEVICES}/400")["last_seen"]
        self.assertIsNotNone(last_seen)

        async def go():
            ws = await connect(self.server, token_=self.admin)
            r = await sub(ws, "devices", device_id=400, snapshot=False)
            self.assertEqual(r["filters"], {"device_id": [400], "snapshot": False}, r)
            await expect_silence(ws, 0.3)
            d = await self.aok("PUT", f"{DEVICES}/400/status",
                               {"status": "maintenance", "reason": "Firmware upgrade",
                                "metadata": {"ticket": "T-1"}})
            self.assertEqual((d["id"], d["status"]), (400, "maintenance"), d)
            upd = self.assert_status(await next_of(ws, "device_status_update"), 400, "online",
                                     "maintenance", "Firmware upgrade", seq=1)
            self.assertEqual(upd["metadata"].get("last_seen"), last_seen, upd)
            await expect_silence(ws, 0.3)
            # Telemetry does not take a device out of maintenance.
            await self.aingest(400, {"temperature": 21.0})
            await expect_silence(ws, 0.4)
            self.assertEqual((await self.aok("GET", f"{DEVICES}/400"))["status"], "maintenance")
            # Reporting the current status is no transition.
            await self.aok("PUT", f"{DEVICES}/400/status", {"status": "maintenance",
                                                           "reason": "still"})
            await expect_silence(ws, 0.4)
            # Any status may be reported; without reason the update still has one.
            await self.aok("PUT", f"{DEVICES}/400/status", {"status": "error", "reason": "Fan"})
            self.assert_status(await next_of(ws, "device_status_update"), 400, "maintenance",
                               "error", "Fan", seq=2)
            await self.aok("PUT", f"{DEVICES}/400/status", {"status": "online"}, self.operator)
            upd = self.assert_status(await next_of(ws, "device_status_update"), 400, "error",
                                     "online", seq=3)
            self.assertIsInstance(upd["reason"], str)
            await expect_silence(ws, 0.3)
            await ws.close()
        run(go())
        self.assertEqual(self.ok("GET", f"{DEVICES}/400")["status"], "online")

    def test_status_report_validation(self):
        self.create(id=410, name="Validated")
        for body, field in (({}, "status"), ({"reason": "x"}, "status"),
                            ({"status": "asleep"}, "status"), ({"status": 1}, "status"),
                            ({"status": "online", "reason": 5}, "reason"),
                            ({"status": "online", "metadata": [1]}, "metadata"),
                            ({"status": "online", "metadata": "x"}, "metadata"),
                            ({"status": "online", "colour": "red"}, "colour")):
            with self.subTest(body=body):
                self.fails("PUT", f"{DEVICES}/410/status", body, 400, "VALIDATION_ERROR", field)
        self.fails("PUT", f"{DEVICES}/410/status", None, 400, "VALIDATION_ERROR", "body",
                   raw=b"nope")
        self.fails("POST", f"{DEVICES}/410/status", {"status": "online"}, 405,
                   "METHOD_NOT_ALLOWED")
        self.assertEqual(self.ok("GET", f"{DEVICES}/410")["status"], "offline")

    def test_latest_telemetry(self):
        self.create(id=420, name="Latest")
        self.assertEqual(self.ok("GET", f"{DEVICES}/420/telemetry/latest"),
                         {"device_id": 420, "telemetry": {}})
        status, reply = self.call("POST", "/api/v1/telemetry", {"device_id": 420, "telemetry": {
            "temperature": {"value": 20.5, "unit": "°C", "timestamp": "2024-01-01T12:00:00Z"},
            "humidity": {"value": 40, "unit": "%", "timestamp": "2024-01-01T12:00:00Z"}}})
        self.assertEqual(status, 202, reply)
        self.ingest(420, {"temperature": 22.0})
        latest = self.ok("GET", f"{DEVICES}/420/telemetry/latest")
        self.assertEqual(set(latest), {"device_id", "telemetry"}, latest)
        self.assertEqual(latest["device_id"], 420)
        t = latest["telemetry"]
        self.assertEqual(set(t), {"temperature", "humidity"}, t)
        self.assertEqual(t["humidity"]["value"], 40)
        self.assertEqual(t["humidity"]["unit"], "%")
        self.assertEqual(ts(t["humidity"]["timestamp"]), ts("2024-01-01T12:00:00.000Z"))
        self.assertEqual(t["temperature"]["value"], 22)  # the newest reading wins
        self.assertAlmostEqual(ts(t["temperature"]["timestamp"]), time.time(), delta=5)


class AutoRegisterTest(DevicesTestBase):
    def test_telemetry_registers_unknown_device(self):
        self.fails("GET", f"{DEVICES}/777", None, 404, "NOT_FOUND")
        before = time.time()
        self.ingest(777, {"temperature": 19.5})
        d = self.ok("GET", f"{DEVICES}/777")
        self.assert_device(d, id=777, name="Device 777", status="online")
        self.assertIs(d["metadata"].get("auto_registered"), True, d)
        self.assertAlmostEqual(ts(d["last_seen"]), before, delta=5)
        self.assertEqual(self.ok("GET", f"{DEVICES}/777/telemetry/latest")["telemetry"]
                         ["temperature"]["value"], 19.5)


class AutoRegisterOffTest(DevicesTestBase):
    config = {"ingest": {"auto_register": False}}

    def test_unknown_device_refused_whole_request(self):
        self.create(id=1, name="Known")

        async def go():
            ws = await connect(self.server, token_=self.admin)
            await sub(ws, "telemetry")
            await sub(ws, "devices", snapshot=False)
            # Single reading for an unknown device.
            status, reply = await self.acall("POST", "/api/v1/telemetry",
                                             {"device_id": 2, "metric_name": "t",
                                              "metric_value": 1})
            err = self.assert_error(status, reply, 404, "DEVICE_NOT_FOUND")
            self.assertEqual(err["details"].get("device_id"), 2, err)
            # A batch with a known and an unknown device: nothing of it is applied.
            status, reply = await self.acall("POST", "/api/v1/telemetry/batch", {
                "telemetry_data": [
                    {"device_id": 1, "metric_name": "temperature", "metric_value": 20},
                    {"device_id": 3, "metric_name": "temperature", "metric_value": 21}]})
            self.assert_error(status, reply, 404, "DEVICE_NOT_FOUND")
            await expect_silence(ws, 0.5)  # no telemetry, no status change
            await ws.close()
        run(go())
        self.assertEqual(self.ok("GET", f"{DEVICES}/1/telemetry/latest"),
                         {"device_id": 1, "telemetry": {}})
        d = self.ok("GET", f"{DEVICES}/1")
        self.assertEqual((d["status"], d["last_seen"]), ("offline", None), d)
        for missing in (2, 3):
            self.fails("GET", f"{DEVICES}/{missing}", None, 404, "NOT_FOUND")
        self.assertEqual(self.page(DEVICES)[1]["total"], 1)
        # A registered device's telemetry is accepted as usual.
        self.ingest(1, {"temperature": 22.0})
        self.assertEqual(self.ok("GET", f"{DEVICES}/1")["status"], "online")


if __name__ == "__main__":
    unittest.main()
