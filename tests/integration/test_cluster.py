"""A cluster of nodes (issue 12; docs/deployment.md) with real servers on loopback: one
nats-server with JetStream, one PostgreSQL, one Mosquitto, and three `valtronics serve` nodes,
driven by Python `websockets` and Paho clients.

- Readings ingested through node 1 over HTTP and through Mosquitto reach clients on nodes 2 and 3
  exactly once each.
- A rule created through node 2 fires on a reading ingested through node 3, and the alert reaches
  clients on every node once.
- SIGKILL of a node while readings flow: its partitions move within the lease time, alerts of its
  devices are raised by the new owner, a client of the dead node catches up on another node with
  since_alert_id, and no alert is stored twice.
- Mosquitto, then NATS, restarted during ingest: ingest resumes, and no reading a node accepted
  (?sync=true) is missing from the database.
"""
import asyncio
import json
import os
import signal
import subprocess
import threading
import time
import unittest

import paho.mqtt.client as paho

from brokers import Mosquitto, Nats, Postgres
from harness import (BIN, Server, connect, expect_close, recv_json, run, subscribe, token,
                     wait_until)

LEASE = "3s"  # short, so that failover fits a test; the default is 6s
PARTITIONS = 16


def partition_of(device, partitions=PARTITIONS):
    """engine/partition.hpp, in Python."""
    return (((device * 0x9E3779B97F4A7C15) & (2**64 - 1)) >> 32) % partitions


def health(node):
    status, body = node.request("GET", "/health")
    assert status == 200, body
    return body


def owner_of(nodes, device):
    """The node whose /health lists the device's partition."""
    p = partition_of(device)
    for n in nodes:
        if n.proc.poll() is None and p in health(n)["cluster"]["partitions"]:
            return n
    return None


async def received(ws, type_, quiet):
    """The messages of `type_` that arrive until none has come for `quiet` seconds."""
    got = []
    try:
        while True:
            msg = await recv_json(ws, quiet)
            if msg["type"] == type_:
                got.append(msg)
    except asyncio.TimeoutError:
        return got


def mqtt_publish(port, messages):
    """(topic, payload) pairs, QoS 1, each acknowledged by the broker."""
    client = paho.Client(client_id=f"cluster-device-{os.getpid()}-{time.monotonic_ns()}")
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        infos = [client.publish(t, json.dumps(p), qos=1) for t, p in messages]
        for info in infos:
            info.wait_for_publish(10)
            assert info.is_published()
    finally:
        client.disconnect()
        client.loop_stop()


class Cluster:
    """NATS + PostgreSQL + Mosquitto and `count` nodes n1..nN sharing them."""

    def __init__(self, count=3, mqtt=True, config=None):
        self.count = count
        self.mqtt = mqtt
        self.config = config or {}
        self.nodes = []

    def start(self):
        self.nats = Nats().start()
        self.pg = Postgres().start()
        self.db = self.pg.new_database()
        self.broker = Mosquitto().start() if self.mqtt else None
        for i in range(self.count):
            self.nodes.append(self.start_node(f"n{i + 1}"))
        # Every node sees the others and every partition has an owner.
        wait_until(lambda: all(len(health(n)["cluster"]["peers"]) == self.count - 1
                               for n in self.nodes), timeout=30, what="peers")
        wait_until(lambda: sorted(p for n in self.nodes
                                  for p in health(n)["cluster"]["partitions"]) ==
                   list(range(PARTITIONS)), timeout=30, what="every partition owned once")
        self.admin = token("admin", "admin")
        return self

    def start_node(self, node_id):
        config = {"": {"db": self.db},
                  "cluster": {"nats_url": self.nats.url, "node_id": node_id, "lease_ttl": LEASE},
                  "telemetry": {"retention": "1h"}}
        if self.broker:
            config["mqtt"] = {"url": self.broker.url}
        for section, keys in self.config.items():
            config.setdefault(section, {}).update(keys)
        s = Server(config)
        s.start()
        return s

    def stop(self):
        for n in self.nodes:
            n.stop()
        for part in ("broker", "nats", "pg"):
            thing = getattr(self, part, None)
            if thing:
                thing.stop()


class ClusterDeliveryTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.cluster = Cluster(config={"limits": {"max_connections_per_user": 3}})
        cls.addClassCleanup(cls.cluster.stop)
        cls.cluster.start()
        cls.n1, cls.n2, cls.n3 = cls.cluster.nodes
        cls.admin = cls.cluster.admin

    def test_health_and_stats_show_the_node_its_peers_and_partitions(self):
        body = health(self.n2)
        self.assertEqual(body["status"], "ok", body)
        c = body["cluster"]
        self.assertEqual(c["node_id"], "n2")
        self.assertEqual(c["nats"]["state"], "connected")
        self.assertEqual(sorted(p["node"] for p in c["peers"]), ["n1", "n3"])
        self.assertEqual(c["partition_count"], PARTITIONS)
        self.assertTrue(c["partitions"], "a node of three owns some partitions")
        status, stats = self.n2.request("GET", "/api/v1/ws/stats", token_=self.admin)
        self.assertEqual(status, 200, stats)
        self.assertEqual(stats["data"]["cluster"]["node_id"], "n2")

    def test_readings_through_node1_over_http_and_mqtt_reach_nodes_2_and_3_once(self):
        http_devices = list(range(101, 121))
        mqtt_devices = list(range(121, 141))

        async def scenario():
            ws2 = await connect(self.n2, token_=self.admin)
            ws3 = await connect(self.n3, token_=self.admin)
            try:
                for ws in (ws2, ws3):
                    reply = await subscribe(ws, "telemetry",
                                            device_id=http_devices + mqtt_devices)
                    self.assertEqual(reply["type"], "subscribed", reply)
                # The subscriptions reach the other nodes with the next heartbeat.
                await asyncio.sleep(1.5)
                for d in http_devices:
                    self.n1.ingest(d, {"temperature": d + 0.5}, self.admin)
                mqtt_publish(self.cluster.broker.port,
                             [(f"valtronics/devices/{d}/telemetry/temperature", {"value": d + 0.5})
                              for d in mqtt_devices])
                want = sorted((d, d + 0.5) for d in http_devices + mqtt_devices)
                for ws in (ws2, ws3):
                    got = []
                    deadline = time.monotonic() + 15
                    while len(got) < len(want) and time.monotonic() < deadline:
                        msg = await recv_json(ws, deadline - time.monotonic())
                        if msg["type"] == "telemetry_update":
                            got.append((msg["device_id"], msg["telemetry"]["temperature"]["value"]))
                    # Nothing more: each reading once.
                    got += [(m["device_id"], m["telemetry"]["temperature"]["value"])
                            for m in await received(ws, "telemetry_update", 1.0)]
                    self.assertEqual(sorted(got), want)
            finally:
                await ws2.close()
                await ws3.close()

        run(scenario())

    def test_a_rule_created_on_node2_fires_on_a_reading_through_node3_once_everywhere(self):
        device = 777

        async def scenario():
            sockets = [await connect(n, token_=self.admin) for n in (self.n1, self.n2, self.n3)]
            try:
                for ws in sockets:
                    reply = await subscribe(ws, "alerts", device_id=device)
                    self.assertEqual(reply["type"], "subscribed", reply)
                status, rule = self.n2.request(
                    "POST", "/api/v1/alert-rules",
                    {"name": "Cluster hot", "device_id": device, "metric": "temperature",
                     "condition": "gt", "threshold": 50, "severity": "critical"}, self.admin)
                self.assertEqual(status, 201, rule)
                rule_id = rule["data"]["id"]
                # Every node knows the rule (node 3 read it on node 2's change notice).
                wait_until(lambda: any(r["id"] == rule_id for r in self.n3.request(
                    "GET", "/api/v1/alert-rules", token_=self.admin)[1]["data"]),
                    what="the rule on node 3")
                await asyncio.sleep(1.5)  # the alert subscriptions reach every node
                self.n3.ingest(device, {"temperature": 60}, self.admin)
                for ws in sockets:
                    alerts = await received(ws, "alert", 3.0)
                    self.assertEqual([(a["device_id"], a["status"]) for a in alerts],
                                     [(device, "active")], alerts)
            finally:
                for ws in sockets:
                    await ws.close()
            status, body = self.n1.request("GET", f"/api/v1/alerts?device_id={device}",
                                           token_=self.admin)
            self.assertEqual(body["pagination"]["total"], 1, body)

        run(scenario())

    def test_a_node_publishes_only_what_some_node_subscribes_to(self):
        device = next(d for d in range(900, 1000)
                      if owner_of(self.cluster.nodes, d) is self.n1)
        self.n1.ingest(device, {"temperature": 1}, self.admin)  # registered, online
        time.sleep(0.5)

        def published():
            return health(self.n1)["cluster"]["events_published"]

        before = published()
        for i in range(10):
            self.n1.ingest(device, {"temperature": i}, self.admin)
        time.sleep(0.5)
        self.assertEqual(published(), before, "nobody subscribes: nothing crosses NATS")

        async def scenario():
            ws = await connect(self.n2, token_=self.admin)
            try:
                reply = await subscribe(ws, "telemetry", device_id=device)
                self.assertEqual(reply["type"], "subscribed", reply)
                await asyncio.sleep(1.5)
                start = published()
                for i in range(10):
                    self.n1.ingest(device, {"temperature": 100 + i}, self.admin)
                values = []
                while len(values) < 10:
                    msg = await recv_json(ws, 10)
                    if msg["type"] == "telemetry_update":
                        values.append(msg["telemetry"]["temperature"]["value"])
                self.assertEqual(values, [100 + i for i in range(10)])
                self.assertEqual(published() - start, 10)
            finally:
                await ws.close()

        run(scenario())

    def test_the_per_user_connection_limit_counts_every_node(self):
        quota = token("quota", "user", devices="1")

        async def scenario():
            held = [await connect(n, token_=quota) for n in (self.n1, self.n1, self.n3)]
            try:
                # The other nodes hear of them with the next heartbeats (about a second).
                await asyncio.sleep(2.5)
                ws = await connect(self.n2)
                await ws.send(json.dumps({"type": "auth", "token": quota}))
                reply = await recv_json(ws)
                self.assertIs(reply["success"], False, reply)
                self.assertEqual(reply["error"], "too_many_connections", reply)
                await expect_close(ws, 4029, timeout=3)
                # One closes: after the next heartbeat the user may connect on node 2 again.
                await held.pop().close()
                await asyncio.sleep(2.5)
                held.append(await connect(self.n2, token_=quota))
            finally:
                for ws in held:
                    await ws.close()

        run(scenario())

    def test_system_updates_carry_cluster_wide_figures(self):
        async def scenario():
            ws = await connect(self.n3, token_=self.admin)
            try:
                reply = await subscribe(ws, "system", frequency="1s",
                                        metrics=["cluster_nodes", "cluster_connections",
                                                 "active_connections"])
                self.assertEqual(reply["type"], "subscribed", reply)
                while True:
                    msg = await recv_json(ws, 10)
                    if msg["type"] == "system_status_update":
                        return msg["metrics"]
            finally:
                await ws.close()

        metrics = run(scenario())
        self.assertEqual(metrics["cluster_nodes"], 3, metrics)
        self.assertGreaterEqual(metrics["cluster_connections"], metrics["active_connections"])

    def test_a_status_report_through_any_node_reaches_the_owner(self):
        device = 555
        self.n1.ingest(device, {"temperature": 20}, self.admin)
        others = [n for n in self.cluster.nodes if n is not owner_of(self.cluster.nodes, device)]
        status, body = others[0].request("PUT", f"/api/v1/devices/{device}/status",
                                         {"status": "maintenance", "reason": "cluster test"},
                                         self.admin)
        self.assertEqual(status, 200, body)
        self.assertEqual(body["data"]["status"], "maintenance", body)
        for n in self.cluster.nodes:
            wait_until(lambda: n.request("GET", f"/api/v1/devices/{device}",
                                         token_=self.admin)[1]["data"]["status"] == "maintenance",
                       what="the new status on every node")


