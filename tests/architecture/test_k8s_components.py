"""The components a team switches on: nats-cluster, autoscaling and monitoring.

Each is built onto the layouts it is for with ``kubectl kustomize`` and checked for what
it must do: three NATS nodes routed into one cluster that syncs every write (and the NATS
config passes ``nats-server -t``, alone and as the cluster); an autoscaler and a
disruption budget per stateless module and none for expiration, every layout within
PostgreSQL's connections at its most replicas; a PodMonitor that scrapes every serving
pod. The network-policy component is checked in test_network_policies.py. Each check
returns its problems and is shown to fail on a planted mistake.
"""

from __future__ import annotations

import copy
import math
import re
import subprocess
from pathlib import Path

import pytest

from tests.support.manifests import (
    LAYOUTS,
    STATELESS_MODULES,
    BuildError,
    Doc,
    build,
    example_secrets,
    main_container,
    module_of,
    named,
    of_kind,
    pod_spec,
    selected,
    settings_of,
    ticketing_containers,
    workloads,
)
from tests.support.nats import server_binary
from ticketing.settings import MODULE_NAMES, Settings

# PostgreSQL's default max_connections (100) less superuser_reserved_connections (3).
POSTGRES_CONNECTIONS = 97


# --- checks ---------------------------------------------------------------------------

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
    per module, while the migration runs (a pool per module, of the size its container
    sets, and its lock)."""
    ceilings = {h["spec"]["scaleTargetRef"]["name"]: h["spec"]["maxReplicas"]
                for h in of_kind(docs, "HorizontalPodAutoscaler")}
    total = 0
    for deployment in of_kind(docs, "Deployment"):
        replicas = ceilings.get(deployment["metadata"]["name"],
                                deployment["spec"].get("replicas", 1))
        settings = settings_of(main_container(deployment), secrets, data_dir)
        total += (replicas + math.ceil(replicas / 4)) * len(settings.modules) * \
            settings.db_pool_size
    migrations = [settings_of(c, secrets, data_dir) for w in workloads(docs)
                  for c in ticketing_containers(w) if c.get("args") == ["migrate"]]
    assert len(migrations) == 1, "one migration per layout (a Job, or the init container)"
    return total + sum(len(m.modules) * m.db_pool_size + 1 for m in migrations)


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


# --- the components -------------------------------------------------------------------

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
def test_prometheus_scrapes_every_serving_pod(layout: str) -> None:
    docs = build(layout, "monitoring")

    assert pod_monitor_problems(docs) == []
    for deployment in of_kind(docs, "Deployment"):
        annotations = deployment["spec"]["template"]["metadata"]["annotations"]
        assert annotations["prometheus.io/port"] == str(main_container(deployment)
                                                        ["ports"][0]["containerPort"])


# --- each check can fail --------------------------------------------------------------

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

    assert len(problems) == len(STATELESS_MODULES)
    assert all(p.endswith("which this build does not have") for p in problems), problems


@pytest.mark.parametrize("module", STATELESS_MODULES)
def test_the_connection_budget_catches_one_replica_too_many(module: str, tmp_path: Path) -> None:
    docs = build("split", "autoscaling")
    before = peak_connections(docs, example_secrets(), tmp_path)
    named(docs, "HorizontalPodAutoscaler", f"ticketing-{module}")["spec"]["maxReplicas"] += 1
    pool = settings_of(main_container(named(docs, "Deployment", f"ticketing-{module}")),
                       example_secrets(), tmp_path).db_pool_size

    after = peak_connections(docs, example_secrets(), tmp_path)

    assert after == before + pool
    assert after > POSTGRES_CONNECTIONS, "three at most: a fourth replica must not fit"


def test_the_connection_budget_counts_the_migrations_own_pool(tmp_path: Path) -> None:
    docs = build("split", "autoscaling")
    before = peak_connections(docs, example_secrets(), tmp_path)
    migrate = main_container(named(docs, "Job", "ticketing-migrate"))
    migrate["env"] = [e for e in migrate["env"] if e["name"] != "TICKETING_DB_POOL_SIZE"]

    after = peak_connections(docs, example_secrets(), tmp_path)

    assert after == before + len(MODULE_NAMES) * (Settings().db_pool_size - 1)
    assert after > POSTGRES_CONNECTIONS


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


def test_the_pod_monitor_check_catches_a_wrong_port_and_path() -> None:
    docs = build("one-process", "monitoring")
    [monitor] = of_kind(docs, "PodMonitor")
    monitor["spec"]["podMetricsEndpoints"][0].update(port="metrics", path="/stats")

    assert pod_monitor_problems(docs) == ["the PodMonitor scrapes /stats, not /metrics",
                                          "ticketing has no port 'metrics' to scrape"]
