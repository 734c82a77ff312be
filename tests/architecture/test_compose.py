"""The compose files for small teams: one container (SQLite in a volume), or with PostgreSQL.

No Docker engine runs here, so the files are read as Compose reads them: YAML with merge
keys, ``${VAR:-default}`` / ``${VAR:?message}`` interpolation, an override file merged over
the base. Every variable a service sets must be one that settings.py reads, and the
resulting environment must start the app.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

import ticketing
from tests.architecture.settings_names import settings_variables
from ticketing.settings import Settings

REPO = Path(__file__).resolve().parents[2]
BASE = REPO / "compose.yaml"
POSTGRES = REPO / "compose.postgres.yaml"
DOCKERFILE = REPO / "deploy" / "Dockerfile"
A_KEY = "k" * 48
A_PASS_KEY = "cGFzcy1rZXktb2YtdGhpcnR5LXR3by1ieXRlcy0wMTI"
AN_SMTP_URL = "smtp://ticketing:secret@smtp.example.com:587"
KEYS = {"TICKETING_JWT_KEY": A_KEY, "TICKETING_PASS_KEY": A_PASS_KEY,
        "TICKETING_SMTP_URL": AN_SMTP_URL}
INTERPOLATION = re.compile(r"\$\{(?P<name>[A-Z0-9_]+)(?:(?P<op>:-|:\?)(?P<arg>[^}]*))?\}")

Doc = dict[str, Any]


class MissingVariable(Exception):
    """A ``${VAR:?message}`` whose variable the user did not set: compose refuses to start."""


def interpolate(value: str, environ: Mapping[str, str]) -> str:
    """Compose's substitution of ``${VAR}``, ``${VAR:-default}`` and ``${VAR:?message}``."""

    def substitute(match: re.Match[str]) -> str:
        name, op, arg = match["name"], match["op"], match["arg"] or ""
        given = environ.get(name, "")
        if given:
            return given
        if op == ":?":
            raise MissingVariable(f"{name}: {arg}")
        return arg if op == ":-" else ""

    return INTERPOLATION.sub(substitute, value)


def merged(*files: Path) -> Doc:
    """Compose's merge of an override over a base: mappings merge, other values replace."""

    def merge(base: Any, override: Any) -> Any:
        if isinstance(base, dict) and isinstance(override, dict):
            return {**base, **{k: merge(base.get(k), v) for k, v in override.items()}}
        return override

    project: Doc = {}
    for path in files:
        project = merge(project, yaml.safe_load(path.read_text()))
    return project


def service_environment(service: Doc, environ: Mapping[str, str]) -> dict[str, str]:
    return {name: interpolate(str(value), environ)
            for name, value in (service.get("environment") or {}).items()}


def compose_problems(project: Doc, known: set[str]) -> list[str]:
    """What would make this project fail to build, start or keep its data."""
    problems = []
    services: dict[str, Doc] = project["services"]
    volumes = set(project.get("volumes") or {})
    for name, service in services.items():
        build = service.get("build")
        if build and not (REPO / build["context"] / build["dockerfile"]).is_file():
            problems.append(f"{name}: builds from a Dockerfile that does not exist")
        for variable in service.get("environment") or {}:
            if variable.startswith("TICKETING_") and variable not in known:
                problems.append(f"{name}: sets {variable}, which settings.py never reads")
        for mount in service.get("volumes") or []:
            source = mount.split(":", 1)[0]
            if not source.startswith((".", "/")) and source not in volumes:
                problems.append(f"{name}: mounts the undeclared volume {source}")
        for needed in service.get("depends_on") or {}:
            if needed not in services:
                problems.append(f"{name}: depends on {needed}, which is not a service")
    return problems


@pytest.fixture(params=["sqlite", "postgres"])
def project(request: pytest.FixtureRequest) -> Doc:
    return merged(BASE) if request.param == "sqlite" else merged(BASE, POSTGRES)


def test_each_compose_project_builds_the_image_and_sets_only_known_variables(
    project: Doc,
) -> None:
    assert compose_problems(project, settings_variables()) == []


def test_the_app_keeps_its_data_in_a_named_volume_at_the_images_data_dir(project: Doc) -> None:
    app = project["services"]["ticketing"]
    data_dir = re.search(r"TICKETING_DATA_DIR=(\S+)", DOCKERFILE.read_text())

    assert data_dir is not None
    assert f"ticketing-data:{data_dir[1]}" in app["volumes"]
    assert app["environment"]["TICKETING_DATA_DIR"] == data_dir[1]
    assert app["ports"] == ["${TICKETING_PORT:-8000}:8000"]


def test_every_service_image_is_this_release(project: Doc) -> None:
    images = {s["image"] for s in project["services"].values() if "build" in s}

    assert images == {f"ticketing:{ticketing.__version__}"}


def test_compose_refuses_to_start_production_without_a_signing_key(project: Doc) -> None:
    with pytest.raises(MissingVariable, match="TICKETING_JWT_KEY"):
        service_environment(project["services"]["ticketing"], {})
    with pytest.raises(MissingVariable, match="TICKETING_PASS_KEY"):
        service_environment(project["services"]["ticketing"], {"TICKETING_JWT_KEY": A_KEY})


def test_compose_refuses_to_start_production_without_an_smtp_server(project: Doc) -> None:
    keys = {"TICKETING_JWT_KEY": A_KEY, "TICKETING_PASS_KEY": A_PASS_KEY}
    for service in project["services"].values():
        if "build" in service:  # the app's and the migration's: both run mail
            with pytest.raises(MissingVariable, match="TICKETING_SMTP_URL"):
                service_environment(service, keys)


def test_every_ticketing_service_starts_with_valid_settings(project: Doc, tmp_path: Path) -> None:
    for name, service in project["services"].items():
        if "build" not in service:
            continue
        environ = service_environment(service, KEYS)
        settings = Settings.from_env({**environ, "TICKETING_DATA_DIR": str(tmp_path)})

        assert settings.env == "production", name
        assert settings.payments == "fake", name
        assert settings.smtp_url == AN_SMTP_URL, name


def test_with_postgres_the_app_waits_for_its_migrations_and_they_for_the_database() -> None:
    services = merged(BASE, POSTGRES)["services"]
    environ = service_environment(services["ticketing"], KEYS)

    assert services["ticketing"]["depends_on"] == {
        "migrate": {"condition": "service_completed_successfully"}}
    assert services["migrate"]["command"] == ["migrate"]
    assert services["migrate"]["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    assert environ["TICKETING_DATABASE_URL"].startswith("postgres://ticketing:")
    assert "@postgres:5432/" in environ["TICKETING_DATABASE_URL"]
    migrate = service_environment(services["migrate"], KEYS)
    assert migrate.items() <= environ.items()


def test_the_compose_check_catches_unknown_variables_volumes_and_services() -> None:
    project = merged(BASE, POSTGRES)
    app = project["services"]["ticketing"]
    app["environment"]["TICKETING_DATABASE"] = "postgres://x"
    app["volumes"].append("elsewhere:/data")
    app["depends_on"]["redis"] = {"condition": "service_started"}
    app["build"] = {"context": ".", "dockerfile": "Dockerfile"}

    assert compose_problems(project, settings_variables()) == [
        "ticketing: builds from a Dockerfile that does not exist",
        "ticketing: sets TICKETING_DATABASE, which settings.py never reads",
        "ticketing: mounts the undeclared volume elsewhere",
        "ticketing: depends on redis, which is not a service",
    ]
