"""Shared helpers for the integration tests: start the real `valtronics` binary on a free
loopback port with a given configuration, mint tokens with `valtronics token`, and talk to the
server with real clients (Python `websockets`, plain HTTP via urllib).

Tests use `Server` as a context manager, or `ServerTestCase` for one server shared by a test
class; a server is stopped by its PID. Servers listen on port 0 and the port is read back from
their log. Tests that draw random numbers use `seeded` (VALTRONICS_TEST_SEED)."""

import asyncio
import functools
import json
import os
import random
import re
import signal
import subprocess
import tempfile
import threading
import time
import unittest
import urllib.error
import urllib.request

import websockets

BIN = os.environ.get("VALTRONICS_BIN") or os.path.join(
    os.path.dirname(__file__), "..", "..", "build", "valtronics")
SECRET = "integration-test-secret"


def token(sub="alice", role="admin", devices=None, ttl="1h", device_id=None, secret=SECRET):
    """Returns a token signed by the real CLI."""
    args = [BIN, "token", "--secret", secret, "--sub", sub, "--role", role, "--ttl", ttl]
    if devices is not None:
        args += ["--devices", devices]
    if device_id is not None:
        args += ["--device-id", str(device_id)]
    return subprocess.run(args, check=True, capture_output=True, text=True).stdout.strip()


def vm_rss_kb(pid):
    """The resident memory of process `pid`, in KiB (/proc/PID/status VmRSS)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def toml_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return str(v)
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    return json.dumps(v)


def read_port(proc, output, timeout):
    """Reads a starting server's output until its 'listening on HOST:PORT' line; returns the
    port (None if the server exited or said nothing in time). Output lines go to `output`, and
    keep being collected in the background so the server never blocks on a full pipe."""
    return _read_port(proc, output, timeout)[0]


def _read_port(proc, output, timeout):
    """read_port, also returning the thread that collects the rest of the output (None when
    none was started); it ends when the server's stdout does (the server exited)."""
    port = None
    deadline = time.time() + timeout
    while time.time() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        output.append(line)
        m = re.search(r"listening on [^ ]+:(\d+)", line)
        if m:
            port = int(m.group(1))
            break
    reader = None
    if port is not None:
        reader = threading.Thread(target=lambda: output.extend(proc.stdout), daemon=True)
        reader.start()
    return port, reader


def stop_by_pid(proc, timeout=10):
    """SIGTERM to a child process still running, SIGKILL if it is not gone within `timeout`
    seconds; waits for it either way."""
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()


