"""MQTT ingest (issue 12) against a real Mosquitto broker started here, with devices played by
the Paho client (Debian python3-paho-mqtt): readings published on the device topics reach
WebSocket subscribers and the REST API, bad payloads are counted and logged once per device per
minute, a device's Last Will marks it offline, readings wait (none refused, none lost) while the
storage refuses writes, and the server reconnects and subscribes again when the broker comes
back. /health and /api/v1/ws/stats report the link."""
import asyncio
import json
import os
import re
import signal
import sqlite3
import subprocess
import tempfile
import time
import unittest

import paho.mqtt.client as paho

from brokers import Mosquitto
from tls_certs import TestPki
from harness import (BIN, Server, ServerTestCase, connect, recv_json, run, subscribe, token,
                     wait_until)

PREFIX = "valtronics"


def publish(port, messages, qos=1):
    """Publishes (topic, payload) pairs from a fresh Paho client and waits for every PUBACK."""
    client = paho.Client(client_id=f"test-device-{os.getpid()}-{time.monotonic_ns()}")
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        infos = [client.publish(topic, payload if isinstance(payload, (str, bytes)) else
                                json.dumps(payload), qos=qos) for topic, payload in messages]
        for info in infos:
            info.wait_for_publish(10)
            assert info.is_published(), "the broker did not acknowledge a publish"
    finally:
        client.disconnect()
        client.loop_stop()


def health(server):
    status, body = server.request("GET", "/health")
    assert status == 200, body
    return body


async def telemetry_of(ws, device_id, metrics, timeout=10):
    """Telemetry updates of `device_id` until every metric in `metrics` was seen; returns
    {metric: value}."""
    seen = {}
    while not set(metrics) <= set(seen):
        msg = await recv_json(ws, timeout)
        if msg.get("type") == "telemetry_update" and msg["device_id"] == device_id:
            for name, reading in msg["telemetry"].items():
                seen[name] = reading
    return seen


