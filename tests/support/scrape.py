"""Reading Prometheus' text format: one series' value, and how a scrape moved."""

from __future__ import annotations

from collections.abc import Mapping

from prometheus_client.parser import text_string_to_metric_families

Series = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> Series:
    """Every sample of a scrape, by (name, labels)."""
    return {(sample.name, frozenset(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


def value(series: Series, name: str, **labels: str) -> float:
    """The sum of ``name``'s samples whose labels include ``labels`` (0 when none)."""
    wanted = set(labels.items())
    return sum(v for (n, have), v in series.items() if n == name and wanted <= have)


def moved(before: Series, after: Series, name: str, **labels: str) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


def label_values(series: Series, label: str) -> set[str]:
    return {value for (_, labels) in series for key, value in labels if key == label}


def has(series: Series, name: str, labels: Mapping[str, str] | None = None) -> bool:
    wanted = set((labels or {}).items())
    return any(n == name and wanted <= have for (n, have) in series)
