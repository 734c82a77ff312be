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

WEB_MODULES = ("auth", "tickets", "orders", "payments", "mail")


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
    plants = {  # one per contract: where, what, and the contract it breaks
        ("tickets", "pages.py"): "import ticketing.web.orders.routes",  # slices independent
        ("tickets", "routes.py"): "import ticketing.modules.payments.api",
        ("payments", "pages.py"): "import ticketing.modules.orders.api",
        ("auth", "pages.py"): "import ticketing.modules.tickets.api",
        ("mail", "pages.py"): "import ticketing.modules.orders.api",
        ("orders", "pages.py"): "import ticketing.modules.auth.api",  # not around the shell
        ("shell", "forms.py"): "import ticketing.web.auth.schemas",
    }
    for (folder, file), statement in plants.items():
        plant_import(package / "web" / folder / file, statement)

    result = run_python(LINT, tmp_path, str(PYPROJECT))

    assert result.returncode != 0, result.stdout
    for (folder, file), statement in plants.items():
        importer = f"ticketing.web.{folder}.{file.removesuffix('.py')}"
        assert f"{importer} -> {statement.removeprefix('import ')}" in result.stdout
    for contract in ("Web slices never import each other",
                     "The web shell knows no slice",
                     *(f"The {m} slice reaches no other module" for m in WEB_MODULES)):
        assert contract in result.stdout.split("Broken contracts", 1)[1], contract


@pytest.mark.parametrize("module", WEB_MODULES)
def test_each_slice_keeps_its_own_templates(module: str) -> None:
    slice_dir = Path(__file__).resolve().parents[2] / "src" / "ticketing" / "web" / module
    assert sorted(p.name for p in (slice_dir / "templates").iterdir()) == [module]
