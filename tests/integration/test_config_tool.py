"""(issue 13) `valtronics config init|check|show`, `valtronics version` and the examples at the end
of every subcommand's --help, run on the real binary."""
import os
import re
import signal
import subprocess
import tempfile
import unittest

from harness import BIN, read_port, stop_by_pid

EXAMPLE_CONFIG = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "config",
                              "valtronics.example.toml")
WORKDIR = tempfile.mkdtemp(prefix="valtronics-config-tool-")


def env_without_secret(**extra):
    env = dict(os.environ)
    env.pop("VALTRONICS_JWT_SECRET", None)
    env.update(extra)
    return env


def run(*args, env=None):
    return subprocess.run([BIN, *args], capture_output=True, text=True, timeout=30, cwd=WORKDIR,
                          env=env if env is not None else env_without_secret())


def write(name, text):
    path = os.path.join(WORKDIR, name)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return path


class ConfigInitAndCheck(unittest.TestCase):
    def init_file(self):
        r = run("config", "init")
        self.assertEqual(r.returncode, 0, r.stderr)
        return r.stdout

    def test_init_is_the_example_file(self):
        with open(EXAMPLE_CONFIG, encoding="utf-8") as f:
            self.assertEqual(self.init_file(), f.read(),
                             "regenerate: build/valtronics config init > "
                             "config/valtronics.example.toml")

    def test_init_output_passes_check_once_a_secret_is_set(self):
        text = self.init_file()
        path = write("init.toml", text)
        secret_line = text.splitlines().index('jwt_secret = ""') + 1
        # As the docs say: the secret from the environment, as serve takes it.
        r = run("config", "check", path,
                env=env_without_secret(VALTRONICS_JWT_SECRET="from-the-environment"))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, f"{path}: OK\n")
        self.assertEqual(r.stderr, "")
        # Without it, that is the one thing missing.
        r = run("config", "check", path)
        self.assertEqual(r.returncode, 2, r.stdout)
        lines = r.stderr.splitlines()
        self.assertEqual(len(lines), 2, r.stderr)
        self.assertTrue(
            lines[0].startswith(f"{path}:{secret_line}: auth.jwt_secret: no JWT secret configured"),
            lines[0])
        self.assertEqual(lines[1], f"{path}: 1 error")
        # Or in the file itself.
        text = text.replace('jwt_secret = ""', 'jwt_secret = "in-the-file"', 1)
        r = run("config", "check", write("init-secret.toml", text))
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_serve_runs_with_init_output(self):
        path = write("serve.toml", self.init_file())
        workdir = tempfile.mkdtemp(dir=WORKDIR)
        proc = subprocess.Popen([BIN, "serve", "--config", path, "--listen", "127.0.0.1:0"],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                cwd=workdir, env=env_without_secret(VALTRONICS_JWT_SECRET="s"))
        output = []
        try:
            self.assertIsNotNone(read_port(proc, output, timeout=15), "".join(output))
        finally:
            stop_by_pid(proc)
            proc.stdout.close()

    def test_every_error_with_its_key_and_line(self):
        path = write("broken.toml", "\n".join([
            "threads = 0",                      # 1
            'log_format = "xml"',               # 2
            "",                                 # 3
            "[limits]",                         # 4
            'max_connections = "many"',         # 5
            "max_conections = 5",               # 6
            "max_batch = 7",                    # 7: fine
            "",                                 # 8
            "[database]",                       # 9
            'url = "x"',                        # 10
            "[system]",                         # 11
            'default_frequency = "1s"',         # 12
            'min_frequency = "1m"',             # 13
            "[metrics]",                        # 14
            'allow = ["prometheus.local"]',     # 15
            'listen = "127.0.0.1:70000"',       # 16
        ]) + "\n")
        r = run("config", "check", path, env=env_without_secret(VALTRONICS_JWT_SECRET="s"))
        self.assertEqual(r.returncode, 2, r.stdout)
        self.assertEqual(r.stdout, "")
        lines = r.stderr.splitlines()
        expected = [
            f"{path}:1: threads: expected a positive integer",
            f'{path}:2: log_format: expected "text" or "json", got "xml"',
            f"{path}:5: limits.max_connections: expected a positive integer",
            f"{path}:6: unknown key 'limits.max_conections'",
            f"{path}:9: unknown section '[database]'",
            f'{path}:15: metrics.allow: "prometheus.local" is not an IP address or CIDR network',
            f'{path}:16: metrics.listen: port must be an integer from 0 to 65535, got "70000"',
            f"{path}:12: system.default_frequency: must not be below system.min_frequency "
            "(1s < 1m)",
            f"{path}: 8 errors",
        ]
        self.assertEqual(len(lines), len(expected), r.stderr)
        for line, want in zip(lines, expected):
            self.assertTrue(line.startswith(want), f"{line!r} does not start with {want!r}")

    def test_outbound_budget_is_checked_as_serve_does(self):
        path = write("budget.toml", "[limits]\nmax_outbound_bytes = 1000\n")
        r = run("config", "check", path, env=env_without_secret(VALTRONICS_JWT_SECRET="s"))
        self.assertEqual(r.returncode, 2)
        self.assertIn(f"{path}:2: limits.max_outbound_bytes: must be at least", r.stderr)

    def test_syntax_error_has_its_line(self):
        path = write("syntax.toml", "threads = 2\n[limits\nmax_batch = 3\n")
        r = run("config", "check", path)
        self.assertEqual(r.returncode, 2)
        self.assertTrue(r.stderr.startswith(f"{path}:2: "), r.stderr)
        self.assertTrue(r.stderr.endswith(f"{path}: 1 error\n"), r.stderr)

    def test_missing_file(self):
        r = run("config", "check", os.path.join(WORKDIR, "nope.toml"))
        self.assertEqual(r.returncode, 2)
        self.assertIn("cannot read", r.stderr)