class ClusterPerTest(unittest.TestCase):
    """A cluster of its own for each test (they kill and restart its parts)."""
    cluster_args = {"mqtt": False}

    def setUp(self):
        self.cluster = Cluster(**self.cluster_args)
        self.addCleanup(self.cluster.stop)
        self.cluster.start()


class ClusterFailoverTest(ClusterPerTest):

    def test_a_killed_nodes_devices_raise_alerts_on_a_new_owner_and_clients_catch_up(self):
        c = self.cluster
        n1, n2, n3 = c.nodes
        admin = c.admin
        owned = set(health(n1)["cluster"]["partitions"])
        devices = [d for d in range(1, 400) if partition_of(d) in owned][:3]
        watched = devices[0]
        status, rule = n2.request("POST", "/api/v1/alert-rules",
                                  {"name": "Failover hot", "metric": "temperature",
                                   "condition": "gt", "threshold": 50, "severity": "warning"},
                                  admin)
        self.assertEqual(status, 201, rule)
        wait_until(lambda: len(n1.request("GET", "/api/v1/alert-rules",
                                          token_=admin)[1]["data"]) == 1, what="rule on node 1")

        async def before_kill():
            ws = await connect(n1, token_=admin)
            reply = await subscribe(ws, "alerts")
            self.assertEqual(reply["type"], "subscribed", reply)
            await asyncio.sleep(1.5)
            n2.ingest(watched, {"temperature": 70}, admin)  # node 1 owns it: it raises this one
            while True:
                msg = await recv_json(ws, 10)
                if msg["type"] == "alert":
                    await ws.close()
                    return msg["alert_id"]

        first_alert = run(before_kill())

        # Readings flow through node 2 for every device while node 1 dies.
        accepted, refused = [], []
        stop = threading.Event()

        def flow():
            i = 0
            while not stop.is_set():
                for d in devices[1:]:
                    i += 1
                    body = {"device_id": d, "telemetry": {"temperature": {"value": 20 + i % 5}}}
                    status, _ = n2.request("POST", "/api/v1/telemetry", body, admin)
                    (accepted if status == 202 else refused).append(status)
                time.sleep(0.05)

        t = threading.Thread(target=flow)
        t.start()
        time.sleep(0.5)
        os.kill(n1.proc.pid, signal.SIGKILL)
        n1.proc.wait()
        killed_at = time.monotonic()
        # A reading that should alert, for a device node 1 owned, ingested through node 2: the
        # request waits while the partition moves, then its new owner raises the alert.
        alerting = devices[1]
        status, body = n2.request("POST", "/api/v1/telemetry",
                                  {"device_id": alerting,
                                   "telemetry": {"temperature": {"value": 80}}}, admin)
        self.assertEqual(status, 202, body)

        def alert_of(device):
            _, b = n3.request("GET", f"/api/v1/alerts?device_id={device}", token_=admin)
            return b["data"]

        alerts = wait_until(lambda: alert_of(alerting), timeout=15, what="alert after failover")
        took = time.monotonic() - killed_at
        stop.set()
        t.join()
        self.assertLess(took, 10, "the partition moved within 10 s")
        self.assertEqual(len(alerts), 1, alerts)
        self.assertTrue(accepted, "readings flowed")
        # Every partition has a live owner again.
        wait_until(lambda: sorted(p for n in (n2, n3)
                                  for p in health(n)["cluster"]["partitions"]) ==
                   list(range(PARTITIONS)), what="every partition owned by nodes 2 and 3")

        # The client of node 1 reconnects to node 3 with since_alert_id: it gets what it missed.
        async def catch_up():
            ws = await connect(n3, token_=admin)
            reply = await subscribe(ws, "alerts", since_alert_id=first_alert)
            self.assertEqual(reply["type"], "subscribed", reply)
            got = await received(ws, "alert", 2.0)
            await ws.close()
            return got

        got = run(catch_up())
        self.assertIn(alerts[0]["alert_id"], [a["alert_id"] for a in got])
        self.assertNotIn(first_alert, [a["alert_id"] for a in got])
        # The first alert stays open (the value never cleared): a new reading over the threshold
        # through another node reaches the new owner, which read the open alert from the
        # database and does not raise it again.
        n2.ingest(watched, {"temperature": 75}, admin)
        time.sleep(1)
        self.assertEqual(len(alert_of(watched)), 1, alert_of(watched))
        rows = c.pg.query(c.db, "SELECT device_id, rule_id, count(*) FROM alerts "
                                "GROUP BY device_id, rule_id HAVING count(*) > 1")
        self.assertEqual(rows, [], "no alert raised twice")
        ids = c.pg.query(c.db, "SELECT id FROM alerts ORDER BY id")
        self.assertEqual(len(ids), len(set(r[0] for r in ids)))


