"""End-to-end fixtures: the split deployment as real processes (:mod:`tests.support.split`).

``split_cluster`` is one JetStream server and six ``ticketing serve`` processes, one per
module; a failed test's report carries every process's log.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.nats import NatsServer
from tests.support.split import SplitCluster, start_split


@pytest.fixture
def split_cluster(tmp_path: Path) -> Iterator[SplitCluster]:
    """The six modules as six processes over one JetStream server, all ready."""
    nats = NatsServer(tmp_path / "nats")
    nats.workdir.mkdir()
    nats.start()
    cluster = start_split(tmp_path, nats, TICKETING_EXPIRATION_SECONDS="3")
    try:
        yield cluster
    finally:
        cluster.stop()
