"""The kustomize source tree under deploy/k8s: every file is read, every object declared once.

Every YAML file parses as typed documents and is read by a kustomization (as a resource,
a component or a patch), except the example Secrets, which no kustomization may read; no
object is declared in two files, and no layout carries a Secret. The declaration check is
shown to fail on a planted mistake.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest

from tests.support.manifests import K8S, LAYOUTS, SECRETS_EXAMPLE, build, load_documents, of_kind


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


def all_yaml_files() -> Iterator[Path]:
    yield from sorted(K8S.rglob("*.yaml"))


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


# --- the check can fail ---------------------------------------------------------------

def test_the_declaration_check_catches_an_object_in_two_files() -> None:
    found = declarations(kustomizations()) | {("Ingress", "ticketing", "split/routes.yaml")}

    assert declared_twice(found) == [
        "Ingress/ticketing is declared in base/ingress.yaml and split/routes.yaml"]