class ClusterStopTest(ClusterPerTest):

    def test_a_stopped_node_hands_its_partitions_over_at_once(self):
        n1, n2, n3 = self.cluster.nodes
        owned = set(health(n1)["cluster"]["partitions"])
        self.assertTrue(owned)
        device = next(d for d in range(1, 400) if partition_of(d) in owned)
        n1.stop()  # SIGTERM: a graceful stop
        stopped = time.monotonic()
        # Its partitions are owned by the others well before a lease could have expired.
        wait_until(lambda: sorted(p for n in (n2, n3)
                                  for p in health(n)["cluster"]["partitions"]) ==
                   list(range(PARTITIONS)), timeout=10, what="partitions handed over")
        took = time.monotonic() - stopped
        print(f"partitions owned by the others {took:.2f} s after the stop")
        self.assertLess(took, 1.5, "handed over at the stop, not taken after the 3 s lease expired")
        n2.ingest(device, {"temperature": 1}, self.cluster.admin)


class ClusterBrokerFaultTest(ClusterPerTest):
    cluster_args = {"count": 2}

    def test_ingest_resumes_after_mosquitto_then_nats_restart_and_nothing_accepted_is_lost(self):
        c = self.cluster
        n1, n2 = c.nodes
        admin = c.admin
        accepted = []  # (device, value) answered 200 with ?sync=true
        stop = threading.Event()

        def flow():
            i = 0
            while not stop.is_set():
                i += 1
                d = 300 + i % 8  # some owned by each node: forwarded or applied locally
                body = {"device_id": d, "telemetry": {"counter": {"value": i}}}
                status, _ = n1.request("POST", "/api/v1/telemetry?sync=true", body, admin)
                if status == 200:
                    accepted.append((d, i))
                time.sleep(0.01)

        t = threading.Thread(target=flow)
        t.start()
        try:
            time.sleep(1)
            c.broker.stop()
            c.broker.start()
            wait_until(lambda: all(health(n)["mqtt"]["state"] == "connected" for n in c.nodes),
                       what="MQTT links back")
            mqtt_publish(c.broker.port, [("valtronics/devices/350/telemetry/counter", {"value": 1})])
            wait_until(lambda: n2.request("GET", "/api/v1/devices/350/telemetry/latest",
                                          token_=admin)[0] == 200, what="MQTT ingest resumed")
            before_nats = len(accepted)
            c.nats.kill()
            time.sleep(2)
            c.nats.start()
            wait_until(lambda: all(health(n)["cluster"]["nats"]["state"] == "connected"
                                   for n in c.nodes), what="NATS links back")
            wait_until(lambda: len(accepted) > before_nats + 20, timeout=30,
                       what="HTTP ingest resumed after NATS")
            mqtt_publish(c.broker.port, [("valtronics/devices/351/telemetry/counter", {"value": 2})])
            wait_until(lambda: n1.request("GET", "/api/v1/devices/351/telemetry/latest",
                                          token_=admin)[0] == 200, what="MQTT ingest after NATS")
        finally:
            stop.set()
            t.join()
        stored = {(int(d), int(float(v))) for d, v in
                  c.pg.query(c.db, "SELECT device_id, value FROM telemetry_history "
                                   "WHERE metric = 'counter'")}
        missing = [r for r in accepted if r not in stored]
        self.assertEqual(missing, [], f"{len(missing)} of {len(accepted)} accepted readings lost")


