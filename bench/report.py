"""Writes one benchmark's section of docs/benchmarks.md, leaving the others alone."""

from __future__ import annotations

import datetime
import re

from bench.common import ROOT

REPORT = ROOT / "docs" / "benchmarks.md"


def write_section(title: str, body: str) -> None:
    """Replace (or append) the section between this title's markers."""
    start, end = f"<!-- {title}: start -->", f"<!-- {title}: end -->"
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    section = f"{start}\n## {title}\n\nMeasured {stamp}.\n\n{body}\n{end}"
    text = REPORT.read_text() if REPORT.exists() else "# Benchmarks\n"
    pattern = re.compile(re.escape(start) + ".*?" + re.escape(end), re.DOTALL)
    if pattern.search(text):
        text = pattern.sub(lambda _: section, text)
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    REPORT.write_text(text)
