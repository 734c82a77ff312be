"""The composition root: ``create_app(settings)`` wires settings, modules and the web layer.

Nothing here touches a database or the network until the server starts serving.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from quart import Blueprint, Quart, Response, jsonify
from quart_schema import Info, QuartSchema

from ticketing import __version__, db
from ticketing.bootstrap import build_bus
from ticketing.bus.runtime import Bus
from ticketing.clock import Clock, utc_now
from ticketing.modules.auth.api import SessionReader
from ticketing.settings import Settings
from ticketing.web.api import auth as api_auth
from ticketing.web.api import orders as api_orders
from ticketing.web.api import payments as api_payments
from ticketing.web.api import tickets as api_tickets
from ticketing.web.errors import ApiRequest, register_error_handlers
from ticketing.web.live import orders_live, tickets_live
from ticketing.web.pages import auth as pages_auth
from ticketing.web.pages import home
from ticketing.web.pages import orders as pages_orders
from ticketing.web.pages import payments as pages_payments
from ticketing.web.pages import tickets as pages_tickets
from ticketing.web.runtime import Runtime
from ticketing.web.security import install_security_headers
from ticketing.web.session import current_user, install_session

if TYPE_CHECKING:
    from taskiq import AsyncBroker

    from ticketing.modules.payments.api import PaymentGateway

log = logging.getLogger("ticketing")

TEMPLATES = Path(__file__).parent / "web" / "templates"
MODULE_BLUEPRINTS: dict[str, tuple[Blueprint, ...]] = {
    "auth": (api_auth.blueprint, pages_auth.blueprint),
    "tickets": (api_tickets.blueprint, pages_tickets.blueprint, tickets_live),
    "orders": (api_orders.blueprint, pages_orders.blueprint, orders_live),
    "payments": (api_payments.blueprint, pages_payments.blueprint),
}


def create_app(settings: Settings, *, clock: Clock = utc_now,
               gateway: PaymentGateway | None = None,
               broker: AsyncBroker | None = None) -> Quart:
    """Build the app for the modules named in ``settings.modules``.

    The clock and the adapters (payment provider, expiration task broker) are chosen from
    the settings unless passed in: tests pass fakes and a clock they move."""
    app = Quart("ticketing", template_folder=str(TEMPLATES), static_folder=None)
    app.request_class = ApiRequest
    app.config["MAX_CONTENT_LENGTH"] = 64 * 1024
    QuartSchema(
        app,
        info=Info(title="Ticketing", version=__version__,
                  description="Buy and sell tickets; see docs/ for the event contracts."),
        openapi_path="/openapi.json",
        swagger_ui_path=None,  # pages/home.py serves /docs without inline script
        redoc_ui_path=None,
        scalar_ui_path=None,
    )
    bus, parts_by_module = build_bus(settings, clock=clock, gateway=gateway, broker=broker)
    runtime = Runtime(settings=settings, sessions=SessionReader(settings, bus.revocations),
                      bus=bus)
    module_parts = list(parts_by_module.values())
    for name, parts in parts_by_module.items():
        if parts.facade is not None:
            runtime.facades[name] = parts.facade
    app.extensions["ticketing"] = runtime

    register_error_handlers(app)
    install_session(app, runtime.sessions)
    app.register_blueprint(home.blueprint)
    app.register_blueprint(home.vendor)
    app.register_blueprint(home.assets)
    install_security_headers(app, settings)
    for name in settings.modules:
        for blueprint in MODULE_BLUEPRINTS.get(name, ()):
            app.register_blueprint(blueprint)
    _add_probes(app, settings, bus)

    @app.context_processor
    async def template_globals() -> dict[str, Any]:
        return {"user": current_user(), "settings": settings}

    @app.before_serving
    async def open_resources() -> None:
        await db.open_databases(settings)
        try:
            await bus.start()
            for parts in module_parts:
                if parts.on_start is not None:
                    await parts.on_start()
        except BaseException:
            # A half-started process must not keep the databases (and Tortoise's global
            # context) open: the next start in this process would fail on them.
            await close_resources()
            raise
        log.info("serving modules=%s bus=%s", ",".join(settings.modules), settings.bus)

    @app.after_serving
    async def close_resources() -> None:
        try:
            for parts in reversed(module_parts):
                if parts.on_stop is not None:
                    await parts.on_stop()
            await bus.stop()
        finally:
            await db.close_databases()

    return app


def _add_probes(app: Quart, settings: Settings, bus: Bus) -> None:
    @app.get("/healthz")
    async def healthz() -> Response:
        """Alive: the process answers."""
        return jsonify({"status": "ok"})

    @app.get("/readyz")
    async def readyz() -> Response:
        """Ready: every enabled module's database answers (ADR 10).

        The bus being away makes the process *degraded*, not unready: it still serves and
        its outbox holds the events. A background task that keeps failing while the bus
        is fine makes it unready, by name.
        """
        checks: dict[str, str] = {}
        for module in settings.modules:
            try:
                await db.ping(module)
                checks[module] = "ok"
            except Exception as error:  # any failure means "not ready", never a 500
                checks[module] = f"unreachable: {type(error).__name__}"
        try:
            await bus.transport.ping()
            checks["bus"] = "ok"
        except Exception as error:
            checks["bus"] = f"degraded: {type(error).__name__}"
        failing = bus.supervisor.failing()
        checks["tasks"] = f"failing: {', '.join(failing)}" if failing else "ok"
        status, code = readiness(all(checks[m] == "ok" for m in settings.modules),
                                 checks["bus"] == "ok", bool(failing))
        response = jsonify({"status": status, "checks": checks})
        response.status_code = code
        return response


def readiness(databases_ok: bool, bus_ok: bool, tasks_failing: bool) -> tuple[str, int]:
    """The verdict of ``/readyz`` (ADR 10): unavailable (503), degraded or ready (200).

    Tasks that fail while the bus is away are the bus's doing: degraded, not unready.
    """
    if not databases_ok or (tasks_failing and bus_ok):
        return "unavailable", 503
    if bus_ok and not tasks_failing:
        return "ready", 200
    return "degraded", 200


def create_app_from_env() -> Quart:
    """Factory for ASGI servers (``uvicorn --factory ticketing.app:create_app_from_env``)."""
    return create_app(Settings.from_env())
