"""The landing page, and the third-party assets the app serves from installed packages."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

import swagger_ui_bundle
from quart import Blueprint, Response, render_template, request, send_from_directory

from ticketing.modules.tickets.api import TicketPage, TicketsApi
from ticketing.web.api.tickets import ListingQuery
from ticketing.web.runtime import runtime
from ticketing.web.validation import parse_form

blueprint = Blueprint("home", __name__)
# Bootstrap (django-bootstrap-static: a plain wheel of Bootstrap's dist files, importable as
# `bootstrap`, no Django needed) and Swagger UI (swagger-ui-bundle-v2) arrive as packages;
# the app serves their files itself, so no page depends on a CDN.
vendor = Blueprint("vendor", __name__, url_prefix="/static/vendor")
# The app's own scripts (pages carry no inline script: the CSP forbids it, security.py).
assets = Blueprint("assets", __name__, static_folder="../static", static_url_path="/static/app")
BOOTSTRAP_DIR = Path(str(files("bootstrap") / "static" / "bootstrap"))
SWAGGER_UI_DIR = Path(swagger_ui_bundle.swagger_ui_path)
SWAGGER_UI_JS = "/static/vendor/swagger-ui/swagger-ui-bundle.js"
SWAGGER_UI_CSS = "/static/vendor/swagger-ui/swagger-ui.css"
LANDING_PAGE_SIZE = 50


@blueprint.app_template_filter("money")
def money(amount: float | str) -> str:
    """A price as the pages show it: ``$1,234.50``."""
    return f"${float(amount):,.2f}"


@blueprint.get("/")
async def index() -> str:
    """Tickets for sale, newest first; without the tickets module, the page says so."""
    listing: TicketPage | None = None
    tickets = runtime().facades.get("tickets")
    if isinstance(tickets, TicketsApi):
        query = parse_form(ListingQuery, {"limit": LANDING_PAGE_SIZE,
                                          "before": request.args.get("before")})
        listing = await tickets.list_available(query.limit, query.before)
    return await render_template("index.html", listing=listing)


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
