"""`pip install` from the folder works offline and the installed package imports (from the
install target, not from the source tree) with its metadata naming the dependency."""
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

PROJECT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class InstallTest(unittest.TestCase):
    def test_pip_install_from_the_folder(self):
        # pip builds in the source folder: remove what this test leaves there (both paths are
        # git-ignored) unless they existed before.
        artifacts = [p for p in (os.path.join(PROJECT, "build"),
                                 os.path.join(PROJECT, "valtronics_client.egg-info"))
                     if not os.path.exists(p)]
        with tempfile.TemporaryDirectory() as target:
            try:
                proc = subprocess.run(
                    [sys.executable, "-m", "pip", "install", "--no-build-isolation",
                     "--no-deps", "--no-cache-dir", "--disable-pip-version-check",
                     "--target", target, PROJECT],
                    capture_output=True, text=True, timeout=120)
            finally:
                for p in artifacts:
                    shutil.rmtree(p, ignore_errors=True)
            self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)

            env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
            env["PYTHONPATH"] = target
            check = subprocess.run(
                [sys.executable, "-c",
                 "import valtronics_client as v, websockets\n"
                 "print(v.__file__)\n"
                 "print(v.__version__)\n"
                 "print(v.ValtronicsWebSocketClient('ws://h:1', 't').url)\n"],
                capture_output=True, text=True, cwd=target, env=env, timeout=60)
            self.assertEqual(check.returncode, 0, check.stderr)
            path, version, url = check.stdout.split()
            self.assertTrue(path.startswith(os.path.join(target, "valtronics_client")), path)
            self.assertEqual(version, "0.1.0")
            self.assertEqual(url, "ws://h:1/ws")

            dist = [d for d in os.listdir(target) if d.endswith(".dist-info")]
            self.assertEqual(dist, ["valtronics_client-0.1.0.dist-info"])
            with open(os.path.join(target, dist[0], "METADATA")) as f:
                metadata = f.read()
            self.assertIn("Name: valtronics-client", metadata)
            self.assertRegex(metadata, r"Requires-Dist: websockets ?\(?>=10")
            # Only the package is installed: no tests, no stray top-level modules.
            self.assertEqual(sorted(os.listdir(target)),
                             sorted(["valtronics_client"] + dist))


if __name__ == "__main__":
    unittest.main()
