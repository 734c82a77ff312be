"""The suite's own shape: test modules share helpers only through ``tests/support``."""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]


def imported_test_modules(source: str) -> list[str]:
    """The ``test_*`` modules that ``source`` imports from."""
    found = []
    for node in ast.walk(ast.parse(source)):
        names = [node.module or ""] if isinstance(node, ast.ImportFrom) else \
            [alias.name for alias in node.names] if isinstance(node, ast.Import) else []
        found += [n for n in names if n.rsplit(".", 1)[-1].startswith("test_")]
    return found


def test_no_test_module_imports_another() -> None:
    offenders = {str(path.relative_to(TESTS)): imported
                 for path in TESTS.rglob("*.py")
                 if (imported := imported_test_modules(path.read_text()))}
    assert offenders == {}, "move what they share to tests/support"


def test_the_check_sees_a_planted_import() -> None:
    assert imported_test_modules("from tests.browser.test_auth_pages import sign_up\n") == [
        "tests.browser.test_auth_pages"]
    assert imported_test_modules("import tests.unit.test_ids\n") == ["tests.unit.test_ids"]
    assert imported_test_modules("from tests.support.waiting import eventually\n") == []
