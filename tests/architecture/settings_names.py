"""The names of the ``TICKETING_*`` variables, read from settings.py's source."""

from __future__ import annotations

import re
from pathlib import Path

from ticketing.settings import MODULE_NAMES

SETTINGS_SOURCE = Path(__file__).resolve().parents[2] / "src" / "ticketing" / "settings.py"


def settings_variables() -> set[str]:
    """Every ``TICKETING_*`` variable that settings.py reads, per-module ones expanded."""
    source = SETTINGS_SOURCE.read_text()
    names = set(re.findall(r'"(TICKETING_[A-Z0-9_]+)"', source))
    for suffix in re.findall(r'f"TICKETING_\{module\.upper\(\)\}_([A-Z0-9_]+)"', source):
        names |= {f"TICKETING_{module.upper()}_{suffix}" for module in MODULE_NAMES}
    return names
