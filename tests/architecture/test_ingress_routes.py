"""The Ingress of each layout sends every route of the app to a module that serves it.

The route map of the app (of each module alone, and of all of them) is walked against the
Ingress paths that ``kubectl kustomize`` builds, choosing the longest matching path as
ingress-nginx does; ``make split``'s router reads the same routes; every host is served
over TLS. The check is shown to fail on planted mistakes.
"""

from __future__ import annotations

import copy

import pytest
from quart import Quart

from tests.support.ingress import Route, ingress_routes, route_for
from tests.support.manifests import (
    K8S,
    LAYOUTS,
    Doc,
    build,
    load_documents,
    module_of,
    of_kind,
    pod_labels,
)
from ticketing.app import create_app
from ticketing.settings import MODULE_NAMES, Settings


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


TEST_KEY = "deploy-manifest-test-signing-key-0123456789"


@pytest.fixture(scope="module")
def apps(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Quart]:
    """The app of every module alone, and of all of them ("all"); nothing is started."""
    data_dir = tmp_path_factory.mktemp("route-maps")
    built = {}
    for name, modules in [("all", MODULE_NAMES), *[(m, (m,)) for m in MODULE_NAMES]]:
        built[name] = create_app(Settings(env="test", data_dir=data_dir, jwt_key=TEST_KEY,
                                          modules=modules))
    return built


# --- the routes -----------------------------------------------------------------------

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
        "/api/queue": "orders", "/queue": "orders", "/live/queue": "orders",
        "/api/payments": "payments", "/payments": "payments",
        "/api/payouts": "payments", "/payouts": "payments",
        "/api/waitlist": "orders", "/waitlist": "orders", "/live/waitlist": "orders",
        "/dev/mail": "mail",
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


# --- each check can fail --------------------------------------------------------------

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
