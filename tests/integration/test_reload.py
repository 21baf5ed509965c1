"""SIGHUP reloads the configuration file (issue 13; docs/operations.md, "Reloading"): limits,
allowed origins and the log level change while connections stay open; keys that need a restart
are named in a warning; a bad file is refused with a log line and the running configuration
stays."""

import json
import os
import signal
import unittest

import websockets

from harness import Server, run, token, toml_value, wait_until


def write_config(path, sections):
    with open(path, "w") as f:
        for k, v in sections.get("", {}).items():
            f.write(f"{k} = {toml_value(v)}\n")
        for section, keys in sections.items():
            if section:
                f.write(f"[{section}]\n")
                for k, v in keys.items():
                    f.write(f"{k} = {toml_value(v)}\n")


class ReloadTest(unittest.TestCase):
    def test_sighup_applies_live_keys_and_keeps_connections(self):
        alice = token("alice", "admin")
        # Two I/O threads: the reload parks the other one while it applies the live keys.
        config = {"": {"threads": 2}, "auth": {"allowed_origins": ["https://a.example"]},
                  "limits": {"max_connections_per_user": 5}}
        with Server(config) as s:
            path = os.path.join(s.tmp.name, "valtronics.toml")

            def hup_and_wait(marker):
                seen = len(s.output)
                s.proc.send_signal(signal.SIGHUP)
                wait_until(lambda: any(marker in l for l in s.output[seen:]), timeout=10,
                           what=marker)
                return "".join(s.output[seen:])

            async def origin_accepted(origin):
                try:
                    async with websockets.connect(s.url + "/ws", origin=origin):
                        return True
                except websockets.exceptions.InvalidStatusCode as e:
                    self.assertEqual(e.status_code, 403)
                    return False

            async def scenario():
                async with websockets.connect(s.url + "/ws") as kept:
                    await kept.send(json.dumps({"type": "auth", "token": alice}))
                    self.assertTrue(json.loads(await kept.recv())["success"])
                    self.assertTrue(await origin_accepted("https://a.example"))
                    self.assertFalse(await origin_accepted("https://b.example"))

                    # Live keys changed, one key that needs a restart changed too.
                    new = {k: dict(v) for k, v in s.config.items()}
                    new["auth"]["allowed_origins"] = ["https://b.example"]
                    new["limits"]["max_connections_per_user"] = 1
                    new[""]["log_level"] = "debug"
                    new.setdefault("alerts", {})["replay_max_alerts"] = 77
                    write_config(path, new)
                    log = hup_and_wait("configuration reloaded")
                    self.assertIn("alerts.replay_max_alerts changed; it takes effect after a "
                                  "restart", log)

                    # The open connection was not touched.
                    await kept.send(json.dumps({"type": "ping", "id": "p1"}))
                    self.assertEqual(json.loads(await kept.recv())["type"], "pong")
                    # The new origins and the new per-user limit hold at once.
                    self.assertTrue(await origin_accepted("https://b.example"))
                    self.assertFalse(await origin_accepted("https://a.example"))
                    async with websockets.connect(s.url + "/ws") as second:
                        await second.send(json.dumps({"type": "auth", "token": alice}))
                        reply = json.loads(await second.recv())
                        self.assertFalse(reply["success"], reply)
                    # The log level too: debug lines about messages now appear.
                    wait_until(lambda: any("ws in" in l for l in s.output), timeout=5,
                               what="a debug line")

                    # A bad file is refused and the running configuration stays.
                    with open(path, "w") as f:
                        f.write("[limits]\nmax_connections = -3\n")
                    log = hup_and_wait("configuration refused")
                    self.assertIn("limits.max_connections", log)
                    self.assertTrue(await origin_accepted("https://b.example"))
                    await kept.send(json.dumps({"type": "ping", "id": "p2"}))
                    self.assertEqual(json.loads(await kept.recv())["type"], "pong")
            run(scenario())
            self.assertIsNone(s.proc.poll(), "the server exited")


if __name__ == "__main__":
    unittest.main()
