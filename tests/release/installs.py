"""Clean installations of ticketing for the release tests, and a check that one serves.

Every install here starts from an empty virtual environment and an environment without
the ``PIP_*``, ``UV_*`` and ``TICKETING_*`` variables a developer's shell may carry, as a
new user's machine would be (the uv cache is kept: it only saves downloads).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import httpx

from tests.support.processes import ServerProcess, free_port, server_environment

REPO = Path(__file__).resolve().parents[2]
UV = str(Path(sys.prefix) / "bin" / "uv")
INSTALL_TIMEOUT_SECONDS = 900
KEPT = ("UV_CACHE_DIR", "UV_PYTHON_DOWNLOADS")


def clean_environment() -> dict[str, str]:
    """This process's environment without installer or ticketing settings."""
    return {name: value for name, value in os.environ.items()
            if name in KEPT or not name.startswith(("PIP_", "UV_", "TICKETING_", "VIRTUAL_ENV"))}


def run(*command: str | Path, cwd: Path | None = None) -> str:
    """Run an install step; fail with its output if it fails."""
    result = subprocess.run([str(part) for part in command], cwd=cwd, env=clean_environment(),
                            capture_output=True, text=True, timeout=INSTALL_TIMEOUT_SECONDS,
                            check=False)
    assert result.returncode == 0, f"{command} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def source_tree(destination: Path, repo: Path = REPO) -> Path:
    """The files git knows of (tracked or new, none ignored), copied as a clean checkout."""
    listed = run("git", "ls-files", "--cached", "--others", "--exclude-standard", "-z", cwd=repo)
    for name in filter(None, listed.split("\0")):
        if (repo / name).is_file():
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(repo / name, destination / name)
    return destination


def locked_constraints(destination: Path) -> Path:
    """The lock's runtime versions as a constraints file, for installs made around uv sync."""
    run(UV, "export", "--frozen", "--no-hashes", "--no-emit-project", "--no-header",
        "--format", "requirements-txt", "--output-file", destination, cwd=REPO)
    return destination


def uv_venv(path: Path) -> str:
    """A new, empty virtual environment on this Python; its interpreter."""
    run(UV, "venv", "--no-config", "--python", sys.executable, path)
    return str(path / "bin" / "python")


def serves_pages_with_their_stylesheet(python: str, workdir: Path) -> None:
    """Start ``ticketing serve`` under ``python``; the landing page and its CSS must load."""
    server = ServerProcess(name=f"serve under {python}", port=free_port(),
                           data_dir=workdir / "data", log=workdir / "server.log",
                           env=server_environment(workdir / "data"), python=python)
    server.start_and_wait()
    try:
        page = httpx.get(f"{server.url}/", timeout=10)
        assert page.status_code == 200, page.text
        stylesheets = re.findall(r'<link rel="stylesheet" href="([^"]+)"', page.text)
        assert stylesheets, page.text
        for href in stylesheets:
            css = httpx.get(f"{server.url}{href}", timeout=10)
            assert css.status_code == 200, href
            assert css.headers["content-type"].startswith("text/css")
            assert "Bootstrap" in css.text[:500]
    finally:
        server.stop()
