"""The ticket replica in orders applies ticket events strictly in version order."""

from __future__ import annotations

import pytest

from ticketing.modules.orders.rules import ReplicaStep, replica_step


def test_the_creation_of_an_unknown_ticket_applies() -> None:
    assert replica_step(None, 0) is ReplicaStep.APPLY


@pytest.mark.parametrize("version", [1, 5])
def test_an_update_of_an_unknown_ticket_waits_for_its_creation(version: int) -> None:
    assert replica_step(None, version) is ReplicaStep.WAIT


def test_the_next_version_applies() -> None:
    assert replica_step(0, 1) is ReplicaStep.APPLY
    assert replica_step(4, 5) is ReplicaStep.APPLY


@pytest.mark.parametrize("version", [3, 9])
def test_a_version_whose_predecessor_is_missing_waits(version: int) -> None:
    assert replica_step(1, version) is ReplicaStep.WAIT


@pytest.mark.parametrize(("known", "version"), [(0, 0), (2, 2), (2, 1), (2, 0)])
def test_a_duplicate_or_older_version_is_ignored(known: int, version: int) -> None:
    assert replica_step(known, version) is ReplicaStep.IGNORE
