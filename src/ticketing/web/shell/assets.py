"""What every process serves whatever its modules: the API docs page, the app's own scripts,
the third-party assets it serves from installed packages, and the ``money`` filter."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

import swagger_ui_bundle
from quart import Blueprint, Response, render_template, send_from_directory

blueprint = Blueprint("shell", __name__)
# Bootstrap (django-bootstrap-static: a plain wheel of Bootstrap's dist files, importable as
# `bootstrap`, no Django needed) and Swagger UI (swagger-ui-bundle-v2) arrive as packages;
# the app serves their files itself, so no page depends on a CDN.
vendor = Blueprint("vendor", __name__, url_prefix="/static/vendor")
# The app's own scripts (pages carry no inline script: the CSP forbids it, security.py).
assets = Blueprint("assets", __name__, static_folder="static", static_url_path="/static/app")
BOOTSTRAP_DIR = Path(str(files("bootstrap") / "static" / "bootstrap"))
SWAGGER_UI_DIR = Path(swagger_ui_bundle.swagger_ui_path)
SWAGGER_UI_JS = "/static/vendor/swagger-ui/swagger-ui-bundle.js"
SWAGGER_UI_CSS = "/static/vendor/swagger-ui/swagger-ui.css"


@blueprint.app_template_filter("money")
def money(amount: float | str) -> str:
    """A price as the pages show it: ``$1,234.50``."""
    return f"${float(amount):,.2f}"


async def no_listing() -> str:
    """The landing page of a process that sells no tickets (the tickets slice serves it)."""
    return await render_template("no-listing.html")


@blueprint.get("/docs")
async def docs() -> str:
    """The HTTP API as Swagger UI renders /openapi.json."""
    return await render_template("docs.html", swagger_js=SWAGGER_UI_JS, swagger_css=SWAGGER_UI_CSS)


@vendor.get("/bootstrap/<path:filename>")
async def bootstrap(filename: str) -> Response:
    """Bootstrap's CSS and JS, from the installed package, cached for a day."""
    return await send_from_directory(BOOTSTRAP_DIR, filename, cache_timeout=86400)


@vendor.get("/swagger-ui/<path:filename>")
async def swagger_ui(filename: str) -> Response:
    """Swagger UI for the ``/docs`` page, from the installed package, cached for a day."""
    return await send_from_directory(SWAGGER_UI_DIR, filename, cache_timeout=86400)
