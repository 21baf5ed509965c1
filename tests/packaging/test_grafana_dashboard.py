"""The Grafana dashboard, packaging/grafana/valtronics-dashboard.json (docs/operations.md,
"Grafana").

- Its shape: JSON Grafana imports (schemaVersion 38, a uid and title), timeseries and stat
  panels under rows, every panel's data source the dashboard's Prometheus data source variable,
  every query a refId and an expression, panels within the 24 columns and not overlapping.
- It charts every metric family the server exports for it (the list of issue 13).
- Every metric its PromQL expressions (and variable queries) name exists: the real server is
  started (tests/integration/harness.py), `GET /metrics` is scraped from 127.0.0.1 (no token
  needed there), and each name, reduced to its family (`_bucket`, `_sum`, `_count` of a
  histogram), must have a `# TYPE` line of the right kind (a `_bucket` a histogram's). Each label
  an expression groups by or matches on must be one the family's samples carry (`instance` and
  `job` come from Prometheus, `le` from the histogram).
- Every expression is valid PromQL: `promtool check rules` parses them as recording rules, the
  Grafana variables replaced by values ($__rate_interval by 5m, $instance by .*)."""

import json
import os
import re
import shutil
import subprocess
import tempfile
import unittest
import urllib.request

from packaging_support import SOURCE_DIR

DASHBOARD = os.path.join(SOURCE_DIR, "packaging", "grafana", "valtronics-dashboard.json")

# The families issue 13 asks the dashboard to chart, and their Prometheus types.
EXPECTED_FAMILIES = {
    "valtronics_connections_active": "gauge",
    "valtronics_connections_total": "counter",
    "valtronics_auth_successes_total": "counter",
    "valtronics_auth_failures_total": "counter",
    "valtronics_messages_in_total": "counter",
    "valtronics_messages_out_total": "counter",
    "valtronics_bytes_in_total": "counter",
    "valtronics_bytes_out_total": "counter",
    "valtronics_fanout_deliveries_total": "counter",
    "valtronics_conflated_updates_total": "counter",
    "valtronics_slow_consumer_disconnects_total": "counter",
    "valtronics_rate_limit_hits_total": "counter",
    "valtronics_handshake_refusals_total": "counter",
    "valtronics_telemetry_points_total": "counter",
    "valtronics_ingest_rejected_total": "counter",
    "valtronics_alerts_total": "counter",
    "valtronics_devices_total": "gauge",
    "valtronics_store_queue_depth": "gauge",
    "valtronics_store_commit_seconds": "histogram",
    "valtronics_ingest_to_enqueue_seconds": "histogram",
    "valtronics_enqueue_to_write_seconds": "histogram",
}
HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")
METRIC_RE = re.compile(r"\bvaltronics_[a-zA-Z0-9_]+")
# Labels Prometheus adds at scrape time, and the histogram's bucket bound.
LABELS_NOT_EXPORTED = {"instance", "job", "le"}


def load():
    with open(DASHBOARD) as f:
        return json.load(f)


def all_panels(dashboard):
    for panel in dashboard["panels"]:
        yield panel
        yield from panel.get("panels", [])  # a collapsed row keeps its panels inside


def expressions(dashboard):
    """Every PromQL text: the panels' targets and the query variables."""
    out = []
    for panel in all_panels(dashboard):
        for target in panel.get("targets", []):
            out.append(target["expr"])
    for var in dashboard.get("templating", {}).get("list", []):
        if var.get("type") == "query":
            query = var.get("query")
            out.append(query["query"] if isinstance(query, dict) else query)
    return out


def strip_strings(expr):
    return re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)


def metric_names(expr):
    return set(METRIC_RE.findall(strip_strings(expr)))


def family_candidates(name):
    """The families a sample name may belong to: itself, or a histogram's."""
    out = [name]
    for suffix in HISTOGRAM_SUFFIXES:
        if name.endswith(suffix):
            out.append(name[: -len(suffix)])
    return out


def labels_used(expr):
    """Label names in `by (...)`/`without (...)` clauses and in selectors' matchers."""
    labels = set()
    for group in re.findall(r"\b(?:by|without)\s*\(([^)]*)\)", expr):
        labels |= {l.strip() for l in group.split(",") if l.strip()}
    for selector in re.findall(r"\{([^}]*)\}", expr):
        labels |= set(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)\s*"', selector))
    return labels


