"""Issue 15, "Acknowledged alerts (at least once)", through a real client (Python websockets)
against the real server, alerts raised by a rule on readings ingested over HTTP: delivery ids,
redelivery on the connection after alerts.ack_timeout until acknowledged, and, with the client's
TCP connection killed between the send and the ack, redelivery after the reconnect through
since_alert_id."""
import asyncio
import json
import time
import unittest

from cli_clients import Listen
from domain_helpers import RestMixin
from harness import (ServerTestCase, connect, expect_silence, metric_value, parse_metrics,
                     recv_json, recv_type, run)


class AckedAlertsTest(RestMixin, ServerTestCase):
    config = {"alerts": {"ack_timeout": "1s"}}
    admin_sub = "ack-admin"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        status, reply = cls.server.request(
            "POST", "/api/v1/alert-rules",
            {"name": "Acked", "metric": "acked", "condition": "gt", "threshold": 10,
             "severity": "critical"}, cls.admin)
        assert status == 201, reply

    async def subscribe_acked(self, ws, **fields):
        await ws.send(json.dumps({"type": "subscribe", "channel": "alerts", "ack": True,
                                  "id": "s", **fields}))
        reply = await recv_type(ws, "subscribed")
        self.assertEqual(reply["filters"]["ack"], True, reply)
        return reply

    def test_an_alert_comes_again_until_acknowledged(self):
        async def go():
            ws = await connect(self.server, token_=self.admin)
            await self.subscribe_acked(ws)
            await self.aingest(301, {"acked": 20})
            first = await recv_type(ws, "alert")
            self.assertEqual((first["device_id"], first["delivery_id"]), (301, 1))
            self.assertNotIn("redelivered", first)
            sent_at = time.monotonic()
            again = await recv_type(ws, "alert", timeout=4)
            self.assertGreater(time.monotonic() - sent_at, 0.8, "before alerts.ack_timeout")
            self.assertEqual((again["alert_id"], again["delivery_id"], again["redelivered"]),
                             (first["alert_id"], 1, True))
            self.assertEqual(again["seq"], first["seq"] + 1)
            await ws.send(json.dumps({"type": "ack", "delivery_id": 1}))
            await expect_silence(ws, 2.5)  # acknowledged: never again
            # An ack naming a delivery this connection never made is an error naming it.
            await ws.send(json.dumps({"type": "ack", "delivery_id": [1, 77], "id": "x"}))
            err = await recv_json(ws)
            self.assertEqual((err["type"], err["error"], err["id"]),
                             ("error", "invalid_message", "x"))
            self.assertIn("77", err["message"])
            await ws.close()
        run(go())

    def test_a_connection_killed_before_the_ack_gets_the_alert_again_on_reconnect(self):
        async def go():
            ws = await connect(self.server, token_=self.admin)
            reply = await self.subscribe_acked(ws, device_id=302)
            resume_from = reply["last_alert_id"]
            await self.aingest(302, {"acked": 30})
            alert = await recv_type(ws, "alert")
            self.assertEqual(alert["delivery_id"], 1)
            # The client dies between receiving and acknowledging: its TCP connection is cut
            # (no close frame), so the ack never leaves.
            ws.transport.abort()
            await asyncio.sleep(0.2)
            # It reconnects from the newest alert it acknowledged (none: where its first
            # subscription started) and gets the alert again, to acknowledge this time.
            ws2 = await connect(self.server, token_=self.admin)
            reply2 = await self.subscribe_acked(ws2, device_id=302, since_alert_id=resume_from)
            self.assertTrue(reply2["recovered"], reply2)
            again = await recv_type(ws2, "alert")
            self.assertEqual((again["alert_id"], again["status"]), (alert["alert_id"], "active"))
            self.assertEqual(again["delivery_id"], 1, "delivery ids are per connection")
            await ws2.send(json.dumps({"type": "ack", "delivery_id": again["delivery_id"]}))
            await expect_silence(ws2, 2.0)
            await ws2.close()
        run(go())

    def alerts_sent(self):
        """Alert messages the server has handed to connections so far (GET /metrics)."""
        status, text = self.server.request("GET", "/metrics", token_=self.admin)
        self.assertEqual(status, 200)
        return metric_value(parse_metrics(text), "valtronics_messages_out_total",
                            channel="alerts", type="alert")

    def test_listen_acknowledges_through_the_cpp_sdk(self):
        # `listen -s alerts:ack=true` (the C++ client SDK): each alert printed once and
        # acknowledged, so the server sends no redelivery (ack_timeout is 1 s here; the SDK
        # would hide a redelivery as a duplicate, so the server's count is what tells).
        with Listen(self.server.url, "--token", self.admin, "--json", "-q",
                    "-s", "alerts:device_id=303;ack=true") as listen:
            listen.wait_for(lambda l: l.of_type("subscribed"), what="subscribed")
            before = self.alerts_sent()
            self.ingest(303, {"acked": 40})
            alert = listen.wait_for(lambda l: l.of_type("alert"), what="the alert")[0]
            self.assertEqual(alert["delivery_id"], 1)
            time.sleep(2.5)
            self.assertEqual(len(listen.of_type("alert")), 1, listen.lines())
            self.assertEqual(self.alerts_sent() - before, 1, "redelivered: the ack never came")
            self.assertEqual(listen.errors(), [])


if __name__ == "__main__":
    unittest.main()
