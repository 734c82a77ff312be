"""ticketing: an event-driven ticket marketplace, one process or six deployments."""

from importlib.metadata import version

# The one version source is pyproject.toml; the installed package's metadata carries it.
__version__ = version("ticketing")
