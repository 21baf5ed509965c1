"""The .deb and `cmake --install` (cmake/Packaging.cmake; docs/operations.md, "Packaging").

PackageTest builds the .deb from the build tree ctest runs in (`cpack -G DEB`, written to a
temporary folder so that it never races `make package`), unpacks it with `dpkg-deb -x` and checks:
- its control fields: name, the project's version, section net, maintainer, homepage, and a
  Depends line computed by dpkg-shlibdeps that names libssl3 and the other libraries the binary
  links, each one a real package (dpkg knows it: the build links the installed ones);
- conffiles (/etc/valtronics/valtronics.toml, /etc/default/valtronics) and the maintainer
  scripts;
- the files: /usr/bin/valtronics, the example configuration in /etc/valtronics, the secret's
  environment file (0600), the unit in /usr/lib/systemd/system naming /usr/bin and /etc, the
  README and every docs/*.md, the Grafana dashboard; and nothing else (no test, no example, no
  static library, no header);
- that the unpacked binary runs: `valtronics version` prints the project's version; and that
  the unit's own ExecStart (its arguments, the packaged configuration, JSON logs, the secret from
  the environment as /etc/default/valtronics gives it) starts a server that answers /health,
  survives the unit's reload signal (SIGHUP) and drains on SIGTERM with exit code 0;
- that the unit it carries passes `systemd-analyze verify` (ExecStart pointed at the unpacked
  binary).

InstallTest runs `cmake --install <build> --prefix <tmp>` and checks the same files under the
prefix (etc/ under it, the unit rewritten to name <tmp>/bin/valtronics and <tmp>/etc, and
verifying as installed), and `DESTDIR=<tmp> cmake --install --prefix /usr`: /etc, not /usr/etc,
as in the .deb."""

import glob
import json
import os
import re
import shlex
import signal
import stat
import subprocess
import tempfile
import threading
import time
import unittest
import urllib.request

from packaging_support import (BUILD_DIR, CMAKE, CPACK, SOURCE_DIR, project_version, run,
                               verify_unit)

VERSION = project_version()

# Relative to the prefix (/usr in the .deb), plus the two files of /etc.
def expected_files(docs_base):
    files = {
        "bin/valtronics",
        "lib/systemd/system/valtronics.service",
        "share/doc/valtronics/README.md",
        "share/valtronics/grafana/valtronics-dashboard.json",
    }
    docs = os.path.join(SOURCE_DIR, "docs")
    for path in glob.glob(os.path.join(docs, "**", "*.md"), recursive=True):
        files.add(f"{docs_base}/" + os.path.relpath(path, docs))
    # The dashboard as built (cmake/Web.cmake: the build tree's web/), without source maps.
    web = os.path.join(BUILD_DIR, "web")
    files.add("share/valtronics/web/index.html")
    for path in glob.glob(os.path.join(web, "**", "*"), recursive=True):
        if os.path.isfile(path) and not path.endswith(".map"):
            files.add("share/valtronics/web/" + os.path.relpath(path, web))
    return files


ETC_FILES = {"valtronics/valtronics.toml", "default/valtronics"}


def tree(root):
    """Every file (and symlink) under root, relative to it."""
    out = set()
    for dirpath, _, filenames in os.walk(root):
        for name in filenames:
            out.add(os.path.relpath(os.path.join(dirpath, name), root))
    return out


def read(path):
    with open(path) as f:
        return f.read()


class InstalledTreeChecks:
    """Checks shared by the .deb's tree and cmake --install's: `prefix` is where bin/ is,
    `etc` where valtronics/valtronics.toml is, `unit_prefix`/`unit_etc` the paths the unit must
    name for them."""

    def check_tree(self, prefix, etc, unit_prefix, unit_etc):
        binary = os.path.join(prefix, "bin", "valtronics")
        self.assertTrue(os.access(binary, os.X_OK), binary)

        with open(os.path.join(SOURCE_DIR, "config", "valtronics.example.toml")) as f:
            self.assertEqual(read(os.path.join(etc, "valtronics", "valtronics.toml")), f.read())
        env_file = os.path.join(etc, "default", "valtronics")
        self.assertIn("VALTRONICS_JWT_SECRET", read(env_file))
        self.assertEqual(stat.S_IMODE(os.stat(env_file).st_mode), 0o600,
                         "the secret's file must be root's alone")

        unit = read(os.path.join(prefix, "lib", "systemd", "system", "valtronics.service"))
        self.assertIn(f"ExecStart={unit_prefix}/bin/valtronics serve --config "
                      f"{unit_etc}/valtronics/valtronics.toml "
                      "--db /var/lib/valtronics/valtronics.db --log-format json\n", unit)
        self.assertIn(f"EnvironmentFile=-{unit_etc}/default/valtronics\n", unit)
        self.assertIn(f"Documentation=file:{unit_prefix}/share/doc/valtronics/docs/operations.md",
                      unit)

        doc = os.path.join(prefix, "share", "doc", "valtronics")
        self.assertEqual(read(os.path.join(doc, "README.md")),
                         read(os.path.join(SOURCE_DIR, "README.md")))
        self.assertTrue(os.path.isfile(os.path.join(doc, "docs", "operations.md")))
        dashboard = os.path.join(prefix, "share", "valtronics", "grafana",
                                 "valtronics-dashboard.json")
        self.assertEqual(read(dashboard), read(os.path.join(
            SOURCE_DIR, "packaging", "grafana", "valtronics-dashboard.json")))
        return binary, unit

    def check_version(self, binary):
        proc = subprocess.run([binary, "version"], capture_output=True, text=True, timeout=30)
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        self.assertRegex(proc.stdout, rf"(?<![0-9.]){re.escape(VERSION)}(?![0-9])")
        proc = subprocess.run([binary, "--help"], capture_output=True, text=True, timeout=30)
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        self.assertIn("serve", proc.stdout)


