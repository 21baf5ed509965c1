"""The systemd unit, packaging/valtronics.service (docs/operations.md, "Running under systemd").

- `systemd-analyze verify` accepts it, with ExecStart pointed at the binary just built (verify
  checks that the binary exists): exit code 0 and not one line about the unit, since verify
  reports unknown keys and unparsable values as warnings with exit code 0. A control unit with
  such mistakes must produce those lines, so the check is known to see them.
- Its hardening and service settings are the ones documented: a dynamic user owning only
  /var/lib/valtronics, read-only system, no capabilities, the file-descriptor limit, SIGHUP for
  reload, a stop timeout above the server's 5 s drain, exit code 3 left a failure, and no system
  call filter that would forbid io_uring.
- `systemd-analyze security --offline` rates its exposure at most 3.0 ("OK"): removing a
  hardening directive raises it and fails the test."""

import os
import re
import subprocess
import tempfile
import unittest

from packaging_support import (BIN, PACKAGED_BIN, UNIT_SOURCE, systemd_analyze, unit_directives,
                               verify_unit)

EXEC_START = (f"{PACKAGED_BIN} serve --config /etc/valtronics/valtronics.toml "
              "--db /var/lib/valtronics/valtronics.db --log-format json")


def read_unit():
    with open(UNIT_SOURCE) as f:
        return f.read()


def seconds(value):
    """A systemd time span such as "10s", "1min 30s", "90" (seconds) in seconds."""
    units = {"": 1, "s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "ms": 0.001}
    total = 0.0
    for number, unit in re.findall(r"(\d+(?:\.\d+)?)\s*([a-z]*)", value):
        total += float(number) * units[unit]
    return total


class SystemdUnitTest(unittest.TestCase):
    def test_verify_accepts_the_unit(self):
        self.assertTrue(os.access(BIN, os.X_OK), f"no binary at {BIN}")
        code, ours, output = verify_unit(read_unit(), exec_path=BIN)
        self.assertEqual(ours, [], f"systemd-analyze verify complains about the unit:\n{output}")
        self.assertEqual(code, 0, f"systemd-analyze verify failed:\n{output}")

    def test_verify_reports_mistakes(self):
        # The control: the same unit with an unknown key and an unparsable value. verify exits
        # 0 here and only prints; the lines must be there, or the test above proves nothing.
        bad = read_unit().replace("LockPersonality=yes",
                                  "LockPersonalty=yes\nProtectSystem=sometimes")
        code, ours, output = verify_unit(bad, exec_path=BIN)
        self.assertTrue(any("LockPersonalty" in line for line in ours), output)
        self.assertTrue(any("sometimes" in line for line in ours), output)
        # And a binary that does not exist fails outright.
        code, ours, output = verify_unit(read_unit(), exec_path="/nonexistent/valtronics")
        self.assertNotEqual(code, 0, output)
        self.assertTrue(ours, output)

    def test_service_settings(self):
        d = unit_directives(read_unit())

        def one(key, section="Service"):
            values = d.get((section, key))
            self.assertIsNotNone(values, f"{key}= missing from [{section}]")
            self.assertEqual(len(values), 1, f"{key}= set {len(values)} times")
            return values[0]

        self.assertEqual(one("Type"), "simple")
        self.assertEqual(one("ExecStart"), EXEC_START)
        self.assertEqual(one("ExecReload"), "/bin/kill -HUP $MAINPID")
        self.assertEqual(one("EnvironmentFile"), "-/etc/default/valtronics")
        self.assertEqual(one("Restart"), "on-failure")
        # Above server.shutdown_timeout's default of 5 s, so the server's own timeout (exit 3,
        # with its log line) fires before systemd's SIGKILL; but not minutes above it.
        self.assertGreater(seconds(one("TimeoutStopSec")), 5)
        self.assertLessEqual(seconds(one("TimeoutStopSec")), 30)
        # Exit code 3 (a drain past shutdown_timeout: writes lost) stays a failure.
        for value in d.get(("Service", "SuccessExitStatus"), []):
            self.assertNotIn("3", value.split())
        self.assertEqual(one("WantedBy", "Install"), "multi-user.target")

    def test_hardening(self):
        d = unit_directives(read_unit())
        expected = {
            "DynamicUser": "yes",
            "StateDirectory": "valtronics",  # /var/lib/valtronics: the --db of ExecStart
            "ProtectSystem": "strict",
            "ProtectHome": "yes",
            "PrivateTmp": "yes",
            "PrivateDevices": "yes",
            "NoNewPrivileges": "yes",
            "ProtectKernelTunables": "yes",
            "ProtectKernelModules": "yes",
            "ProtectKernelLogs": "yes",
            "ProtectControlGroups": "yes",
            "RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX",
            "RestrictNamespaces": "yes",
            "LockPersonality": "yes",
            "MemoryDenyWriteExecute": "yes",
            "SystemCallArchitectures": "native",
            "CapabilityBoundingSet": "",
            "AmbientCapabilities": "",
            "LimitNOFILE": "65536",
        }
        for key, value in expected.items():
            self.assertEqual(d.get(("Service", key)), [value], key)
        # The database is where the state directory is, the only writable place.
        self.assertIn("--db /var/lib/valtronics/", d[("Service", "ExecStart")][0])
        # io_uring (server.io_uring) is not filtered out: either no filter at all, or one that
        # lets the io_uring system calls through (@system-service does not, in systemd 252).
        for value in d.get(("Service", "SystemCallFilter"), []):
            if value and not value.startswith("~"):
                self.assertIn("io_uring_setup", value)
                self.assertIn("io_uring_enter", value)

    def test_exposure_score(self):
        text = read_unit().replace(PACKAGED_BIN, BIN)
        with tempfile.TemporaryDirectory(prefix="valtronics-unit-") as tmp:
            path = os.path.join(tmp, "valtronics.service")
            with open(path, "w") as f:
                f.write(text)
            # --threshold is the exposure times ten: fails above 3.0.
            proc = subprocess.run([systemd_analyze(), "security", "--offline=true", "--man=no",
                                   "--threshold=30", path], capture_output=True, text=True,
                                  env=dict(os.environ, SYSTEMD_COLORS="0"))
        overall = [l for l in proc.stdout.splitlines() if "Overall exposure level" in l]
        self.assertEqual(proc.returncode, 0, "\n".join(overall) or proc.stdout + proc.stderr)
        self.assertTrue(overall, proc.stdout + proc.stderr)


if __name__ == "__main__":
    unittest.main()
