"""Shared by the architecture tests: where the source lives, copies of it, the facade rule.

The rule checks run in a subprocess against a copy of ``src/ticketing`` when a test
plants a violation, so the copy (first on ``PYTHONPATH``) is what gets analysed.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import grimp

REPOSITORY = Path(__file__).resolve().parents[2]
SOURCE = REPOSITORY / "src" / "ticketing"
PYPROJECT = REPOSITORY / "pyproject.toml"

# The web layer and the composition root; they may reach a module only through its facade.
FACADE_USERS = ("ticketing.app", "ticketing.web")


LINT = (
    "import sys\n"
    "from importlinter.cli import lint_imports\n"
    "sys.exit(lint_imports(config_filenames=(sys.argv[1],), no_cache=True, no_logo=True))\n"
)


def copy_source(destination: Path) -> Path:
    """A copy of the ``ticketing`` package under ``destination``; returns the package dir."""
    package = destination / "ticketing"
    shutil.copytree(SOURCE, package, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return package


def plant_import(module_file: Path, statement: str) -> None:
    """Append a deliberately bad import to one file of a copied tree."""
    with module_file.open("a") as handle:
        handle.write(f"\n{statement}  # planted by an architecture test\n")


def run_python(code: str, source_root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run ``code`` with ``source_root`` first on the import path (so its ``ticketing`` wins)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(source_root), str(REPOSITORY)])}
    return subprocess.run([sys.executable, "-c", code, *args], env=env, cwd=source_root,
                          capture_output=True, text=True, timeout=120, check=False)


def facade_violations(graph: grimp.ImportGraph) -> set[tuple[str, str]]:
    """Imports from the web layer or ``ticketing.app`` into a module's internals.

    Allowed: ``ticketing.modules`` (the registry), ``ticketing.modules.<m>`` and
    ``ticketing.modules.<m>.api``. Anything deeper is a violation.
    """
    importers = {m for m in graph.modules
                 if any(m == user or m.startswith(f"{user}.") for user in FACADE_USERS)}
    found: set[tuple[str, str]] = set()
    for importer in importers:
        for imported in graph.find_modules_directly_imported_by(importer):
            parts = imported.split(".")
            if parts[:2] != ["ticketing", "modules"] or len(parts) <= 3:
                continue
            if len(parts) == 4 and parts[3] == "api":
                continue
            found.add((importer, imported))
    return found


def facade_violations_in(source_root: Path) -> set[tuple[str, str]]:
    """:func:`facade_violations` of the ``ticketing`` package found under ``source_root``."""
    code = (
        "import json, grimp\n"
        "from tests.architecture.boundaries import facade_violations\n"
        "graph = grimp.build_graph('ticketing', cache_dir=None)\n"
        "print(json.dumps(sorted(facade_violations(graph))))\n"
    )
    result = run_python(code, source_root)
    assert result.returncode == 0, result.stderr
    return {(importer, imported) for importer, imported in json.loads(result.stdout)}
