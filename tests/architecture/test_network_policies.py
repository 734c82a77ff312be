"""The network-policy component: each policy selects what it claims and admits no more.

Built onto each layout with ``kubectl kustomize``: every policy selects exactly the
workloads it claims; only the Ingress's and Prometheus's namespaces reach the pods' http
port, only the modules reach NATS's 4222 and only NATS its 6222, only ticketing pods
may open PostgreSQL's 5432, and only the pod that runs mail SMTP's 25, 465 and 587.
Each check returns what it finds and is shown to fail on a planted mistake.
"""

from __future__ import annotations

import pytest

from tests.support.manifests import LAYOUTS, STATELESS_MODULES, Doc, build, named, of_kind, selected
from ticketing.settings import MODULE_NAMES

SPLIT_WORKLOADS = {*(f"ticketing-{m}" for m in MODULE_NAMES), "ticketing-migrate", "nats"}
SPLIT_MODULES = {f"ticketing-{m}" for m in MODULE_NAMES}
SMTP_PORTS = (25, 465, 587)  # relay, smtps://, submission (smtp:// with STARTTLS)
POLICY_CLAIMS = {
    "split": {
        "default-deny": SPLIT_WORKLOADS,
        "ticketing-from-ingress": {f"ticketing-{m}" for m in STATELESS_MODULES},
        "ticketing-from-monitoring": SPLIT_MODULES,
        "ticketing-to-dns-and-postgres": SPLIT_MODULES | {"ticketing-migrate"},
        "ticketing-to-nats": SPLIT_MODULES,
        "payments-to-stripe": {"ticketing-payments"},
        "mail-to-smtp": {"ticketing-mail"},
        "nats": {"nats"},
    },
    "one-process": {  # one pod does it all; there is no NATS to reach
        "default-deny": {"ticketing"}, "ticketing-from-ingress": {"ticketing"},
        "ticketing-from-monitoring": {"ticketing"}, "ticketing-to-dns-and-postgres":
        {"ticketing"}, "ticketing-to-nats": set(), "payments-to-stripe": {"ticketing"},
        "mail-to-smtp": {"ticketing"}, "nats": set(),
    },
}


# --- checks ---------------------------------------------------------------------------

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


# --- the policies ---------------------------------------------------------------------

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
    for port in SMTP_PORTS:  # wherever the relay is, and for mail alone
        assert {w: peers for w, peers in allowed_peers(docs, "egress", port).items()
                if peers} == {"ticketing-mail": {"cidr:0.0.0.0/0"}}, port


# --- each check can fail --------------------------------------------------------------

def test_the_policy_check_catches_a_selector_that_misses() -> None:
    docs = build("split", "network-policy")
    policy = named(docs, "NetworkPolicy", "ticketing-to-nats")
    policy["spec"]["podSelector"]["matchExpressions"][0]["values"].remove("expiration")

    assert policy_problems(docs, POLICY_CLAIMS["split"]) == [
        "NetworkPolicy/ticketing-to-nats selects ['ticketing-auth', 'ticketing-mail', "
        "'ticketing-orders', 'ticketing-payments', 'ticketing-tickets'], not "
        "['ticketing-auth', 'ticketing-expiration', 'ticketing-mail', 'ticketing-orders', "
        "'ticketing-payments', 'ticketing-tickets']"]


def test_the_peer_check_sees_nats_let_out_to_postgres() -> None:
    docs = build("split", "network-policy")
    nats = named(docs, "NetworkPolicy", "nats")
    nats["spec"]["egress"].append({"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}],
                                   "ports": [{"port": 5432}]})

    assert allowed_peers(docs, "egress", 5432)["nats"] == {"cidr:0.0.0.0/0"}


def test_the_peer_check_sees_smtp_left_to_a_module_that_does_not_mail() -> None:
    docs = build("split", "network-policy")
    smtp = named(docs, "NetworkPolicy", "mail-to-smtp")
    smtp["spec"]["podSelector"]["matchExpressions"][0]["values"].append("orders")

    assert {w for w, peers in allowed_peers(docs, "egress", 587).items() if peers} == {
        "ticketing-mail", "ticketing-orders"}
    assert policy_problems(docs, POLICY_CLAIMS["split"]) == [
        "NetworkPolicy/mail-to-smtp selects ['ticketing-mail', 'ticketing-orders'], "
        "not ['ticketing-mail']"]
