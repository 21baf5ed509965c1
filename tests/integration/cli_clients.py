"""Helpers for the tests of the client subcommands (`valtronics listen`, `valtronics simulate`):
run them as subprocesses, collect their output lines in the background, wait for a line."""
import json
import os
import signal
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
