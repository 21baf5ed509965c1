"""The C++ client's transports and session edge cases seen through `valtronics listen` and
`valtronics simulate`, against small scripted servers (Python websockets, http.server): wss://
with a CA file, with the system store (refused), with --insecure, a certificate naming another
host (refused); the keepalive ping dropping a connection whose server stopped answering (then
reconnecting); a request left unanswered by a dropped connection sent again on the next, the
resume falling back when a server refuses since_alert_id, a replayed alert not delivered twice;
the ingest POSTs over one kept-alive connection, on http:// and https://. The real server speaks
plain ws:// and http:// only, and never misbehaves on purpose, so these are checked here."""
import asyncio
import http.server
import json
import os
import ssl
import subprocess
import tempfile
import threading
import time
import unittest

import websockets

from cli_clients import Listen, run_cli


class ScriptedServer:
    """A minimal Valtronics-speaking WebSocket server on a thread: answers auth, subscribe
    (then sends one telemetry_update) and ping (unless answer_pings is False)."""

    def __init__(self, ssl_context=None):
        self.ssl_context = ssl_context
        self.answer_pings = True
        self.connections = 0
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        self.ready.wait(10)

    def _run(self):
        asyncio.set_event_loop(self.loop)

        async def start():
            self.server = await websockets.serve(self.handler, "127.0.0.1", 0,
                                                 ssl=self.ssl_context)
            self.port = self.server.sockets[0].getsockname()[1]
            self.ready.set()
        self.loop.run_until_complete(start())
        self.loop.run_forever()

    async def handler(self, ws, path=None):
        self.connections += 1
        try:
            async for text in ws:
                m = json.loads(text)
                t, id_ = m.get("type"), m.get("id")
                if t == "auth":
                    await ws.send(json.dumps({"type": "auth_response", "success": True,
                                              "message": "ok", "user": "scripted",
                                              "role": "admin",
                                              "expires_at": "2099-01-01T00:00:00.000Z",
                                              "id": id_}))
                elif t == "subscribe":
                    await ws.send(json.dumps({"type": "subscribed", "channel": m["channel"],
                                              "filters": m.get("filters", {}), "id": id_}))
                    await ws.send(json.dumps({
                        "type": "telemetry_update", "channel": "telemetry", "device_id": 1,
                        "telemetry": {"temperature": {"value": 21.5, "unit": "°C",
                                                      "timestamp": "2026-01-01T12:00:00.000Z"}},
                        "seq": 1}))
                elif t == "ping" and self.answer_pings:
                    await ws.send(json.dumps({"type": "pong", "timestamp": m.get("timestamp"),
                                              "server_time": "2026-01-01T12:00:00.000Z",
                                              "id": id_}))
        except websockets.exceptions.ConnectionClosed:
            pass

    def stop(self):
        async def close():
            self.server.close()
            await self.server.wait_closed()
        asyncio.run_coroutine_threadsafe(close(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


def make_cert(directory, san):
    cert, key = os.path.join(directory, "cert.pem"), os.path.join(directory, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", cert,
                    "-days", "1", "-subj", "/CN=valtronics-test", "-addext",
                    f"subjectAltName={san}"], check=True, capture_output=True)
    return cert, key


class TlsTest(unittest.TestCase):
    # Not a ServerTestCase: its peers are scripted TLS servers (port 0, read back), not valtronics.
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.cert, key = make_cert(cls.tmp.name, "DNS:localhost,IP:127.0.0.1")
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cls.cert, key)
        cls.server = ScriptedServer(ctx)
        # A second certificate that names another host only.
        other_dir = os.path.join(cls.tmp.name, "other")
        os.mkdir(other_dir)
        cls.other_cert, other_key = make_cert(other_dir, "DNS:elsewhere.example")
        octx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        octx.load_cert_chain(cls.other_cert, other_key)
        cls.other = ScriptedServer(octx)

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        cls.other.stop()
        cls.tmp.cleanup()

    def receives_telemetry(self, url, *flags):
        with Listen(url, "--token", "t", "--json", "-s", "telemetry", *flags) as l:
            msg = l.wait_for(lambda l: l.of_type("telemetry_update"), what="telemetry")[0]
        self.assertEqual(msg["telemetry"]["temperature"]["value"], 21.5)

    def test_wss_with_ca_file(self):
        self.receives_telemetry(f"wss://127.0.0.1:{self.server.port}/ws", "--ca-file", self.cert)
        self.receives_telemetry(f"wss://localhost:{self.server.port}/ws", "--ca-file", self.cert)

    def test_untrusted_certificate_is_refused(self):
        r = run_cli(["listen", f"wss://127.0.0.1:{self.server.port}/ws", "--token", "t",
                     "-s", "telemetry", "--max-attempts", "1", "--backoff-base", "10ms"])
        self.assertEqual(r.returncode, 1, (r.stdout, r.stderr))
        self.assertIn("certificate verify failed", r.stderr)
        self.assertIn("gave up after 1 reconnect attempt", r.stderr)

    def test_certificate_for_another_host_is_refused(self):
        r = run_cli(["listen", f"wss://127.0.0.1:{self.other.port}/ws", "--token", "t",
                     "-s", "telemetry", "--ca-file", self.other_cert, "--max-attempts", "1",
                     "--backoff-base", "10ms"])
        self.assertEqual(r.returncode, 1, (r.stdout, r.stderr))
        self.assertIn("certificate verify failed", r.stderr)

    def test_insecure_skips_verification(self):
        self.receives_telemetry(f"wss://127.0.0.1:{self.other.port}/ws", "--insecure")

    def test_missing_ca_file_exits_2(self):
        r = run_cli(["listen", f"wss://127.0.0.1:{self.server.port}/ws", "--token", "t",
                     "-s", "telemetry", "--ca-file", "/nonexistent/ca.pem"])
        self.assertEqual(r.returncode, 2, (r.stdout, r.stderr))
        self.assertIn("/nonexistent/ca.pem", r.stderr)