class Server:
    """Runs `valtronics serve` on 127.0.0.1, on a free port or on `port`.

    config: dict of TOML sections, e.g. {"limits": {"max_connections": 5}}; top-level keys go
    in the "" section. extra_args are appended to the command line; "--listen", "HOST:PORT"
    among them replaces 127.0.0.1:`port`. port: 0 (default) for a free port, or the port to
    listen on, e.g. to start a server again where its clients reconnect (with the same
    {"": {"db": path}} to keep its data); start() fails if the server does not get it.
    wrapper: optional command the server is started under, e.g. ["unshare", "-rm", ...] to give
    it a mount namespace of its own; it must exec the server in the same process (the PID is
    the server's)."""

    # Every test connects from 127.0.0.1: lift the per-address connection rate and the ban
    # after repeated auth failures (the auth and identity-provider tests fail on purpose far
    # more than 10 times a minute), and the cap on connections not yet authenticated (the
    # handshake storms), unless a test is about that limit (it then sets the key itself).
    DEFAULTS = {"limits": {"connections_per_minute": 100000, "auth_failures_before_ban": 1000000,
                           "max_unauthenticated": 100000}}

    def __init__(self, config=None, extra_args=(), secret=SECRET, demo=False, port=0,
                 wrapper=()):
        self.config = {k: dict(v) for k, v in self.DEFAULTS.items()}
        for section, keys in (config or {}).items():
            self.config.setdefault(section, {}).update(keys)
        self.extra_args = list(extra_args)
        self.secret = secret
        self.demo = demo
        self.requested_port = port
        self.wrapper = list(wrapper)
        self.proc = None
        self.port = None
        self.output = []
        self._reader = None  # collects the server's output after the "listening" line

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def start(self):
        self.tmp = tempfile.TemporaryDirectory()
        conf_path = os.path.join(self.tmp.name, "valtronics.toml")
        # Each server gets its own database unless the test names one (restart tests do).
        self.config.setdefault("", {}).setdefault("db", os.path.join(self.tmp.name, "valtronics.db"))
        with open(conf_path, "w") as f:
            top = self.config.get("", {})
            for k, v in top.items():
                f.write(f"{k} = {toml_value(v)}\n")
            for section, keys in self.config.items():
                if section == "":
                    continue
                f.write(f"[{section}]\n")
                for k, v in keys.items():
                    f.write(f"{k} = {toml_value(v)}\n")
        args = [BIN, "serve", "--config", conf_path]
        # `port` (0: a free one) unless the test names an address in extra_args.
        if "--listen" not in self.extra_args:
            args += ["--listen", f"127.0.0.1:{self.requested_port}"]
        if self.secret:
            args += ["--jwt-secret", self.secret]
        if self.demo:
            args.append("--demo")
        args += self.extra_args
        args = self.wrapper + args
        env = dict(os.environ)
        env.pop("VALTRONICS_JWT_SECRET", None)
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True, env=env)
        self.port, self._reader = _read_port(self.proc, self.output, timeout=15)
        if self.port is None or self.requested_port not in (0, self.port):
            self.stop()
            raise RuntimeError(f"server did not start (port {self.requested_port}):\n" +
                               "".join(self.output))

    def stop(self):
        """Stops the server (SIGTERM; SIGKILL after 10 s) and releases its output pipe and its
        files. Idempotent; fine after the process was killed."""
        if self.proc:
            stop_by_pid(self.proc)
        if self.proc and self.proc.stdout and not self.proc.stdout.closed:
            # The collecting thread reads until EOF (the server is gone): close after it.
            if self._reader is not None:
                self._reader.join(5)
            if self._reader is None or not self._reader.is_alive():
                self.proc.stdout.close()
        if hasattr(self, "tmp"):
            self.tmp.cleanup()

    @property
    def url(self):
        return f"ws://127.0.0.1:{self.port}"

    @property
    def http(self):
        return f"http://127.0.0.1:{self.port}"

    def request(self, method, path, body=None, token_=None, headers=None, raw=None):
        """HTTP request; returns (status, parsed JSON body or text)."""
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        req = urllib.request.Request(self.http + path, data=data, method=method)
        req.add_header("Content-Type", "application/json")
        if token_:
            req.add_header("Authorization", "Bearer " + token_)
        for k, v in (headers or {}).items():
            req.add_header(k, v)
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                status, text = r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            status, text = e.code, e.read().decode()
        try:
            return status, json.loads(text)
        except ValueError:
            return status, text

    def ingest(self, device_id, metrics, token_, timeout=60):
        """Posts one reading per metric ({name: value}) for a device; asserts 202. As a
        well-behaved publisher, retries a 503 `write_queue` (nothing was accepted; the
        database is behind) after its Retry-After, for up to `timeout` seconds: tests that
        publish in a tight loop meet it under a sanitizer, whose writer is many times slower
        (docs/telemetry.md, "When the database falls behind")."""
        body = {"device_id": device_id,
                "telemetry": {k: {"value": v} for k, v in metrics.items()}}
        deadline = time.monotonic() + timeout
        while True:
            status, reply = self.request("POST", "/api/v1/telemetry", body, token_)
            limit = reply.get("error", {}).get("details", {}).get("limit") \
                if isinstance(reply, dict) else None
            if status != 503 or limit != "write_queue" or time.monotonic() > deadline:
                break
            time.sleep(min(float(reply["error"]["details"].get("retry_after_seconds", 1)), 1.0))
        assert status == 202, (status, reply)
        return reply


class ServerTestCase(unittest.TestCase):
    """A test class sharing one server: started once in setUpClass with the class attributes
    `config` (TOML sections, as for Server), `demo` and `extra_args`, and stopped by its PID in
    tearDownClass, also when setUpClass fails half-way (a subclass's seeding included: the stop
    is a class cleanup too, registered before the server starts). `cls.admin` is an admin token
    with `sub` `admin_sub`. Subclasses that seed data override setUpClass and call super first."""

    config = None
    demo = False
    extra_args = ()
    admin_sub = "admin"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.server = Server(cls.config, extra_args=cls.extra_args, demo=cls.demo)
        cls.addClassCleanup(cls.server.stop)
        cls.server.start()
        cls.admin = cls.mint(cls.admin_sub, "admin")

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        super().tearDownClass()

    @classmethod
    def mint(cls, sub="alice", role="admin", **claims):
        """A token signed with the server's secret (see `token` for the claims)."""
        return token(sub, role, secret=cls.server.secret, **claims)

    @classmethod
    def ws_url(cls, path=""):
        """The server's ws:// URL, followed by `path` (e.g. "/ws")."""
        return cls.server.url + path

    @classmethod
    def http_url(cls, path=""):
        """The server's http:// base URL, followed by `path`."""
        return cls.server.http + path


DEFAULT_SEED = 20240917


def random_seed():
    """The seed of the tests' random choices: env VALTRONICS_TEST_SEED, else DEFAULT_SEED."""
    value = os.environ.get("VALTRONICS_TEST_SEED")
    return int(value) if value else DEFAULT_SEED


