"""Transport security: the real server with a certificate made at test time (tls_certs.py),
real clients over wss:// and https:// (Python websockets and http.client, the C++ client SDK,
`valtronics listen --ca-file`), and what must be refused: TLS 1.1, weak TLS 1.2 ciphers, plain
HTTP on the TLS port, a missing client certificate under mTLS, a handshake that never ends.
Also the certificate swapped by SIGHUP under an open connection, the plain listener beside TLS,
graceful drain under TLS, and clear start-up errors for bad certificate files."""
import asyncio
import http.client
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import unittest

import websockets
import websockets.exceptions

from cli_clients import Listen
from harness import (BIN, Server, expect_close, http_request_bytes, metric_value,
                     parse_metrics, read_http_responses, recv_json, recv_type, run, subscribe,
                     token)
from tls_certs import TestPki, peer_common_name

BUILD = os.path.dirname(os.environ.get("VALTRONICS_BIN") or os.path.join(
    os.path.dirname(__file__), "..", "..", "build", "valtronics"))
API_TEST = os.environ.get("VALTRONICS_CLIENT_API_TEST") or os.path.join(
    BUILD, "tests", "client_api_test")


class TlsServer(Server):
    """A Server with [tls] cert and key from `pki` (copied, so a test may replace them)."""

    def __init__(self, pki, config=None, ca_file=False, **kwargs):
        self.pki = pki
        self.files = tempfile.TemporaryDirectory()
        self.cert = os.path.join(self.files.name, "cert.pem")
        self.key = os.path.join(self.files.name, "key.pem")
        shutil.copy(pki.path("server.pem"), self.cert)
        shutil.copy(pki.path("server.key"), self.key)
        cfg = {"tls": {"cert": self.cert, "key": self.key}}
        if ca_file:
            cfg["tls"]["ca_file"] = pki.path("ca.pem")
        for section, keys in (config or {}).items():
            cfg.setdefault(section, {}).update(keys)
        super().__init__(cfg, **kwargs)

    def stop(self):
        super().stop()
        self.files.cleanup()

    @property
    def url(self):
        return f"wss://127.0.0.1:{self.port}"

    @property
    def http(self):
        return f"https://127.0.0.1:{self.port}"

    def https(self, method, path, body=None, token_=None, context=None):
        """One HTTPS request; returns (status, parsed JSON)."""
        conn = http.client.HTTPSConnection("127.0.0.1", self.port, timeout=10,
                                           context=context or self.pki.client_context())
        headers = {"Content-Type": "application/json"}
        if token_:
            headers["Authorization"] = "Bearer " + token_
        conn.request(method, path, body=json.dumps(body) if body is not None else None,
                     headers=headers)
        r = conn.getresponse()
        data = r.read().decode()
        conn.close()
        return r.status, json.loads(data)

    def log_has(self, text, timeout=5):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(text in line for line in list(self.output)):
                return True
            time.sleep(0.05)
        return False


async def wss(server, tok, context=None):
    ws = await websockets.connect(server.url + "/ws",
                                  ssl=context or server.pki.client_context())
    await ws.send(json.dumps({"type": "auth", "token": tok}))
    reply = await recv_json(ws)
    assert reply["type"] == "auth_response" and reply["success"], reply
    return ws


def reading(device, value):
    return {"device_id": device, "telemetry": {"temperature": {"value": value, "unit": "C"}}}


