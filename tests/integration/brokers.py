"""Real brokers and databases for the integration tests, started by the test on loopback and a
free port and stopped by their PID: Debian's `mosquitto` (MQTT ingest, issue 12) and PostgreSQL
(through tests/postgres/pg-fixture, which also serves ctest's storage tests)."""
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time

from harness import stop_by_pid

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"


def free_port():
    """A TCP port free on 127.0.0.1 at the time of the call."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port, proc, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return True
        except OSError:
            time.sleep(0.05)
    return False


class Daemon:
    """A server process started by a test: its log file in `self.tmp`, its output, and use as
    a context manager (start() / stop())."""

    log = None

    def output(self):
        if not self.log or self.log.closed:
            return ""
        self.log.flush()
        self.log.seek(0)
        return self.log.read()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


class Mosquitto(Daemon):
    """`mosquitto -c CONF` with one plain listener on 127.0.0.1:`port` (a free one unless
    given, so that a test can start it again where its clients reconnect), anonymous access and
    no persistence. Use as a context manager, or start()/stop()."""

    def __init__(self, port=None, tls=None):
        """tls: (cafile, certfile, keyfile) to serve MQTT over TLS (mqtts://) instead."""
        self.port = port or free_port()
        self.tls = tls
        self.proc = None
        self.tmp = None

    @property
    def url(self):
        return f"{'mqtts' if self.tls else 'mqtt'}://127.0.0.1:{self.port}"

    def start(self):
        self.tmp = tempfile.TemporaryDirectory()
        conf = os.path.join(self.tmp.name, "mosquitto.conf")
        with open(conf, "w") as f:
            f.write(f"listener {self.port} 127.0.0.1\n"
                    "allow_anonymous true\n"
                    "persistence false\n"
                    "log_dest stderr\n"
                    # Enough in flight and queued that a burst of QoS 1 readings is not held
                    # back by the broker's defaults (20 in flight, 1 000 queued).
                    "max_inflight_messages 1000\n"
                    "max_queued_messages 100000\n")
            if os.geteuid() == 0:
                # Run as root (CI), mosquitto would become the `mosquitto` user before reading
                # the certificates, which live in the test's root-only temporary folder.
                f.write("user root\n")
            if self.tls:
                ca, cert, key = self.tls
                f.write(f"cafile {ca}\ncertfile {cert}\nkeyfile {key}\n")
        self.log = open(os.path.join(self.tmp.name, "mosquitto.log"), "w+")
        self.proc = subprocess.Popen([MOSQUITTO, "-c", conf], stdout=self.log,
                                     stderr=subprocess.STDOUT)
        if not wait_for_port(self.port, self.proc):
            self.stop()
            raise RuntimeError(f"mosquitto did not start on port {self.port}:\n{self.output()}")
        return self

    def stop(self):
        if self.proc:
            stop_by_pid(self.proc)
        if self.tmp:
            self.log.close()
            self.tmp.cleanup()
            self.tmp = None


PG_FIXTURE = os.path.join(os.path.dirname(__file__), "..", "postgres", "pg-fixture")


class Postgres(Daemon):
    """A throwaway PostgreSQL server (initdb + pg_ctl in a temporary folder, trust auth);
    `uri` is its maintenance database's. new_database() creates an empty database and returns
    its URI. Use as a context manager, or start()/stop()."""

    def __init__(self):
        self.tmp = None
        self.uri = None
        self.count = 0

    def start(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.uri_file = os.path.join(self.tmp.name, "uri")
        proc = subprocess.run([PG_FIXTURE, "start", self.uri_file], capture_output=True,
                              text=True, timeout=120)
        if proc.returncode != 0:
            raise RuntimeError(f"PostgreSQL did not start:\n{proc.stdout}{proc.stderr}")
        with open(self.uri_file) as f:
            self.uri = f.read().strip()
        return self

    def new_database(self):
        self.count += 1
        name = f"valtronics_it_{os.getpid()}_{self.count}"
        port = self.uri.rsplit(":", 1)[1].split("/")[0]
        # psql comes with the server package; the maintenance database is "postgres".
        bindir = sorted(glob.glob("/usr/lib/postgresql/*/bin"))[-1]
        subprocess.run([os.path.join(bindir, "psql"), "-h", "127.0.0.1", "-p", port, "-U",
                        "postgres", "-d", "postgres", "-qc", f"CREATE DATABASE {name}"],
                       check=True, capture_output=True, timeout=30)
        return self.uri.rsplit("/", 1)[0] + "/" + name

    def query(self, database_uri, sql):
        """Runs `sql` with psql on the database of `database_uri`; returns its rows as lists of
        strings (unaligned, tab-separated)."""
        port = self.uri.rsplit(":", 1)[1].split("/")[0]
        name = database_uri.rsplit("/", 1)[1]
        bindir = sorted(glob.glob("/usr/lib/postgresql/*/bin"))[-1]
        out = subprocess.run([os.path.join(bindir, "psql"), "-h", "127.0.0.1", "-p", port, "-U",
                              "postgres", "-d", name, "-AtF", "\t", "-c", sql],
                             check=True, capture_output=True, text=True, timeout=30).stdout
        return [line.split("\t") for line in out.splitlines() if line]

    def stop(self):
        if self.tmp:
            subprocess.run([PG_FIXTURE, "stop", self.uri_file], capture_output=True, timeout=60)
            self.tmp.cleanup()
            self.tmp = None


NATS_SERVER = shutil.which("nats-server") or "/usr/bin/nats-server"


class Nats(Daemon):
    """`nats-server` with JetStream (the cluster's leases, issue 12) on 127.0.0.1:`port` (a free
    one unless given, so that a test can start it again where its clients reconnect), its store
    in a temporary folder. Use as a context manager, or start()/stop()."""

    def __init__(self, port=None):
        self.port = port or free_port()
        self.proc = None
        self.tmp = None
        self.log = None

    @property
    def url(self):
        return f"nats://127.0.0.1:{self.port}"

    def start(self):
        if self.tmp is None:  # a restart keeps the JetStream store (the leases)
            self.tmp = tempfile.TemporaryDirectory()
        if self.log and not self.log.closed:
            self.log.close()
        self.log = open(os.path.join(self.tmp.name, "nats.log"), "a+")
        self.proc = subprocess.Popen(
            [NATS_SERVER, "-a", "127.0.0.1", "-p", str(self.port), "-js", "-sd",
             os.path.join(self.tmp.name, "js")],
            stdout=self.log, stderr=subprocess.STDOUT)
        if not wait_for_port(self.port, self.proc):
            self.stop()
            raise RuntimeError(f"nats-server did not start on port {self.port}:\n{self.output()}")
        return self

    def kill(self):
        """Stops the server but keeps its folder, for start() again."""
        if self.proc:
            stop_by_pid(self.proc)
            self.proc = None

    def stop(self):
        self.kill()
        if self.tmp:
            self.log.close()
            self.tmp.cleanup()
            self.tmp = None
