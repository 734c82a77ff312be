"""A module's web slice, found by convention: the package ``ticketing.web.<module>``.

A slice defines ``SLICE`` (its blueprints: routes, pages, live stream). A module without
a package there has no web face (expiration); a package without ``SLICE`` is an error at
start-up, never a silently missing page.
"""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass

from quart import Blueprint


@dataclass(frozen=True)
class Slice:
    """What a module shows on the web: its blueprints, registered when it is enabled."""

    blueprints: tuple[Blueprint, ...]


def load_slice(module: str) -> Slice | None:
    """The web slice of ``module``, or ``None`` when it has none."""
    name = f"ticketing.web.{module}"
    if importlib.util.find_spec(name) is None:
        return None
    found = getattr(importlib.import_module(name), "SLICE", None)
    if not isinstance(found, Slice):
        raise TypeError(f"{name} does not define SLICE = Slice(...)")
    return found
