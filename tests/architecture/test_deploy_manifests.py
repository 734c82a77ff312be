"""The Kubernetes manifests under deploy/ agree with the app: every build, and each layout.

No cluster is needed. Each layout (``one-process``, ``split``), alone and with each
component a team switches on, and each dev overlay, is built with ``kubectl kustomize``
and validated against the Kubernetes schemas (kubernetes-validate, offline); every
workload has probes, limits and its modules; every variable is one that settings.py
reads, every container starts with valid settings and every key comes from a declared
Secret; the split runs each module once over NATS and one-process runs them all. Each
check is a function that returns its problems, and each is shown to fail on a planted
mistake. Beside this file: the Ingress's routes (test_ingress_routes.py), the components
(test_k8s_components.py), the source tree (test_kustomize_tree.py) and the image
(test_container_image.py).
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

import ticketing
from tests.architecture.settings_names import settings_variables
from tests.support.manifests import (
    BUILDS,
    DEV_BUILDS,
    LAYOUTS,
    SECRETS_EXAMPLE,
    Doc,
    build,
    build_id,
    env_of,
    example_secrets,
    load_documents,
    main_container,
    of_kind,
    plain_env,
    pod_spec,
    secrets_of,
    settings_of,
    ticketing_containers,
    workloads,
)
from ticketing.settings import MODULE_NAMES, SettingsError

KUBERNETES_VERSION = "1.30.0"


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
    secret_variables = {"TICKETING_JWT_KEY", "TICKETING_PASS_KEY", "TICKETING_DATABASE_URL",
                        "TICKETING_STRIPE_KEY", "TICKETING_STRIPE_WEBHOOK_SECRET",
                        "TICKETING_SMTP_URL"}
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


@pytest.mark.parametrize(("layout", "components"), DEV_BUILDS,
                         ids=[build_id(b) for b in DEV_BUILDS])
def test_the_dev_overlays_read_only_the_secrets_they_generate(
    layout: str, components: tuple[str, ...],
) -> None:
    docs = build(layout, *components)
    generated = {s["metadata"]["name"]: dict(s["data"]) for s in of_kind(docs, "Secret")}

    # A local cluster has none of production's Secrets (database, Stripe, SMTP).
    assert secret_problems(docs, generated) == []


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
        if settings.modules[0] == "mail":  # production mail leaves through SMTP
            assert settings.smtp_url.startswith(("smtp://", "smtps://"))
            assert settings.public_url == "https://tickets.example.com", "the Ingress's host"
        else:  # the relay's password stays with mail
            assert not settings.smtp_url

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
    assert settings.smtp_url
    assert settings.public_url == "https://tickets.example.com"
    assert not settings.uses_embedded_database
    assert deployment["spec"]["replicas"] == 1, "its init container migrates (migrate-first)"
    assert [c["args"] for c in pod_spec(deployment)["initContainers"]] == [["migrate"]]
    assert of_kind(one_process_docs, "Service")


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


@pytest.mark.parametrize("layout", LAYOUTS)
def test_the_settings_check_catches_mail_without_its_smtp_server(
    layout: str, tmp_path: Path,
) -> None:
    docs = build(layout)
    runs_mail = [c for w in workloads(docs) for c in ticketing_containers(w)
                 if "mail" in settings_of(c, example_secrets(), tmp_path).modules]
    # The server's and the migration's (which runs every module, mail too).
    assert sorted(c["name"] for c in runs_mail) == ["migrate", "ticketing"]

    for container in runs_mail:
        broken = copy.deepcopy(container)
        broken["env"] = [e for e in broken["env"] if e["name"] != "TICKETING_SMTP_URL"]
        with pytest.raises(SettingsError, match="TICKETING_SMTP_URL"):
            settings_of(broken, example_secrets(), tmp_path)
