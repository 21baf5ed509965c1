"""The example of the docs (examples/monitor.py) is the one docs/clients/python.md shows, and it
runs against the real server: it connects, subscribes, prints the updates it receives and exits
after --count of them."""
import os
import re
import subprocess
import sys
import unittest

from harness import Server, token

PROJECT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLE = os.path.join(PROJECT, "examples", "monitor.py")
DOC = os.path.join(PROJECT, "..", "..", "docs", "clients", "python.md")


class ExampleTest(unittest.TestCase):
    def test_the_docs_show_this_example(self):
        with open(DOC) as f:
            doc = f.read()
        shown = re.search(r"## Example\n.*?```python\n(.*?)```", doc, re.S).group(1)
        with open(EXAMPLE) as f:
            source = f.read()
        self.assertEqual(shown, source[source.index("import argparse"):])

    def test_monitor_example(self):
        with Server() as server:
            admin = token("sdk-example", "admin")
            env = dict(os.environ, VALTRONICS_URL=server.url + "/ws", VALTRONICS_TOKEN=admin)
            with subprocess.Popen([sys.executable, EXAMPLE, "--count", "2"], env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True) as proc:
                try:
                    lines = []
                    for line in proc.stdout:  # wait until it has subscribed
                        lines.append(line.strip())
                        if line.strip() == "listening":
                            break
                    self.assertEqual(lines, ["connected as sdk-example (admin)", "listening"],
                                     proc.stderr.read() if proc.poll() is not None else lines)
                    # pressure is not among the example's metrics; the new device comes online.
                    server.ingest(5, {"temperature": 21.5, "humidity": 40, "pressure": 1}, admin)
                    out, err = proc.communicate(timeout=15)
                except BaseException:
                    proc.kill()  # so that leaving the `with` does not wait for it
                    raise
            self.assertEqual(proc.returncode, 0, err)
            self.assertEqual(sorted(out.splitlines()), [
                "device 5: offline -> online",
                "telemetry device=5 {'temperature': 21.5, 'humidity': 40}",
            ], err)


if __name__ == "__main__":
    unittest.main()
