"""How long the README's two commands take on a fresh clone, as a new user runs them.

Run with ``make bench-setup`` (or ``python -m bench.setup``). Each measurement clones the
committed HEAD into a new folder and runs, with no ``PIP_*``/``UV_*``/``TICKETING_*``
variables set:

- ``make run`` until the landing page and its stylesheet answer 200 (venvs, the newest
  pip and uv, the locked set, migrations of a new SQLite data dir, uvicorn started);
- ``make test`` until pytest has collected the suite (the same set-up, then ruff, mypy
  and collection: the moment the tests start).

Both run with empty pip and uv caches (a new machine: every wheel downloaded) and with
warm ones (a second clone on the same machine). Results go to docs/benchmarks.md.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

from bench.common import ROOT, free_port, machine
from bench.report import write_section

SERVE_TIMEOUT_SECONDS = 600.0


def new_user_environment(cache: Path | None) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items()
           if not name.startswith(("PIP_", "UV_", "TICKETING_", "VIRTUAL_ENV"))}
    if cache is not None:
        env.update(UV_CACHE_DIR=str(cache / "uv"), PIP_NO_CACHE_DIR="1")
    return env


def clone(into: Path) -> Path:
    subprocess.run(["git", "clone", "-q", str(ROOT), str(into)], check=True)
    return into


def page_and_stylesheet_load(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as page:
            html = page.read().decode()
        href = re.search(r'<link rel="stylesheet" href="([^"]+)"', html)
        if href is None:
            return False
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{href[1]}", timeout=2) as css:
            return css.status == 200
    except OSError:
        return False


def time_make_run(checkout: Path, env: dict[str, str]) -> float:
    port = free_port()
    started = time.monotonic()
    process = subprocess.Popen(["make", "run", f"PORT={port}"], cwd=checkout, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
                               start_new_session=True)
    try:
        while not page_and_stylesheet_load(port):
            if process.poll() is not None:
                raise RuntimeError(f"make run exited with {process.returncode}")
            if time.monotonic() - started > SERVE_TIMEOUT_SECONDS:
                raise RuntimeError("make run did not serve in time")
            time.sleep(0.1)
        return time.monotonic() - started
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait()


def time_make_test_until_collected(checkout: Path, env: dict[str, str]) -> float:
    started = time.monotonic()
    subprocess.run(["make", "test"], cwd=checkout, check=True, stdout=subprocess.DEVNULL,
                   env={**env, "PYTEST_ADDOPTS": "--collect-only -q"})
    return time.monotonic() - started


def measure(command: Callable[[Path, dict[str, str]], float], cold: bool) -> float:
    with tempfile.TemporaryDirectory(prefix="bench-setup-") as tmp:
        cache = Path(tmp) / "cache" if cold else None
        return command(clone(Path(tmp) / "checkout"), new_user_environment(cache))


def main() -> None:
    had_chromium = shutil.which("chromium") is not None
    rows = []
    for label, command in (("`make run` until the page and its stylesheet load", time_make_run),
                           ("`make test` until the tests start (set-up, ruff, mypy, collection)",
                            time_make_test_until_collected)):
        cold = measure(command, cold=True)
        warm = measure(command, cold=False)
        rows.append(f"| {label} | {cold:.1f} s | {warm:.1f} s |")
        print(rows[-1], flush=True)
    body = "\n".join([
        f"Machine: {machine()}. Each cell is one fresh `git clone` of HEAD with no `PIP_*`,",
        "`UV_*` or `TICKETING_*` variables (`make bench-setup`). Cold: empty pip and uv",
        "caches, so every wheel is downloaded from PyPI, as on a new machine; warm: the",
        "caches of an earlier clone on the same machine (what a second checkout costs).",
        "",
        "| README command, on a fresh clone | cold caches | warm caches |",
        "|---|---|---|",
        *rows,
        "",
        "The cold `make test` cell " + ("ran where Debian's chromium was already installed."
                                        if had_chromium else
                                        "includes installing Debian's chromium with apt-get "
                                        "(the browser tests' one-time set-up on a new machine)."),
    ])
    write_section("Set-up on a fresh clone", body)


if __name__ == "__main__":
    main()
