"""Web slices: each module's web face is its own package, found by convention, and the
slice contracts (no slice imports another, a slice reaches only its own module, the shell
knows no slice) are proven able to fail."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.architecture.boundaries import (
    LINT,
    PYPROJECT,
    copy_source,
    plant_import,
    run_python,
)
from ticketing.web.shell.slices import load_slice

WEB_MODULES = ("auth", "tickets", "orders", "payments")


def test_every_module_with_a_web_face_has_a_slice_and_expiration_has_none() -> None:
    for module in WEB_MODULES:
        found = load_slice(module)
        assert found is not None, module
        assert found.blueprints, module
    assert load_slice("expiration") is None


def test_a_slice_package_without_its_slice_fails_loudly(tmp_path: Path) -> None:
    package = copy_source(tmp_path)
    (package / "web" / "orders" / "__init__.py").write_text('"""no SLICE here"""\n')

    result = run_python("from ticketing.web.shell.slices import load_slice\n"
                        "load_slice('orders')\n", tmp_path)

    assert result.returncode != 0
    assert "ticketing.web.orders does not define SLICE" in result.stderr


def test_the_slice_contracts_fail_on_planted_bad_imports(tmp_path: Path) -> None:
    package = copy_source(tmp_path)
    plant_import(package / "web" / "tickets" / "pages.py", "import ticketing.web.orders.pages")
    plant_import(package / "web" / "payments" / "pages.py", "import ticketing.modules.orders.api")
    plant_import(package / "web" / "shell" / "forms.py", "import ticketing.web.auth.schemas")

    result = run_python(LINT, tmp_path, str(PYPROJECT))

    assert result.returncode != 0, result.stdout
    assert "ticketing.web.tickets.pages -> ticketing.web.orders.pages" in result.stdout
    assert "ticketing.web.payments.pages -> ticketing.modules.orders.api" in result.stdout
    assert "ticketing.web.shell.forms -> ticketing.web.auth.schemas" in result.stdout
    # The tickets slice importing the orders slice also reaches the orders module.
    assert "4 broken" in result.stdout, result.stdout


@pytest.mark.parametrize("module", WEB_MODULES)
def test_each_slice_keeps_its_own_templates(module: str) -> None:
    slice_dir = Path(__file__).resolve().parents[2] / "src" / "ticketing" / "web" / module
    assert sorted(p.name for p in (slice_dir / "templates").iterdir()) == [module]
