"""The Kubernetes manifests under deploy/k8s, loaded and built, for the manifest tests.

Each layout (``one-process``, ``split``), alone or with the components a team switches
on, is built with ``kubectl kustomize`` (once per session: the builds are cached); the
helpers below pick objects, pod templates, containers and their environment out of a
build, and read the settings a container would start with.
"""

from __future__ import annotations

import base64
import functools
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from ticketing.settings import Settings

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
K8S = DEPLOY / "k8s"
SECRETS_EXAMPLE = K8S / "secrets.example.yaml"
LAYOUTS = ("one-process", "split")
# What a team switches on, and the layouts each one is for (one-process has no NATS, and
# its one replica is not scaled: one-process/migrate-first.yaml).
COMPONENTS = {"nats-cluster": ("split",), "autoscaling": ("split",),
              "monitoring": LAYOUTS, "network-policy": LAYOUTS}
# The modules whose replicas all do the same work (expiration's scheduler holds a lease):
# an autoscaler each, and, as each serves routes, the Ingress's traffic.
STATELESS_MODULES = ("auth", "tickets", "orders", "payments", "mail")

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


def settings_of(container: Doc, secrets: dict[str, dict[str, str]], data_dir: Path) -> Settings:
    """The settings a container would start with, Secrets replaced by the examples."""
    environ = {"TICKETING_DATA_DIR": str(data_dir)}
    for name, entry in env_of(container).items():
        if "value" in entry:
            environ[name] = str(entry["value"])
        elif ref := entry.get("valueFrom", {}).get("secretKeyRef"):
            environ[name] = secrets[ref["name"]][ref["key"]]
    return Settings.from_env(environ)