class PackageTest(unittest.TestCase, InstalledTreeChecks):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="valtronics-deb-")
        out = os.path.join(cls.tmp.name, "cpack")
        cls.cpack = run([CPACK, "-G", "DEB", "-B", out], cwd=BUILD_DIR)
        debs = glob.glob(os.path.join(out, "*.deb"))
        if len(debs) != 1:
            raise AssertionError(f"cpack made {debs}:\n{cls.cpack.stdout}")
        cls.deb = debs[0]
        cls.root = os.path.join(cls.tmp.name, "root")
        run(["dpkg-deb", "-x", cls.deb, cls.root])
        cls.control = os.path.join(cls.tmp.name, "control")
        run(["dpkg-deb", "-e", cls.deb, cls.control])
        cls.info = run(["dpkg-deb", "-I", cls.deb]).stdout
        cls.fields = {}
        for line in run(["dpkg-deb", "-f", cls.deb]).stdout.splitlines():
            if line and not line[0].isspace():
                key, _, value = line.partition(":")
                cls.fields[key] = value.strip()

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_cpack_without_warnings(self):
        output = self.cpack.stdout + self.cpack.stderr
        self.assertNotIn("Warning", output, output)
        self.assertIn("Generating dependency list", output, "dpkg-shlibdeps did not run")

    def test_file_name_and_control_fields(self):
        arch = run(["dpkg", "--print-architecture"]).stdout.strip()
        self.assertEqual(os.path.basename(self.deb), f"valtronics_{VERSION}_{arch}.deb")
        self.assertEqual(self.fields.get("Package"), "valtronics")
        self.assertEqual(self.fields.get("Version"), VERSION)
        self.assertEqual(self.fields.get("Architecture"), arch)
        self.assertEqual(self.fields.get("Section"), "net")
        self.assertRegex(self.fields.get("Maintainer", ""), r".+ <[^@ ]+@[^> ]+>")
        self.assertRegex(self.fields.get("Homepage", ""), r"^https?://")
        self.assertTrue(self.fields.get("Description"), self.info)

    def test_depends_computed_from_the_binary(self):
        depends_lines = [l for l in self.info.splitlines() if l.strip().startswith("Depends:")]
        self.assertEqual(len(depends_lines), 1, self.info)
        names = set()
        for alternative in self.fields["Depends"].split(","):
            for choice in alternative.split("|"):
                names.add(choice.strip().split(" ")[0])
        # Among the libraries the server links: OpenSSL, SQLite, libpq, Mosquitto, the C and C++
        # runtimes.
        for name in ("libssl3", "libsqlite3-0", "libpq5", "libmosquitto1", "libc6", "libstdc++6"):
            self.assertIn(name, names, self.fields["Depends"])
        # Each a package that exists: dpkg-shlibdeps found it as the owner of a library.
        for name in sorted(names):
            proc = subprocess.run(["dpkg-query", "-W", "-f=${Status}", name],
                                  capture_output=True, text=True)
            self.assertEqual(proc.returncode, 0, f"{name}: not a package dpkg knows")

    def test_conffiles_and_maintainer_scripts(self):
        with open(os.path.join(self.control, "conffiles")) as f:
            conffiles = set(f.read().split())
        self.assertEqual(conffiles, {"/etc/valtronics/valtronics.toml", "/etc/default/valtronics"})
        for path in conffiles:
            self.assertTrue(os.path.isfile(self.root + path), path)
        for script in ("postinst", "prerm", "postrm"):
            path = os.path.join(self.control, script)
            self.assertTrue(os.access(path, os.X_OK), script)
            run(["sh", "-n", path])

    def test_files_and_nothing_else(self):
        files = tree(self.root)
        expected = {"usr/" + f for f in expected_files("share/doc/valtronics/docs")}
        expected |= {"etc/" + f for f in ETC_FILES}
        self.assertEqual(files - expected, set(), "installed but not expected")
        self.assertEqual(expected - files, set(), "expected but missing")
        self.check_tree(os.path.join(self.root, "usr"), os.path.join(self.root, "etc"),
                        "/usr", "/etc")

    def test_binary_runs_from_the_package(self):
        self.check_version(os.path.join(self.root, "usr", "bin", "valtronics"))

    def test_unit_command_starts_the_packaged_server(self):
        unit = read(os.path.join(self.root, "usr", "lib", "systemd", "system",
                                 "valtronics.service"))
        exec_start = re.search(r"^ExecStart=(.*)$", unit, re.M).group(1)
        db = os.path.join(self.tmp.name, "state", "valtronics.db")
        os.makedirs(os.path.dirname(db), exist_ok=True)
        # The unit's command, its absolute paths moved into the unpacked tree and the state
        # directory into a temporary one, on a free loopback port rather than the config's 8000.
        args = []
        for arg in shlex.split(exec_start):
            if arg == "/var/lib/valtronics/valtronics.db":
                arg = db
            elif arg.startswith(("/usr/", "/etc/")):
                arg = self.root + arg
            args.append(arg)
        args += ["--listen", "127.0.0.1:0"]
        env = dict(os.environ, VALTRONICS_JWT_SECRET="packaging-test-secret")
        proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                env=env, cwd=os.path.dirname(db))
        lines = []
        try:
            port = None
            deadline = time.time() + 20
            while port is None and time.time() < deadline:
                line = proc.stdout.readline()
                if not line:
                    break
                lines.append(line)
                m = re.search(r"listening on [^ ]+:(\d+)", line)
                port = int(m.group(1)) if m else None
            self.assertIsNotNone(port, "".join(lines))
            reader = threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True)
            reader.start()
            # --log-format json: every line is one JSON object.
            for line in lines:
                self.assertIsInstance(json.loads(line), dict, line)
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=10) as r:
                self.assertEqual(r.status, 200)
            os.kill(proc.pid, signal.SIGHUP)  # ExecReload
            time.sleep(0.5)
            self.assertIsNone(proc.poll(), "".join(lines))
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=10) as r:
                self.assertEqual(r.status, 200)
            os.kill(proc.pid, signal.SIGTERM)  # systemctl stop
            self.assertEqual(proc.wait(timeout=10), 0, "".join(lines))
            reader.join(5)
            self.assertTrue(any("SIGHUP" in line for line in lines), "".join(lines))
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            proc.stdout.close()

    def test_packaged_unit_verifies(self):
        unit = read(os.path.join(self.root, "usr", "lib", "systemd", "system",
                                 "valtronics.service"))
        self.assertEqual(unit, read(os.path.join(SOURCE_DIR, "packaging", "valtronics.service")))
        code, ours, output = verify_unit(
            unit, exec_path=os.path.join(self.root, "usr", "bin", "valtronics"))
        self.assertEqual((code, ours), (0, []), output)


