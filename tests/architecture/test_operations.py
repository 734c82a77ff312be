"""The operator's kit agrees with the code: the dashboard is its script's output, every
query names a series the code exports, and every alert has its runbook section."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from types import ModuleType

import yaml
from prometheus_client import REGISTRY

import ticketing.telemetry.metrics  # noqa: F401 (registers every series)

REPO = Path(__file__).resolve().parents[2]
DASHBOARD_SCRIPT = REPO / "deploy" / "grafana" / "build.py"
ALERTS = REPO / "deploy" / "prometheus" / "alerts.yaml"
OPERATIONS = REPO / "docs" / "operations.md"
POD_MONITOR = REPO / "deploy" / "k8s" / "components" / "monitoring" / "pod-monitor.yaml"
SERIES_NAME = re.compile(r"\bticketing_[a-z_]+")


def dashboard_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("build_dashboard", DASHBOARD_SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def exported_series() -> set[str]:
    """Every sample name the registry can expose (``_total``, ``_bucket``, ...)."""
    names = set()
    for family in REGISTRY.collect():
        if family.name.startswith("ticketing_"):
            names.add(family.name)
            suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum"),
                        "gauge": ("",)}[family.type]
            names.update(family.name + suffix for suffix in suffixes)
    return names


def unknown_series(queries: list[str], known: set[str]) -> set[str]:
    return {name for query in queries for name in SERIES_NAME.findall(query)} - known


def alert_rules() -> list[dict[str, object]]:
    rules: list[dict[str, object]] = yaml.safe_load(ALERTS.read_text())["groups"][0]["rules"]
    return rules


def test_the_committed_dashboard_is_the_scripts_output() -> None:
    script = dashboard_script()

    assert script.OUTPUT.read_text() == script.render(), \
        "run: python deploy/grafana/build.py"


def test_every_query_names_a_series_the_code_exports() -> None:
    known = exported_series()
    dashboard = [target["expr"] for panel in dashboard_script().dashboard()["panels"]
                 for target in panel.get("targets", [])]
    alerts = [str(rule["expr"]) for rule in alert_rules()]

    assert unknown_series(dashboard, known) == set()
    assert unknown_series(alerts, known) == set()
    assert unknown_series(["rate(ticketing_orders_placed_total[5m])"], known) == {
        "ticketing_orders_placed_total"}, "the check must catch a series that does not exist"


def test_every_series_is_on_the_dashboard() -> None:
    dashboard = " ".join(target["expr"] for panel in dashboard_script().dashboard()["panels"]
                         for target in panel.get("targets", []))
    families = {f.name for f in REGISTRY.collect() if f.name.startswith("ticketing_")}

    assert {name for name in families if name not in dashboard} == set()


def test_every_alert_has_its_runbook_section() -> None:
    headings = {line[4:].strip().lower() for line in OPERATIONS.read_text().splitlines()
                if line.startswith("### ")}

    for rule in alert_rules():
        annotations = rule["annotations"]
        assert isinstance(annotations, dict)
        anchor = str(annotations["runbook"]).split("#", 1)[1]
        assert anchor == str(rule["alert"]).lower()
        assert anchor in headings, f"docs/operations.md has no section {rule['alert']}"


def test_the_dashboard_selects_by_the_label_the_pod_monitor_sets() -> None:
    monitor = yaml.safe_load(POD_MONITOR.read_text())
    [endpoint] = monitor["spec"]["podMetricsEndpoints"]
    set_by_monitor = {r["targetLabel"] for r in endpoint["relabelings"]}
    dashboard = dashboard_script().dashboard()
    selector = next(v for v in dashboard["templating"]["list"] if v["type"] == "query")

    assert selector["name"] in set_by_monitor
    assert selector["query"].endswith(f", {selector['name']})")
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            assert f'{selector["name"]}=~"${selector["name"]}"' in target["expr"], panel["title"]
