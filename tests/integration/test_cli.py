"""The ``ticketing`` command: a bad setting stops it with one line naming the variable."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest


def run_ticketing(*args: str, tmp_path: Path, **variables: str) -> subprocess.CompletedProcess[str]:
    env = {name: value for name, value in os.environ.items()
           if not name.startswith("TICKETING_")}
    env.update({"TICKETING_DATA_DIR": str(tmp_path / "data"), **variables})
    return subprocess.run([sys.executable, "-m", "ticketing", *args], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=60, check=False)


@pytest.mark.parametrize(("variable", "value"), [
    ("TICKETING_BUS", "kafka"),
    ("TICKETING_MODULES", "auth,billing"),
    ("TICKETING_EXPIRATION_SECONDS", "soon"),
    ("TICKETING_DATABASE_URL", "mysql://db/ticketing"),
])
def test_serve_with_a_bad_setting_exits_non_zero_with_one_line_naming_it(
    tmp_path: Path, variable: str, value: str,
) -> None:
    result = run_ticketing("serve", "--port", "1", tmp_path=tmp_path, **{variable: value})

    assert result.returncode != 0
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert variable in lines[0]
    assert "Traceback" not in result.stderr


def test_production_without_a_key_exits_naming_the_key(tmp_path: Path) -> None:
    result = run_ticketing("migrate", tmp_path=tmp_path, TICKETING_ENV="production",
                           TICKETING_SMTP_URL="smtp://smtp.test")

    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [
        "ticketing: TICKETING_JWT_KEY: is required when TICKETING_ENV=production"
    ]


def test_a_data_dir_that_is_a_file_exits_naming_the_data_dir(tmp_path: Path) -> None:
    (tmp_path / "data").write_text("")

    result = run_ticketing("serve", "--port", "1", tmp_path=tmp_path)

    assert result.returncode != 0
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "TICKETING_DATA_DIR" in result.stderr


def test_migrate_against_an_unreachable_database_fails_with_one_line(tmp_path: Path) -> None:
    result = run_ticketing("migrate", tmp_path=tmp_path,
                           TICKETING_DATABASE_URL="postgres://postgres@127.0.0.1:1/nowhere")

    assert result.returncode == 1
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert result.stderr.startswith("ticketing: cannot reach the database to migrate")


def test_migrate_creates_one_sqlite_database_per_enabled_module(tmp_path: Path) -> None:
    result = run_ticketing("migrate", tmp_path=tmp_path, TICKETING_MODULES="auth,orders")

    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in (tmp_path / "data").glob("*.sqlite3")) == [
        "auth.sqlite3", "orders.sqlite3",
    ]
    with sqlite3.connect(tmp_path / "data" / "auth.sqlite3") as connection:
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master")}
    assert "auth_users" in tables


def test_no_command_prints_usage_and_fails(tmp_path: Path) -> None:
    result = run_ticketing(tmp_path=tmp_path, TICKETING_JWT_KEY="k" * 32)

    assert result.returncode != 0
    assert "serve" in result.stdout


def test_version_is_the_one_in_pyproject(tmp_path: Path) -> None:
    declared = tomllib.loads((Path(__file__).resolve().parents[2] / "pyproject.toml")
                             .read_text())["project"]["version"]

    result = run_ticketing("--version", tmp_path=tmp_path)

    assert result.returncode == 0
    assert result.stdout == f"ticketing {declared}\n"
