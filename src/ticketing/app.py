"""The composition root: ``create_app(settings)`` wires settings, modules and the web layer.

Nothing here touches a database or the network until the server starts serving.
"""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING

from quart import Quart, Response, jsonify

from ticketing import db
from ticketing.bootstrap import build_bus
from ticketing.bus.runtime import Bus
from ticketing.clock import Clock, utc_now
from ticketing.modules.auth.api import SessionReader
from ticketing.settings import MODULE_NAMES, Settings
from ticketing.telemetry import logs, metrics, tracing
from ticketing.web.shell import TEMPLATES, install_shell
from ticketing.web.shell.openapi import install_api_description
from ticketing.web.shell.runtime import Runtime
from ticketing.web.shell.slices import load_slice

if TYPE_CHECKING:
    from taskiq import AsyncBroker

    from ticketing.modules.payments.api import PaymentGateway

log = logging.getLogger("ticketing")


def create_app(settings: Settings, *, clock: Clock = utc_now,
               gateway: PaymentGateway | None = None,
               broker: AsyncBroker | None = None) -> Quart:
    """Build the app for the modules named in ``settings.modules``.

    The clock and the adapters (payment provider, expiration task broker) are chosen from
    the settings unless passed in: tests pass fakes and a clock they move."""
    app = Quart("ticketing", template_folder=str(TEMPLATES), static_folder=None)
    app.config["MAX_CONTENT_LENGTH"] = 64 * 1024
    install_api_description(app, [found for found in map(load_slice, MODULE_NAMES) if found])
    bus, parts_by_module = build_bus(settings, clock=clock, gateway=gateway, broker=broker)
    runtime = Runtime(settings=settings, sessions=SessionReader(settings, bus.revocations),
                      bus=bus, clock=clock)
    module_parts = list(parts_by_module.values())
    for name, parts in parts_by_module.items():
        if parts.facade is not None:
            runtime.facades[name] = parts.facade
    runtime.samplers[:] = [bus.sample, *(p.sample for p in module_parts if p.sample)]
    tracing.configure(service_name(settings))

    slices = {name: load_slice(name) for name in settings.modules}
    install_shell(app, runtime, {name: found for name, found in slices.items() if found})
    _add_probes(app, settings, bus)

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
            metrics.worker_exited(os.getpid())

    return app


def service_name(settings: Settings) -> str:
    """How traces name this process: ``ticketing-orders`` split, ``ticketing`` whole."""
    modules = settings.modules
    return f"ticketing-{modules[0]}" if len(modules) == 1 else "ticketing"


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
    """Factory for ASGI servers (``uvicorn --factory ticketing.app:create_app_from_env``).

    A process that runs one module names it on every log line, its background tasks'
    included (a process running several names the module on the lines where one acts).
    """
    settings = Settings.from_env()
    if len(settings.modules) == 1:
        logs.bind_process(module=settings.modules[0])
    return create_app(settings)