def seeded(test_method):
    """Decorates a test that draws its random choices (timings, sizes) from `self.rng`: a
    random.Random(random_seed()) of its own, so that each test draws the same sequence whatever
    else runs. A failure names the seed, to run the test again with the same draws. (Only the
    test's own choices repeat: the server's threads and the network still vary.)"""
    @functools.wraps(test_method)
    def wrapper(self, *args, **kwargs):
        seed = random_seed()
        self.rng = random.Random(seed)
        try:
            return test_method(self, *args, **kwargs)
        except Exception as e:
            if not isinstance(e, unittest.SkipTest):
                e.add_note(f"random seed {seed}: VALTRONICS_TEST_SEED={seed} draws the same again")
            raise
    return wrapper


async def recv_json(ws, timeout=5):
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))


async def recv_type(ws, type_, timeout=5):
    """Receives until a message of `type_` arrives (others are skipped); returns it."""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise asyncio.TimeoutError(f"no {type_} within {timeout}s")
        msg = await recv_json(ws, left)
        if msg.get("type") == type_:
            return msg


async def expect_silence(ws, seconds=0.5):
    """Asserts nothing arrives within `seconds`; returns None."""
    try:
        msg = await asyncio.wait_for(ws.recv(), seconds)
    except asyncio.TimeoutError:
        return None
    raise AssertionError(f"unexpected message: {msg}")


async def connect(server, path="/ws", token_=None, **kwargs):
    """Opens a WebSocket and, when token_ is given, authenticates; returns the socket."""
    ws = await websockets.connect(server.url + path, max_size=2**22, **kwargs)
    if token_ is not None:
        await ws.send(json.dumps({"type": "auth", "token": token_}))
        reply = await recv_json(ws)
        assert reply["type"] == "auth_response" and reply["success"], reply
    return ws


async def subscribe(ws, channel, id_=None, **fields):
    msg = {"type": "subscribe", "channel": channel, **fields}
    if id_ is not None:
        msg["id"] = id_
    await ws.send(json.dumps(msg))
    return await recv_json(ws)


async def expect_close(ws, code, timeout=5):
    """Waits for the server to close the connection with `code`; returns the close reason."""
    try:
        while True:
            await asyncio.wait_for(ws.recv(), timeout)
    except websockets.exceptions.ConnectionClosed as e:
        assert e.rcvd is not None, f"no close frame received (expected {code})"
        assert e.rcvd.code == code, f"close code {e.rcvd.code} ({e.rcvd.reason}), expected {code}"
        return e.rcvd.reason


def run(coro):
    return asyncio.run(coro)


def wait_until(predicate, timeout=15, what="condition"):
    """Calls `predicate` until it returns something true (returned), for at most `timeout`
    seconds; fails the test naming `what` otherwise."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"no {what} within {timeout}s")


def parse_metrics(text):
    """{(name, frozenset(labels)): value} of every sample in a /metrics scrape (the Prometheus
    text format)."""
    samples = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = re.match(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})? (\S+)$', line)
        assert m, f"not a sample line: {line!r}"
        labels = frozenset(re.findall(r'(\w+)="([^"]*)"', m.group(3) or ""))
        samples[(m.group(1), labels)] = float(m.group(4))
    return samples


def metric_value(samples, name, **labels):
    """One sample of parse_metrics' result; 0 when absent (a counter not moved yet)."""
    return samples.get((name, frozenset(labels.items())), 0.0)


def http_request_bytes(method, path, body=None, token_=None, headers=()):
    """One HTTP/1.1 request as bytes, for tests that pipeline requests on a raw socket (no
    Python client pipelines). `body`: a dict (sent as JSON), str or bytes; `headers`: extra
    (name, value) pairs, e.g. ("Connection", "close")."""
    if isinstance(body, dict):
        body = json.dumps(body)
    if isinstance(body, str):
        body = body.encode()
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1"]
    if token_:
        lines.append(f"Authorization: Bearer {token_}")
    if body is not None:
        lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    lines += [f"{name}: {value}" for name, value in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + (body or b"")


def read_http_responses(sock, n, head_only=(), timeout=20):
    """Reads up to `n` HTTP/1.1 responses from a blocking socket (plain or TLS) in order;
    returns [(status, {lower-case header: value}, body bytes)], fewer if the server closes
    first. `head_only`: indexes of responses to HEAD requests (no body follows their head)."""
    sock.settimeout(timeout)
    buf = b""
    out = []

    def fill():
        nonlocal buf
        chunk = sock.recv(65536)
        if not chunk:
            return False
        buf += chunk
        return True

    while len(out) < n:
        while b"\r\n\r\n" not in buf:
            if not fill():
                return out
        head, buf = buf.split(b"\r\n\r\n", 1)
        lines = head.decode().split("\r\n")
        status = int(lines[0].split()[1])
        fields = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            fields[name.strip().lower()] = value.strip()
        length = 0 if len(out) in head_only else int(fields.get("content-length", "0"))
        while len(buf) < length:
            if not fill():
                raise AssertionError(f"connection closed inside response {len(out)}'s body")
        out.append((status, fields, buf[:length]))
        buf = buf[length:]
    return out
