"""skaffold.yaml, checked offline: no Skaffold binary (and no cluster) exists here.

Its structure is checked (the schema version, the profiles, the artifact, the sync
rules, the manifests and the port-forwards) and so is what it relies on in the manifests
it deploys: the image name it rewrites, a writable place to sync into that Python imports
first, and a server that reloads. Each check returns its problems and is shown to fail
on a planted mistake.
"""

from __future__ import annotations

import copy
import functools
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
SKAFFOLD = REPO / "skaffold.yaml"
PROFILES = ("one-process", "split")
IMAGE = "ticketing"  # the name every manifest gives the image
SAMPLE = "src/ticketing/app.py"

Doc = dict[str, Any]


def load() -> Doc:
    config: Doc = yaml.safe_load(SKAFFOLD.read_text())
    return config


def glob_regex(pattern: str) -> re.Pattern[str]:
    """Skaffold's glob (doublestar): ``**`` spans folders, ``*`` stays within one."""
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(out + r"\Z")


def synced_to(rules: list[Doc], relative: str) -> list[str]:
    """Where Skaffold copies a changed file (relative to the context), as it maps it:
    the destination, joined with the path less the rule's ``strip``."""
    return [str(Path(rule["dest"]) / relative.removeprefix(rule.get("strip", "")))
            for rule in rules if glob_regex(rule["src"]).match(relative)]


def structure_problems(config: Doc, repo: Path) -> list[str]:
    """The shape ``skaffold dev -p <profile>`` needs, checked against the repository."""
    problems = []
    if not re.fullmatch(r"skaffold/v4beta\d+", str(config.get("apiVersion"))):
        problems.append(f"apiVersion {config.get('apiVersion')!r} is not skaffold/v4beta*")
    if config.get("kind") != "Config":
        problems.append("kind is not Config")
    artifacts = {a["image"]: a for a in config.get("build", {}).get("artifacts", [])}
    artifact = artifacts.get(IMAGE)
    if artifact is None:
        problems.append(f"no artifact named {IMAGE!r}, the manifests' image")
    else:
        context = repo / artifact.get("context", ".")
        if not (context / artifact["docker"]["dockerfile"]).is_file():
            problems.append(f"no Dockerfile at {artifact['docker']['dockerfile']}")
        files = [p.relative_to(context).as_posix() for p in context.rglob("*")
                 if p.is_file() and "__pycache__" not in p.parts]
        rules = artifact.get("sync", {}).get("manual", [])
        for rule in rules:
            if not any(glob_regex(rule["src"]).match(f) for f in files):
                problems.append(f"sync rule {rule['src']!r} matches no file")
            if not rule["src"].startswith(rule.get("strip", "")):
                problems.append(f"sync rule {rule['src']!r} strips {rule.get('strip')!r}, "
                                f"not a prefix of it")
            if not rule["dest"].startswith("/"):
                problems.append(f"sync rule {rule['src']!r}: relative destination")
        if not synced_to(rules, SAMPLE):
            problems.append(f"a change to {SAMPLE} is not synced")
    profiles = {p["name"]: p for p in config.get("profiles", [])}
    for name in PROFILES:
        profile = profiles.get(name)
        if profile is None:
            problems.append(f"no profile {name}")
            continue
        paths = profile.get("manifests", {}).get("kustomize", {}).get("paths", [])
        if not paths:
            problems.append(f"{name}: no kustomize manifests")
        for path in paths:
            if not (repo / path / "kustomization.yaml").is_file():
                problems.append(f"{name}: {path} has no kustomization.yaml")
        forwards = profile.get("portForward", [])
        if not forwards:
            problems.append(f"{name}: nothing is port-forwarded")
        for forward in forwards:
            missing = {"resourceType", "resourceName", "namespace", "port", "localPort"} \
                - set(forward)
            if missing:
                problems.append(f"{name}: a port-forward without {sorted(missing)}")
    return problems


# --- the manifests a profile deploys --------------------------------------------------

