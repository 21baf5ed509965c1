"""Helpers for the tests of the client subcommands (`valtronics listen`, `valtronics simulate`):
run them as subprocesses, collect their output lines in the background, wait for a line; and a
TCP relay between a client and the server that keeps what the server sent."""
import json
import os
import signal
import socket
import subprocess
import threading
import time

from harness import BIN


class Listen:
    """`valtronics listen ARGS` running until stop(); stdout and stderr lines collected."""

    def __init__(self, *args, env=None):
        e = dict(os.environ)
        e.pop("VALTRONICS_TOKEN", None)
        e.update(env or {})
        self.proc = subprocess.Popen([BIN, "listen", *args], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, env=e)
        self.out, self.err = [], []
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self._pump, args=(self.proc.stdout, self.out),
                                         daemon=True),
                        threading.Thread(target=self._pump, args=(self.proc.stderr, self.err),
                                         daemon=True)]
        for t in self.threads:
            t.start()

    def _pump(self, stream, into):
        for line in stream:
            with self.lock:
                into.append(line.rstrip("\n"))

    def lines(self):
        with self.lock:
            return list(self.out)

    def errors(self):
        with self.lock:
            return list(self.err)

    def messages(self):
        """stdout lines parsed as JSON (for --json)."""
        return [json.loads(l) for l in self.lines()]

    def wait_for(self, predicate, timeout=10, what="condition"):
        """Waits until predicate(self) is true; returns its value."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            v = predicate(self)
            if v:
                return v
            if self.proc.poll() is not None:
                time.sleep(0.2)  # let the pumps finish
                v = predicate(self)
                if v:
                    return v
                raise AssertionError(f"listen exited ({self.proc.returncode}) before {what}:\n"
                                     + "\n".join(self.lines() + self.errors()))
            time.sleep(0.05)
        raise AssertionError(f"no {what} within {timeout}s:\n"
                             + "\n".join(self.lines() + self.errors()))

    def of_type(self, type_):
        return [m for m in self.messages() if m.get("type") == type_]

    def stop(self):
        """SIGTERM; returns the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for t in self.threads:
            t.join(5)
        self.proc.stdout.close()
        self.proc.stderr.close()
        return self.proc.returncode

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def run_cli(args, timeout=30, env=None):
    """Runs the binary to completion; returns CompletedProcess."""
    e = dict(os.environ)
    e.pop("VALTRONICS_TOKEN", None)
    e.update(env or {})
    return subprocess.run([BIN, *args], capture_output=True, text=True, timeout=timeout, env=e)


class Relay:
    """Forwards one TCP connection to the server, both ways, keeping what the server sent: its
    handshake answer (first_answer) and every byte after (downstream)."""

    def __init__(self, port):
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.target = port
        self.answer = b""
        self.downstream = bytearray()
        self.got_answer = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        client, _ = self.listener.accept()
        server = socket.create_connection(("127.0.0.1", self.target))

        def pump(src, dst, record):
            try:
                while data := src.recv(65536):
                    if record:
                        self.downstream += data
                    if record and not self.got_answer.is_set():
                        self.answer += data
                        if b"\r\n\r\n" in self.answer:
                            self.got_answer.set()
                    dst.sendall(data)
            except OSError:
                pass
            finally:
                for s in (src, dst):
                    try:
                        s.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass

        threading.Thread(target=pump, args=(client, server, False), daemon=True).start()
        pump(server, client, True)

    def first_answer(self):
        self.got_answer.wait(5)
        return self.answer.split(b"\r\n\r\n")[0]

    def frames(self):
        """The server's WebSocket frames after the handshake (uncompressed, unmasked), as
        (opcode, payload) pairs."""
        data = bytes(self.downstream)
        i = data.index(b"\r\n\r\n") + 4
        out = []
        while i + 2 <= len(data):
            n, at = data[i + 1] & 0x7F, i + 2
            if n == 126:
                n, at = int.from_bytes(data[at:at + 2], "big"), at + 2
            elif n == 127:
                n, at = int.from_bytes(data[at:at + 8], "big"), at + 8
            if at + n > len(data):
                break
            out.append((data[i] & 0x0F, data[at:at + n]))
            i = at + n
        return out

    def close(self):
        self.listener.close()
