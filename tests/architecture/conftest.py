"""Architecture fixtures: a layout's manifests, built afresh for each test to change."""

from __future__ import annotations

import pytest

from tests.support.manifests import Doc, build


@pytest.fixture
def split_docs() -> list[Doc]:
    return build("split")


@pytest.fixture
def one_process_docs() -> list[Doc]:
    return build("one-process")