class MsgpackRefusedTest(unittest.TestCase):
    def test_listen_msgpack_fails_when_the_server_does_not_agree(self):
        # A server without the extension (the scripted one names no subprotocol in its
        # answer): `listen --msgpack` must not read its JSON as MessagePack, it gives up with
        # the reason.
        server = ScriptedServer()
        try:
            r = run_cli(["listen", f"ws://127.0.0.1:{server.port}/ws", "--token", "t",
                         "-s", "telemetry", "--msgpack", "--max-attempts", "1",
                         "--backoff-base", "10ms"])
        finally:
            server.stop()
        self.assertNotEqual(r.returncode, 0, (r.stdout, r.stderr))
        self.assertIn("did not agree to the valtronics.msgpack subprotocol", r.stderr)
        self.assertEqual(r.stdout, "")


class IngestStub(http.server.ThreadingHTTPServer):
    """Accepts POST /api/v1/telemetry/batch with 202 and counts requests and connections."""

    def __init__(self, ssl_context=None):
        self.posts, self.connections, self.bodies = 0, 0, []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive

            def setup(self):
                outer.connections += 1
                super().setup()

            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                items = json.loads(body)["telemetry_data"]
                outer.posts += 1
                outer.bodies.append((self.path, self.headers.get("Authorization"), items))
                n = sum(len(i["telemetry"]) for i in items)
                reply = json.dumps({"success": True, "data": {"accepted": n}}).encode()
                self.send_response(202)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args):
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        if ssl_context:
            self.socket = ssl_context.wrap_socket(self.socket, server_side=True)
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.shutdown()
        self.server_close()


class SimulateTransportTest(unittest.TestCase):
    # Not a ServerTestCase: only certificates are shared; each test starts its own ingest stub.
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.cert, cls.key = make_cert(cls.tmp.name, "IP:127.0.0.1")

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def run_simulate(self, stub, scheme, *flags):
        r = run_cli(["simulate", "--url", f"{scheme}://127.0.0.1:{stub.server_address[1]}",
                     "--token", "tok", "--devices", "3", "--interval", "50ms", "--count", "6",
                     *flags])
        self.assertEqual(r.returncode, 0, (r.stdout, r.stderr))
        self.assertIn("36 readings sent in 6 batches", r.stdout)
        self.assertEqual(stub.posts, 6)
        self.assertEqual(stub.connections, 1, "one kept-alive connection for every batch")
        path, auth, items = stub.bodies[0]
        self.assertEqual((path, auth), ("/api/v1/telemetry/batch", "Bearer tok"))
        self.assertEqual([i["device_id"] for i in items], [1, 2, 3])

    def test_http_keep_alive(self):
        stub = IngestStub()
        try:
            self.run_simulate(stub, "http")
        finally:
            stub.stop()

    def test_https_with_ca_file(self):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.cert, self.key)
        stub = IngestStub(ctx)
        try:
            self.run_simulate(stub, "https", "--ca-file", self.cert)
        finally:
            stub.stop()


