"""Ids: opaque, 26 characters, sorted by creation time."""

from __future__ import annotations

import random
from types import SimpleNamespace

import pytest

from ticketing import ids
from ticketing.ids import is_valid_id, new_id


@pytest.fixture(autouse=True)
def _fresh_sequence(monkeypatch: pytest.MonkeyPatch) -> None:
    """Forget the last id: tests that move the clock must not leave future ids behind."""
    monkeypatch.setattr(ids, "_last", 0)


def test_ids_made_later_sort_after_ids_made_earlier(monkeypatch: pytest.MonkeyPatch) -> None:
    # Random instants, each a millisecond or more apart, in the order they are "made".
    instants = sorted(random.sample(range(1_600_000_000_000, 1_900_000_000_000), 200))
    made = []
    for millis in instants:
        monkeypatch.setattr(ids, "time", SimpleNamespace(time_ns=lambda m=millis: m * 1_000_000))
        made.append(new_id())

    assert sorted(made) == made


def test_ids_made_in_the_same_millisecond_are_distinct(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ids, "time", SimpleNamespace(time_ns=lambda: 1_700_000_000_000_000_000))

    made = {new_id() for _ in range(1000)}

    assert len(made) == 1000


def test_a_new_id_is_valid() -> None:
    made = new_id()

    assert len(made) == 26
    assert is_valid_id(made)


@pytest.mark.parametrize("value", [
    "",
    "01m886b2m9kpb1nc5gh7y7yew",     # 25 characters
    "01m886b2m9kpb1nc5gh7y7yewbb",   # 27 characters
    "01m886b2m9kpb1nc5gh7y7yewu",    # u is not in Crockford's alphabet
    "01m886b2m9kpb1nc5gh7y7yew!",
    "../../../../../../etc/passwd",
    "01m886b2m9kpb1nc5gh7y7yewé",
    "1",
])
def test_a_malformed_id_is_not_valid(value: str) -> None:
    assert not is_valid_id(value)


def test_ids_made_in_one_millisecond_still_sort_in_creation_order() -> None:
    made = [new_id() for _ in range(5000)]
    assert made == sorted(made)
    assert len(set(made)) == len(made)