class InstallTest(unittest.TestCase, InstalledTreeChecks):
    def test_install_to_a_prefix(self):
        with tempfile.TemporaryDirectory(prefix="valtronics-install-") as tmp:
            prefix = os.path.join(tmp, "prefix")
            run([CMAKE, "--install", BUILD_DIR, "--prefix", prefix])
            files = tree(prefix)
            expected = expected_files("share/doc/valtronics/docs")
            expected |= {"etc/" + f for f in ETC_FILES}
            self.assertEqual(expected - files, set(), "expected but missing")
            self.assertEqual(files - expected, set(), "installed but not expected")
            binary, unit = self.check_tree(prefix, os.path.join(prefix, "etc"), prefix,
                                           prefix + "/etc")
            self.check_version(binary)
            # As installed: its ExecStart is the installed binary.
            code, ours, output = verify_unit(unit)
            self.assertEqual((code, ours), (0, []), output)

    def test_destdir_with_prefix_usr_puts_etc_at_the_root(self):
        with tempfile.TemporaryDirectory(prefix="valtronics-install-") as tmp:
            env = dict(os.environ, DESTDIR=tmp)
            run([CMAKE, "--install", BUILD_DIR, "--prefix", "/usr"], env=env)
            files = tree(tmp)
            self.assertIn("etc/valtronics/valtronics.toml", files)
            self.assertIn("etc/default/valtronics", files)
            self.assertFalse([f for f in files if f.startswith("usr/etc/")], files)
            self.check_tree(os.path.join(tmp, "usr"), os.path.join(tmp, "etc"), "/usr", "/etc")


if __name__ == "__main__":
    unittest.main()