class TlsTestBase(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.pki = TestPki(cls.tmp.name)
        cls.admin = token("tls-admin", "admin")

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()


class TlsClientsTest(TlsTestBase):
    """One TLS server; every kind of client over it."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.server = TlsServer(cls.pki)
        cls.server.start()
        cls.addClassCleanup(cls.server.stop)

    def test_listening_line_says_tls(self):
        self.assertTrue(self.server.log_has("(TLS)"), "".join(self.server.output))

    def test_wss_and_https_with_python(self):
        async def go():
            ws = await wss(self.server, self.admin)
            self.assertEqual(ws.transport.get_extra_info("ssl_object").version()[:5], "TLSv1")
            reply = await subscribe(ws, "telemetry", device_id=41)
            self.assertEqual(reply["type"], "subscribed", reply)
            status, body = await asyncio.to_thread(
                self.server.https, "POST", "/api/v1/telemetry", reading(41, 21.5), self.admin)
            self.assertEqual(status, 202, body)
            update = await recv_type(ws, "telemetry_update")
            self.assertEqual(update["device_id"], 41, update)
            self.assertEqual(update["telemetry"]["temperature"]["value"], 21.5, update)
            await ws.close()
        run(go())
        status, body = self.server.https("GET", "/health")
        self.assertEqual(status, 200, body)

    def test_pipelined_ingest_over_tls(self):
        # 40 one-reading requests and a GET in one write over TLS (docs/protocol.md, "Pipelined
        # ingest"): every answer in order, the GET after the readings it follows. Over TLS the
        # server reads ahead too (from what it already decrypted): the counter of requests
        # dispatched while earlier answers were owed grows.
        before = self.pipelined_total()
        raw = socket.create_connection(("127.0.0.1", self.server.port), timeout=20)
        s = self.pki.client_context().wrap_socket(raw, server_hostname="localhost")
        self.addCleanup(s.close)
        s.sendall(b"".join(http_request_bytes("POST", "/api/v1/telemetry", reading(43, v),
                                              self.admin) for v in range(40)) +
                  http_request_bytes("GET", "/api/v1/devices/43/telemetry/latest", None,
                                     self.admin))
        answers = read_http_responses(s, 41)
        self.assertEqual([a[0] for a in answers], [202] * 40 + [200])
        ids = [int(a[1]["x-request-id"].split(".")[1]) for a in answers]
        self.assertEqual(ids, list(range(1, 42)))
        latest = json.loads(answers[40][2])["data"]["telemetry"]["temperature"]["value"]
        self.assertEqual(latest, 39)
        self.assertGreater(self.pipelined_total() - before, 0)

    def pipelined_total(self):
        conn = http.client.HTTPSConnection("127.0.0.1", self.server.port, timeout=10,
                                           context=self.pki.client_context())
        conn.request("GET", "/metrics", headers={"Authorization": "Bearer " + self.admin})
        r = conn.getresponse()
        text = r.read().decode()
        conn.close()
        self.assertEqual(r.status, 200, text)
        return metric_value(parse_metrics(text), "valtronics_http_requests_pipelined_total")

    def test_tls_versions_and_certificate(self):
        ctx = self.pki.client_context()
        with socket.create_connection(("127.0.0.1", self.server.port), timeout=5) as raw:
            with ctx.wrap_socket(raw, server_hostname="localhost") as s:
                self.assertEqual(s.version(), "TLSv1.3")
                self.assertEqual(peer_common_name(s.getpeercert()), "valtronics-test-1")
        ctx12 = self.pki.client_context()
        ctx12.maximum_version = ssl.TLSVersion.TLSv1_2
        with socket.create_connection(("127.0.0.1", self.server.port), timeout=5) as raw:
            with ctx12.wrap_socket(raw, server_hostname="127.0.0.1") as s:
                self.assertEqual(s.version(), "TLSv1.2")
                name, _, _ = s.cipher()
                self.assertTrue(name.startswith("ECDHE-") and ("GCM" in name or "CHACHA" in name),
                                name)

    def _refused(self, ctx):
        with socket.create_connection(("127.0.0.1", self.server.port), timeout=5) as raw:
            with self.assertRaises(ssl.SSLError):
                with ctx.wrap_socket(raw, server_hostname="127.0.0.1"):
                    pass

    def test_tls_1_1_refused(self):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        ctx.set_ciphers("ALL:@SECLEVEL=0")  # let this client offer TLS 1.1 at all
        ctx.minimum_version = ssl.TLSVersion.TLSv1_1
        ctx.maximum_version = ssl.TLSVersion.TLSv1_1
        self._refused(ctx)
        self.assertTrue(self.server.log_has("unsupported protocol"), "".join(self.server.output))

    def test_tls_1_2_without_ecdhe_aead_refused(self):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        ctx.set_ciphers("AES128-SHA:AES256-SHA:AES128-GCM-SHA256:ECDHE-RSA-AES128-SHA")
        self._refused(ctx)

    def test_plain_http_on_the_tls_port_gets_a_plain_400(self):
        with socket.create_connection(("127.0.0.1", self.server.port), timeout=5) as s:
            s.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            data = b""
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
        head, _, body = data.decode().partition("\r\n\r\n")
        self.assertTrue(head.startswith("HTTP/1.1 400"), data)
        self.assertIn("TLS", json.loads(body)["error"]["message"])

    def test_plain_ws_on_the_tls_port_is_refused(self):
        async def go():
            with self.assertRaises(websockets.exceptions.InvalidStatusCode) as e:
                await websockets.connect(f"ws://127.0.0.1:{self.server.port}/ws")
            self.assertEqual(e.exception.status_code, 400)
        run(go())

    def test_untrusted_certificate_refused_by_client(self):
        async def go():
            ctx = ssl.create_default_context()  # system CAs: the test CA is not among them
            with self.assertRaises(ssl.SSLCertVerificationError):
                await websockets.connect(self.server.url + "/ws", ssl=ctx)
        run(go())

    def test_cpp_client_sdk_over_wss(self):
        env = dict(os.environ, VALTRONICS_URL=self.server.url, VALTRONICS_HTTP=self.server.http,
                   VALTRONICS_CA_FILE=self.pki.path("ca.pem"),
                   VALTRONICS_ADMIN_TOKEN=token("api-admin", "admin"),
                   VALTRONICS_USER_TOKEN=token("api-user", "user", devices="1"))
        r = subprocess.run([API_TEST, "--gtest_filter=ClientApi.ConnectSubscribeReceiveUnsubscribe:"
                            "ClientApi.PingBatchAndErrorReplies:ClientApi.CloseEndsTheSession"],
                           capture_output=True, text=True, env=env, timeout=120)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("[  PASSED  ] 3 tests", r.stdout)

    def test_listen_with_ca_file(self):
        with Listen(self.server.url, "--token", self.admin, "--json", "--ca-file",
                    self.pki.path("ca.pem"), "-s", "telemetry:device_id=42") as l:
            l.wait_for(lambda l: l.of_type("subscribed"), what="subscribed")
            status, body = self.server.https("POST", "/api/v1/telemetry", reading(42, 7.5),
                                             self.admin)
            self.assertEqual(status, 202, body)
            update = l.wait_for(lambda l: l.of_type("telemetry_update"), what="an update")[0]
            self.assertEqual(update["device_id"], 42)
            self.assertEqual(update["telemetry"]["temperature"]["value"], 7.5)

    def test_listen_without_ca_file_fails_verification(self):
        # System CAs only: the handshake fails verification; listen gives up (exit 1) naming it.
        with Listen(self.server.url, "--token", self.admin, "--json", "-s", "alerts",
                    "--max-attempts", "1",
                    "--backoff-base", "10ms", "--backoff-cap", "10ms") as l:
            l.proc.wait(timeout=15)
            self.assertEqual(l.proc.returncode, 1, l.errors())
            self.assertTrue(any("certificate" in e for e in l.errors()), l.errors())


class MutualTlsTest(TlsTestBase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.server = TlsServer(cls.pki, ca_file=True)
        cls.server.start()
        cls.addClassCleanup(cls.server.stop)

    def test_listening_line_says_client_certificates(self):
        self.assertTrue(self.server.log_has("client certificates required"))

    def test_client_certificate_accepted(self):
        async def go():
            ws = await wss(self.server, self.admin, self.pki.client_context(client_cert=True))
            reply = await subscribe(ws, "alerts")
            self.assertEqual(reply["type"], "subscribed", reply)
            await ws.close()
        run(go())
        status, _ = self.server.https("GET", "/health",
                                      context=self.pki.client_context(client_cert=True))
        self.assertEqual(status, 200)

    def test_missing_client_certificate_refused(self):
        async def go():
            # TLS 1.3: the client's handshake ends before the server checks the certificate;
            # the refusal arrives as an alert on the first read.
            with self.assertRaises((ssl.SSLError, websockets.exceptions.InvalidMessage,
                                    ConnectionError, EOFError)):
                await websockets.connect(self.server.url + "/ws",
                                         ssl=self.pki.client_context())
        run(go())
        self.assertTrue(self.server.log_has("peer did not return a certificate"),
                        "".join(self.server.output))

    def test_certificate_from_another_ca_refused(self):
        with tempfile.TemporaryDirectory() as other:
            stranger = TestPki(other)
            ctx = self.pki.client_context()
            ctx.load_cert_chain(stranger.path("client.pem"), stranger.path("client.key"))

            async def go():
                with self.assertRaises((ssl.SSLError, websockets.exceptions.InvalidMessage,
                                        ConnectionError, EOFError)):
                    await websockets.connect(self.server.url + "/ws", ssl=ctx)
            run(go())


class TlsLifecycleTest(TlsTestBase):
    def test_sighup_swaps_the_certificate_and_open_connections_keep_receiving(self):
        with TlsServer(self.pki) as server:
            def served_cn():
                ctx = self.pki.client_context()
                with socket.create_connection(("127.0.0.1", server.port), timeout=5) as raw:
                    with ctx.wrap_socket(raw, server_hostname="localhost") as s:
                        return peer_common_name(s.getpeercert())

            async def go():
                ws = await wss(server, self.admin)
                await subscribe(ws, "telemetry", device_id=51)
                self.assertEqual(served_cn(), "valtronics-test-1")

                cert2, key2 = self.pki.server_cert(2, "server2")
                shutil.copy(cert2, server.cert)
                shutil.copy(key2, server.key)
                os.kill(server.proc.pid, signal.SIGHUP)
                self.assertTrue(server.log_has("TLS certificate reloaded"))
                self.assertEqual(served_cn(), "valtronics-test-2")
                # The connection made with the old certificate still receives.
                for i in range(3):
                    status, _ = await asyncio.to_thread(server.https, "POST", "/api/v1/telemetry",
                                                        reading(51, i), self.admin)
                    self.assertEqual(status, 202)
                    update = await recv_type(ws, "telemetry_update")
                    self.assertEqual(update["telemetry"]["temperature"]["value"], i)

                # A broken file: logged at error, the current certificate kept.
                with open(server.key, "w") as f:
                    f.write("not a key\n")
                os.kill(server.proc.pid, signal.SIGHUP)
                self.assertTrue(server.log_has("TLS reload failed"), "".join(server.output))
                self.assertEqual(served_cn(), "valtronics-test-2")
                await ws.send(json.dumps({"type": "ping"}))
                self.assertEqual((await recv_type(ws, "pong"))["type"], "pong")
                await ws.close()
            run(go())
            self.assertIsNone(server.proc.poll(), "the server must survive SIGHUP")

    def test_slow_handshake_is_cut_at_the_timeout(self):
        with TlsServer(self.pki, {"limits": {"tls_handshake_timeout": "1s"}}) as server:
            silent = socket.create_connection(("127.0.0.1", server.port), timeout=10)
            trickle = socket.create_connection(("127.0.0.1", server.port), timeout=10)
            trickle.sendall(b"\x16\x03\x01")  # the start of a ClientHello record, then nothing
            start = time.monotonic()
            for s in (silent, trickle):
                try:
                    self.assertEqual(s.recv(100), b"")
                except ConnectionResetError:
                    pass
                s.close()
            elapsed = time.monotonic() - start
            self.assertGreater(elapsed, 0.8)
            self.assertLess(elapsed, 5)
            self.assertTrue(server.log_has("tls handshake timed out"))
            # A real client is still served.
            run(self._auth_once(server))

    async def _auth_once(self, server):
        ws = await wss(server, self.admin)
        await ws.close()

    def test_graceful_drain_under_tls(self):
        server = TlsServer(self.pki)
        server.start()
        try:
            async def go():
                ws = await wss(server, self.admin)
                await subscribe(ws, "alerts")
                os.kill(server.proc.pid, signal.SIGTERM)
                await expect_close(ws, 1001)
            run(go())
            self.assertEqual(server.proc.wait(timeout=10), 0, "".join(server.output))
        finally:
            server.stop()

    def test_plain_listener_beside_tls(self):
        with TlsServer(self.pki, {"": {"listen_plain": "127.0.0.1:0"}}) as server:
            self.assertTrue(server.log_has("plain listener on 127.0.0.1:"))
            line = next(l for l in server.output if "plain listener on" in l)
            plain_port = int(line.split("plain listener on 127.0.0.1:")[1].split()[0])
            self.assertNotEqual(plain_port, server.port)

            async def go():
                plain = await websockets.connect(f"ws://127.0.0.1:{plain_port}/ws")
                await plain.send(json.dumps({"type": "auth", "token": self.admin}))
                self.assertTrue((await recv_json(plain))["success"])
                await subscribe(plain, "telemetry", device_id=61)
                secure = await wss(server, self.admin)
                await subscribe(secure, "telemetry", device_id=61)
                status, _ = await asyncio.to_thread(server.https, "POST", "/api/v1/telemetry",
                                                    reading(61, 3.0), self.admin)
                self.assertEqual(status, 202)
                for ws in (plain, secure):
                    update = await recv_type(ws, "telemetry_update")
                    self.assertEqual(update["telemetry"]["temperature"]["value"], 3)
                    await ws.close()
            run(go())


class TlsStartupErrorsTest(TlsTestBase):
    def serve(self, *args):
        return subprocess.run([BIN, "serve", "--listen", "127.0.0.1:0", "--jwt-secret", "s",
                               "--db", ":memory:", *args],
                              capture_output=True, text=True, timeout=20)

    def test_missing_certificate_named(self):
        r = self.serve("--tls-cert", "/nonexistent/cert.pem", "--tls-key", self.pki.path("server.key"))
        self.assertEqual(r.returncode, 2)
        self.assertIn("cannot read TLS certificate /nonexistent/cert.pem", r.stderr)

    def test_key_not_matching_named(self):
        r = self.serve("--tls-cert", self.pki.path("server.pem"),
                       "--tls-key", self.pki.path("client.key"))
        self.assertEqual(r.returncode, 2)
        self.assertIn("does not match the certificate", r.stderr)
        self.assertIn(self.pki.path("client.key"), r.stderr)

    def test_garbage_certificate_named(self):
        bad = self.pki.path("garbage.pem")
        with open(bad, "w") as f:
            f.write("hello\n")
        r = self.serve("--tls-cert", bad, "--tls-key", self.pki.path("server.key"))
        self.assertEqual(r.returncode, 2)
        self.assertIn(f"TLS certificate {bad}: not a PEM certificate", r.stderr)

    def test_key_without_certificate(self):
        r = self.serve("--tls-key", self.pki.path("server.key"))
        self.assertEqual(r.returncode, 2)
        self.assertIn("tls.cert", r.stderr)

    def test_listen_plain_without_tls(self):
        r = self.serve("--listen-plain", "127.0.0.1:0")
        self.assertEqual(r.returncode, 2)
        self.assertIn("listen_plain", r.stderr)


if __name__ == "__main__":
    unittest.main()