class ConfigShow(unittest.TestCase):
    def test_defaults_without_a_file(self):
        r = run("config", "show")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn('listen = "127.0.0.1:8000"\n', r.stdout)
        self.assertIn('jwt_secret = ""\n', r.stdout)
        self.assertNotIn("#", r.stdout)

    def test_file_over_defaults_with_secrets_masked(self):
        path = write("secrets.toml", "\n".join([
            'db = "postgresql://vt:pg-secret@db:5432/vt"',
            "[auth]",
            'jwt_secret = "jwt-secret"',
            "[limits]",
            "max_connections = 5",
            "[mqtt]",
            'url = "mqtts://dev:mqtt-url-secret@broker:8883"',
            'password = "mqtt-secret"',
            "[cluster]",
            'nats_url = "nats://nats-token@n1:4222,nats://u:nats-secret@n2:4222"',
        ]) + "\n")
        r = run("config", "show", "--config", path)
        self.assertEqual(r.returncode, 0, r.stderr)
        out = r.stdout
        for secret in ("pg-secret", "jwt-secret", "mqtt-url-secret", "mqtt-secret", "nats-token",
                       "nats-secret"):
            self.assertNotIn(secret, out)
        self.assertIn('db = "postgresql://vt:***@db:5432/vt"\n', out)
        self.assertIn('jwt_secret = "***"\n', out)
        self.assertIn("max_connections = 5\n", out)
        self.assertIn('nats_url = "nats://***@n1:4222,nats://u:***@n2:4222"\n', out)
        # The environment's secret counts, as for serve (and is masked too).
        r = run("config", "show", env=env_without_secret(VALTRONICS_JWT_SECRET="env-secret"))
        self.assertNotIn("env-secret", r.stdout)
        self.assertIn('jwt_secret = "***"\n', r.stdout)
        # What it prints is a configuration file again.
        shown = write("shown.toml", out)
        r = run("config", "check", shown)
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_bad_file_is_one_line_and_exit_2(self):
        path = write("bad-show.toml", "[limits]\nmax_connections = 0\n")
        r = run("config", "show", "--config", path)
        self.assertEqual(r.returncode, 2)
        self.assertEqual(r.stderr, f"valtronics: config: {path}:2: limits.max_connections: "
                                   "expected a positive integer\n")

    def test_serve_names_every_bad_key_with_its_line(self):
        path = write("bad-serve.toml", "threads = 0\n[limits]\nmax_connections = 0\n"
                                       "max_conections = 5\n")
        r = run("serve", "--config", path, "--jwt-secret", "s")
        self.assertEqual(r.returncode, 2)
        self.assertEqual(r.stderr,
                         f"valtronics: config: {path}: 3 errors: 1: threads: expected a positive "
                         "integer; 3: limits.max_connections: expected a positive integer; 4: "
                         "unknown key 'limits.max_conections'\n")


class Version(unittest.TestCase):
    FIRST = re.compile(r"^valtronics \d+\.\d+\.\d+ \(commit ([0-9a-f]{4,40}|unknown)\)$")

    def test_version_commit_and_libraries(self):
        r = run("version")
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.splitlines()
        self.assertRegex(lines[0], self.FIRST)
        libraries = {}
        for line in lines[1:]:
            name, version = line.split(None, 1)
            libraries[name] = version
        for name in ("Boost", "OpenSSL", "SQLite", "libpq", "libmosquitto", "cnats", "spdlog",
                     "fmt"):
            self.assertIn(name, libraries, r.stdout)
            self.assertRegex(libraries[name], r"^\d+\.\d+", name)

    def test_dash_dash_version_is_the_first_line(self):
        r = run("--version")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, run("version").stdout.splitlines()[0] + "\n")


class HelpExamples(unittest.TestCase):
    SUBCOMMANDS = [
        ["serve"], ["token"], ["listen"], ["simulate"], ["bench"], ["bench", "fanout"],
        ["bench", "idle"], ["bench", "connect"], ["bench", "ingest"], ["bench", "floor"],
        ["config"], ["config", "init"], ["config", "check"], ["config", "show"], ["version"],
    ]

    def test_every_subcommand_help_shows_examples(self):
        for sub in self.SUBCOMMANDS:
            with self.subTest(sub=" ".join(sub)):
                r = run(*sub, "--help")
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertIn("Example", r.stdout)
                self.assertIn("valtronics " + " ".join(sub), r.stdout)


if __name__ == "__main__":
    unittest.main()