class ClusterNoOwnerTest(ClusterPerTest):
    cluster_args = {"count": 2, "mqtt": False}

    def test_a_reading_no_node_can_take_is_refused_with_503_after_the_deadline(self):
        n1, n2 = self.cluster.nodes
        owned = set(health(n2)["cluster"]["partitions"])
        device = next(d for d in range(1, 400) if partition_of(d) in owned)
        # NATS goes away: each node gives its leases up before they could expire, so nobody
        # owns any partition; a reading for node 2's device through node 1 waits for an owner
        # until 2 x lease_ttl + 2 s (8 s here), then is refused.
        self.cluster.nats.kill()
        wait_until(lambda: not health(n1)["cluster"]["partitions"], timeout=10,
                   what="node 1 giving its leases up")
        self.assertEqual(health(n1)["status"], "degraded")
        started = time.monotonic()
        status, body = n1.request("POST", "/api/v1/telemetry",
                                  {"device_id": device,
                                   "telemetry": {"temperature": {"value": 1}}},
                                  self.cluster.admin)
        waited = time.monotonic() - started
        self.assertEqual(status, 503, body)
        self.assertIn("no node of the cluster took the request", body["error"]["message"])
        self.assertGreater(waited, 5)
        # NATS back: the cluster owns every partition again and the same reading goes through.
        self.cluster.nats.start()
        wait_until(lambda: sorted(p for n in (n1, n2)
                                  for p in health(n)["cluster"]["partitions"]) ==
                   list(range(PARTITIONS)), timeout=30, what="partitions owned again")
        n1.ingest(device, {"temperature": 2}, self.cluster.admin)


class ClusterConfigTest(unittest.TestCase):
    def test_a_cluster_with_a_sqlite_database_is_refused_at_start(self):
        proc = subprocess.run([BIN, "serve", "--listen", "127.0.0.1:0", "--jwt-secret", "x",
                               "--db", "/tmp/valtronics-cluster-refused.db", "--nats-url",
                               "nats://127.0.0.1:4222"],
                              capture_output=True, text=True, timeout=30)
        self.assertEqual(proc.returncode, 2, proc.stderr)
        self.assertIn("cluster.nats_url", proc.stderr + proc.stdout)
        self.assertIn("PostgreSQL", proc.stderr + proc.stdout)


if __name__ == "__main__":
    unittest.main()