class MqttIngestTest(ServerTestCase):
    @classmethod
    def setUpClass(cls):
        cls.broker = Mosquitto().start()
        cls.addClassCleanup(cls.broker.stop)
        cls.extra_args = ("--mqtt-url", cls.broker.url)
        super().setUpClass()
        wait_until(lambda: health(cls.server).get("mqtt", {}).get("state") == "connected",
                   what="MQTT link connected")

    def stats(self):
        status, body = self.server.request("GET", "/api/v1/ws/stats", token_=self.admin)
        self.assertEqual(status, 200, body)
        return body["data"]["mqtt"]

    def test_health_reports_the_link(self):
        h = health(self.server)
        self.assertEqual(h["status"], "ok", h)
        self.assertEqual(h["mqtt"]["state"], "connected")
        self.assertEqual(h["mqtt"]["broker"], self.broker.url)
        self.assertGreaterEqual(h["mqtt"]["connects"], 1)

    def test_readings_reach_subscribers_and_the_rest_api(self):
        async def scenario():
            ws = await connect(self.server, token_=self.admin)
            ack = await subscribe(ws, "telemetry", device_id=5)
            self.assertEqual(ack["type"], "subscribed", ack)
            await asyncio.to_thread(publish, self.broker.port, [
                (f"{PREFIX}/devices/5/telemetry/temperature",
                 {"value": 21.5, "unit": "°C", "metadata": {"sensor": "a"}}),
                (f"{PREFIX}/devices/5/telemetry/humidity", "40"),  # a bare number
                (f"{PREFIX}/devices/5/telemetry",
                 {"telemetry": {"pressure": {"value": 1013, "unit": "hPa"}}}),
            ])
            seen = await telemetry_of(ws, 5, ["temperature", "humidity", "pressure"])
            await ws.close()
            return seen

        seen = run(scenario())
        self.assertEqual(seen["temperature"]["value"], 21.5)
        self.assertEqual(seen["temperature"]["unit"], "°C")
        self.assertEqual(seen["humidity"]["value"], 40)
        self.assertEqual(seen["pressure"]["value"], 1013)
        # Registered on first sight, as HTTP ingest does, with its latest values stored.
        status, body = self.server.request("GET", "/api/v1/devices/5/telemetry/latest",
                                           token_=self.admin)
        self.assertEqual(status, 200, body)
        latest = {k: v["value"] for k, v in body["data"]["telemetry"].items()}
        self.assertEqual(latest, {"temperature": 21.5, "humidity": 40, "pressure": 1013})

    def test_bad_messages_are_counted_and_logged_once_per_device(self):
        before = self.stats()
        bad = [(f"{PREFIX}/devices/6/telemetry/level", "not json"),
               (f"{PREFIX}/devices/6/telemetry/level", {"value": "high"}),
               (f"{PREFIX}/devices/6/telemetry/Level", "1"),
               (f"{PREFIX}/devices/6/telemetry", {"device_id": 7, "metric_name": "level",
                                                   "metric_value": 1}),
               (f"{PREFIX}/devices/6/status", {"status": "sleeping"})]
        publish(self.broker.port, bad)
        publish(self.broker.port, [(f"{PREFIX}/devices/6/telemetry/level", "2")])
        after = wait_until(lambda: (lambda s: s if s["readings"] > before["readings"] else None)(
            self.stats()), what="the good reading applied")
        self.assertEqual(after["rejected"] - before["rejected"], len(bad))
        self.assertEqual(after["messages"] - before["messages"], len(bad) + 1)
        self.assertEqual(after["readings"] - before["readings"], 1)
        log = "".join(self.server.output)
        lines = [l for l in log.splitlines() if "mqtt: message" in l and "device 6" in l]
        self.assertEqual(len(lines), 1, lines)  # once per device per minute
        self.assertIn("refused", lines[0])
        # The server is still up and still ingesting.
        self.assertEqual(health(self.server)["mqtt"]["state"], "connected")

    def test_a_devices_last_will_marks_it_offline(self):
        device = 11
        will = json.dumps({"status": "offline", "reason": "connection lost"})
        script = (
            "import sys, time, paho.mqtt.client as m\n"
            f"c = m.Client(client_id='dying-device-{os.getpid()}')\n"
            f"c.will_set('{PREFIX}/devices/{device}/status', {will!r}, qos=1, retain=True)\n"
            f"c.connect('127.0.0.1', {self.broker.port}, keepalive=60)\n"
            "c.loop_start()\n"
            f"c.publish('{PREFIX}/devices/{device}/telemetry/level', '5', qos=1).wait_for_publish()\n"
            "print('ready', flush=True)\n"
            "time.sleep(60)\n")

        async def scenario():
            ws = await connect(self.server, token_=self.admin)
            ack = await subscribe(ws, "devices", device_id=device)
            self.assertEqual(ack["type"], "subscribed", ack)
            proc = subprocess.Popen(["/usr/bin/python3", "-c", script], stdout=subprocess.PIPE,
                                    text=True)
            try:
                line = await asyncio.to_thread(proc.stdout.readline)
                self.assertEqual(line.strip(), "ready")
                statuses = []
                while "online" not in statuses:  # its reading brought it online
                    msg = await recv_json(ws, 10)
                    if msg.get("type") == "device_status_update":
                        statuses.append(msg["new_status"])
                reports = self.stats()["statusReports"]
                proc.send_signal(signal.SIGKILL)  # no DISCONNECT: the broker sends the will
                while True:
                    msg = await recv_json(ws, 10)
                    if msg.get("type") == "device_status_update":
                        return msg, reports
            finally:
                if proc.poll() is None:
                    proc.kill()
                proc.wait()
                proc.stdout.close()
                await ws.close()

        msg, reports = run(scenario())
        self.assertEqual(msg["device_id"], device)
        self.assertEqual(msg["new_status"], "offline")
        status, body = self.server.request("GET", f"/api/v1/devices/{device}", token_=self.admin)
        self.assertEqual(body["data"]["status"], "offline", body)
        # The retained will stays on the broker; clearing it (an empty retained message) is
        # not a device's report: the server takes it without refusing or applying anything.
        # The will's own report may be counted just after its update was pushed: wait for it,
        # or it would land between "before" and "after".
        before = wait_until(lambda: (lambda s: s if s["statusReports"] > reports else None)(
            self.stats()), what="the will counted as a status report")
        publish(self.broker.port, [(f"{PREFIX}/devices/{device}/status", "")])
        after = wait_until(lambda: (lambda s: s if s["messages"] > before["messages"] else None)(
            self.stats()), what="the clearing message read")
        self.assertEqual(after["rejected"], before["rejected"])
        self.assertEqual(after["statusReports"], before["statusReports"])

    def test_readings_wait_while_the_storage_refuses_writes_and_none_is_lost(self):
        # Another process holds the SQLite write lock: the writer's commit waits out its busy
        # timeout, the storage is then unavailable and HTTP ingest answers 503, while MQTT
        # messages wait (docs/mqtt.md, "Nothing is dropped"). Once the lock goes, every reading
        # published meanwhile is applied, in order, and stored.
        device, count = 31, 50
        topic = f"{PREFIX}/devices/{device}/telemetry/outage"
        db = self.server.config[""]["db"]
        lock = sqlite3.connect(db, timeout=10, isolation_level=None)
        lock.execute("BEGIN IMMEDIATE")
        try:
            self.server.ingest(device, {"outage": 0}, self.admin)  # a write to be refused
            wait_until(lambda: not health(self.server)["storage"]["writable"], timeout=30,
                       what="the storage to be unavailable")
            before = self.stats()
            publish(self.broker.port, [(topic, str(v)) for v in range(1, count + 1)])
            status, body = self.server.request(
                "POST", "/api/v1/telemetry",
                {"device_id": device, "telemetry": {"outage": {"value": -1}}}, self.admin)
            self.assertEqual(status, 503, body)  # HTTP is told to come back later
            time.sleep(0.5)
            during = self.stats()
        finally:
            lock.execute("ROLLBACK")
            lock.close()
        self.assertEqual(during["rejected"], before["rejected"], "nothing refused")

        def stored():
            with sqlite3.connect(db, timeout=10) as conn:
                row = conn.execute("SELECT value FROM latest_metrics WHERE device_id = ? AND "
                                   "metric = 'outage'", (device,)).fetchone()
            return row and row[0] == count
        wait_until(stored, timeout=30, what="the last reading published during the outage stored")
        after = wait_until(lambda: (lambda s: s if s["readings"] >= before["readings"] + count
                                    else None)(self.stats()), what="every reading counted")
        self.assertEqual(after["readings"] - before["readings"], count)
        self.assertEqual(after["rejected"], before["rejected"])
        self.assertTrue(health(self.server)["storage"]["writable"])

    def test_simulate_publishes_one_reading_per_message(self):
        before = self.stats()
        proc = subprocess.run([BIN, "simulate", "--mqtt", self.broker.url, "--devices", "3",
                               "--first-id", "900", "--count", "2", "--interval", "200ms",
                               "--seed", "5"], capture_output=True, text=True, timeout=60)
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        m = re.search(r"simulate: (\d+) readings sent in 2 ticks", proc.stdout)
        self.assertTrue(m, proc.stdout)
        sent = int(m.group(1))
        self.assertGreater(sent, 0)
        # Every acknowledged reading is applied by the server (all valid, all new devices).
        wait_until(lambda: self.stats()["readings"] - before["readings"] >= sent,
                   what=f"{sent} readings applied")
        self.assertEqual(self.stats()["rejected"], before["rejected"])
        for device in (900, 901, 902):
            status, body = self.server.request(
                "GET", f"/api/v1/devices/{device}/telemetry/latest", token_=self.admin)
            self.assertEqual(status, 200, body)
            self.assertTrue(body["data"]["telemetry"], body)


