"""Writes ``ticketing.json``, the Grafana dashboard of the product's metrics.

The dashboard is data built from the panel list below, so each panel is one line and no
JSON is written by hand; ``tests/architecture/test_operations.py`` checks that the file
is this script's output and that every query names a series the code exports.

    python deploy/grafana/build.py        # rewrite deploy/grafana/ticketing.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

OUTPUT = Path(__file__).with_name("ticketing.json")
RATE = "[5m]"
# Every query narrows to the pods of the modules chosen (the PodMonitor's target label).
SEL = '{component=~"$component"}'
SEL_5XX = '{component=~"$component",status=~"5.."}'

# (row, title, unit, [(query, legend)]) - `$component` narrows to one module's pods (the
# PodMonitor's target label, from the pods' app.kubernetes.io/component).
PANELS: list[tuple[str, str, str, list[tuple[str, str]]]] = [
    ("Traffic", "Requests per second by route", "reqps", [
        (f"sum by (route) (rate(ticketing_http_requests_total{SEL}{RATE}))",
         "{{route}}")]),
    ("Traffic", "Server errors (5xx) per second", "reqps", [
        (f"sum by (route) (rate(ticketing_http_requests_total{SEL_5XX}"
         f"{RATE}))", "{{route}}")]),
    ("Traffic", "Latency p95 by route", "s", [
        ("histogram_quantile(0.95, sum by (le, route) (rate("
         f"ticketing_http_request_duration_seconds_bucket{SEL}{RATE})))",
         "{{route}}")]),
    ("Traffic", "Requests in flight and shed", "short", [
        (f"sum(ticketing_http_requests_in_flight{SEL})", "in flight"),
        (f"sum(ticketing_shedding_bound{SEL})", "admitted at most"),
        (f"sum by (kind) (rate(ticketing_requests_shed_total{SEL}"
         f"{RATE}))", "shed/s {{kind}}")]),
    ("Traffic", "Open live streams", "short", [
        (f"sum(ticketing_live_streams_open{SEL})", "streams")]),
    ("Events", "Outbox backlog by module", "short", [
        (f"max by (module) (ticketing_outbox_backlog{SEL})", "{{module}}")]),
    ("Events", "Oldest unsent outbox row", "s", [
        (f"max by (module) (ticketing_outbox_oldest_unsent_age_seconds{SEL})",
         "{{module}}")]),
    ("Events", "Events published per second", "ops", [
        (f"sum by (module) (rate(ticketing_events_published_total{SEL}{RATE}))",
         "{{module}}")]),
    ("Events", "Deliveries per second by outcome", "ops", [
        ("sum by (consumer, outcome) (rate(ticketing_events_consumed_total"
         f"{SEL}{RATE}))", "{{consumer}} {{outcome}}")]),
    ("Events", "Consumer lag (JetStream)", "short", [
        (f"max by (consumer) (ticketing_consumer_lag{SEL})", "{{consumer}}")]),
    ("Events", "Redeliveries and dead letters (1h)", "short", [
        (f"sum by (consumer) (increase(ticketing_events_redelivered_total{SEL}[1h]))",
         "redelivered {{consumer}}"),
        (f"sum by (consumer) (increase(ticketing_events_dead_lettered_total{SEL}[1h]))",
         "dead-lettered {{consumer}}")]),
    ("Events", "Dead letters waiting for a replay", "short", [
        (f"max by (consumer) (ticketing_dead_letters_unreplayed{SEL})",
         "{{consumer}}")]),
    ("Events", "Handler latency p95", "s", [
        ("histogram_quantile(0.95, sum by (le, consumer) (rate("
         f"ticketing_event_handler_duration_seconds_bucket{SEL}{RATE})))",
         "{{consumer}}")]),
    ("Sales", "Reservations per second by outcome", "ops", [
        (f"sum by (outcome) (rate(ticketing_reservations_total{SEL}{RATE}))",
         "{{outcome}}")]),
    ("Sales", "Orders closed per second by state", "ops", [
        (f"sum by (state) (rate(ticketing_orders_closed_total{SEL}{RATE}))",
         "{{state}}")]),
    ("Sales", "Pending expirations", "short", [
        (f"max(ticketing_expirations_pending{SEL})", "pending")]),
    ("Sales", "Oldest deadline overdue", "s", [
        (f"max(ticketing_expiration_overdue_seconds{SEL})", "overdue")]),
    ("Sales", "Expiry lateness p95", "s", [
        ("histogram_quantile(0.95, sum by (le) (rate("
         f"ticketing_expiry_lateness_seconds_bucket{SEL}{RATE})))", "p95")]),
    ("Sales", "Payments per second by outcome", "ops", [
        (f"sum by (outcome) (rate(ticketing_payments_total{SEL}{RATE}))",
         "{{outcome}}")]),
    ("Sales", "Payment provider latency p95", "s", [
        ("histogram_quantile(0.95, sum by (le, operation) (rate("
         f"ticketing_payment_provider_duration_seconds_bucket{SEL}{RATE})))",
         "{{operation}}")]),
    ("Mail", "Mail attempts per second by outcome", "ops", [
        (f"sum by (outcome) (rate(ticketing_mail_messages_total{SEL}{RATE}))",
         "{{outcome}}")]),
]


def dashboard() -> dict[str, Any]:
    panels: list[dict[str, Any]] = []
    rows: list[str] = []
    for index, (row, title, unit, targets) in enumerate(PANELS):
        if row not in rows:
            rows.append(row)
            panels.append({"type": "row", "title": row, "id": 100 + len(rows),
                           "gridPos": {"h": 1, "w": 24, "x": 0, "y": index * 8}})
        panels.append({
            "type": "timeseries", "title": title, "id": index + 1,
            "datasource": {"type": "prometheus", "uid": "${datasource}"},
            "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
            "gridPos": {"h": 8, "w": 12, "x": 12 * (index % 2), "y": index * 8 + 1},
            "targets": [{"expr": expr, "legendFormat": legend, "refId": chr(65 + n)}
                        for n, (expr, legend) in enumerate(targets)],
        })
    return {
        "title": "Ticketing", "uid": "ticketing", "schemaVersion": 39, "version": 1,
        "tags": ["ticketing"], "time": {"from": "now-6h", "to": "now"}, "refresh": "30s",
        "templating": {"list": [
            {"name": "datasource", "type": "datasource", "query": "prometheus"},
            {"name": "component", "type": "query", "datasource": {"uid": "${datasource}"},
             "query": "label_values(ticketing_http_requests_total, component)",
             "includeAll": True, "multi": True, "allValue": ".*"},
        ]},
        "panels": panels,
    }


def render() -> str:
    return json.dumps(dashboard(), indent=2) + "\n"


if __name__ == "__main__":
    OUTPUT.write_text(render())
    sys.stdout.write(f"wrote {OUTPUT}\n")
