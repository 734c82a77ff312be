"""Module boundaries: the import-linter contracts hold, and each check is proven able to fail."""

from __future__ import annotations

from pathlib import Path

import grimp

from tests.architecture.boundaries import (
    LINT,
    PYPROJECT,
    SOURCE,
    copy_source,
    facade_violations,
    facade_violations_in,
    plant_import,
    run_python,
)


def test_the_import_linter_contracts_hold() -> None:
    # In a subprocess: import-linter's dictConfig would disable this process's loggers.
    result = run_python(LINT, SOURCE.parent, str(PYPROJECT))

    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_the_import_linter_contracts_fail_on_planted_bad_imports(tmp_path: Path) -> None:
    package = copy_source(tmp_path)
    # One violation per contract: a module importing another module's internals, a
    # module reaching into the web layer, the bus reaching into a module, and telemetry
    # reaching into the bus.
    plant_import(package / "modules" / "tickets" / "__init__.py",
                 "import ticketing.modules.auth.models")
    plant_import(package / "modules" / "orders" / "__init__.py",
                 "import ticketing.web.shell.session")
    plant_import(package / "bus" / "__init__.py", "import ticketing.modules.payments")
    plant_import(package / "telemetry" / "metrics.py", "import ticketing.bus.runtime")

    result = run_python(LINT, tmp_path, str(PYPROJECT))

    assert result.returncode != 0, result.stdout
    assert "4 broken" in result.stdout, result.stdout
    assert "ticketing.modules.tickets -> ticketing.modules.auth.models" in result.stdout
    assert "ticketing.modules.orders -> ticketing.web.shell.session" in result.stdout
    assert "ticketing.bus -> ticketing.modules.payments" in result.stdout
    assert "ticketing.telemetry.metrics -> ticketing.bus.runtime" in result.stdout


def test_the_web_layer_and_the_composition_root_use_only_module_facades() -> None:
    graph = grimp.build_graph("ticketing", cache_dir=None)

    assert facade_violations(graph) == set()


def test_the_facade_check_fails_on_a_planted_import_of_module_internals(tmp_path: Path) -> None:
    package = copy_source(tmp_path)
    plant_import(package / "web" / "auth" / "routes.py",
                 "from ticketing.modules.auth.models import User")
    plant_import(package / "app.py", "import ticketing.modules.auth.tokens")

    assert facade_violations_in(tmp_path) == {
        ("ticketing.web.auth.routes", "ticketing.modules.auth.models"),
        ("ticketing.app", "ticketing.modules.auth.tokens"),
    }