@functools.cache
def _rendered(path: str) -> str:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed (Debian's kubectl package has it)")
    built = subprocess.run([kubectl, "kustomize", str(REPO / path)], capture_output=True,
                           text=True, timeout=60, check=True)
    return built.stdout


def deployed(config: Doc, profile: str) -> list[Doc]:
    """What a profile deploys: its kustomize paths, built."""
    [chosen] = [p for p in config["profiles"] if p["name"] == profile]
    return [doc for path in chosen["manifests"]["kustomize"]["paths"]
            for doc in yaml.safe_load_all(_rendered(path)) if doc]


def image_name(image: str) -> str:
    return image.rsplit(":", 1)[0] if ":" in image.rsplit("/", 1)[-1] else image


def reload_problems(config: Doc, docs: list[Doc]) -> list[str]:
    """Every container of the image runs ``serve --reload`` on the synced copy: the sync
    destination is a writable volume (the root filesystem is read-only and the installed
    package belongs to root), PYTHONPATH puts it before the installed package, and an
    init container fills it from the image before the server starts."""
    [artifact] = [a for a in config["build"]["artifacts"] if a["image"] == IMAGE]
    [destination] = synced_to(artifact["sync"]["manual"], SAMPLE)
    root = str(Path(destination).parents[1])  # <root>/ticketing/app.py
    problems = []
    workloads = [d for d in docs if d["kind"] in ("Deployment", "StatefulSet", "Job")]
    for workload in workloads:
        spec = workload["spec"]["template"]["spec"]
        ours = [c for c in spec.get("initContainers", []) + spec["containers"]
                if image_name(c["image"]).endswith(IMAGE)]
        for container in ours:
            if image_name(container["image"]) != IMAGE:  # Skaffold rewrites only its own
                problems.append(f"{container['name']}: image {container['image']}")
        volumes = {v["name"]: v for v in spec.get("volumes", [])}
        for container in [c for c in spec["containers"] if c in ours]:
            where = f"{workload['metadata']['name']}/{container['name']}"
            mounts = {m["mountPath"]: m for m in container.get("volumeMounts", [])}
            mount = mounts.get(root)
            if mount is None or "emptyDir" not in volumes.get(mount["name"], {}) \
                    or mount.get("readOnly"):
                problems.append(f"{where}: {root} is not a writable volume to sync into")
            env = {e["name"]: e.get("value") for e in container.get("env", [])}
            if env.get("PYTHONPATH") != root:
                problems.append(f"{where}: PYTHONPATH is {env.get('PYTHONPATH')!r}, "
                                f"so the synced copy is not what runs")
            if "--reload" not in container.get("args", []):
                problems.append(f"{where}: the server does not reload")
            fillers = [c for c in spec.get("initContainers", []) if c in ours and any(
                m["mountPath"] == root for m in c.get("volumeMounts", []))]
            if not fillers:
                problems.append(f"{where}: nothing copies the package into {root}")
    return problems


def forward_problems(config: Doc, profile: str, docs: list[Doc]) -> list[str]:
    """The port-forward reaches a Service that the profile deploys (one-process), or the
    Ingress controller in front of an Ingress that answers any host (split)."""
    [chosen] = [p for p in config["profiles"] if p["name"] == profile]
    problems = []
    for forward in chosen["portForward"]:
        if forward["resourceType"] != "service":
            problems.append(f"{profile}: forwards a {forward['resourceType']}")
            continue
        services = {(d["metadata"].get("namespace"), d["metadata"]["name"]): d
                    for d in docs if d["kind"] == "Service"}
        service = services.get((forward["namespace"], forward["resourceName"]))
        if service is not None:
            if forward["port"] not in {p["port"] for p in service["spec"]["ports"]}:
                problems.append(f"{profile}: {forward['resourceName']} has no port "
                                f"{forward['port']}")
        elif forward["resourceName"] != "ingress-nginx-controller":
            problems.append(f"{profile}: no Service {forward['resourceName']} to forward")
        else:
            hosts = [r.get("host") for d in docs if d["kind"] == "Ingress"
                     for r in d["spec"]["rules"]]
            if not hosts or any(hosts):
                problems.append(f"{profile}: the Ingress answers {hosts}, not localhost")
    return problems


# --- the file as it is ----------------------------------------------------------------

def test_the_structure_is_what_skaffold_dev_needs() -> None:
    assert structure_problems(load(), REPO) == []


def test_a_change_under_src_lands_in_the_copy_that_python_imports() -> None:
    [artifact] = [a for a in load()["build"]["artifacts"] if a["image"] == IMAGE]
    rules = artifact["sync"]["manual"]

    assert synced_to(rules, SAMPLE) == ["/app/src/ticketing/app.py"]
    assert synced_to(rules, "src/ticketing/web/shell/templates/base.html") == [
        "/app/src/ticketing/web/shell/templates/base.html"]
    assert synced_to(rules, "src/ticketing/web/shell/static/js/listing.js") == [
        "/app/src/ticketing/web/shell/static/js/listing.js"]
    assert synced_to(rules, "pyproject.toml") == [], "a dependency change rebuilds"


@pytest.mark.parametrize("profile", PROFILES)
def test_every_container_of_the_image_reloads_from_the_synced_copy(profile: str) -> None:
    config = load()
    docs = deployed(config, profile)

    assert [d for d in docs if d["kind"] == "Deployment"]
    assert reload_problems(config, docs) == []


@pytest.mark.parametrize("profile", PROFILES)
def test_the_port_forward_reaches_the_site(profile: str) -> None:
    config = load()

    assert forward_problems(config, profile, deployed(config, profile)) == []


def test_the_glob_follows_doublestar() -> None:
    assert glob_regex("src/**/*.py").match("src/app.py")
    assert glob_regex("src/**/*.py").match("src/a/b/app.py")
    assert not glob_regex("src/*.py").match("src/a/app.py")
    assert glob_regex("src/**/static/**").match("src/a/static/js/x.js")


# --- each check can fail --------------------------------------------------------------

def test_the_structure_check_catches_a_wrong_version_profile_sync_and_path() -> None:
    config = copy.deepcopy(load())
    config["apiVersion"] = "skaffold/v2beta29"
    config["profiles"] = [p for p in config["profiles"] if p["name"] != "split"]
    config["profiles"][0]["manifests"]["kustomize"]["paths"] = ["deploy/k8s/nowhere"]
    del config["profiles"][0]["portForward"]
    config["build"]["artifacts"][0]["sync"]["manual"] = [
        {"src": "src/**/*.pyx", "dest": "app", "strip": "lib/"}]

    assert structure_problems(config, REPO) == [
        "apiVersion 'skaffold/v2beta29' is not skaffold/v4beta*",
        "sync rule 'src/**/*.pyx' matches no file",
        "sync rule 'src/**/*.pyx' strips 'lib/', not a prefix of it",
        "sync rule 'src/**/*.pyx': relative destination",
        "a change to src/ticketing/app.py is not synced",
        "one-process: deploy/k8s/nowhere has no kustomization.yaml",
        "one-process: nothing is port-forwarded",
        "no profile split",
    ]


def test_the_structure_check_catches_an_artifact_the_manifests_do_not_name() -> None:
    config = copy.deepcopy(load())
    config["build"]["artifacts"][0]["image"] = "registry.example.com/ticketing-dev"

    assert structure_problems(config, REPO) == ["no artifact named 'ticketing', "
                                                "the manifests' image"]


def test_the_reload_check_catches_the_production_manifests() -> None:
    config = copy.deepcopy(load())
    config["profiles"][0]["manifests"]["kustomize"]["paths"] = ["deploy/k8s/one-process"]

    assert reload_problems(config, deployed(config, "one-process")) == [
        "ticketing/ticketing: /app/src is not a writable volume to sync into",
        "ticketing/ticketing: PYTHONPATH is None, so the synced copy is not what runs",
        "ticketing/ticketing: the server does not reload",
        "ticketing/ticketing: nothing copies the package into /app/src",
    ]


def test_the_forward_check_catches_a_missing_service_and_a_host_bound_ingress() -> None:
    config = copy.deepcopy(load())
    config["profiles"][0]["portForward"][0]["resourceName"] = "ticketing-web"
    config["profiles"][1]["manifests"]["kustomize"]["paths"] = ["deploy/k8s/split"]

    assert forward_problems(config, "one-process", deployed(config, "one-process")) == [
        "one-process: no Service ticketing-web to forward"]
    assert forward_problems(config, "split", deployed(config, "split")) == [
        "split: the Ingress answers ['tickets.example.com'], not localhost"]
