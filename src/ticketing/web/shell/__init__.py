"""The shell: what every process's web face has, whichever modules it runs."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from quart import Quart

from ticketing.errors import message_of
from ticketing.web.shell import assets
from ticketing.web.shell.consistency import install_consistency
from ticketing.web.shell.errors import ApiRequest, register_error_handlers
from ticketing.web.shell.live import install_live_hub
from ticketing.web.shell.runtime import Runtime
from ticketing.web.shell.security import install_security_headers
from ticketing.web.shell.session import current_user, install_session
from ticketing.web.shell.slices import Slice
from ticketing.web.shell.telemetry import install_telemetry

TEMPLATES = Path(__file__).parent / "templates"


def install_shell(app: Quart, runtime: Runtime, slices: Mapping[str, Slice]) -> None:
    """Telemetry (metrics, traces, access log), errors, session, security headers, assets,
    the docs page, the live hub, the consistency cookie, and the enabled modules' slices
    (by module name); where no slice serves a landing page, one says so."""
    modules_by_blueprint = {blueprint.name: module for module, web_slice in slices.items()
                            for blueprint in web_slice.blueprints}
    app.request_class = ApiRequest
    install_telemetry(app, runtime.samplers, modules_by_blueprint,
                      runtime.settings.max_in_flight, runtime.settings.latency_target_ms)
    app.extensions["ticketing"] = runtime
    register_error_handlers(app)
    install_session(app, runtime.sessions)
    install_security_headers(app, runtime.settings)
    install_live_hub(app, runtime.bus)
    for blueprint in (assets.blueprint, assets.vendor, assets.assets):
        app.register_blueprint(blueprint)
    for web_slice in slices.values():
        for blueprint in web_slice.blueprints:
            app.register_blueprint(blueprint)
    install_consistency(app, runtime, modules_by_blueprint)
    if not any(rule.rule == "/" for rule in app.url_map.iter_rules()):
        app.add_url_rule("/", "shell.no_listing", assets.no_listing)

    @app.context_processor
    async def template_globals() -> dict[str, Any]:
        return {"user": current_user(), "settings": runtime.settings, "message": message_of}