class MqttReconnectTest(unittest.TestCase):
    """The broker goes away: /health says so, and once it is back (same port) the server
    connects and subscribes again by itself."""

    def test_reconnects_and_resubscribes_when_the_broker_returns(self):
        broker = Mosquitto().start()
        port = broker.port
        try:
            with Server(extra_args=("--mqtt-url", broker.url)) as s:
                wait_until(lambda: health(s).get("mqtt", {}).get("state") == "connected",
                           what="first connection")
                broker.stop()
                h = wait_until(lambda: (lambda h: h if h["mqtt"]["state"] != "connected"
                                        else None)(health(s)), what="link down in /health")
                self.assertEqual(h["status"], "degraded", h)
                self.assertIn("error", h["mqtt"])
                broker = Mosquitto(port=port).start()
                h = wait_until(lambda: (lambda h: h if h["mqtt"]["state"] == "connected"
                                        else None)(health(s)), timeout=20, what="reconnect")
                self.assertEqual(h["status"], "ok", h)
                self.assertGreaterEqual(h["mqtt"]["connects"], 2)
                publish(port, [(f"{PREFIX}/devices/21/telemetry/level", "7")])
                admin = token("admin", "admin", secret=s.secret)
                body = wait_until(lambda: (lambda r: r[1] if r[0] == 200 else None)(
                    s.request("GET", "/api/v1/devices/21/telemetry/latest", token_=admin)),
                    what="the reading after the reconnect")
                self.assertEqual(body["data"]["telemetry"]["level"]["value"], 7)
                log = "".join(s.output)
                self.assertIn("trying again in", log)
        finally:
            broker.stop()

    def test_a_bad_url_stops_start_up_with_a_clear_error(self):
        proc = subprocess.run([BIN, "serve", "--listen", "127.0.0.1:0", "--jwt-secret", "x",
                               "--db", ":memory:", "--mqtt-url", "tcp://127.0.0.1:1883"],
                              capture_output=True, text=True, timeout=20)
        self.assertEqual(proc.returncode, 2, proc.stdout + proc.stderr)
        self.assertIn("mqtt.url: 'tcp://127.0.0.1:1883' must start with mqtt:// or mqtts://",
                      proc.stdout + proc.stderr)

    def test_an_unreadable_ca_file_stops_start_up_naming_it(self):
        with tempfile.TemporaryDirectory() as tmp:
            conf = os.path.join(tmp, "valtronics.toml")
            with open(conf, "w") as f:
                f.write('[mqtt]\nurl = "mqtts://127.0.0.1:1"\nca_file = "/nonexistent/ca.pem"\n')
            proc = subprocess.run([BIN, "serve", "--config", conf, "--listen", "127.0.0.1:0",
                                   "--jwt-secret", "x", "--db", ":memory:"],
                                  capture_output=True, text=True, timeout=20)
        self.assertEqual(proc.returncode, 2, proc.stdout + proc.stderr)
        self.assertIn("mqtt.ca_file: cannot read '/nonexistent/ca.pem': No such file or directory",
                      proc.stdout + proc.stderr)