def parse_exposition(text):
    """({family: type}, {family: set of label names on its samples}) of a text exposition."""
    types = {}
    labels = {}
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(None, 3)
            types[name] = kind.strip()
            labels.setdefault(name, set())
        elif line and not line.startswith("#"):
            m = re.match(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s", line)
            if not m:
                continue
            names = set(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="', m.group(3) or ""))
            for family in family_candidates(m.group(1)):
                if family in types:
                    labels[family] |= names
                    break
    return types, labels


class DashboardShapeTest(unittest.TestCase):
    def test_grafana_shape(self):
        d = load()
        self.assertEqual(d["schemaVersion"], 38)
        self.assertTrue(d["uid"] and d["title"])
        variables = {v["name"]: v for v in d["templating"]["list"]}
        self.assertEqual(variables["datasource"]["type"], "datasource")
        self.assertEqual(variables["datasource"]["query"], "prometheus")
        ids = set()
        grid = set()
        for panel in all_panels(d):
            self.assertIn(panel["type"], {"row", "timeseries", "stat"}, panel["title"])
            self.assertNotIn(panel["id"], ids, "panel ids are unique")
            ids.add(panel["id"])
            pos = panel["gridPos"]
            self.assertLessEqual(pos["x"] + pos["w"], 24, panel["title"])
            cells = {(pos["x"] + dx, pos["y"] + dy) for dx in range(pos["w"]) for dy in range(pos["h"])}
            self.assertFalse(cells & grid, f"{panel['title']} overlaps another panel")
            grid |= cells
            if panel["type"] == "row":
                continue
            self.assertEqual(panel["datasource"], {"type": "prometheus", "uid": "${datasource}"})
            self.assertTrue(panel["targets"], panel["title"])
            refs = [t["refId"] for t in panel["targets"]]
            self.assertEqual(len(refs), len(set(refs)), panel["title"])
            for target in panel["targets"]:
                self.assertEqual(target["datasource"], panel["datasource"])
                self.assertTrue(METRIC_RE.search(target["expr"]), target["expr"])
                self.assertEqual(target["expr"].count("("), target["expr"].count(")"))

    def test_every_family_is_charted(self):
        named = set()
        for expr in expressions(load()):
            for name in metric_names(expr):
                named.update(family_candidates(name))
        self.assertEqual(set(EXPECTED_FAMILIES) - named, set())

    def test_expressions_are_valid_promql(self):
        promtool = shutil.which("promtool")
        if not promtool:
            self.skipTest("promtool not installed (Debian package prometheus)")
        rules = []
        for i, expr in enumerate(expressions(load())):
            if expr.startswith("label_values("):
                continue  # a Grafana variable function, not PromQL
            expr = expr.replace("$__rate_interval", "5m").replace("$instance", ".*")
            rules.append({"record": f"valtronics:dashboard_check_{i}", "expr": expr})
        self.assertTrue(rules)
        with tempfile.TemporaryDirectory(prefix="valtronics-promql-") as tmp:
            path = os.path.join(tmp, "rules.yml")
            with open(path, "w") as f:  # JSON is YAML
                json.dump({"groups": [{"name": "dashboard", "rules": rules}]}, f)
            proc = subprocess.run([promtool, "check", "rules", path], capture_output=True,
                                  text=True)
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)

    def test_latency_quantiles_use_rate_of_buckets(self):
        for expr in expressions(load()):
            if "histogram_quantile" in expr:
                self.assertRegex(expr, r"rate\(valtronics_\w+_bucket\{[^}]*\}\[5m\]\)")
                self.assertRegex(expr, r"by \([^)]*\ble\b")


class DashboardAgainstServerTest(unittest.TestCase):
    def test_every_metric_exists_in_a_scrape(self):
        from harness import Server  # tests/integration, on PYTHONPATH (tests/CMakeLists.txt)

        with Server() as server:
            with urllib.request.urlopen(server.http + "/metrics", timeout=10) as r:
                self.assertEqual(r.status, 200)
                self.assertIn("text/plain", r.headers.get("Content-Type", ""))
                text = r.read().decode()
        types, labels = parse_exposition(text)
        missing, wrong = [], []
        for expr in expressions(load()):
            families = []
            for name in sorted(metric_names(expr)):
                family = next((f for f in family_candidates(name) if f in types), None)
                if family is None:
                    missing.append(name)
                    continue
                families.append(family)
                if name.endswith("_bucket") and types[family] != "histogram":
                    wrong.append(f"{name}: {family} is a {types[family]}, not a histogram")
                expected = EXPECTED_FAMILIES.get(family)
                if expected and types[family] != expected:
                    wrong.append(f"{family}: {types[family]}, expected {expected}")
            # A label grouped by or matched on must be on the samples of a family of the
            # expression (checked where the scrape has samples of them).
            carried = set().union(*(labels[f] for f in families)) if families else set()
            if carried:
                for label in labels_used(expr) - LABELS_NOT_EXPORTED - carried:
                    wrong.append(f"label {label!r} of {expr!r} is on none of {families}")
        problems = [f"{name}: named by the dashboard, no such family in GET /metrics"
                    for name in sorted(set(missing))] + wrong
        self.assertEqual(problems, [], "\n" + "\n".join(problems))


if __name__ == "__main__":
    unittest.main()
