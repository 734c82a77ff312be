"""The Ingress's routing, read from the manifests: which module serves a path.

Used by the manifest tests (every route of the app reaches a Deployment serving it) and
by ``deploy/split.py``'s router, which routes as the Ingress does.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

SERVICE_PREFIX = "ticketing-"
REGEX_ANNOTATION = "nginx.ingress.kubernetes.io/use-regex"


@dataclass(frozen=True)
class Route:
    """One Ingress path: a ``Prefix`` or a regular expression, and its Service."""

    path: str
    service: str
    regex: bool = False

    @property
    def module(self) -> str:
        """The module behind the Service (``ticketing-<module>``)."""
        return self.service.removeprefix(SERVICE_PREFIX)

    def matches(self, url_path: str) -> bool:
        if self.regex:  # ingress-nginx: a regular expression anchored at the start
            return re.match(self.path, url_path) is not None
        if self.path == "/":  # Kubernetes Prefix: whole path elements only
            return True
        prefix = self.path.rstrip("/")
        return url_path == prefix or url_path.startswith(prefix + "/")


def ingress_routes(ingresses: Iterable[dict[str, Any]]) -> list[Route]:
    """The Ingresses' paths, longest first (so the first match is the one that wins).

    Raises ``ValueError`` for a path type the router cannot follow, or a regular
    expression without ingress-nginx's annotation that makes it one.
    """
    routes = []
    for ingress in ingresses:
        for rule in ingress["spec"]["rules"]:
            for path in rule["http"]["paths"]:
                if path["pathType"] not in ("Prefix", "ImplementationSpecific"):
                    raise ValueError(f"unsupported pathType: {path}")
                regex = path["pathType"] == "ImplementationSpecific"
                annotations = ingress["metadata"].get("annotations", {})
                if regex and annotations.get(REGEX_ANNOTATION) != "true":
                    raise ValueError(f"{path['path']} is a regex without {REGEX_ANNOTATION}")
                routes.append(Route(path["path"], path["backend"]["service"]["name"], regex))
    return sorted(routes, key=lambda route: len(route.path), reverse=True)


def route_for(routes: list[Route], url_path: str) -> Route | None:
    """The route that serves ``url_path`` (``routes`` longest first), if any."""
    return next((route for route in routes if route.matches(url_path)), None)
