"""Installs without the Makefile: the wheel and the sdist, ``pip install .``, a clean venv.

The artifacts are built from a copy of the source tree with ``python -m build`` (sdist,
then the wheel from the sdist, as a release would), checked for the files the app reads
at run time, installed into empty environments and started.
"""

from __future__ import annotations

import subprocess
import sys
import tarfile
import tomllib
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.release.installs import (
    REPO,
    locked_constraints,
    run,
    serves_pages_with_their_stylesheet,
    source_tree,
    uv_venv,
)

pytestmark = pytest.mark.slow
VERSION = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]


@dataclass(frozen=True)
class Artifacts:
    wheel: Path
    sdist: Path


def runtime_files() -> set[str]:
    """What an installation must hold: every template, script and migration, by wheel path."""
    web = REPO / "src" / "ticketing" / "web"
    templates = {f"ticketing/{p.relative_to(REPO / 'src' / 'ticketing').as_posix()}"
                 for folder in ("templates", "static") for p in (web / folder).rglob("*")
                 if p.is_file()}
    migrations = {f"ticketing_migrations/{p.relative_to(REPO / 'migrations').as_posix()}"
                  for p in (REPO / "migrations").rglob("*.py")}
    return templates | migrations


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> Artifacts:
    tree = source_tree(tmp_path_factory.mktemp("source"))
    dist = tmp_path_factory.mktemp("dist")
    run(sys.executable, "-m", "build", "--installer", "uv", "--outdir", dist, tree)
    wheels, sdists = list(dist.glob("*.whl")), list(dist.glob("*.tar.gz"))
    assert len(wheels) == len(sdists) == 1, list(dist.iterdir())
    return Artifacts(wheels[0], sdists[0])


def test_the_wheel_holds_the_templates_and_migrations_and_this_version(
    artifacts: Artifacts,
) -> None:
    with zipfile.ZipFile(artifacts.wheel) as wheel:
        names = set(wheel.namelist())
        metadata = wheel.read(f"ticketing-{VERSION}.dist-info/METADATA").decode()

    assert artifacts.wheel.name == f"ticketing-{VERSION}-py3-none-any.whl"
    assert runtime_files() - names == set()
    assert "ticketing/cli.py" in names
    assert f"Version: {VERSION}\n" in metadata
    assert "xstatic" not in metadata.lower()


def test_the_sdist_holds_the_sources_the_lock_and_the_migrations(artifacts: Artifacts) -> None:
    root = f"ticketing-{VERSION}"
    with tarfile.open(artifacts.sdist) as sdist:
        names = set(sdist.getnames())

    assert {f"{root}/pyproject.toml", f"{root}/README.md", f"{root}/uv.lock"} <= names
    assert {f"{root}/src/{n}" for n in runtime_files() if n.startswith("ticketing/")} <= names
    assert {f"{root}/migrations/{n.removeprefix('ticketing_migrations/')}"
            for n in runtime_files() if n.startswith("ticketing_migrations/")} <= names


def test_the_wheel_in_a_clean_venv_serves_the_pages_with_their_stylesheet(
    artifacts: Artifacts, tmp_path: Path,
) -> None:
    python = uv_venv(tmp_path / "venv")
    run(sys.prefix + "/bin/uv", "pip", "install", "--no-config", "--python", python,
        "--constraints", locked_constraints(tmp_path / "constraints.txt"), artifacts.wheel)

    version = subprocess.run([python, "-m", "ticketing", "--version"], capture_output=True,
                             text=True, check=False)
    assert version.stdout.strip() == f"ticketing {VERSION}"
    serves_pages_with_their_stylesheet(python, tmp_path)


def test_pip_install_dot_with_the_newest_pip_serves_the_pages_with_their_stylesheet(
    tmp_path: Path,
) -> None:
    tree = source_tree(tmp_path / "source")
    run(sys.executable, "-m", "venv", tmp_path / "venv")
    python = str(tmp_path / "venv" / "bin" / "python")
    run(python, "-m", "pip", "install", "--quiet", "--upgrade", "pip")
    run(python, "-m", "pip", "install", "--quiet", tree)

    serves_pages_with_their_stylesheet(python, tmp_path)