class ScriptedSessionServer(ScriptedServer):
    """Connection 1: answers auth, leaves the first subscribe unanswered, sends alert 5 when
    alerts are subscribed, then closes with 1001. Connection 2 onwards: an older server that
    refuses since_alert_id (unknown_filter), sends alert 5 again (a duplicate for the client)
    and alert 6. Records every subscribe it receives, per connection."""

    def __init__(self):
        self.subscribes = []
        super().__init__()

    async def handler(self, ws, path=None):
        self.connections += 1
        n = self.connections
        self.subscribes.append([])
        ignored_one = False

        def alert(id_, seq):
            return json.dumps({"type": "alert", "channel": "alerts", "alert_id": id_,
                               "device_id": 1, "severity": "warning", "alert_type": "threshold",
                               "title": "T", "message": "m", "status": "active",
                               "timestamp": "2026-01-01T12:00:00.000Z", "metadata": {},
                               "seq": seq})
        try:
            async for text in ws:
                m = json.loads(text)
                t, id_ = m.get("type"), m.get("id")
                if t == "auth":
                    await ws.send(json.dumps({"type": "auth_response", "success": True,
                                              "message": "ok", "user": "s", "role": "admin",
                                              "expires_at": "2099-01-01T00:00:00.000Z",
                                              "id": id_}))
                elif t == "subscribe":
                    self.subscribes[-1].append(m)
                    filters = m.get("filters", {})
                    if n == 1 and not ignored_one and m["channel"] == "telemetry":
                        ignored_one = True  # lost with the connection: must be sent again
                        continue
                    if n > 1 and "since_alert_id" in filters:
                        await ws.send(json.dumps({"type": "error", "error": "unknown_filter",
                                                  "message": "unknown filter since_alert_id",
                                                  "id": id_}))
                        continue
                    await ws.send(json.dumps({"type": "subscribed", "channel": m["channel"],
                                              "filters": filters, "id": id_}))
                    if m["channel"] == "alerts":
                        if n == 1:
                            await ws.send(alert(5, 1))
                            await asyncio.sleep(0.2)
                            await ws.close(1001, "going away")
                            return
                        await ws.send(alert(5, 1))
                        await ws.send(alert(6, 2))
        except websockets.exceptions.ConnectionClosed:
            pass


class SessionEdgeCasesTest(unittest.TestCase):
    def test_unanswered_request_resent_resume_fallback_and_dedup(self):
        server = ScriptedSessionServer()
        try:
            with Listen(f"ws://127.0.0.1:{server.port}/ws", "--token", "t", "--json",
                        "-s", "telemetry:device_id=3", "-s", "alerts",
                        "--backoff-base", "50ms") as l:
                l.wait_for(lambda l: any(m.get("alert_id") == 6 for m in l.of_type("alert")),
                           what="alert 6")
                time.sleep(0.3)  # a duplicate would arrive right after alert 6
        finally:
            server.stop()
        self.assertEqual([m["alert_id"] for m in l.of_type("alert")], [5, 6])
        first, second = server.subscribes[0], server.subscribes[1]
        self.assertEqual([m["channel"] for m in first], ["telemetry", "alerts"])
        # Second connection: the confirmed alerts subscription restored with since_alert_id
        # (refused by this server, so sent again without), then the unanswered telemetry one.
        self.assertEqual(second[0]["channel"], "alerts")
        self.assertEqual(second[0]["filters"], {"since_alert_id": 5})
        self.assertEqual(second[1]["channel"], "telemetry")
        self.assertEqual(second[1]["filters"], {"device_id": [3]})
        self.assertEqual(second[2]["channel"], "alerts")
        self.assertEqual(second[2]["filters"], {})
        self.assertEqual(len(l.of_type("subscribed")), 3)


class KeepaliveTest(unittest.TestCase):
    def test_silent_server_is_dropped_and_reconnected(self):
        server = ScriptedServer()
        server.answer_pings = False
        try:
            with Listen(f"ws://127.0.0.1:{server.port}/ws", "--token", "t", "--json",
                        "-s", "telemetry", "--ping-interval", "300ms",
                        "--backoff-base", "50ms") as l:
                l.wait_for(lambda l: any("no pong within 300 ms" in e for e in l.errors()),
                           what="keepalive drop")
                l.wait_for(lambda l: len(l.of_type("subscribed")) >= 2, what="resubscribed")
            self.assertGreaterEqual(server.connections, 2)
            # Keepalive pongs are the client's business: none is printed (none came here).
            self.assertFalse(l.of_type("pong"))
        finally:
            server.stop()


if __name__ == "__main__":
    unittest.main()