class MqttTlsTest(unittest.TestCase):
    """mqtts://: the broker's certificate is checked against mqtt.ca_file; a broker whose
    certificate the CA did not sign is refused, and /health says why."""

    def test_mqtts_with_the_brokers_ca_and_refusal_without_it(self):
        with tempfile.TemporaryDirectory() as tmp:
            pki = TestPki(tmp)
            os.mkdir(os.path.join(tmp, "other"))
            other = TestPki(os.path.join(tmp, "other"))  # a CA that signed nothing here
            tls = (pki.path("ca.pem"), pki.path("server.pem"), pki.path("server.key"))
            with Mosquitto(tls=tls) as broker:
                with Server({"mqtt": {"url": broker.url, "ca_file": pki.path("ca.pem")}}) as s:
                    wait_until(lambda: health(s).get("mqtt", {}).get("state") == "connected",
                               what="TLS link connected")
                    client = paho.Client(client_id=f"tls-device-{os.getpid()}")
                    client.tls_set(ca_certs=pki.path("ca.pem"))
                    client.connect("127.0.0.1", broker.port)
                    client.loop_start()
                    client.publish(f"{PREFIX}/devices/31/telemetry/level", "3",
                                   qos=1).wait_for_publish(10)
                    client.disconnect()
                    client.loop_stop()
                    admin = token("admin", "admin", secret=s.secret)
                    body = wait_until(lambda: (lambda r: r[1] if r[0] == 200 else None)(
                        s.request("GET", "/api/v1/devices/31/telemetry/latest", token_=admin)),
                        what="the reading over TLS")
                    self.assertEqual(body["data"]["telemetry"]["level"]["value"], 3)
                with Server({"mqtt": {"url": broker.url,
                                      "ca_file": other.path("ca.pem")}}) as s:
                    h = wait_until(lambda: (lambda h: h if h["mqtt"].get("error") else None)(
                        health(s)), what="the refusal in /health")
                    self.assertNotEqual(h["mqtt"]["state"], "connected", h)
                    self.assertEqual(h["mqtt"]["error"], "A TLS error occurred.", h)
                    self.assertEqual(h["status"], "degraded", h)


if __name__ == "__main__":
    unittest.main()
